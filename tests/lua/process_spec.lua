-- process_spec.lua — schedules and forward processes against the authors' formulas
-- (fixtures from tests/reference/make_process_fixtures.py), and Peter's scale-space
-- properties (Sect. 5) checked numerically, each with its figure printed. Monte
-- Carlo checks use 5 standard errors as their tolerance.
local ss = require "scalespace"
local load_ssfx = dofile("tests/lua/ssfx.lua")

local seed = 11
print("process_spec seed " .. seed)
local fx = load_ssfx(ss.config.root .. "/tests/reference/process/process.ssfx")

-- Worst |ours − ref| / max(|ref|, 1) (relative, absolute near 0).
local function maxrel(ours, ref, from, to, ofs)
  local v, worst = ref:values(), 0
  for i = from, to do
    local r = v[i + ofs]
    worst = math.max(worst, math.abs(ours[i] - r) / math.max(math.abs(r), 1))
  end
  return worst
end

local function maxdiff(a, b) return (a - b):abs():max() end

-- Per-position mean and variance (Lua arrays, double) over the N samples of X (N, ...).
local function colstats(X)
  local s = X:shape()
  local n, m = s[1], X:numel() / s[1]
  local v = X:values()
  local mean, var = {}, {}
  for j = 1, m do
    local a, q = 0, 0
    for i = 0, n - 1 do a = a + v[i * m + j] end
    a = a / n
    for i = 0, n - 1 do q = q + (v[i * m + j] - a) ^ 2 end
    mean[j], var[j] = a, q / (n - 1)
  end
  return mean, var
end

-- Worst |observed − expected| in standard errors, for means and for variances.
local function z_means(mean, expect, var, n)
  local z = 0
  for j = 1, #mean do z = math.max(z, math.abs(mean[j] - expect[j]) / math.sqrt(var[j] / n)) end
  return z
end
local function z_vars(var, expect, n)
  local z = 0
  for j = 1, #var do z = math.max(z, math.abs(var[j] - expect[j]) / (expect[j] * math.sqrt(2 / (n - 1)))) end
  return z
end

-- n copies of one image (1, C, H, W).
local function repeat_image(x, n)
  local list = {}
  for i = 1, n do list[i] = x end
  return ss.cat(list, 1)
end

-- 90° rotation of square images (N, C, n, n): out[i][j] = in[j][n+1−i].
local function rot90(x)
  return x:flip(4):transpose(3, 4)
end

-- The pixels of each image (N, C, H, W) in the order of perm (a list of H·W indices).
local function permute(x, perm)
  local s = x:shape()
  local y = ss.empty(s)
  local hw = s[3] * s[4]
  local vx = x:values()
  for b = 0, s[1] * s[2] - 1 do
    for k = 1, hw do
      local src = perm[k] - 1
      y.p.data[b * hw + k - 1] = vx[b * hw + src + 1]
    end
  end
  return y
end

