--- scalespace.metrics.distance — distances between two sets of feature vectors: the
-- Fréchet distance of their Gaussian statistics (FID when the features are Inception's
-- pool3; C: runtime/metrics/frechet.c) and the Kernel Inception Distance (C:
-- runtime/metrics/kid.c), with Philox-seeded subsets.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local stats = require "scalespace.metrics.stats"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

--- The Fréchet distance ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} between
-- two statistics (ss.metrics.statistics, stats.load). Returns fd and info {mean_term=,
-- trace1=, trace2=, trace_sqrt=, clamped= (negative eigenvalues set to 0), most_negative=
-- (the most negative of them, relative to its matrix's largest eigenvalue), warnings = {…}}.
-- A warning (also written to stderr unless opts.quiet) when either side has fewer vectors
-- than dimensions (Σ is singular: the distance is biased; KID is the better measure) or
-- when eigenvalues below −1e-6 of the largest had to be clamped.
function M.frechet_distance(s1, s2, opts)
  local fname = "metrics.frechet_distance"
  if not stats.is_stats(s1) then arg_error(fname, 1, "feature statistics", s1) end
  if not stats.is_stats(s2) then arg_error(fname, 2, "feature statistics", s2) end
  if s1.dim ~= s2.dim then
    raise(string.format("%s: the statistics have %d and %d dimensions (different feature networks?)", fname, s1.dim,
      s2.dim))
  end
  local a, b = s1.info, s2.info
  for _, k in ipairs { "network", "mode", "weights" } do
    if a[k] and b[k] and a[k] ~= b[k] then
      raise(string.format("%s: the statistics were made with %s %s and %s: they are not comparable", fname, k,
        tostring(a[k]), tostring(b[k])))
    end
  end
  local fd, ci = ffi.new("double[1]"), ffi.new("ss_frechet_info")
  check(C.ss_frechet_distance(fd, ci, s1:mean(), s1:cov(), s2:mean(), s2:cov(), s1.dim))
  local info = { mean_term = ci.mean_term, trace1 = ci.trace1, trace2 = ci.trace2, trace_sqrt = ci.trace_sqrt,
    clamped = tonumber(ci.clamped), most_negative = ci.most_negative, warnings = {} }
  for i, s in ipairs { s1, s2 } do
    if s.n < s.dim then
      info.warnings[#info.warnings + 1] = string.format("statistics %d hold %d vectors of %d dimensions: the "
        .. "covariance is singular and the distance biased (use more images, or KID)", i, s.n, s.dim)
    end
  end
  if info.most_negative < -1e-6 then
    info.warnings[#info.warnings + 1] = string.format("%d negative eigenvalues were set to 0 (the most negative %.3g "
      .. "of the largest)", info.clamped, info.most_negative)
  end
  if not (opts and opts.quiet) then
    for _, w in ipairs(info.warnings) do io.stderr:write("warning: ", fname, ": ", w, "\n") end
  end
  return fd[0], info
end

--- The Kernel Inception Distance between feature sets f1 (N1, D) and f2 (N2, D): the
-- unbiased MMD² with the kernel (xᵀy/D + 1)³ over opts.subsets (100) subsets of
-- m = min(N1, N2, opts.subset_size (1000)) rows of each, drawn without replacement from
-- opts.rng (an ss.rng) or a generator seeded by opts.seed (0). Returns the mean and the
-- standard deviation (numpy's, ddof 0) over the subsets, and the list of values.
function M.kid(f1, f2, opts)
  local fname = "metrics.kid"
  tensor.expect_tensor(f1, fname, 1)
  tensor.expect_tensor(f2, fname, 2)
  if opts ~= nil and type(opts) ~= "table" then arg_error(fname, 3, "an options table {subsets =, seed =}", opts) end
  opts = opts or {}
  if f1:dim() ~= 2 or f2:dim() ~= 2 or f1:shape()[2] ~= f2:shape()[2] then
    raise(string.format("%s: features must be (N1,D) and (N2,D), got %s and %s", fname,
      tensor.shape_string(f1:shape()), tensor.shape_string(f2:shape())))
  end
  local subsets, size = opts.subsets or 100, opts.subset_size or 1000
  for k, v in pairs { subsets = subsets, subset_size = size } do
    if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
      raise(string.format("%s: option %s must be a whole number >= 1, got %s", fname, k, tostring(v)))
    end
  end
  local n1, n2 = #f1, #f2
  local m = math.min(n1, n2, size)
  if m < 2 then raise(string.format("%s: KID needs at least 2 feature vectors on each side, got %d and %d", fname, n1, n2)) end
  local g = opts.rng or tensor.rng(opts.seed or 0)
  local ix, iy = ffi.new("int64_t[?]", subsets * m), ffi.new("int64_t[?]", subsets * m)
  for s = 0, subsets - 1 do
    -- clean-fid draws y's subset before x's; the order only matters for which stream is which
    local px, py = g:perm(n1), g:perm(n2)
    for i = 1, m do
      ix[s * m + i - 1] = px[i] - 1
      iy[s * m + i - 1] = py[i] - 1
    end
  end
  local values = ffi.new("double[?]", subsets)
  check(C.ss_kid_subsets(values, f1.p, f2.p, ix, iy, subsets, m))
  local list, mean = {}, 0
  for s = 1, subsets do
    list[s] = values[s - 1]
    mean = mean + list[s] / subsets
  end
  local var = 0
  for s = 1, subsets do var = var + (list[s] - mean) ^ 2 / subsets end
  return mean, math.sqrt(var), list
end

return M
