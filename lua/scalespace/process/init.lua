--- scalespace.process — forward processes of generalised diffusion scale-spaces.
-- Every process has one interface (t is an integer time index 0..P.T, 0 = data):
--   P:marginal(x0, t, g) -> x_t      sample of p(x_t | x_0)
--   P:step(x, t, g)      -> x_t      one forward transition from x_{t−1}
--   P:transition(x, s, t, g)         from time s to t > s in one go
--   P:trajectory(x0, times, g) -> {x_t for t in times} (one path, Markov steps)
--   P:mean(x0, t), P:mean_op(t), P:std(t)   the marginal's mean operator and noise
--   P:prior(n, g)  (where there is one)     P:posterior(x_t, x0_hat, t, g) -> x_{t−1}, mean
-- g is an ss.rng, or a tensor of standard normal noise of the output's shape (so a
-- test or a figure can choose the noise: same noise, rotated noise, …).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local raise = lib.raise

local M = {}

--- The base every process inherits: trajectory and step from transition.
local Process = {}
Process.__index = Process
M.Process = Process

function Process:check_time(t, fname, lo)
  lo = lo or 0
  if type(t) ~= "number" or t % 1 ~= 0 or t < lo or t > self.T then
    raise(string.format("%s.%s: t must be an integer in [%d, %d], got %s", self.name, fname, lo, self.T,
      tostring(t)))
  end
  return t
end

--- Standard normal noise of `shape` on `device` (default "cpu") from g (an rng), or g
-- itself when it is a tensor.
function M.noise(g, shape, what, device)
  if tensor.is_tensor(g) then
    local s = g:shape()
    if #s ~= #shape then raise(string.format("%s: noise has shape %s, expected %s", what, tensor.shape_string(s),
      tensor.shape_string(shape))) end
    for i = 1, #s do
      if s[i] ~= shape[i] then raise(string.format("%s: noise has shape %s, expected %s", what,
        tensor.shape_string(s), tensor.shape_string(shape))) end
    end
    return g
  end
  if type(g) ~= "cdata" then raise(what .. ": expected an rng (ss.rng(seed)) or a noise tensor, got " .. type(g)) end
  return g:normal(shape, 0, 1, device)
end

--- Moves the process's tensors (rates, schedules held as tensors) to `device` and makes
-- its priors draw there; returns the process. Its operators follow their inputs.
function Process:to(device)
  for k, v in pairs(self) do
    if tensor.is_tensor(v) then self[k] = v:to(device) end
  end
  self.device = device
  return self
end

function Process:step(x, t, g)
  self:check_time(t, "step", 1)
  return self:transition(x, t - 1, t, g)
end

function Process:marginal(x0, t, g)
  self:check_time(t, "marginal")
  return self:transition(x0, 0, t, g)
end

--- One path through the requested times (increasing), by transitions between them:
-- by the semigroup property this has the law of stepping one index at a time.
function Process:trajectory(x0, times, g)
  tensor.expect_tensor(x0, self.name .. ".trajectory", 1)
  if type(times) ~= "table" then lib.arg_error(self.name .. ".trajectory", 2, "a list of times", times) end
  local out, x, s = {}, x0, 0
  for i, t in ipairs(times) do
    self:check_time(t, "trajectory")
    if t < s then raise(self.name .. ".trajectory: times must be increasing") end
    if t > s then x, s = self:transition(x, s, t, g), t end
    out[i] = t == 0 and x0:clone() or x
  end
  return out
end

function Process:__tostring()
  return string.format("process %s (T = %d)", self.name, self.T)
end

--- A new process class (for the modules below and for users' own processes).
function M.class(name)
  local cls = setmetatable({}, { __index = Process })
  cls.__index = cls
  cls.__tostring = Process.__tostring
  cls.kind = name
  return cls
end

--- (h, w) from opts.size: a number or {h, w}.
function M.size(opts, fname)
  local s = opts.size
  if type(s) == "number" then return s, s end
  if type(s) == "table" and type(s[1]) == "number" and type(s[2]) == "number" then return s[1], s[2] end
  raise(fname .. ": size must be a number or {h, w}, got " .. tostring(s))
end

local constructors = {
  ddpm = "diagonal", heat = "diagonal", ihdm = "diagonal", blurring = "diagonal",
  linear = "linear", ssd = "linear", osmosis = "osmosis",
}
setmetatable(M, {
  __index = function(t, k)
    local file = constructors[k]
    if file then
      local mod = require("scalespace.process." .. file)
      for name, f in pairs(mod) do
        if constructors[name] then rawset(t, name, f) end
      end
      return rawget(t, k)
    end
  end,
})

return M