describe("schedules", function()
  it("match the authors' formulas (numpy fixtures)", function()
    local S = ss.schedule
    local T = 1000
    local checks = {
      { "linear_beta", S.linear_beta(T), fx.linear_beta, 1, T, -0 },
      { "cosine", S.cosine(T), fx.cosine_beta, 1, T, 0 },
      { "alphas_cumprod", S.alphas_cumprod(S.linear_beta(T)), fx.alphas_cumprod, 0, T, 1 },
      { "ihdm_sigma", S.ihdm_sigma(100), fx.ihdm_sigma, 0, 100, 1 },
    }
    local b = S.blurring(T)
    for _, k in ipairs { "logsnr", "alpha", "sigma", "sigma_blur" } do
      checks[#checks + 1] = { "blurring." .. k, b[k], fx["blur_" .. k], 0, T, 1 }
    end
    for _, c in ipairs(checks) do
      local err = maxrel(c[2], c[3], c[4], c[5], c[6])
      print(string.format("  schedule %-20s max err %.3g", c[1], err))
      assert.is_true(err < 2e-6, c[1])
    end
    -- SSD's ConvexDecay_0.5: our r(t), t = 1..T, is the authors' r at t − 1.
    local r, ref = S.convex_decay(T, { 64, 32, 16, 8 }, 0.5), fx.ssd_resolution:values()
    assert.are.equal(64, r[0])
    for t = 1, T do assert.are.equal(ref[t], r[t]) end
    local eq = S.resolution(8, { 4, 2 }, "equal")
    assert.are.same({ 4, 4, 4, 4, 2, 2, 2, 2 }, { eq[1], eq[2], eq[3], eq[4], eq[5], eq[6], eq[7], eq[8] })
    for _, kind in ipairs { "sigmoid_like", "tanh_like" } do
      local rr = S.resolution(100, { 64, 32, 16, 8 }, kind)
      assert.are.equal(64, rr[1])
      assert.are.equal(8, rr[100])
      for t = 2, 100 do assert.is_true(rr[t] <= rr[t - 1], kind) end
    end
  end)

  it("gives Peter's λ_i, γ_i and checks Proposition 3's condition", function()
    local T = 200
    local vp = ss.schedule.lambda_gamma(ss.schedule.vp_alpha(ss.schedule.constant(T, 0.1)), 0.1)
    -- Eq. 30: in the variance-preserving case γ_i² = 1 − Π(1 − β_j²).
    local worst = 0
    for i = 0, T do worst = math.max(worst, math.abs(vp.gamma[i] ^ 2 - (1 - 0.99 ^ i))) end
    print("  " .. ss.schedule.report(vp))
    print(string.format("  VP gamma vs Eq. 30: max abs err %.3g", worst))
    assert.is_true(worst < 1e-12)
    assert.is_true(vp.ok)
    for i = 1, T do assert.is_true(vp.entropy[i] > vp.entropy[i - 1]) end
    -- Variance exploding: α = 1, λ = 1, γ_i² = Σ β².
    local ve = ss.schedule.lambda_gamma(1, 0.1, { T = 50 })
    assert.are.equal(1, ve.lambda[50])
    assert.is_true(math.abs(ve.gamma[50] - math.sqrt(50) * 0.1) < 1e-12)
    -- A schedule that shrinks its noise too fast: γ falls at i = 2.
    local bad = ss.schedule.lambda_gamma({ 0.5, 0.5, 0.5 }, { 0.5, 0.01, 0.01 })
    print("  " .. ss.schedule.report(bad))
    assert.is_false(bad.ok)
    assert.are.equal(2, bad.violations[1])
    assert.are.equal(2, bad.violations_eq14[1])
    assert.is_true(bad.entropy[2] < bad.entropy[1])
  end)
end)

describe("processes match the reference implementations", function()
  it("IHDM and blurring diffusion marginals equal scipy's DCT versions", function()
    local ihdm = ss.process.ihdm { size = 16, K = 10, sigma_max = 20 }
    local y = ihdm:marginal(fx["ihdm.x"], 5, fx["ihdm.eps"])
    local e1 = maxdiff(y, fx["ihdm.y"])
    local bd = ss.process.blurring { size = 16, T = 1000 }
    local e2 = maxdiff(bd:marginal(fx["blur.x"], 300, fx["blur.eps"]), fx["blur.y"])
    print(string.format("  IHDM marginal max abs err %.3g, blurring diffusion %.3g", e1, e2))
    assert.is_true(e1 < 2e-6 and e2 < 2e-6)
  end)

  it("DDPM posterior equals Ho et al.'s coefficients", function()
    local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
    local one, zero = ss.ones { 1, 1, 1, 1 }, ss.zeros { 1, 1, 1, 1 }
    local worst = 0
    for _, t in ipairs { 2, 10, 100, 500, 1000 } do
      local _, m_xt = P:posterior(one, zero, t, one)
      local _, m_x0 = P:posterior(zero, one, t, one)
      local sd = P:posterior(zero, zero, t, one)
      local v = fx.ddpm_post_var:values()[t]
      worst = math.max(worst, math.abs(m_xt:get(1, 1, 1, 1) - fx.ddpm_post_coef_xt:values()[t]),
        math.abs(m_x0:get(1, 1, 1, 1) - fx.ddpm_post_coef_x0:values()[t]),
        math.abs(sd:get(1, 1, 1, 1) ^ 2 - v) / v)
    end
    print(string.format("  DDPM posterior coefficients max err %.3g", worst))
    assert.is_true(worst < 1e-5)
  end)

  it("reverse steps over several steps, from a noise prediction, and DDIM agree with the closed forms", function()
    local g = ss.rng(seed)
    local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
    local ab = P.alphas_cumprod
    local x0, eps = g:normal { 2, 1, 4, 4 }, g:normal { 2, 1, 4, 4 }
    local worst = 0
    for _, st in ipairs { { 1000, 950 }, { 300, 1 }, { 20, 0 }, { 7, 6 } } do
      local t, s = st[1], st[2]
      local xt = P:marginal(x0, t, eps)
      -- Ho et al.'s posterior for the respaced step t → s: β' = 1 − ᾱ_t/ᾱ_s
      local b = 1 - ab[t] / ab[s]
      local want = x0 * (math.sqrt(ab[s]) * b / (1 - ab[t])) + xt * (math.sqrt(ab[t] / ab[s]) * (1 - ab[s]) / (1 - ab[t]))
      local _, mean = P:posterior(xt, x0, t, eps, { s = s })
      local _, mean_eps = P:posterior_eps(xt, eps, t, eps, { s = s })
      -- DDIM with the true noise lands exactly on the marginal at s
      local ddim = P:ddim(xt, eps, t, s)
      worst = math.max(worst, maxdiff(mean, want), maxdiff(mean_eps, want), maxdiff(ddim, P:marginal(x0, s, eps)))
    end
    -- blurring diffusion: the ε form equals the x̂0 form per frequency
    local B = ss.process.blurring { size = 4, T = 100 }
    local xt = B:marginal(x0, 40, eps)
    local x0_hat = B:combine { { 1 / B:lam(40), xt }, { -math.sqrt(B:gamma2(40)) / B:lam(40), eps } }
    local _, m1 = B:posterior(xt, x0_hat, 40, eps, { s = 30 })
    local _, m2 = B:posterior_eps(xt, eps, 40, eps, { s = 30 })
    worst = math.max(worst, maxdiff(m1, m2))
    print(string.format("  respaced posterior, ε form and DDIM max err %.3g", worst))
    assert.is_true(worst < 2e-5)
    assert.has_error(function() P:posterior(xt, x0, 5, eps, { s = 5 }) end)
  end)

  it("SSD's reverse step over several steps keeps x_s = μ_s when x_t = B μ_s, and matches DDPM's on scalar runs", function()
    local P = ss.process.ssd { size = 8, levels = { 8, 4 }, T = 20 }
    local D = ss.process.ddpm { beta = P.beta }
    local g = ss.rng(seed)
    local s, t = 2, 19 -- spans the resize
    assert.are_not.equal(P.resolution[s], P.resolution[t])
    local mu = g:normal { 1, 1, 8, 8 }
    local c, A = P:steps_between(s, t)
    local _, mean = P:posterior_mu(A(mu) * c, mu, t, g, { s = s })
    local e1 = maxdiff(mean, mu)
    local x0, eps = g:normal { 1, 1, 8, 8 }, g:normal { 1, 1, 8, 8 }
    local _, m_ssd = P:posterior(P:marginal(x0, 5, eps), x0, 5, eps, { s = 3 })
    local _, m_ddpm = D:posterior(D:marginal(x0, 5, eps), x0, 5, eps, { s = 3 })
    local e2 = maxdiff(m_ssd, m_ddpm)
    print(string.format("  SSD respaced posterior: fixed point %.3g, vs DDPM %.3g", e1, e2))
    assert.is_true(e1 < 1e-5 and e2 < 1e-5)
  end)

  it("SSD's posterior mean (Eq. 6) equals PyTorch's antialiased resize and its autograd adjoint", function()
    local P = ss.process.ssd { size = 16, levels = { 16, 8 }, T = 20 }
    local t = fx["ssd.t"]:values()[1]
    assert.are.equal(16, P.resolution[t - 1])
    assert.are.equal(8, P.resolution[t])
    local _, mean = P:posterior(fx["ssd.xt"], fx["ssd.x0"], t, ss.rng(1))
    local err = maxdiff(mean, fx["ssd.mean"])
    print(string.format("  SSD posterior mean max abs err %.3g", err))
    assert.is_true(err < 1e-5)
  end)
end)

describe("scale-space properties (Peter, Sect. 5)", function()
  local g = ss.rng(seed)
  local x0 = g:uniform { 1, 1, 8, 8 }
  local N = 4000

  it("semigroup: DDPM steps (Eq. 7) reach the direct transition (Eq. 14 exact; Eq. 14 as printed fails)", function()
    local P = ss.process.ddpm { T = 30, sigma = 0.1 }
    local t = 20
    local X = repeat_image(x0, N)
    for i = 1, t do X = P:step(X, i, g) end
    local mean, var = colstats(X)
    local expect_m, expect_v, eq14_v = {}, {}, {}
    for j, v in ipairs(x0:values()) do
      expect_m[j], expect_v[j], eq14_v[j] = P.lambda[t] * v, P.gamma[t] ^ 2, P.schedule.gamma_eq14[t] ^ 2
    end
    local zm, zv, z14 = z_means(mean, expect_m, var, N), z_vars(var, expect_v, N), z_vars(var, eq14_v, N)
    print(string.format("  DDPM t=%d: mean %.2f SE, variance %.2f SE off γ_t² = %.4f; Eq. 14 as printed "
      .. "(γ² = %.4f) is %.0f SE off", t, zm, zv, P.gamma[t] ^ 2, eq14_v[1], z14))
    assert.is_true(zm < 5 and zv < 5)
    assert.is_true(z14 > 20)
    -- and analytically: two transitions compose to the direct one
    local a, b = P:ratio(0, 7), P:ratio(7, t)
    assert.is_true(math.abs(a * b - P.lambda[t]) < 1e-14)
    local var_direct = P.gamma[t] ^ 2
    local var_split = b * b * P.gamma[7] ^ 2 + (P.gamma[t] ^ 2 - b * b * P.gamma[7] ^ 2)
    assert.is_true(math.abs(var_direct - var_split) < 1e-14)
  end)

  it("semigroup: blurring diffusion steps reach the direct transition, per frequency", function()
    local D = ss.op.dct2 { size = 8 }
    for _, P in ipairs { ss.process.blurring { size = 8, T = 40 },
      ss.process.blurring { size = 8, form = "peter", beta = 0.1, times = { 0.5, 1, 2, 4, 8, 16 } } } do
      local t = P.T
      local X = repeat_image(x0, N)
      for i = 1, t do X = P:step(X, i, g) end
      local mean, var = colstats(D(X))
      local m = D(P:mean(x0, t)):values()
      local sd = P:std(t)
      local v = ss.is_tensor(sd) and (sd * sd):values() or nil
      local expect_v = {}
      for j = 1, 64 do expect_v[j] = v and v[j] or sd * sd end
      local zm, zv = z_means(mean, m, var, N), z_vars(var, expect_v, N)
      print(string.format("  blurring (%s) t=%d: per-frequency mean %.2f SE, variance %.2f SE", P.form, t, zm, zv))
      assert.is_true(zm < 5 and zv < 5)
    end
  end)

  it("semigroup: SSD steps through resolution changes (Lanczos noise) reach the isotropic marginal", function()
    local P = ss.process.ssd { size = 8, levels = { 8, 4 }, T = 12, beta = ss.schedule.linear_beta(12, 0.05, 0.3) }
    local t = 10
    assert.are.equal(4, P.resolution[t])
    local X = repeat_image(x0, N)
    for i = 1, t do X = P:step(X, i, g) end
    local mean, var = colstats(X)
    local m = P:mean(x0, t):values()
    local expect_v = {}
    for j = 1, #m do expect_v[j] = P:std(t) ^ 2 end
    local zm, zv = z_means(mean, m, var, N), z_vars(var, expect_v, N)
    -- neighbouring pixels must be uncorrelated at the marginal
    local v, cov = X:values(), 0
    for i = 0, N - 1 do cov = cov + (v[i * 16 + 1] - mean[1]) * (v[i * 16 + 2] - mean[2]) end
    local corr = cov / (N - 1) / math.sqrt(var[1] * var[2])
    print(string.format("  SSD t=%d (8→4): mean %.2f SE, variance %.2f SE, neighbour correlation %.3f", t, zm, zv,
      corr))
    assert.is_true(zm < 5 and zv < 5)
    assert.is_true(math.abs(corr) < 5 / math.sqrt(N))
  end)

  it("conditional entropy increases for every frequency of blurring diffusion (Eq. 42)", function()
    for _, P in ipairs { ss.process.blurring { size = 8, T = 100 },
      ss.process.blurring { size = 8, form = "peter", times = { 1, 2, 4, 8 } } } do
      local prev = P:std(1)
      local h = {}
      for t = 1, P.T do
        local sd = P:std(t)
        local s = ss.is_tensor(sd) and sd or ss.full({ 8, 8 }, sd)
        assert.is_true((s - prev):min() >= -1e-6, "γ fell at t = " .. t)
        h[t] = (s * s * (2 * math.pi * math.exp(1))):log():sum() / 2
        prev = s
      end
      print(string.format("  blurring (%s): H(U_t|U_0) from %.2f to %.2f nats", P.form, h[1], h[P.T]))
    end
  end)

  -- The largest |mean grey value change| along a path, and the 5-SE bound of the noise.
  local function grey_drift(P, x, g)
    local times = {}
    for t = 1, P.T do times[t] = t end
    local path = P:trajectory(x, times, g)
    local m0, worst = x:per_sample("mean"), 0
    for _, u in ipairs(path) do worst = math.max(worst, (u:per_sample("mean") - m0):abs():max()) end
    return worst
  end

  it("preserves the average grey value: heat, IHDM, blurring diffusion (Peter), osmosis", function()
    local x = g:uniform { 4, 1, 16, 16 }
    local times = { 1, 5, 20, 80 }
    local heat = ss.process.heat { size = 16, times = times }
    local osm = ss.process.osmosis { times = times }
    local d_heat, d_osm = grey_drift(heat, x, g), grey_drift(osm, x, g)
    print(string.format("  grey value drift: heat %.2g, osmosis %.2g", d_heat, d_osm))
    assert.is_true(d_heat < 1e-6 and d_osm < 1e-5)
    for _, P in ipairs { ss.process.ihdm { size = 16, times = times, sigma = 0.01 },
      ss.process.blurring { size = 16, form = "peter", beta = 0.1, times = times } } do
      -- the mean operator keeps it exactly; the noise moves it by N(0, γ²/n) at most
      local exact = (P:mean(x, P.T):per_sample("mean") - x:per_sample("mean")):abs():max()
      local d = grey_drift(P, x, g)
      local bound = 5 * P.sigma / 16
      print(string.format("  grey value: %s mean operator %.2g, sampled path %.3g (5 SE %.3g)", P.name, exact, d, bound))
      assert.is_true(exact < 1e-6 and d < bound)
    end
  end)

  it("detects a process that does not preserve the grey value", function()
    -- heat whose mean operator also damps the constant mode: a deliberate bug
    local broken = ss.process.heat { size = 16, times = { 1, 5, 20, 80 } }
    function broken:lam(t) return (self.rates + 1e-3):mul_(-self.time[t]):exp_() end
    function broken:ratio(s, t) return (self.rates + 1e-3):mul_(self.time[s] - self.time[t]):exp_() end
    function broken:propagate(x, s, t) return self:combine { { self:ratio(s, t), x } } end
    local d = grey_drift(broken, g:uniform { 4, 1, 16, 16 }, g)
    print(string.format("  broken heat: grey value drift %.3g (the check needs < 1e-6)", d))
    assert.is_true(d > 1e-2)
  end)

  it("DDPM trajectories are permutation invariant; blurring diffusion's are not", function()
    local perm = g:perm(64)
    local ddpm = ss.process.ddpm { T = 10, sigma = 0.1 }
    local bd = ss.process.blurring { size = 8, form = "peter", times = { 1, 2, 4 } }
    for _, P in ipairs { ddpm, bd } do
      local u, v = x0, permute(x0, perm)
      local worst = 0
      for i = 1, P.T do
        local eps = g:normal { 1, 1, 8, 8 }
        u, v = P:step(u, i, eps), P:step(v, i, permute(eps, perm))
        worst = math.max(worst, maxdiff(v, permute(u, perm)))
      end
      print(string.format("  %s: max |v_i − P(u_i)| over the path %.3g", P.name, worst))
      if P == ddpm then assert.is_true(worst < 1e-6) else assert.is_true(worst > 1e-2) end
    end
  end)

  it("blurring diffusion trajectories are invariant under 90° rotations", function()
    for _, P in ipairs { ss.process.blurring { size = 8, T = 20 },
      ss.process.blurring { size = 8, form = "peter", times = { 1, 2, 4 } } } do
      local u, v = x0, rot90(x0)
      local worst = 0
      for i = 1, P.T do
        local eps = g:normal { 1, 1, 8, 8 }
        u, v = P:step(u, i, eps), P:step(v, i, rot90(eps))
        worst = math.max(worst, maxdiff(v, rot90(u)))
      end
      print(string.format("  blurring (%s): max |v_i − R(u_i)| %.3g", P.form, worst))
      assert.is_true(worst < 1e-5)
    end
  end)

  it("steady states: DDPM → N(0, I); blurring diffusion → the image mean plus predicted noise", function()
    local P = ss.process.ddpm { T = 2000, sigma = 0.1 }
    local X = P:marginal(repeat_image(x0, N), P.T, g)
    local mean, var = colstats(X)
    local zeros, ones = {}, {}
    for j = 1, 64 do zeros[j], ones[j] = 0, 1 end
    local zm, zv = z_means(mean, zeros, var, N), z_vars(var, ones, N)
    print(string.format("  DDPM at T=%d: λ_T = %.2g, mean %.2f SE from 0, variance %.2f SE from 1", P.T, P.lambda[P.T],
      zm, zv))
    assert.is_true(zm < 5 and zv < 5)

    local B = ss.process.blurring { size = 8, form = "peter", beta = 0.1, times = { 10, 100, 1000 } }
    local D = ss.op.dct2 { size = 8 }
    local Y = D(B:marginal(repeat_image(x0, N), B.T, g))
    local fmean, fvar = colstats(Y)
    local expect_m, expect_v = {}, {}
    local mu = x0:mean()
    for j = 1, 64 do expect_m[j], expect_v[j] = j == 1 and mu * 8 or 0, B:std(B.T) ^ 2 end
    local zfm, zfv = z_means(fmean, expect_m, fvar, N), z_vars(fvar, expect_v, N)
    print(string.format("  blurring (peter) at t=%g: frequencies %.2f SE from (image mean, 0, …), variances %.2f SE "
      .. "from γ² = %.3g", B.time[B.T], zfm, zfv, B:std(B.T) ^ 2))
    assert.is_true(zfm < 5 and zfv < 5)
  end)
end)

describe("process interface", function()
  it("rejects bad times, shapes and options with clear messages", function()
    local P = ss.process.ihdm { size = 8, K = 5 }
    local x = ss.zeros { 1, 1, 8, 8 }
    assert.has_error(function() P:marginal(x, 6, ss.rng(1)) end, nil)
    local ok, err = pcall(P.marginal, P, ss.zeros { 1, 1, 9, 9 }, 2, ss.rng(1))
    assert.is_false(ok)
    assert.matches("images are 9x9, the process is for 8x8", err)
    ok, err = pcall(P.marginal, P, x, 2, ss.zeros { 1, 1, 4, 4 })
    assert.matches("noise has shape", err)
    ok, err = pcall(ss.process.blurring, { size = 8, form = "cold" })
    assert.matches('form must be "hoogeboom" or "peter"', err)
    ok, err = pcall(ss.process.ddpm, { T = 3 })
    assert.matches("sigma", err)
    ok, err = pcall(function() ss.process.heat { size = 8, K = 3 }:posterior(x, x, 1, ss.rng(1)) end)
    assert.matches("no posterior", err)
  end)

  it("makes a batch's training example in O(1) DCT calls, equal to the per-sample marginals", function()
    local P = ss.process.ihdm { size = 8, K = 20, sigma_max = 4 }
    local D, calls = P.D, 0
    -- count the transforms through a Lua operator standing in for the process's DCT
    P.D = ss.op.new { in_shape = { 8, 8 }, out_shape = { 8, 8 }, name = "counted_dct",
      apply = function(x) calls = calls + 1; return D(x) end,
      adjoint = function(y) calls = calls + 1; return D:adjoint(y) end }
    local g = ss.rng(9)
    for _, n in ipairs { 4, 32 } do
      calls = 0
      local x0, ts, eps = g:uniform { n, 1, 8, 8 }, g:randint(n, 1, P.T), g:normal { n, 1, 8, 8 }
      local ex = P:training_example(x0, ts, eps)
      print(string.format("  IHDM training example of %d images: %d DCT calls", n, calls))
      assert.are.equal(3, calls)
      -- the same numbers as one sample at a time
      local worst = 0
      for i = 1, n, 7 do
        local xi = P:marginal(x0:narrow(1, i, 1), ts[i], eps:narrow(1, i, 1))
        local yi = P:mean(x0:narrow(1, i, 1), ts[i] - 1) - xi
        worst = math.max(worst, (ex.input:narrow(1, i, 1) - xi):abs():max(), (ex.target:narrow(1, i, 1) - yi):abs():max())
      end
      assert.is_true(worst < 1e-6, worst)
      assert.are.equal("sum", ex.reduction)
    end
  end)

  it("draws priors of the right shape and scale", function()
    local g = ss.rng(5)
    local d = ss.process.ddpm { beta = ss.schedule.linear_beta(1000), shape = { 1, 8, 8 } }:prior(500, g)
    assert.are.same({ 500, 1, 8, 8 }, d:shape())
    assert.is_true(math.abs(d:std() - 1) < 0.02)
    local b = ss.process.blurring { size = 8, T = 100, channels = 3 }:prior(4, g)
    assert.are.same({ 4, 3, 8, 8 }, b:shape())
    local s = ss.process.ssd { size = 16, levels = { 16, 8, 4 }, T = 100, channels = 3 }:prior(2, g)
    assert.are.same({ 2, 3, 4, 4 }, s:shape())
    local P = ss.process.ihdm { size = 8, K = 10 }
    local data = g:uniform { 6, 1, 8, 8 }
    local p = P:prior(3, g, { data = data })
    assert.are.same({ 3, 1, 8, 8 }, p:shape())
    -- a blurred training image plus δ-noise: its mean is one of the data means
    local means, pm = data:per_sample("mean"):values(), p:per_sample("mean"):values()
    for _, m in ipairs(pm) do
      local near = false
      for _, dm in ipairs(means) do near = near or math.abs(m - dm) < 5 * P.delta / 8 end
      assert.is_true(near)
    end
  end)

  it("builds a new process from a new operator in a few lines", function()
    local blur8, blur4 = ss.op.blur { size = 8, sigma = 0.7 }, ss.op.blur { size = 4, sigma = 0.7 }
    local P = ss.process.linear { name = "blur_noise", size = 8, T = 6,
      step_op = function(t)
        if t == 3 then return ss.op.resize { from = { 8, 8 }, to = { 4, 4 } } end
        return 0.95 * (t < 3 and blur8 or blur4)
      end,
      std = function(t) return 0.1 * t end }
    local g = ss.rng(3)
    local x = g:uniform { 2, 1, 8, 8 }
    local y = P:marginal(x, 6, g)
    assert.are.same({ 2, 1, 4, 4 }, y:shape())
    assert.are.same({ 2, 1, 4, 4 }, P:trajectory(x, { 2, 6 }, g)[2]:shape())
    local s = P:posterior(y, x, 6, g)
    assert.are.same({ 2, 1, 4, 4 }, s:shape())
    assert.is_true(ss.op.check(P:mean_op(6), { rng = g }) < 1e-5)
  end)
end)
