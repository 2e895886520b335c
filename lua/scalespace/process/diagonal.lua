--- Processes that are diagonal in a fixed orthonormal basis: x_t = V(λ_t ⊙ Vᵀx_0) +
-- V(γ_t ⊙ Vᵀε), with V the identity (DDPM: λ_t, γ_t numbers) or the orthonormal
-- DCT (heat, inverse heat dissipation, blurring diffusion: one λ_t, γ_t per
-- frequency). Each coordinate is a scalar process u_t = α_{t|s} u_s + σ_{t|s} g with
-- α_{t|s} = λ_t/λ_s and σ²_{t|s} = γ_t² − α_{t|s}² γ_s², so transitions, steps and the
-- posterior q(x_s | x_t, x_0) are one set of formulas for all of them.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.process"
local schedule = require "scalespace.schedule"
local op = require "scalespace.op"
local raise, arg_error = lib.raise, lib.arg_error
local is_t = tensor.is_tensor

local M = {}
local Diagonal = base.class("diagonal")
M.Diagonal = Diagonal

local function sqrt0(v)
  if is_t(v) then return v:clamp(0):sqrt_() end
  return math.sqrt(math.max(v, 0))
end

--- Σ coef_i ⊙ x_i in the process's basis; coefficients are numbers or (h, w)
-- per-frequency tensors (then the sum is formed in the DCT basis).
function Diagonal:combine(terms)
  local spectral = false
  for _, term in ipairs(terms) do spectral = spectral or is_t(term[1]) end
  local y
  for _, term in ipairs(terms) do
    local c, x = term[1], term[2]
    if c ~= 0 then
      local z = spectral and self.D(x):mul_(c) or x * c
      if y then y:add_(z) else y = z end
    end
  end
  if y == nil then y = terms[1][2] * 0 end
  return spectral and self.D:adjoint(y) or y
end

