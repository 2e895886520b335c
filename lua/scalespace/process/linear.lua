--- Linear Gaussian processes built from any linear operator (Scale Space Diffusion's
-- generalisation): x_t = B_t x_{t−1} + n_t with n_t ~ N(0, Σ_{t|t−1}) chosen so that
-- the marginal is x_t = A_t x_0 + σ_t ε, A_t = B_t ∘ … ∘ B_1 (the composition of the
-- steps, not one direct operator), Σ_{t|t−1} = σ_t² I − σ_{t−1}² B_t B_tᵀ. Steps whose
-- B_t is a number are DDPM steps; an operator step (a resize, a blur, anything in
-- ss.op) draws its non-isotropic noise by Lanczos. The posterior is SSD's Eq. 6.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.process"
local schedule = require "scalespace.schedule"
local op = require "scalespace.op"
local linalg = require "scalespace.linalg"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}
local Linear = base.class("linear")
M.Linear = Linear

--- A process from per-step operators. opts:
--   size     the data's image size (number or {h, w});
--   T        number of steps;
--   step_op  function(t) -> B_t: a number (a multiple of the identity) or an ss.op;
--   std      function(t) -> σ_t, the marginal noise standard deviation (σ_0 = 0);
--   name, channels (for prior), lanczos_k (40), power_iterations (100),
--   step_scale function(t) -> the scalar part of an operator step (for isotropic).
function M.linear(opts)
  if type(opts) ~= "table" then arg_error("process.linear", 1, "an options table", opts) end
  local name = opts.name or "linear"
  local h, w = base.size(opts, "process." .. name)
  local T = opts.T
  if type(T) ~= "number" or T < 1 then raise("process." .. name .. ": T must be a step count >= 1") end
  if type(opts.step_op) ~= "function" or type(opts.std) ~= "function" then
    raise("process." .. name .. ": step_op and std must be functions of t")
  end
  local P = setmetatable({ name = name, T = T, ops = {}, sigmas = { [0] = 0 }, sizes = { [0] = { h, w } },
    lambda_max = {}, k = opts.lanczos_k or 40, power_iterations = opts.power_iterations or 100,
    step_scale = opts.step_scale, channels = opts.channels or 1 }, Linear)
  for t = 1, T do
    local B = opts.step_op(t)
    if type(B) ~= "number" and not op.is_op(B) then
      raise(string.format("process.%s: step_op(%d) returned %s, expected a number or an operator", name, t, type(B)))
    end
    local prev = P.sizes[t - 1]
    if op.is_op(B) then
      if B.in_shape[1] ~= prev[1] or B.in_shape[2] ~= prev[2] then
        raise(string.format("process.%s: step_op(%d) takes %dx%d images, step %d gives %dx%d", name, t,
          B.in_shape[1], B.in_shape[2], t - 1, prev[1], prev[2]))
      end
      P.sizes[t] = { B.out_shape[1], B.out_shape[2] }
    else
      P.sizes[t] = prev
    end
    P.ops[t] = B
    local s = opts.std(t)
    if type(s) ~= "number" or s < 0 then raise(string.format("process.%s: std(%d) must be a number >= 0", name, t)) end
    P.sigmas[t] = s
  end
  return P
end

