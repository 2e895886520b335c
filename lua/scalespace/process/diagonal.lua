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

-- A coefficient is a number, a per-sample column (N,1,1,1), or per frequency: (h,w) or
-- (N,1,h,w). Only per-frequency ones need the DCT basis.
local function per_frequency(c) return is_t(c) and c.p.shape[c.p.ndim - 1] ~= 1 end

--- Σ coef_i ⊙ x_i in the process's basis: numbers and per-sample columns act on the
-- pixels (the DCT is orthonormal), per-frequency coefficients in the DCT basis.
function Diagonal:combine(terms)
  local y, Y
  for _, term in ipairs(terms) do
    local c, x = term[1], term[2]
    if per_frequency(c) then
      local z = self.D(x):mul_(c)
      if Y then Y:add_(z) else Y = z end
    elseif is_t(c) then
      local z = x * c
      if y then y:add_(z) else y = z end
    elseif c ~= 0 then
      if y then y:add_(x, c) else y = x * c end -- a number: one fused pass (axpby)
    end
  end
  if Y then
    Y = self.D:adjoint(Y)
    if y then Y:add_(y) end
    return Y
  end
  return y or terms[1][2] * 0
end

--- λ_t for a list of times, one per sample: an (N,1,1,1) column when λ is a number, else
-- (N,1,h,w). Processes with a closed form override it with a few batched operations.
function Diagonal:lam_batch(ts)
  local l = self:lam(ts[1])
  if not is_t(l) then return base.column(ts, function(t) return self:lam(t) end, self.device) end
  local parts = {}
  for i, t in ipairs(ts) do parts[i] = self:lam(t):reshape { 1, 1, self.h, self.w } end
  return tensor.cat(parts, 1)
end

--- γ_t² for a list of times: an (N,1,1,1) column.
function Diagonal:gamma2_batch(ts)
  return base.column(ts, function(t) return self:gamma2(t) end, self.device)
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