function Diagonal:check_input(x, fname)
  tensor.expect_tensor(x, self.name .. "." .. fname, 1)
  if self.h then
    local s = x:shape()
    if s[#s - 1] ~= self.h or s[#s] ~= self.w then
      raise(string.format("%s.%s: images are %dx%d, the process is for %dx%d", self.name, fname, s[#s - 1], s[#s],
        self.h, self.w))
    end
  end
end

--- Mean of p(x_t | x_0) and its operator; the noise scale γ_t (number or per frequency).
function Diagonal:mean(x0, t)
  self:check_input(x0, "mean")
  return self:combine { { self:lam(self:check_time(t, "mean")), x0 } }
end

function Diagonal:mean_op(t)
  local l = self:lam(self:check_time(t, "mean_op"))
  if is_t(l) then return op.diag_dct { scale = l } end
  local h, w = self.h or 1, self.w or 1
  return l * op.identity { h, w }
end

function Diagonal:std(t) return sqrt0(self:gamma2(self:check_time(t, "std"))) end

function Diagonal:transition(x, s, t, g)
  self:check_input(x, "transition")
  self:check_time(s, "transition")
  self:check_time(t, "transition")
  if t < s then raise(self.name .. ".transition: needs s <= t") end
  if t == s then return x:clone() end
  local a = self:ratio(s, t)
  if self.deterministic then return self:combine { { a, x } } end
  local var = self:gamma2(t) - a * a * self:gamma2(s)
  local eps = base.noise(g, x:shape(), self.name .. ".transition", x:device_name())
  return self:combine { { a, x }, { sqrt0(var), eps } }
end

--- The reverse step's times: t ≥ 1 and s = opts.s (default t − 1) with 0 ≤ s < t.
function Diagonal:reverse_times(t, opts, fname)
  self:check_time(t, fname, 1)
  if self.deterministic then raise(self.name .. "." .. fname .. ": the process has no noise, so no posterior") end
  local s = opts and opts.s or t - 1
  self:check_time(s, fname)
  if s >= t then raise(string.format("%s.%s: needs s < t, got s = %s, t = %d", self.name, fname, tostring(s), t)) end
  return s, self:ratio(s, t), self:gamma2(s), self:gamma2(t)
end

-- mean + sd·ε (in the process's basis); no noise when the step ends at 0.
local function with_noise(self, mean, var, s, g)
  if s == 0 then return mean:clone(), mean end
  local eps = base.noise(g, mean:shape(), self.name .. ".posterior", mean:device_name())
  return mean + self:combine { { sqrt0(var), eps } }, mean
end

--- A sample of q(x_s | x_t, x_0 = x0_hat) and its mean (s = opts.s, default t − 1):
-- the Gaussian posterior of the forward process (DDPM's μ̃_t and β̃_t; blurring
-- diffusion's per-frequency reverse step of Hoogeboom & Salimans; with s < t − 1 a
-- respaced step). No noise when s = 0.
function Diagonal:posterior(xt, x0_hat, t, g, opts)
  self:check_input(xt, "posterior")
  self:check_input(x0_hat, "posterior")
  local s, a, g2s, g2t = self:reverse_times(t, opts, "posterior")
  local var_ts = g2t - a * a * g2s
  local mean = self:combine { { a * g2s / g2t, xt }, { self:lam(s) * var_ts / g2t, x0_hat } }
  return with_noise(self, mean, var_ts * g2s / g2t, s, g)
end

--- The same step from a noise prediction ε̂ (x̂_0 = (x_t − γ_t ε̂)/λ_t substituted):
-- mean (x_t − σ²_{t|s}/γ_t ε̂)/α_{t|s}, per frequency for the spectral processes.
-- Never divides by λ_t, which blurring diffusion makes tiny at high frequencies.
function Diagonal:posterior_eps(xt, eps, t, g, opts)
  self:check_input(xt, "posterior_eps")
  self:check_input(eps, "posterior_eps")
  local s, a, g2s, g2t = self:reverse_times(t, opts, "posterior_eps")
  local var_ts = g2t - a * a * g2s
  local mean = self:combine { { 1 / a, xt }, { -var_ts / (a * math.sqrt(g2t)), eps } }
  return with_noise(self, mean, var_ts * g2s / g2t, s, g)
end

--- DDIM's deterministic step (η = 0) from t to s < t with the noise prediction ε̂:
-- x_s = λ_s x̂_0 + γ_s ε̂ = (x_t − γ_t ε̂)/α_{t|s} + γ_s ε̂.
function Diagonal:ddim(xt, eps, t, s)
  self:check_input(xt, "ddim")
  self:check_input(eps, "ddim")
  local _, a, g2s, g2t = self:reverse_times(t, { s = s }, "ddim")
  return self:combine { { 1 / a, xt }, { math.sqrt(g2s) - math.sqrt(g2t) / a, eps } }
end

--- n samples of N(0, γ_T²) of the process's image shape (opts.shape {C, H, W} when
-- constructed, or popts.shape).
function Diagonal:prior(n, g, popts)
  local shape = popts and popts.shape or self.shape
  if not shape then raise(self.name .. ".prior: construct the process with shape = {C, H, W}, or pass {shape =}") end
  local s = { n, unpack(shape) }
  return self:combine { { sqrt0(self:gamma2(self.T)), base.noise(g, s, self.name .. ".prior", self.device) } }
end

--------------------------------------------------------------------- DDPM

local function per_step(v, T, fname, key)
  if type(v) == "number" then return schedule.constant(T, v) end
  if type(v) ~= "table" or #v ~= T then raise(string.format("%s: %s must be a number or a table of %d values", fname,
    key, T)) end
  return v
end

