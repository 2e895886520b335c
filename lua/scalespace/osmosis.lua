--- scalespace.osmosis — linear osmosis filtering, deterministic and probabilistic.
-- ∂_t u = Δu − div(d u) with reflecting boundaries and the canonical drift
-- d = ∇v / v of a guidance image v (Weickert et al. 2013). Osmosis keeps each
-- image's mean grey value and, given time, turns u into (μ_u/μ_v)·v. Images are
-- (…, H, W); every leading dimension is an independent image (channel). Positive
-- images are needed: an offset (default 1) is added before and removed after.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local op = require "scalespace.op"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

--- The faces' drift of a positive guidance v (…, H, W): d1 (…, H−1, W) between
-- rows, d2 (…, H, W−1) between columns (nil for a single row / column).
function M.drift(v, opts)
  tensor.expect_tensor(v, "osmosis.drift", 1)
  opts = opts or {}
  local s = v:shape()
  if #s < 2 then raise("osmosis.drift: the guidance must be (…, H, W)") end
  local H, W = s[#s - 1], s[#s]
  local d1, d2
  if H > 1 then
    local t = { unpack(s) }
    t[#t - 1] = H - 1
    d1 = v:empty_like(t)
  end
  if W > 1 then
    local t = { unpack(s) }
    t[#t] = W - 1
    d2 = v:empty_like(t)
  end
  check(C.ss_osmosis_drift(d1 and d1.p or nil, d2 and d2.p or nil, v.p, opts.h or 1))
  return d1, d2
end

--- The osmosis generator A of guidance v (with opts.offset added, default 0 here:
-- pass a positive v) as an operator: A(u), A:adjoint(y), and everything in ss.op
-- and ss.linalg. opts.tau gives I − τA instead (the implicit step's matrix).
function M.operator(v, opts)
  opts = opts or {}
  local g = opts.offset and opts.offset ~= 0 and v + opts.offset or v
  local d1, d2 = M.drift(g, opts)
  local p1, p2 = d1 and d1.p or nil, d2 and d2.p or nil
  if opts.tau then return op.wrap(C.ss_linop_osmosis(p1, p2, opts.h or 1, opts.tau)) end
  return op.wrap(C.ss_linop_osmosis_generator(p1, p2, opts.h or 1))
end

--- The largest explicit step size that keeps the scheme positive and stable.
function M.explicit_limit(v, opts)
  local d1, d2 = M.drift(v, opts)
  local lim = ffi.new("double[1]")
  check(C.ss_osmosis_explicit_limit(lim, d1 and d1.p or nil, d2 and d2.p or nil, (opts or {}).h or 1))
  return lim[0]
end

--- Evolves f towards the guidance v. opts: tau (step size, default 1), steps (how
-- many steps, default 100) or times = {t1, t2, …} (states to return; the last step
-- before each is shortened to land on it), offset (1), h (1), explicit = true for
-- explicit Euler steps (tau must respect the stability limit), eps (BiCGSTAB's
-- ‖r‖₂ ≤ eps·n, default 1e-6), maxiter (1000) and last_only (keep only the final
-- state). Returns a list of {t = time, u = image} (u without the offset) and the
-- solver reports per step.
function M.evolve(f, v, opts)
  tensor.expect_tensor(f, "osmosis.evolve", 1)
  tensor.expect_tensor(v, "osmosis.evolve", 2)
  opts = opts or {}
  local tau, offset, h = opts.tau or 1, opts.offset or 1, opts.h or 1
  if type(tau) ~= "number" or tau <= 0 then raise("osmosis.evolve: tau must be a positive number") end
  local times = opts.times
  if times == nil then times = { tau * (opts.steps or 100) } end
  if type(times) ~= "table" or #times == 0 then arg_error("osmosis.evolve", 3, "{times = {t1, …}}", times) end
  for i = 2, #times do
    if times[i] < times[i - 1] then raise("osmosis.evolve: times must be increasing") end
  end
  local d1, d2 = M.drift(v + offset, { h = h })
  local p1, p2 = d1 and d1.p or nil, d2 and d2.p or nil
  local u = f + offset
  local info = ffi.new("ss_solve_info")
  local out, reports, t = {}, {}, 0
  local function record(at)
    out[#out + 1] = { t = at, u = u - offset }
  end
  for _, target in ipairs(times) do
    while t < target - 1e-12 * math.max(1, target) do
      local step = math.min(tau, target - t)
      if opts.explicit then
        check(C.ss_osmosis_explicit_step(u.p, u.p, p1, p2, h, step))
      else
        local rc = C.ss_osmosis_implicit_step(u.p, u.p, p1, p2, h, step, opts.eps or 1e-6, opts.maxiter or 1000,
          info)
        if rc < 0 then
          raise(string.format("osmosis.evolve: step at t = %g: %s", t, lib.last_error()))
        end
        reports[#reports + 1] = { t = t + step, iterations = info.iterations, residual = info.residual }
      end
      t = t + step
    end
    if not opts.last_only or target == times[#times] then record(target) end
  end
  return out, reports
end

--- Peter's Eq. 50 (after Schmidt): L = −Σ ũ ln(ũ / ṽ) per image, with ũ = u + offset and
-- ṽ = v + offset (offset 1 as in evolve); a Lyapunov sequence, increasing along an
-- osmosis trajectory. Returns a tensor with one value per image of u (…, H, W).
function M.relative_entropy(u, v, opts)
  tensor.expect_tensor(u, "osmosis.relative_entropy", 1)
  tensor.expect_tensor(v, "osmosis.relative_entropy", 2)
  local offset = (opts or {}).offset or 1
  local s = u:shape()
  local n = u:numel() / (s[#s - 1] * s[#s])
  local uu, vv = u + offset, v + offset
  return (uu * (uu / vv):log()):reshape({ n, s[#s - 1] * s[#s] }):per_sample("sum"):mul_(-1)
end

--- The guidance of probabilistic osmosis (Peter, Sect. 6.2): per image of f, a noise
-- image with f's mean and standard deviation opts.sigma (default 0.1), clipped to
-- [1e-6, 1], drawn from opts.rng (an ss.rng) on f's device.
function M.noise_guidance(f, opts)
  tensor.expect_tensor(f, "osmosis.noise_guidance", 1)
  if type(opts) ~= "table" or type(opts.rng) ~= "cdata" then
    arg_error("osmosis.noise_guidance", 2, "{rng = ss.rng(seed), sigma = 0.1}", opts and opts.rng)
  end
  local s = f:shape()
  local n = f:numel() / (s[#s - 1] * s[#s])
  local flat = f:reshape { n, s[#s - 1] * s[#s] }
  local means = flat:per_sample("mean"):reshape { n, 1 }
  local v = opts.rng:normal({ n, s[#s - 1] * s[#s] }, 0, opts.sigma or 0.1, f:device_name()) + means
  return v:clamp_(1e-6, 1):reshape(s)
end

--- Probabilistic osmosis: f evolving towards a noise sample of its own mean (opts.rng,
-- opts.sigma as noise_guidance; the rest as evolve). Returns the trajectory (as evolve),
-- the guidance, and the solver reports.
function M.probabilistic(f, opts)
  local v = M.noise_guidance(f, opts)
  local traj, reports = M.evolve(f, v, opts)
  return traj, v, reports
end

return M