-- A list of times must give one time per sample of x.
local function check_batch(self, x, ts, fname, lo)
  self:check_times(ts, fname, lo)
  if #ts ~= x:shape()[1] then
    raise(string.format("%s.%s: %d times for a batch of %d", self.name, fname, #ts, x:shape()[1]))
  end
end

--- Mean of p(x_t | x_0) and its operator; the noise scale γ_t (number or per frequency).
function Diagonal:mean(x0, t)
  self:check_input(x0, "mean")
  if type(t) == "table" then
    check_batch(self, x0, t, "mean")
    return self:combine { { self:lam_batch(t), x0 } }
  end
  return self:propagate(x0, 0, self:check_time(t, "mean"))
end

--- The mean of the transition s → t, ratio(s, t) ⊙ x. Heat-like processes override it
-- with the heat semigroup's own kernel (banded, no DCT).
function Diagonal:propagate(x, s, t)
  return self:combine { { self:ratio(s, t), x } }
end

--- A sample of p(x_t | x_0); t a time, or a list of times (one per sample: the whole
-- batch in a few batched calls, one DCT pair for the spectral processes).
function Diagonal:marginal(x0, t, g)
  if type(t) ~= "table" then
    self:check_time(t, "marginal")
    self:check_input(x0, "marginal")
    return self:transition(x0, 0, t, g)
  end
  self:check_input(x0, "marginal")
  check_batch(self, x0, t, "marginal")
  local lam = self:lam_batch(t)
  if self.deterministic then return self:combine { { lam, x0 } } end
  local eps = base.noise(g, x0:shape(), self.name .. ".marginal", x0:device_name())
  return self:combine { { lam, x0 }, { self:gamma2_batch(t):sqrt_(), eps } }
end

function Diagonal:mean_op(t)
  local l = self:lam(self:check_time(t, "mean_op"))
  if is_t(l) then return op.diag_dct { scale = l } end
  local h, w = self.h or 1, self.w or 1
  return l * op.identity { size = { h, w } }
end

function Diagonal:std(t) return sqrt0(self:gamma2(self:check_time(t, "std"))) end

function Diagonal:transition(x, s, t, g)
  self:check_input(x, "transition")
  self:check_time(s, "transition")
  self:check_time(t, "transition")
  if t < s then raise(self.name .. ".transition: needs s <= t") end
  if t == s then return x:clone() end
  local y = self:propagate(x, s, t)
  if self.deterministic then return y end
  -- σ²_{t|s} = γ_t² − α²γ_s²: a number from a marginal (γ_0 = 0), per frequency otherwise
  local g2s = self:gamma2(s)
  local var = self:gamma2(t)
  if g2s ~= 0 then
    local a = self:ratio(s, t)
    var = var - a * a * g2s
  end
  local eps = base.noise(g, x:shape(), self.name .. ".transition", x:device_name())
  if is_t(var) then return y:add_(self:combine { { sqrt0(var), eps } }) end
  return y:add_(eps, sqrt0(var))
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

----------------------------------------------------------------- learning

--- A noisy diagonal process learns ε or x_0 (min-SNR weights where it has an SNR) and
-- samples ancestrally or by DDIM, with respacing. A deterministic one learns nothing.
function Diagonal:capabilities()
  if self.deterministic then return base.Process.capabilities(self) end
  return { predictions = { "eps", "x0" }, methods = { "ancestral", "ddim" }, respacing = true,
    min_snr = self.min_snr or false }
end

--- The training example of a batch x0 at times ts with noise eps: input x_t (batched
-- marginal), target ε or x_0, min-SNR weights when o.min_snr is a number.
function Diagonal:training_example(x0, ts, eps, o)
  local pred = self:prediction(o, "training_example")
  local x = self:marginal(x0, self:check_times(ts, "training_example", 1), eps)
  local weight
  if o and o.min_snr then
    if not self.snr then
      raise(self.name .. ".training_example: min_snr needs a signal-to-noise ratio, which " .. self.name
        .. " does not define (pass min_snr = false)")
    end
    weight = base.min_snr_weights(ts, function(t) return self:snr(t) end, o.min_snr, pred == "eps",
      x0:device_name())
  end
  return { input = x, target = pred == "x0" and x0 or eps, weight = weight, reduction = "mean" }
end

--- One reverse step t → s from the network's prediction: the posterior (ancestral; from
-- ε without dividing by λ_t) or DDIM (o.method = "ddim").
function Diagonal:reverse_step(x, pred, t, s, g, o)
  o = o or {}
  local prediction = self:prediction(o, "reverse_step")
  if o.method == "ddim" then
    local eps = pred
    if prediction == "x0" then
      local gam = math.sqrt(self:gamma2(t))
      eps = self:combine { { 1 / gam, x }, { -self:lam(t) / gam, pred } }
    end
    return self:ddim(x, eps, t, s)
  elseif o.method ~= nil and o.method ~= "ancestral" then
    raise(string.format('%s.reverse_step: method must be "ancestral" or "ddim", got "%s"', self.name, o.method))
  end
  if prediction == "x0" then return (self:posterior(x, pred, t, g, { s = s })) end
  return (self:posterior_eps(x, pred, t, g, { s = s }))
end

--------------------------------------------------------------------- DDPM

-- Validates a per-step value (a number, or a table of T numbers) against (lo, hi):
-- `open_lo`/`open_hi` exclude the bounds. Returns the table of T values.
local function per_step(v, T, fname, key, lo, hi, open_lo, open_hi)
  local list = v
  if type(v) == "number" then list = schedule.constant(T, v)
  elseif type(v) ~= "table" or #v ~= T then
    raise(string.format("%s: %s must be a number or a table of %d values, got %s", fname, key, T,
      type(v) == "table" and (#v .. " values") or lib.typename(v)))
  end
  for i = 1, T do
    local x = list[i]
    local bad = type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge
      or x < lo or x > hi or (open_lo and x == lo) or (open_hi and x == hi)
    if bad then
      raise(string.format("%s: %s[%d] = %s is outside %s%s, %s%s", fname, key, i,
        type(x) == "string" and ('"' .. x .. '"') or tostring(x), open_lo and "(" or "[", tostring(lo),
        tostring(hi), open_hi and ")" or "]"))
    end
  end
  return list
end

-- A whole number >= lo named `key`.
local function count(v, fname, key, lo)
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo then
    raise(string.format("%s: %s must be a whole number >= %d, got %s", fname, key, lo,
      type(v) == "string" and ('"' .. v .. '"') or tostring(v)))
  end
  return v
end

--- DDPM, Peter's Eq. 7: x_i = α_i x_{i−1} + σ_i g (σ_i a standard deviation).
--   ss.process.ddpm{beta = ss.schedule.linear_beta(1000)}  Ho et al.: β are variances,
--       α_i = sqrt(1 − β_i), σ_i = sqrt(β_i), each β_i in (0, 1);
--   ss.process.ddpm{T = 100, sigma = 0.1}                  variance preserving
--       (alpha = "vp", the default: α_i = sqrt(1 − σ_i²), σ_i in [0, 1]);
--   ss.process.ddpm{T = 100, sigma = 0.1, alpha = 1}       variance exploding;
--   alpha and sigma may be numbers or tables of T values. opts.shape = {C, H, W}
--   enables prior(n, g); opts.min_snr (5, or false) is the default min-SNR weight of its
--   training. P.lambda, P.gamma (0..T) are the direct transition's λ_t, γ_t
--   (schedule.lambda_gamma, also in P.schedule); P.alphas_cumprod = λ_t².
function M.ddpm(opts)
  local fname = "ss.process.ddpm"
  local alpha, sigma, T
  if opts.beta ~= nil then
    if type(opts.beta) ~= "table" then arg_error(fname, 1, "{beta = table of variances}", opts.beta) end
    T = count(#opts.beta, fname, "#beta (the number of steps)", 1)
    local beta = per_step(opts.beta, T, fname, "beta", 0, 1, true, true)
    alpha, sigma = {}, {}
    for i, b in ipairs(beta) do alpha[i], sigma[i] = math.sqrt(1 - b), math.sqrt(b) end
  else
    T = opts.T or (type(opts.sigma) == "table" and #opts.sigma) or (type(opts.alpha) == "table" and #opts.alpha)
    if T == nil then raise(fname .. ": give beta = {…}, or sigma (and alpha) with T") end
    count(T, fname, "T", 1)
    if opts.sigma == nil then raise(fname .. ": sigma (the per-step noise standard deviation) is required") end
    if opts.alpha == nil or opts.alpha == "vp" then
      sigma = per_step(opts.sigma, T, fname, "sigma", 0, 1)
      alpha = schedule.vp_alpha(sigma)
    else
      sigma = per_step(opts.sigma, T, fname, "sigma", 0, math.huge, false, true)
      alpha = per_step(opts.alpha, T, fname, "alpha", -math.huge, math.huge, true, true)
    end
  end
  local lg = schedule.lambda_gamma(alpha, sigma)
  local P = setmetatable({ name = "ddpm", T = T, alpha = alpha, sigma = sigma, lambda = lg.lambda, gamma = lg.gamma,
    schedule = lg, shape = opts.shape, alphas_cumprod = {}, min_snr = opts.min_snr == nil and 5 or opts.min_snr },
    Diagonal)
  for t = 0, T do P.alphas_cumprod[t] = lg.lambda[t] ^ 2 end
  function P:lam(t) return self.lambda[t] end
  function P:gamma2(t) return self.gamma[t] ^ 2 end
  function P:snr(t) return self.lambda[t] ^ 2 / self.gamma[t] ^ 2 end
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
  local h, w = base.size(opts, "ss.process." .. name)
  local P = setmetatable({ name = name, T = T, h = h, w = w, D = op.dct2 { size = { h, w } } }, Diagonal)
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
      if type(t) ~= "number" or t ~= t or t == math.huge or t < out[k - 1] then
        raise(string.format("%s: times[%d] = %s: times must be increasing finite numbers >= 0", fname, k,
          tostring(t)))
      end
      out[k] = t
    end
    return out, nil
  end
  local K = count(opts.K or 100, fname, "K", 1)
  local smin, smax = opts.sigma_min or 0.5, opts.sigma_max or 20
  if type(smin) ~= "number" or not (smin > 0) or smin == math.huge then
    raise(fname .. ": sigma_min must be a finite number > 0, got " .. tostring(smin))
  end
  if type(smax) ~= "number" or not (smax >= smin) or smax == math.huge then
    raise(string.format("%s: sigma_max must be a finite number >= sigma_min (%g), got %s", fname, smin,
      tostring(smax)))
  end
  local sig = schedule.ihdm_sigma(K, smin, smax)
  return schedule.heat_times(sig), sig
end

-- u_t = exp(t_k Δ) u_0 + σ ε for k ≥ 1 (σ = 0: homogeneous diffusion). As a Markov
-- chain in the DCT basis a step adds σ²(1 − α²) per frequency (σ² from the data).
local function heat_like(name, opts, sigma)
  local fname = "ss.process." .. name
  if type(sigma) ~= "number" or not (sigma >= 0) or sigma == math.huge then
    raise(string.format("%s: the noise level must be a finite number >= 0, got %s", fname, tostring(sigma)))
  end
  local times, sig = heat_times(opts, fname)
  local P = spectral(name, opts, #times)
  P.time, P.sigma_B, P.sigma = times, sig, sigma
  P.deterministic = sigma == 0
  function P:lam(t) return (self.rates * (-self.time[t])):exp_() end
  function P:lam_batch(ts)
    return (base.column(ts, function(t) return -self.time[t] end, self.device) * self.rates):exp_()
  end
  function P:ratio(s, t) return (self.rates * (self.time[s] - self.time[t])):exp_() end
  function P:gamma2(t) return t == 0 and 0 or self.sigma ^ 2 end
  function P:propagate(x, s, t)
    local y = x:empty_like()
    lib.check(lib.C.ss_heat_forward(y.p, x.p, self.time[t] - self.time[s]))
    return y
  end
  return P
end

--- Homogeneous diffusion (deterministic heat): {size =, times = {…}} or IHDM's levels.
function M.heat(opts)
  return heat_like("heat", opts, 0)
end

--- Inverse heat dissipation (Rissanen et al.): u_k = F(t_k) u_0 + σ ε, k = 1..K, with
-- t_k = σ_B,k²/2 on IHDM's log-spaced levels. opts: size, K (100), sigma_min (0.5),
-- sigma_max (20), sigma (0.01, training noise), delta (sampling noise, 1.25σ),
-- channels; or times = {…} for other heat times. Learns the residual
-- F(t_{k−1})u_0 − u_k (squared error summed over pixels) and samples by Alg. 2:
-- u ← u + f(u, k) + δε, no noise on the last step, every level visited.
function M.ihdm(opts)
  local P = heat_like("ihdm", opts, opts.sigma or 0.01)
  P.delta = opts.delta or 1.25 * P.sigma
  if type(P.delta) ~= "number" or not (P.delta >= 0) then
    raise("ss.process.ihdm: delta must be a number >= 0, got " .. tostring(P.delta))
  end
  --- The IHDM prior: n training images (popts.data: a data set or (N,C,H,W)) chosen at
  -- random, blurred to level K, plus δ-noise.
  function P:prior(n, g, popts)
    local data = popts and popts.data
    if type(data) == "table" then data = data.images end
    if not tensor.is_tensor(data) then
      raise("ihdm.prior: IHDM's prior blurs training images: pass {data = a data set or (N,C,H,W) images}")
    end
    local idx = g:randint(n, 1, data:shape()[1])
    local x0 = data:index(idx)
    if (self.device or "cpu") ~= x0:device_name() then x0 = x0:to(self.device) end
    local x = self:mean(x0, self.T)
    return x:add_(g:normal(x:empty_like()), self.delta)
  end
  function P:capabilities()
    return { predictions = { "residual" }, methods = { "ancestral" }, respacing = false, min_snr = false }
  end
  --- Input u_k = F(t_k)u_0 + σε and target F(t_{k−1})u_0 − u_k for each sample's level
  -- k: one forward DCT of the batch and two inverse ones, whatever the batch size.
  function P:training_example(x0, ts, eps, o)
    self:prediction(o, "training_example")
    if o and o.min_snr then raise("ihdm.training_example: IHDM's loss has no min-SNR weights (min_snr = false)") end
    self:check_input(x0, "training_example")
    check_batch(self, x0, ts, "training_example", 1)
    local X = self.D(x0)
    local xt = self.D:adjoint(X * self:lam_batch(ts)):add_(eps, self.sigma)
    local prev = {}
    for i, t in ipairs(ts) do prev[i] = t - 1 end
    local target = self.D:adjoint(X:mul_(self:lam_batch(prev))):sub_(xt)
    return { input = xt, target = target, reduction = "sum" }
  end
  --- u_s = u_t + f (the predicted residual) + δ·ε, no noise when s = 0 (o.delta overrides δ).
  function P:reverse_step(x, pred, t, s, g, o)
    self:prediction(o, "reverse_step")
    self:check_time(t, "reverse_step", 1)
    if s ~= t - 1 then raise("ihdm.reverse_step: the network maps level k to k − 1; s must be t − 1") end
    local y = x + pred
    if s > 0 then y:add_(base.noise(g, x:shape(), "ihdm.reverse_step", x:device_name()), o and o.delta or self.delta) end
    return y
  end
  return P
end

--- Blurring diffusion.
-- form = "hoogeboom" (default; Hoogeboom & Salimans): t_i = i/T, per frequency
--   λ_t = α_t d_t with d_t = (1 − m) exp(−τ_t Λ) + m, τ_t = σ_blur(t)²/2,
--   σ_blur(t) = σ_blur,max sin²(πt/2), α_t² = sigmoid(logsnr_t), γ_t² = sigmoid(−logsnr_t)
--   (schedule.blurring); opts: size, T (1000), sigma_blur_max (20), min_scale m
--   (0.001), logsnr_min/max (∓10), channels (1, for prior), min_snr (false: its
--   training weights, by α_t²/γ_t²). Scales the mean grey value by α_t.
-- form = "peter" (Peter, Sect. 5.3 and 6.3, after Rissanen's code): u_t = F(t_k) u_0 +
--   β ε with heat times opts.times (or IHDM's levels) and opts.beta (0.1); keeps the
--   mean grey value in expectation and tends to the image mean plus β-noise.
function M.blurring(opts)
  local form = opts.form or "hoogeboom"
  if form == "peter" then
    local P = heat_like("blurring", opts, opts.beta or 0.1)
    P.form = form
    return P
  elseif form ~= "hoogeboom" then
    raise('ss.process.blurring: form must be "hoogeboom" or "peter", got ' .. tostring(form))
  end
  local T = count(opts.T or 1000, "ss.process.blurring", "T", 1)
  local m = opts.min_scale or 0.001
  if type(m) ~= "number" or not (m >= 0 and m < 1) then
    raise("ss.process.blurring: min_scale must be in [0, 1), got " .. tostring(m))
  end
  local P = spectral("blurring", opts, T)
  P.form, P.min_scale, P.min_snr = form, m, opts.min_snr or false
  P.schedule = schedule.blurring(T, opts)
  local sched = P.schedule
  function P:lam(t)
    if t == 0 then return 1 end
    local d = (self.rates * (-sched.tau[t])):exp_():mul_(1 - m):add_(m)
    return d:mul_(sched.alpha[t])
  end
  function P:lam_batch(ts)
    local tau = base.column(ts, function(t) return t == 0 and 0 or -sched.tau[t] end, self.device)
    local alpha = base.column(ts, function(t) return t == 0 and 1 or sched.alpha[t] end, self.device)
    return (tau * self.rates):exp_():mul_(1 - m):add_(m):mul_(alpha)
  end
  function P:ratio(s, t)
    if s == 0 then return self:lam(t) end
    return self:lam(t) / self:lam(s)
  end
  function P:gamma2(t) return t == 0 and 0 or sched.sigma[t] ^ 2 end
  function P:snr(t) return (sched.alpha[t] / sched.sigma[t]) ^ 2 end
  return P
end

for _, name in ipairs { "ddpm", "heat", "ihdm", "blurring" } do base.register(name, M[name]) end

return M
