--- scalespace.schedule — noise, blur and resolution schedules, in double precision.
-- Conventions: per-step quantities (β_i, α_i) are Lua arrays indexed 1..T; per-time
-- quantities (ᾱ_t, σ_B(t_k), λ_t, γ_t, r(t)) are indexed 0..T with index 0 the data.
local lib = require "scalespace.ffi"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

local function count(T, fname)
  if type(T) ~= "number" or T < 1 or T % 1 ~= 0 then arg_error(fname, 1, "a step count T >= 1", T) end
  return T
end

--- numpy's linspace(a, b, n) in double (endpoints exact), 1-based.
local function linspace(a, b, n)
  local out = {}
  if n == 1 then return { a } end
  local step = (b - a) / (n - 1)
  for i = 1, n do out[i] = a + (i - 1) * step end
  out[n] = b
  return out
end
M.linspace = linspace

--- Ho et al.'s linear β (variances): linspace(b0, b1, T), default 1e-4 … 0.02.
function M.linear_beta(T, b0, b1)
  count(T, "schedule.linear_beta")
  b0, b1 = b0 or 1e-4, b1 or 0.02
  for i, b in ipairs { b0, b1 } do
    if type(b) ~= "number" or not (b > 0 and b < 1) then
      raise(string.format("schedule.linear_beta: argument %d: β must be in (0, 1), got %s", i + 1, lib.describe(b)))
    end
  end
  return linspace(b0, b1, T)
end

--- A constant per-step value.
function M.constant(T, v)
  local out = {}
  for i = 1, count(T, "schedule.constant") do out[i] = v end
  return out
end

--- Nichol & Dhariwal's cosine schedule as β (variances): ᾱ(t) = f(t)/f(0),
-- f(t) = cos²((t/T + s)/(1 + s)·π/2), β_t = min(1 − ᾱ(t)/ᾱ(t−1), max_beta).
function M.cosine(T, opts)
  count(T, "schedule.cosine")
  opts = opts or {}
  local s, max_beta = opts.s or 0.008, opts.max_beta or 0.999
  local function f(t) return math.cos((t / T + s) / (1 + s) * math.pi / 2) ^ 2 end
  local out = {}
  for i = 1, T do out[i] = math.min(1 - f(i) / f(i - 1), max_beta) end
  return out
end

--- ᾱ_t = Π_{i≤t} (1 − β_i) for Ho's variances β; indexed 0..T (ᾱ_0 = 1).
function M.alphas_cumprod(betas)
  local out = { [0] = 1 }
  for i = 1, #betas do out[i] = out[i - 1] * (1 - betas[i]) end
  return out
end

--- Inverse heat dissipation's blur levels: σ_B,0 = 0 and σ_B,1..K log-spaced from
-- sigma_min (0.5) to sigma_max (20); indexed 0..K. The heat time is t_k = σ_B,k²/2.
function M.ihdm_sigma(K, sigma_min, sigma_max)
  count(K, "schedule.ihdm_sigma")
  local lo, hi = math.log(sigma_min or 0.5), math.log(sigma_max or 20)
  local out = { [0] = 0 }
  for k, v in ipairs(linspace(lo, hi, K)) do out[k] = math.exp(v) end
  return out
end

--- Heat times t = σ²/2 of a σ table indexed 0..K.
function M.heat_times(sigmas)
  local out = {}
  for k = 0, #sigmas do out[k] = sigmas[k] * sigmas[k] / 2 end
  return out
end

--- Blurring diffusion (Hoogeboom & Salimans) at t_i = i/T, i = 0..T: σ_blur(t) =
-- σ_blur,max·sin²(πt/2), τ = σ_blur²/2, logsnr(t) = −2 log tan(a t + b) between
-- logsnr_max and logsnr_min, α(t) = sqrt(sigmoid(logsnr)), σ(t) = sqrt(sigmoid(−logsnr)).
-- Returns {t=, sigma_blur=, tau=, logsnr=, alpha=, sigma=}, each indexed 0..T.
function M.blurring(T, opts)
  count(T, "schedule.blurring")
  opts = opts or {}
  local smax = opts.sigma_blur_max or 20
  local lmin, lmax = opts.logsnr_min or -10, opts.logsnr_max or 10
  local b = math.atan(math.exp(-lmax / 2))
  local a = math.atan(math.exp(-lmin / 2)) - b
  local s = { t = {}, sigma_blur = {}, tau = {}, logsnr = {}, alpha = {}, sigma = {} }
  for i = 0, T do
    local t = i / T
    local sb = smax * math.sin(math.pi * t / 2) ^ 2
    local l = -2 * math.log(math.tan(a * t + b))
    s.t[i], s.sigma_blur[i], s.tau[i], s.logsnr[i] = t, sb, sb * sb / 2, l
    s.alpha[i] = math.sqrt(1 / (1 + math.exp(-l)))
    s.sigma[i] = math.sqrt(1 / (1 + math.exp(l)))
  end
  return s
end

---------------------------------------------------------- resolution schedules

-- The share x(τ) ∈ [0, 1] of the way to the coarsest level at τ = (t−1)/(T−1).
local shapes = {
  convex_decay = function(tau, g) return 1 - (1 - tau) ^ g end,
  equal = function(tau) return tau end,
  -- The paper's supplement with these two is not available; ours are smooth
  -- S-shaped maps pinned to x(0) = 0 and x(1) = 1.
  sigmoid_like = function(tau, k)
    local function s(z) return 1 / (1 + math.exp(-z)) end
    return (s(k * (tau - 0.5)) - s(-k / 2)) / (s(k / 2) - s(-k / 2))
  end,
  tanh_like = function(tau, k) return math.tanh(k * tau) / math.tanh(k) end,
}
local shape_param = { convex_decay = 0.5, sigmoid_like = 10, tanh_like = 3 }

