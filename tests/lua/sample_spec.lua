-- sample_spec.lua — ss.sample with oracle networks, whose predictions are known in
-- closed form: a data set of one image x* must be reproduced exactly by every sampler
-- (respaced or not), and for Gaussian data (each pixel N(m, s²)) the exact conditional
-- expectation of ε must give samples with the data's mean and variance.
local ss = require "scalespace"

local seed = 5
print("sample_spec seed " .. seed)

local function maxdiff(a, b) return (a - b):abs():max() end

-- A "network" from a function pred(x, t, out_size): out_size is the size the process asks
-- for (x's own when it asks for none).
local function oracle(f, name)
  return { __name = name, forward = function(_, x, t, opts) return f(x, t, opts and opts.out_size or x:shape()[3]) end }
end

-- x* repeated n times
local function batch_of(x, n)
  local idx = {}
  for i = 1, n do idx[i] = 1 end
  return x:index(idx)
end

describe("samplers", function()
  local g = ss.rng(seed)
  local xstar = g:uniform({ 1, 1, 8, 8 }, -1, 1)

  it("reproduce a one-image data set exactly from oracle predictions (IHDM, DDPM, DDIM, blurring, SSD)", function()
    local n, worst, report = 3, 0, {}
    local function check(name, x)
      local e = maxdiff(x, batch_of(xstar, n))
      report[#report + 1] = string.format("%s %.2g", name, e)
      worst = math.max(worst, e)
    end
    local ihdm = ss.process.ihdm { size = 8, K = 30, sigma_max = 6 }
    check("ihdm", ss.sample.run(ihdm, oracle(function(u, k) return batch_of(ihdm:mean(xstar, k - 1), n) - u end),
      { n = n, seed = 1, data = xstar }))
    local ddpm = ss.process.ddpm { beta = ss.schedule.linear_beta(200) }
    local function eps_ddpm(x, t)
      return (x - batch_of(xstar, n) * ddpm:lam(t)):mul_(1 / math.sqrt(ddpm:gamma2(t)))
    end
    local shape = { 1, 8, 8 }
    check("ddpm-eps", ss.sample.run(ddpm, oracle(eps_ddpm), { n = n, shape = shape }))
    check("ddpm-eps/20", ss.sample.run(ddpm, oracle(eps_ddpm), { n = n, shape = shape, steps = 20 }))
    check("ddpm-x0", ss.sample.run(ddpm, oracle(function() return batch_of(xstar, n) end),
      { n = n, shape = shape, prediction = "x0", steps = 30 }))
    check("ddim/10", ss.sample.run(ddpm, oracle(eps_ddpm), { n = n, shape = shape, steps = 10, method = "ddim" }))
    local bd = ss.process.blurring { size = 8, T = 200 }
    local function eps_bd(x, t)
      local gam = math.sqrt(bd:gamma2(t))
      return bd:combine { { 1 / gam, x }, { -bd:lam(t) / gam, batch_of(xstar, n) } }
    end
    check("blurring", ss.sample.run(bd, oracle(eps_bd), { n = n, shape = shape }))
    check("blurring/25", ss.sample.run(bd, oracle(eps_bd), { n = n, shape = shape, steps = 25 }))
    local ssd = ss.process.ssd { size = 8, levels = { 8, 4, 2 }, T = 100 }
    local sizes = {}
    local ssd_net = oracle(function(x, t, out)
      sizes[#sizes + 1] = out
      local m = ssd:mean(xstar, t - 1):mul_(1 / math.sqrt(ssd.alphas_cumprod[t - 1]))
      assert.are.equal(m:shape()[3], out)
      return batch_of(m, n)
    end)
    check("ssd", ss.sample.run(ssd, ssd_net, { n = n }))
    check("ssd/12", ss.sample.run(ssd, ssd_net, { n = n, steps = 12 }))
    check("ssd-isotropic", ss.sample.run(ssd, ssd_net, { n = n, steps = 12, isotropic = true }))
    print("  oracle samplers, max |x - x*|: " .. table.concat(report, ", "))
    assert.is_true(worst < 1e-4)
  end)

  it("sample Gaussian data with its mean and variance (DDPM ancestral and blurring, with the exact E[ε | x_t])", function()
    local m, s, n = 0.3, 0.5, 256
    local function stats(x)
      local v = x:values()
      local mean, sq = 0, 0
      for _, a in ipairs(v) do mean = mean + a end
      mean = mean / #v
      for _, a in ipairs(v) do sq = sq + (a - mean) ^ 2 end
      return mean, sq / (#v - 1), #v
    end
    local report, ok = {}, true
    local function check(name, x)
      local mean, var, N = stats(x)
      local zm = (mean - m) / (s / math.sqrt(N))
      local zv = (var - s * s) / (s * s * math.sqrt(2 / (N - 1)))
      report[#report + 1] = string.format("%s mean %.2f SE, var %.2f SE", name, zm, zv)
      ok = ok and math.abs(zm) < 5 and math.abs(zv) < 5
    end
    local ddpm = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
    local net = oracle(function(x, t)
      local l, g2 = ddpm:lam(t), ddpm:gamma2(t)
      return (x - l * m):mul_(math.sqrt(g2) / (l * l * s * s + g2))
    end)
    check("ddpm", ss.sample.run(ddpm, net, { n = n, shape = { 1, 4, 4 }, seed = 11 }))
    -- blurring: per DCT frequency f, u_f = λ_f v_f + γ e_f with v_f ~ N(μ_f, s²), μ = D(m·1)
    local bd = ss.process.blurring { size = 4, T = 1000 }
    local mu = bd.D(ss.full({ 1, 1, 4, 4 }, m))
    local bnet = oracle(function(x, t)
      local l, g2 = bd:lam(t), bd:gamma2(t)
      local u = bd.D(x)
      local e = (u - mu * l) * math.sqrt(g2) / (l * l * (s * s) + g2)
      return bd.D:adjoint(e)
    end)
    check("blurring", ss.sample.run(bd, bnet, { n = n, shape = { 1, 4, 4 }, seed = 12 }))
    print("  Gaussian data (m = 0.3, s = 0.5): " .. table.concat(report, "; "))
    assert.is_true(ok)
  end)

  it("keeps SSD's path on the forward marginals q(x_s | x*) through the resolution changes (Eq. 6, Lanczos noise)", function()
    -- with x̂_0 = x* exact, x_t ~ q(x_t | x*) gives x_s ~ q(x_s | x*): (x_s − √ᾱ_s A_s x*)/σ_s is N(0, I)
    local P = ss.process.ssd { size = 8, levels = { 8, 4, 2 }, T = 100 }
    local n = 64
    local net = oracle(function(_, t)
      return batch_of(P:mean(xstar, t - 1):mul_(1 / math.sqrt(P.alphas_cumprod[t - 1])), n)
    end)
    local prior = P:marginal(batch_of(xstar, n), P.T, ss.rng(21))
    local _, path = ss.sample.run(P, net, { prior = prior, seed = 22, trajectory = P.T })
    local report, ok = {}, true
    for t = 1, P.T - 1 do
      if P.resolution[t + 1] ~= P.resolution[t] or t == 50 then
        local z = (path[P.T - t + 1] - batch_of(P:mean(xstar, t), n)):mul_(1 / P:std(t))
        local N = z:numel()
        local zm, zv = z:mean() * math.sqrt(N), (z:var() - 1) / math.sqrt(2 / (N - 1))
        report[#report + 1] = string.format("t=%d (%dx%d) mean %.2f SE, var %.2f SE", t, z:shape()[3], z:shape()[4], zm, zv)
        ok = ok and math.abs(zm) < 5 and math.abs(zv) < 5
      end
    end
    print("  SSD reverse path vs q(x_t | x*): " .. table.concat(report, "; "))
    assert.is_true(ok)
  end)

  it("respaces: T first, 0 last, SSD's resolution changes kept as whole steps", function()
    local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
    local t = ss.sample.times(P, 10)
    assert.are.equal(11, #t)
    assert.are.equal(1000, t[1])
    assert.are.equal(1, t[10])
    assert.are.equal(0, t[11])
    local ssd = ss.process.ssd { size = 8, levels = { 8, 4, 2 }, T = 100 }
    local ts = ss.sample.times(ssd, 5)
    local pos = {}
    for i, v in ipairs(ts) do pos[v] = i end
    for k = 1, 100 do
      if ssd.resolution[k] ~= ssd.resolution[k - 1] then
        assert.are.equal(pos[k] + 1, pos[k - 1], "step " .. k .. " must be taken alone")
      end
    end
  end)

  it("interpolates noise spherically or linearly; equal seeds give IHDM's fixed-noise mode", function()
    local slerp = ss.sample.interpolated_noise(1, 2, "slerp")({ 5, 1, 32, 32 })
    local lin = ss.sample.interpolated_noise(1, 2, "linear")({ 5, 1, 32, 32 })
    local a, b = ss.rng(1):normal { 1, 1, 32, 32 }, ss.rng(2):normal { 1, 1, 32, 32 }
    assert.are.equal(0, maxdiff(slerp:narrow(1, 1, 1), a))
    assert.is_true(maxdiff(slerp:narrow(1, 5, 1), b) < 1e-6)
    -- halfway: the spherical path keeps the norm, the linear one loses ~1/√2 of it
    local r_s = slerp:narrow(1, 3, 1):norm() / a:norm()
    local r_l = lin:narrow(1, 3, 1):norm() / a:norm()
    print(string.format("  halfway norm / endpoint norm: slerp %.3f, linear %.3f", r_s, r_l))
    assert.is_true(math.abs(r_s - 1) < 0.1 and math.abs(r_l - math.sqrt(0.5)) < 0.1)
    local fixed = ss.sample.interpolated_noise(7, 7)({ 3, 1, 4, 4 })
    assert.is_true(maxdiff(fixed:narrow(1, 1, 1), fixed:narrow(1, 3, 1)) < 1e-6)
    local pri = ss.sample.lerp(ss.zeros { 1, 1, 2, 2 }, ss.ones { 1, 1, 2, 2 }, 3)
    assert.are.same({ 0, 0.5, 1 }, { pri:get(1, 1, 1, 1), pri:get(2, 1, 1, 1), pri:get(3, 1, 1, 1) })
  end)

  it("returns trajectories and strips them into one picture; rejects bad options", function()
    local ssd = ss.process.ssd { size = 8, levels = { 8, 4 }, T = 20 }
    local net = oracle(function(x, t, out)
      return ss.zeros { x:shape()[1], 1, out, out }
    end)
    local x, path = ss.sample.run(ssd, net, { n = 2, trajectory = 4 })
    assert.are.equal(5, #path)
    assert.are.same({ 2, 1, 4, 4 }, path[1]:shape())
    assert.are.same(x:shape(), path[5]:shape())
    assert.are.same({ 10, 1, 8, 8 }, ss.sample.strip(path):shape())
    local ok, err = pcall(ss.sample.run, ssd, net, { n = 2, stpes = 3 })
    assert.is_false(ok)
    assert.truthy(err:find("unknown option 'stpes'", 1, true))
    ok, err = pcall(ss.sample.run, ss.process.ihdm { size = 8, K = 5 }, net, { steps = 2 })
    assert.truthy(err:find("it cannot skip steps", 1, true), err)
  end)
end)
