--- Probabilistic osmosis (Peter, Sect. 6.2) as a process: the image evolves by
-- deterministic osmosis towards a noise guidance image of its own mean (σ = 0.1,
-- clipped to [1e-6, 1]); the randomness is the guidance, drawn once per path. Time
-- index k stands for osmosis time P.time[k] (the same units as the heat process:
-- pixel spacing 1). Implicit steps of at most opts.tau (BiCGSTAB).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.process"
local osmosis = require "scalespace.osmosis"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}
local Osmosis = base.class("osmosis")
M.Osmosis = Osmosis

--- opts: times = {t_1, …} (increasing osmosis times), sigma (0.1), tau (largest
-- implicit step, default: each interval in opts.substeps = 4 equal steps), offset (1),
-- eps (1e-6), maxiter (1000).
function M.osmosis(opts)
  if type(opts.times) ~= "table" or #opts.times == 0 then
    arg_error("ss.process.osmosis", 1, "{times = {t1, t2, …}}", opts.times)
  end
  local time = { [0] = 0 }
  for k, t in ipairs(opts.times) do
    if type(t) ~= "number" or t ~= t or t == math.huge or t < time[k - 1] then raise(string.format("ss.process.osmosis: times[%d] = %s: times must be increasing finite numbers >= 0", k,
      tostring(t))) end
    time[k] = t
  end
  return setmetatable({ name = "osmosis", T = #opts.times, time = time, sigma = opts.sigma or 0.1, tau = opts.tau,
    substeps = opts.substeps or 4, offset = opts.offset or 1, eps = opts.eps or 1e-6, maxiter = opts.maxiter or 1000,
    reports = {} }, Osmosis)
end

--- The noise guidance of a batch x0 (its per-image mean plus σ-noise, clipped).
function Osmosis:guidance(x0, g)
  return osmosis.noise_guidance(x0, { rng = g, sigma = self.sigma })
end

-- Osmosis from time index s to t with guidance v.
function Osmosis:evolve(x, v, s, t)
  local times = {}
  for k = s + 1, t do
    local dt = (self.time[k] - self.time[k - 1]) / self.substeps
    for j = 1, self.substeps do times[#times + 1] = self.time[k - 1] + j * dt - self.time[s] end
  end
  if #times == 0 then return x:clone() end
  local tau = self.tau or math.huge
  local out, reports = osmosis.evolve(x, v, { times = times, tau = tau, offset = self.offset, eps = self.eps,
    maxiter = self.maxiter, last_only = true })
  for _, r in ipairs(reports) do self.reports[#self.reports + 1] = r end
  return out[#out].u
end

--- x_t from x_s under guidance v (a tensor like x; here the guidance plays the
-- role the noise plays elsewhere, so it is required).
function Osmosis:transition(x, s, t, v)
  tensor.expect_tensor(x, "osmosis.transition", 1)
  self:check_time(s, "transition")
  self:check_time(t, "transition")
  if not tensor.is_tensor(v) then raise("osmosis.transition: pass the guidance image (P:guidance(x0, g))") end
  if t < s then raise("osmosis.transition: needs s <= t") end
  return self:evolve(x, v, s, t)
end

--- x_t for x0 with a fresh guidance from g (an rng), or g itself when it is a tensor.
function Osmosis:marginal(x0, t, g)
  self:check_time(t, "marginal")
  local v = tensor.is_tensor(g) and g or self:guidance(x0, g)
  return self:evolve(x0, v, 0, t), v
end

--- One path: a guidance drawn once (or given as g), evolved through the times.
function Osmosis:trajectory(x0, times, g)
  local v = tensor.is_tensor(g) and g or self:guidance(x0, g)
  local out, x, s = {}, x0, 0
  for i, t in ipairs(times) do
    self:check_time(t, "trajectory")
    if t < s then raise("osmosis.trajectory: times must be increasing") end
    if t > s then x, s = self:evolve(x, v, s, t), t end
    out[i] = t == 0 and x0:clone() or x
  end
  return out, v
end

function Osmosis:mean() raise("osmosis: the process is not linear in x0; it has no mean operator") end
function Osmosis:mean_op() self:mean() end

base.register("osmosis", M.osmosis)

return M