--- Scale Space Diffusion's resolution schedule r(t), t = 0..T, for levels listed
-- finest first ({64, 32, 16, 8}): r(0) = levels[1] (the data) and, for t ≥ 1 with
-- τ = (t−1)/(T−1) and x = shape(τ), r(t) = levels[1 + min(⌊x·n⌋, n−1)].
-- kind: "convex_decay" (param γ, default 0.5: the most steps at fine levels),
-- "equal", "sigmoid_like" (param steepness 10), "tanh_like" (param 3).
function M.resolution(T, levels, kind, param)
  count(T, "schedule.resolution")
  if type(levels) ~= "table" or #levels < 1 then arg_error("schedule.resolution", 2, "levels {64, 32, …}", levels) end
  for i = 2, #levels do
    if levels[i] >= levels[i - 1] then raise("schedule.resolution: levels must be listed finest first, decreasing") end
  end
  kind = kind or "convex_decay"
  local shape = shapes[kind]
  if not shape then raise("schedule.resolution: unknown kind " .. tostring(kind)) end
  param = param or shape_param[kind]
  local n, r = #levels, { [0] = levels[1] }
  for t = 1, T do
    local tau = T > 1 and (t - 1) / (T - 1) or 1
    local x = shape(tau, param)
    r[t] = levels[1 + math.min(math.floor(x * n), n - 1)]
  end
  return r
end

--- ConvexDecay_γ (Scale Space Diffusion's default γ = 0.5).
function M.convex_decay(T, levels, gamma) return M.resolution(T, levels, "convex_decay", gamma or 0.5) end

---------------------------------------------------- Peter's λ_i, γ_i (Eq. 14)

local function per_step(v, T, fname, i)
  if type(v) == "number" then return M.constant(T, v) end
  if type(v) ~= "table" or #v ~= T then arg_error(fname, i, "a number or a table of " .. T .. " values", v) end
  return v
end

--- For U_i = α_i U_{i−1} + β_i G (Peter's Eq. 7, β a standard deviation) with
-- alpha, beta tables 1..T (or numbers, with opts.T): the direct transition
-- U_i = λ_i U_0 + γ_i G. Returns, indexed 0..T:
--   lambda     λ_i = Π α_ℓ (Eq. 14);
--   gamma      the exact standard deviation, γ_i² = α_i² γ_{i−1}² + β_i², since the
--              steps' noises are independent;
--   gamma_eq14 Eq. 14 as printed, γ_i = α_i γ_{i−1} + β_i (adds standard deviations,
--              as if every step reused one G; it overstates γ: VP with β = 0.1 gives
--              γ → 20 instead of 1);
--   entropy    H(U_i | U_0) per pixel, ½ ln(2πe γ_i²) (Eq. 22);
-- and the checks of Proposition 3 (entropy increasing): `violations` lists the i
-- with γ_i < γ_{i−1} (exact: β_i² < (1 − α_i²) γ_{i−1}²), `violations_eq14` those
-- with β_i < (1 − α_i) γ^{14}_{i−1} (the condition as printed); ok = no violation.
function M.lambda_gamma(alpha, beta, opts)
  local T = (opts and opts.T) or (type(alpha) == "table" and #alpha) or (type(beta) == "table" and #beta)
  if type(T) ~= "number" then raise("schedule.lambda_gamma: pass tables, or numbers with {T = steps}") end
  alpha = per_step(alpha, T, "schedule.lambda_gamma", 1)
  beta = per_step(beta, T, "schedule.lambda_gamma", 2)
  local r = { T = T, lambda = { [0] = 1 }, gamma = { [0] = 0 }, gamma_eq14 = { [0] = 0 },
    entropy = { [0] = -math.huge }, violations = {}, violations_eq14 = {} }
  for i = 1, T do
    local a, b = alpha[i], beta[i]
    if b < 0 then raise(string.format("schedule.lambda_gamma: beta[%d] = %g is negative", i, b)) end
    r.lambda[i] = r.lambda[i - 1] * a
    r.gamma[i] = math.sqrt(a * a * r.gamma[i - 1] ^ 2 + b * b)
    r.gamma_eq14[i] = a * r.gamma_eq14[i - 1] + b
    r.entropy[i] = 0.5 * math.log(2 * math.pi * math.exp(1) * r.gamma[i] ^ 2)
    if r.gamma[i] < r.gamma[i - 1] then r.violations[#r.violations + 1] = i end
    if b < (1 - a) * r.gamma_eq14[i - 1] then r.violations_eq14[#r.violations_eq14 + 1] = i end
  end
  r.ok = #r.violations == 0
  return r
end

--- A one-paragraph report of lambda_gamma's result (for scripts and tests).
function M.report(r)
  local function first(v) return #v == 0 and "none" or string.format("%d (first at i = %d)", #v, v[1]) end
  return string.format("T = %d: λ_T = %.6g, γ_T = %.6g (Eq. 14 as printed: %.6g); Proposition 3 violations: "
    .. "exact %s, as printed %s", r.T, r.lambda[r.T], r.gamma[r.T], r.gamma_eq14[r.T], first(r.violations),
    first(r.violations_eq14))
end

--- Peter's variance-preserving choice α_i = sqrt(1 − β_i²) for standard deviations β.
function M.vp_alpha(beta)
  local out = {}
  for i, b in ipairs(beta) do out[i] = math.sqrt(1 - b * b) end
  return out
end

return M
