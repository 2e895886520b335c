--- scalespace.metrics.stats — FID's statistics: the running mean and covariance of feature
-- vectors in double (C: runtime/metrics/stats.c), and their files.
--
--   local s = stats.new(2048)          -- or ss.metrics.statistics(images, opts)
--   s:add(features)                    -- (B, D) per batch; nothing else is kept
--   s.n, s.dim, s:mean(), s:cov()      -- double arrays (cdata), 0-based
--   s:save("ref.safetensors")          -- atomic; stats.load(path) reads it back
--
-- A statistics file is a safetensors file (ss.checkpoint: written to a temporary file,
-- fsynced and renamed): "mu" (D) and "sigma" (D, D) as float32, plus "mu_lo" and
-- "sigma_lo", the float32 rounding of what float32 lost (μ − fl(μ)), so that hi + lo gives
-- the double statistics back to ~2⁻⁴⁸ relative; a reader that wants float32 reads "mu" and
-- "sigma" alone. Metadata: format = "scalespace-feature-stats/1", n, dim, mode, network,
-- metric (what a distance between two such files is called), weights (a hash of the
-- network's weights), source (what the images were) and key (the cache key, when cached).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local checkpoint = require "scalespace.checkpoint"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}
M.FORMAT = "scalespace-feature-stats/1"

local Stats = {}
Stats.__index = function(s, k)
  if k == "n" then return tonumber(C.ss_feature_stats_count(s._p)) end
  return Stats[k]
end
M.Stats = Stats

--- Empty statistics of dim-dimensional vectors; info (optional) is kept as s.info:
-- {mode=, network=, metric=, weights=, source=} as the file's metadata.
function M.new(dim, info)
  if type(dim) ~= "number" or dim < 1 or dim ~= math.floor(dim) then
    arg_error("metrics.stats.new", 1, "a feature dimension >= 1", dim)
  end
  local p = C.ss_feature_stats_new(dim)
  if p == nil then raise(lib.last_error()) end
  return setmetatable({ _p = ffi.gc(p, C.ss_feature_stats_free), dim = dim, info = info or {} }, Stats)
end

function M.is_stats(v) return getmetatable(v) == Stats end

--- Adds the rows of features (B, D) (or (B, D, 1, 1)); returns s.
function Stats:add(features)
  tensor.expect_tensor(features, "Stats:add", 1)
  check(C.ss_feature_stats_add(self._p, features.p))
  return self
end

--- Adds everything `other` has seen; returns s.
function Stats:merge(other)
  if not M.is_stats(other) then arg_error("Stats:merge", 1, "feature statistics", other) end
  check(C.ss_feature_stats_merge(self._p, other._p))
  return self
end

--- The mean as a new double[dim] array (cdata, 0-based).
function Stats:mean()
  local mu = ffi.new("double[?]", self.dim)
  check(C.ss_feature_stats_mean(mu, self._p))
  return mu
end

--- The covariance (divisor N − 1) as a new double[dim·dim] array, row-major.
function Stats:cov()
  local sigma = ffi.new("double[?]", self.dim * self.dim)
  check(C.ss_feature_stats_cov(sigma, self._p))
  return sigma
end

--- The mean as a float32 tensor (dim) and the covariance as (dim, dim), for looking at.
function Stats:tensors()
  local d, mu, sigma = self.dim, self:mean(), self:cov()
  local tm, ts = tensor.empty { d }, tensor.empty { d, d }
  for i = 0, d - 1 do tm.p.data[i] = mu[i] end
  for i = 0, d * d - 1 do ts.p.data[i] = sigma[i] end
  return tm, ts
end

function Stats:__tostring()
  return string.format("feature statistics: %d vectors of %d dimensions (%s)", self.n, self.dim,
    self.info.network or "?")
end

-- hi = fl32(v), lo = fl32(v − hi) for n doubles, as two float32 tensors of `shape`.
local function split(v, n, shape)
  local hi, lo = tensor.empty(shape), tensor.empty(shape)
  local h, l = hi.p.data, lo.p.data
  for i = 0, n - 1 do
    h[i] = v[i]
    l[i] = v[i] - h[i]
  end
  return hi, lo
end

--- Writes the statistics to path (a safetensors file, atomically); extra metadata in meta.
-- Returns path.
function Stats:save(path, meta)
  if type(path) ~= "string" then arg_error("Stats:save", 1, "a file path", path) end
  local d = self.dim
  local mu, mu_lo = split(self:mean(), d, { d })
  local sigma, sigma_lo = split(self:cov(), d * d, { d, d })
  local m = { format = M.FORMAT, n = self.n, dim = d }
  for k, v in pairs(self.info) do m[k] = v end
  for k, v in pairs(meta or {}) do m[k] = v end
  return checkpoint.save(path, { mu = mu, mu_lo = mu_lo, sigma = sigma, sigma_lo = sigma_lo }, m)
end

--- Whether path is a statistics file (its metadata says so); false for anything else,
-- a missing file included.
function M.is_file(path)
  if type(path) ~= "string" or not lib.file_exists(path) then return false end
  local ok, meta = pcall(checkpoint.meta, path)
  return ok and meta.format == M.FORMAT
end

--- Reads a statistics file written by Stats:save: the statistics (info = its metadata).
function M.load(path)
  if type(path) ~= "string" then arg_error("metrics.stats.load", 1, "a file path", path) end
  local t, meta = checkpoint.load(path)
  if meta.format ~= M.FORMAT then
    raise(string.format("metrics: %s is not a statistics file (its format is %s, not %s)", path,
      tostring(meta.format), M.FORMAT))
  end
  local n, d = tonumber(meta.n), tonumber(meta.dim)
  for _, k in ipairs { "mu", "mu_lo", "sigma", "sigma_lo" } do
    local want = (k == "mu" or k == "mu_lo") and d or d * d
    if not t[k] or t[k]:numel() ~= want then
      raise(string.format("metrics: %s: entry %s is missing or not of %d values (dim %s)", path, k, want,
        tostring(meta.dim)))
    end
  end
  local mu, sigma = ffi.new("double[?]", d), ffi.new("double[?]", d * d)
  local a, b = t.mu.p.data, t.mu_lo.p.data
  for i = 0, d - 1 do mu[i] = a[i] + b[i] end
  a, b = t.sigma.p.data, t.sigma_lo.p.data
  for i = 0, d * d - 1 do sigma[i] = a[i] + b[i] end
  local info = {}
  for k, v in pairs(meta) do
    if k ~= "format" and k ~= "n" and k ~= "dim" then info[k] = v end
  end
  local s = M.new(d, info)
  check(C.ss_feature_stats_set(s._p, n, mu, sigma))
  return s
end

return M