function Linear:check_input(x, t, fname)
  tensor.expect_tensor(x, self.name .. "." .. fname, 1)
  local s, want = x:shape(), self.sizes[t]
  if s[#s - 1] ~= want[1] or s[#s] ~= want[2] then
    raise(string.format("%s.%s: x_%d must be %dx%d images, got %dx%d", self.name, fname, t, want[1], want[2],
      s[#s - 1], s[#s]))
  end
end

--- The steps s+1..t as one map: a scalar factor c and the composition of their
-- operators (nil when all are scalar), so B_{t|s} = c·A.
function Linear:steps_between(s, t)
  local c, A = 1, nil
  for i = s + 1, t do
    local B = self.ops[i]
    if type(B) == "number" then c = c * B else A = A and B * A or B end
  end
  return c, A
end

--- λ_max(B Bᵀ) (= λ_max(BᵀB)) of the steps s+1..t (default: step t alone) by power
-- iteration, cached.
function Linear:lmax(t, s)
  s = s or t - 1
  local c, A = self:steps_between(s, t)
  if not A then return c * c end
  local key = s .. ">" .. t
  if not self.lambda_max[key] then
    self.lambda_max[key] = linalg.power_iteration(A:T() * A, { iterations = self.power_iterations, seed = t })
  end
  return c * c * self.lambda_max[key]
end

--- A_t x0 by applying the steps (scalars gathered into one factor).
function Linear:mean(x0, t)
  self:check_time(t, "mean")
  self:check_input(x0, 0, "mean")
  local x, c = x0, 1
  for i = 1, t do
    local B = self.ops[i]
    if type(B) == "number" then c = c * B else x = B(x) end
  end
  return x == x0 and x0 * c or x:mul_(c)
end

--- A_t as an operator (a composition of the steps' operators).
function Linear:mean_op(t)
  self:check_time(t, "mean_op")
  local c, A = self:steps_between(0, t)
  return c * (A or op.identity(self.sizes[0]))
end

function Linear:std(t) return self.sigmas[self:check_time(t, "std")] end

-- One operator step: B x + Σ^{1/2} ε with Σ = σ_t² I − σ_{t−1}² B Bᵀ (Lanczos).
function Linear:op_step(x, t, g)
  local B, st, ss = self.ops[t], self.sigmas[t], self.sigmas[t - 1]
  local y = B(x)
  if st == 0 then return y end
  if ss * ss * self:lmax(t) > st * st * (1 + 1e-6) then
    raise(string.format("%s: Σ_{t|t−1} at t = %d is not positive semidefinite (σ_{t−1}² λ_max(BBᵀ) = %g > σ_t² = %g)",
      self.name, t, ss * ss * self:lmax(t), st * st))
  end
  local eps = base.noise(g, y:shape(), self.name .. ".step", y:device_name())
  local Sigma = (st * st) * op.identity(self.sizes[t]) - (ss * ss) * (B * B:T())
  return y:add_((linalg.lanczos(Sigma, eps, "sqrt", { k = self.k })))
end

--- A sample of p(x_t | x_0) in closed form: A_t x_0 + σ_t ε (ε at r(t)).
function Linear:marginal(x0, t, g)
  local m = self:mean(x0, t)
  if self.sigmas[t] == 0 then return m end
  return m:add_(base.noise(g, m:shape(), self.name .. ".marginal", m:device_name()), self.sigmas[t])
end

function Linear:transition(x, s, t, g)
  self:check_time(s, "transition")
  self:check_time(t, "transition")
  self:check_input(x, s, "transition")
  if t < s then raise(self.name .. ".transition: needs s <= t") end
  if t == s then return x:clone() end
  local i = s + 1
  while i <= t do
    if type(self.ops[i]) == "number" then
      -- a run of scalar steps i..j is one DDPM transition
      local c, j = 1, i
      while j <= t and type(self.ops[j]) == "number" do c, j = c * self.ops[j], j + 1 end
      local var = self.sigmas[j - 1] ^ 2 - c * c * self.sigmas[i - 1] ^ 2
      x = x * c
      if var > 0 then
        x:add_(base.noise(g, x:shape(), self.name .. ".transition", x:device_name()), math.sqrt(var))
      end
      i = j
    else
      x = self:op_step(x, i, g)
      i = i + 1
    end
  end
  return x
end

--- Eq. 6 of Scale Space Diffusion: q(x_s | x_t, x0_hat), s = opts.s (default t − 1),
-- has mean μ_s + ρ Bᵀ(x_t − B μ_s) (B = B_{t|s} the steps s+1..t, μ_s = A_s x0_hat,
-- ρ = σ_s²/σ_t²) and covariance σ_s²(I − ρ BᵀB); the noise on an operator step comes
-- from Lanczos (f = √, k steps, ρ clamped below (1 − 1e-3)/λ_max(BᵀB)). opts.isotropic:
-- DDPM's σ_s²(1 − ρc²) instead, c the scalar part of B (step_scale; the paper's
-- ablation). Returns the sample and the mean; no noise when s = 0.
function Linear:posterior(xt, x0_hat, t, g, opts)
  self:check_input(x0_hat, 0, "posterior")
  local s = self:reverse_time(t, opts, "posterior")
  return self:posterior_mu(xt, self:mean(x0_hat, s), t, g, opts)
end

function Linear:reverse_time(t, opts, fname)
  self:check_time(t, fname, 1)
  local s = opts and opts.s or t - 1
  self:check_time(s, fname)
  if s >= t then raise(string.format("%s.%s: needs s < t, got s = %d, t = %d", self.name, fname, s, t)) end
  return s
end

--- The same step given μ_s = A_s x̂_0 itself (at x_s's resolution), for a network that
-- predicts it directly (Scale Space Diffusion predicts A_s x_0 / √ᾱ_s).
function Linear:posterior_mu(xt, mu, t, g, opts)
  local s = self:reverse_time(t, opts, "posterior_mu")
  self:check_input(xt, t, "posterior_mu")
  self:check_input(mu, s, "posterior_mu")
  local st, ss = self.sigmas[t], self.sigmas[s]
  if st == 0 then raise(self.name .. ".posterior: σ_t = 0 at t = " .. t .. ", no posterior") end
  local rho = ss * ss / (st * st)
  local c, A = self:steps_between(s, t)
  local mean
  if not A then
    mean = mu * (1 - rho * c * c) + xt * (rho * c)
  else
    mean = mu + A:adjoint(xt - A(mu) * c):mul_(rho * c)
  end
  if s == 0 or ss == 0 then return mean:clone(), mean end
  local eps = base.noise(g, mean:shape(), self.name .. ".posterior", mean:device_name())
  if not A or (opts and opts.isotropic) then
    if A then
      if not self.step_scale then raise(self.name .. ".posterior: isotropic noise needs step_scale") end
      c = 1
      for i = s + 1, t do
        c = c * (type(self.ops[i]) == "number" and self.ops[i] or self.step_scale(i))
      end
    end
    return mean + eps * (ss * math.sqrt(math.max(1 - rho * c * c, 0))), mean
  end
  rho = math.min(rho, (1 - 1e-3) / self:lmax(t, s))
  local K = op.identity(self.sizes[s]) - (rho * c * c) * (A:T() * A)
  return mean + linalg.lanczos(K, eps, "sqrt", { k = self.k }):mul_(ss), mean
end

--- n samples of N(0, σ_T² I) at the last resolution (channels: popts.shape[1], or the
-- process's).
function Linear:prior(n, g, popts)
  local sz = self.sizes[self.T]
  local ch = popts and popts.shape and popts.shape[1] or self.channels
  return base.noise(g, { n, ch, sz[1], sz[2] }, self.name .. ".prior", self.device) * self.sigmas[self.T]
end

--- Scale Space Diffusion (Mukhopadhyay et al.): B_t = sqrt(α_t)·Resize(r(t−1) → r(t))
-- (the identity on same-resolution steps), σ_t² = 1 − ᾱ_t. opts: size (the data's,
-- e.g. 28), levels (finest first; default {size, size/2} while divisible, up to 3),
-- T (1000), beta (Ho's variances; linear 1e-4 … 0.02), schedule ("convex_decay",
-- "equal", "sigmoid_like", "tanh_like") with schedule_param (γ = 0.5), mode
-- ("bilinear": PyTorch's antialiased bilinear), channels, lanczos_k (40).
-- P.resolution[t] = r(t), P.alphas_cumprod[t] = ᾱ_t, P:snr(t) = ᾱ_t/(1 − ᾱ_t).
function M.ssd(opts)
  opts = opts or {}
  local h = base.size(opts, "process.ssd")
  local levels = opts.levels
  if not levels then
    levels = { h }
    while #levels < 3 and levels[#levels] % 2 == 0 do levels[#levels + 1] = levels[#levels] / 2 end
  end
  if levels[1] ~= h then raise("process.ssd: levels[1] must be the data size " .. h) end
  local T = opts.T or 1000
  local beta = opts.beta or schedule.linear_beta(T)
  if #beta ~= T then raise("process.ssd: beta must have T = " .. T .. " values") end
  local abar = schedule.alphas_cumprod(beta)
  local r = schedule.resolution(T, levels, opts.schedule or "convex_decay", opts.schedule_param)
  local resizes = {}
  local function resize(a, b)
    local key = a .. ">" .. b
    resizes[key] = resizes[key] or op.resize { from = { a, a }, to = { b, b }, mode = opts.mode or "bilinear" }
    return resizes[key]
  end
  local P = M.linear {
    name = "ssd", size = h, T = T, channels = opts.channels, lanczos_k = opts.lanczos_k,
    step_op = function(t)
      local c = math.sqrt(1 - beta[t])
      if r[t] == r[t - 1] then return c end
      return c * resize(r[t - 1], r[t])
    end,
    std = function(t) return math.sqrt(1 - abar[t]) end,
    step_scale = function(t) return math.sqrt(1 - beta[t]) end,
  }
  P.levels, P.resolution, P.alphas_cumprod, P.beta = levels, r, abar, beta
  P.options = opts
  function P:snr(t) return abar[t] / (1 - abar[t]) end
  return P
end

return M