--- DDPM, Peter's Eq. 7: x_i = α_i x_{i−1} + σ_i g (σ_i a standard deviation).
--   ss.process.ddpm{beta = ss.schedule.linear_beta(1000)}  Ho et al.: β are variances,
--       α_i = sqrt(1 − β_i), σ_i = sqrt(β_i);
--   ss.process.ddpm{T = 100, sigma = 0.1}                  variance preserving
--       (alpha = "vp", the default: α_i = sqrt(1 − σ_i²));
--   ss.process.ddpm{T = 100, sigma = 0.1, alpha = 1}       variance exploding;
--   alpha and sigma may be numbers or tables of T values. opts.shape = {C, H, W}
--   enables prior(n, g). P.lambda, P.gamma (0..T) are the direct transition's λ_t, γ_t
--   (schedule.lambda_gamma, also in P.schedule); P.alphas_cumprod = λ_t².
function M.ddpm(opts)
  opts = opts or {}
  local alpha, sigma, T
  if opts.beta then
    if type(opts.beta) ~= "table" then arg_error("process.ddpm", 1, "{beta = table of variances}", opts.beta) end
    T, alpha, sigma = #opts.beta, {}, {}
    for i, b in ipairs(opts.beta) do alpha[i], sigma[i] = math.sqrt(1 - b), math.sqrt(b) end
  else
    T = opts.T or (type(opts.sigma) == "table" and #opts.sigma) or (type(opts.alpha) == "table" and #opts.alpha)
    if type(T) ~= "number" then raise("process.ddpm: give beta = {…}, or sigma (and alpha) with T") end
    if opts.sigma == nil then raise("process.ddpm: sigma (the per-step noise standard deviation) is required") end
    sigma = per_step(opts.sigma, T, "process.ddpm", "sigma")
    if opts.alpha == nil or opts.alpha == "vp" then alpha = schedule.vp_alpha(sigma)
    else alpha = per_step(opts.alpha, T, "process.ddpm", "alpha") end
  end
  local lg = schedule.lambda_gamma(alpha, sigma)
  local P = setmetatable({ name = "ddpm", T = T, alpha = alpha, sigma = sigma, lambda = lg.lambda, gamma = lg.gamma,
    schedule = lg, shape = opts.shape, alphas_cumprod = {}, options = opts }, Diagonal)
  for t = 0, T do P.alphas_cumprod[t] = lg.lambda[t] ^ 2 end
  function P:lam(t) return self.lambda[t] end
  function P:gamma2(t) return self.gamma[t] ^ 2 end
  function P:ratio(s, t)
    local r = 1
    for i = s + 1, t do r = r * self.alpha[i] end
    return r
  end
  -- Eq. 7 as written: one step uses α_t and σ_t themselves.
  function P:step(x, t, g)
    self:check_time(t, "step", 1)
    tensor.expect_tensor(x, "ddpm.step", 1)
    return x * self.alpha[t] + base.noise(g, x:shape(), "ddpm.step", x:device_name()) * self.sigma[t]
  end
  return P
end

--------------------------------------------- heat, IHDM, blurring diffusion

-- A DCT-diagonal process on h×w images: rates Λ = (πk/h)² + (πl/w)².
local function spectral(name, opts, T)
  local h, w = base.size(opts, "process." .. name)
  local P = setmetatable({ name = name, T = T, h = h, w = w, D = op.dct2 { h = h, w = w } }, Diagonal)
  P.rates = tensor.empty { h, w }
  lib.check(lib.C.ss_heat_frequencies(P.rates.p))
  P.shape = { opts.channels or 1, h, w }
  return P
end

-- Heat times t_0 = 0 < t_1 < … < t_K: opts.times {t_1, …} (diffusion times), or IHDM's
-- log-spaced blur levels (opts.K = 100, sigma_min = 0.5, sigma_max = 20; t = σ_B²/2).
local function heat_times(opts, fname)
  if opts.times then
    if type(opts.times) ~= "table" or #opts.times == 0 then arg_error(fname, 1, "{times = {t1, t2, …}}", opts.times) end
    local out = { [0] = 0 }
    for k, t in ipairs(opts.times) do
      if type(t) ~= "number" or t < out[k - 1] then raise(fname .. ": times must be increasing numbers >= 0") end
      out[k] = t
    end
    return out, nil
  end
  local sig = schedule.ihdm_sigma(opts.K or 100, opts.sigma_min or 0.5, opts.sigma_max or 20)
  return schedule.heat_times(sig), sig
end

-- u_t = exp(t_k Δ) u_0 + σ ε for k ≥ 1 (σ = 0: homogeneous diffusion). As a Markov
-- chain in the DCT basis a step adds σ²(1 − α²) per frequency (σ² from the data).
local function heat_like(name, opts, sigma)
  local fname = "process." .. name
  local times, sig = heat_times(opts, fname)
  local P = spectral(name, opts, #times)
  P.time, P.sigma_B, P.sigma = times, sig, sigma
  P.deterministic = sigma == 0
  function P:lam(t) return (self.rates * (-self.time[t])):exp_() end
  function P:ratio(s, t) return (self.rates * (self.time[s] - self.time[t])):exp_() end
  function P:gamma2(t) return t == 0 and 0 or self.sigma ^ 2 end
  return P
end

--- Homogeneous diffusion (deterministic heat): {size =, times = {…}} or IHDM's levels.
function M.heat(opts)
  return heat_like("heat", opts or {}, 0)
end

--- Inverse heat dissipation (Rissanen et al.): u_k = F(t_k) u_0 + σ ε, k = 1..K, with
-- t_k = σ_B,k²/2 on IHDM's log-spaced levels. opts: size, K (100), sigma_min (0.5),
-- sigma_max (20), sigma (0.01, training noise), delta (sampling noise, 1.25σ),
-- channels; or times = {…} for other heat times.
function M.ihdm(opts)
  opts = opts or {}
  local P = heat_like("ihdm", opts, opts.sigma or 0.01)
  P.delta = opts.delta or 1.25 * P.sigma
  P.options = opts
  --- The IHDM prior: n training images (opts.data, (N,C,H,W)) chosen at random,
  -- blurred to level K, plus δ-noise.
  function P:prior(n, g, popts)
    local data = popts and popts.data
    tensor.expect_tensor(data, "ihdm.prior", 3)
    local idx = g:randint(n, 1, data:shape()[1])
    local x0 = data:index(idx)
    if (self.device or "cpu") ~= x0:device_name() then x0 = x0:to(self.device) end
    local x = self:mean(x0, self.T)
    return x:add_(g:normal(x:empty_like()), self.delta)
  end
  return P
end

--- Blurring diffusion.
-- form = "hoogeboom" (default; Hoogeboom & Salimans): t_i = i/T, per frequency
--   λ_t = α_t d_t with d_t = (1 − m) exp(−τ_t Λ) + m, τ_t = σ_blur(t)²/2,
--   σ_blur(t) = σ_blur,max sin²(πt/2), α_t² = sigmoid(logsnr_t), γ_t² = sigmoid(−logsnr_t)
--   (schedule.blurring); opts: size, T (1000), sigma_blur_max (20), min_scale m
--   (0.001), logsnr_min/max (∓10), channels (1, for prior). Scales the mean grey value
--   by α_t.
-- form = "peter" (Peter, Sect. 5.3 and 6.3, after Rissanen's code): u_t = F(t_k) u_0 +
--   β ε with heat times opts.times (or IHDM's levels) and opts.beta (0.1); keeps the
--   mean grey value in expectation and tends to the image mean plus β-noise.
function M.blurring(opts)
  opts = opts or {}
  local form = opts.form or "hoogeboom"
  if form == "peter" then
    local P = heat_like("blurring", opts, opts.beta or 0.1)
    P.form = form
    return P
  elseif form ~= "hoogeboom" then
    raise('process.blurring: form must be "hoogeboom" or "peter", got ' .. tostring(form))
  end
  local T = opts.T or 1000
  local P = spectral("blurring", opts, T)
  P.form, P.min_scale, P.options = form, opts.min_scale or 0.001, opts
  P.schedule = schedule.blurring(T, opts)
  local sched, m = P.schedule, P.min_scale
  function P:lam(t)
    if t == 0 then return 1 end
    local d = (self.rates * (-sched.tau[t])):exp_():mul_(1 - m):add_(m)
    return d:mul_(sched.alpha[t])
  end
  function P:ratio(s, t)
    if s == 0 then return self:lam(t) end
    return self:lam(t) / self:lam(s)
  end
  function P:gamma2(t) return t == 0 and 0 or sched.sigma[t] ^ 2 end
  return P
end

return M
