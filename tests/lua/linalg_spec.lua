-- linalg_spec.lua — solvers, Lanczos and osmosis from Lua, on operators built in
-- Lua and in C, with the scale-space properties of osmosis.
local ss = require "scalespace"

local seed = 7
print("linalg_spec seed " .. seed)

local function rel(a, b) return (a - b):norm() / b:norm() end

describe("linalg", function()
  local g = ss.rng(seed)

  it("solves an SPD system by CG and a nonsymmetric one by BiCGSTAB", function()
    local A = ss.op.identity { size = 12 } - 0.2 * ss.op.laplace { size = 12 }   -- SPD
    local x_true = g:normal { 2, 12, 12 }
    local b = A(x_true)
    local x, info = ss.linalg.cg(A, b, { tol = 1e-6 })
    assert.is_true(info.converged)
    assert.is_true(rel(x, x_true) < 1e-5)
    local v = g:uniform({ 12, 12 }, 0.5, 1.5)
    local N = ss.osmosis.operator(v, { tau = 2 })                                     -- I - 2A, nonsymmetric
    x, info = ss.linalg.bicgstab(N, N(x_true), { tol = 1e-6 })
    print(string.format("  bicgstab: %d iterations, residual %.3g", info.iterations, info.residual))
    assert.is_true(info.converged and info.iterations > 0)
    assert.is_true(rel(x, x_true) < 1e-4)
    local _, warm = ss.linalg.bicgstab(N, N(x_true), { x0 = x, tol = 1e-5 })
    assert.are.equal(0, warm.iterations)
  end)

  it("reports an unconverged solve as such", function()
    local v = g:uniform({ 16, 16 }, 0.5, 1.5)
    local N = ss.osmosis.operator(v, { tau = 50 })
    local _, info = ss.linalg.bicgstab(N, g:normal { 16, 16 }, { tol = 1e-12, maxiter = 2 })
    assert.is_false(info.converged)
    assert.truthy(info.message and info.message:find("no convergence", 1, true))
  end)

  it("computes sqrt(A) v by Lanczos, and a Lua function of A", function()
    local A = ss.op.identity { size = 10 } - 0.1 * ss.op.laplace { size = 10 }
    local v = g:normal { 10, 10 }
    local r = ss.linalg.lanczos(A, v, "sqrt", { k = 40 })
    assert.is_true(rel(ss.linalg.lanczos(A, r, "sqrt"), A(v)) < 1e-4)           -- sqrt(A) sqrt(A) v = A v
    local sq = ss.linalg.lanczos(A, v, function(l) return l * l end, { k = 40, reorth = true })
    assert.is_true(rel(sq, A(A(v))) < 1e-5)
    local ok, err = pcall(ss.linalg.lanczos, A, v, function() error("bad f") end)
    assert.is_false(ok)
    assert.truthy(err:find("bad f", 1, true))
    local lmax = ss.linalg.power_iteration(A, { rng = g, iterations = 200 })
    assert.is_true(lmax > 1.6 and lmax <= 1.8 + 1e-6)   -- 1 + 0.1 * 8 at most
  end)

  it("builds Scale Space Diffusion's (I - rho M^T M)^(1/2) noise operator", function()
    local M = ss.op.resize { from = { 16, 16 }, to = { 8, 8 } }
    local MtM = M:T() * M
    local rho = 0.9 / ss.linalg.power_iteration(MtM, { rng = g, iterations = 50 })
    local S = ss.op.identity { size = 16 } - rho * MtM
    local e = g:normal { 16, 16 }
    local z = ss.linalg.lanczos(S, e, "sqrt", { k = 40 })
    -- z^T z = e^T S e for z = S^(1/2) e
    assert.is_true(math.abs(ss.dot(z, z) - ss.dot(e, S(e))) < 1e-4 * ss.dot(e, S(e)))
  end)
end)

describe("osmosis", function()
  local g = ss.rng(seed + 1)

  it("keeps the mean and tends to (mu_f/mu_v) v", function()
    local f = g:uniform({ 1, 12, 12 }, 0, 1)
    local v = g:uniform({ 1, 12, 12 }, 0.2, 1)
    local traj = ss.osmosis.evolve(f, v, { tau = 20, times = { 1, 100, 5000 } })
    for _, s in ipairs(traj) do
      assert.is_true(math.abs(s.u:mean() - f:mean()) < 1e-5, "mean at t = " .. s.t)
    end
    local target = (v + 1) * ((f:mean() + 1) / (v:mean() + 1)) - 1
    assert.is_true((traj[3].u - target):abs():max() < 1e-3)
    local ex = ss.osmosis.evolve(f, v, { explicit = true, tau = 0.2, times = { 4 } })[1].u
    local im = ss.osmosis.evolve(f, v, { tau = 0.2, times = { 4 } })[1].u
    assert.is_true((ex - im):abs():max() < 0.05)       -- both schemes approximate the same flow
  end)

  it("keeps every channel's mean within 1e-6 per step; Peter's relative entropy increases", function()
    local f = g:uniform({ 3, 24, 24 }, 0, 1)
    local v = ss.osmosis.noise_guidance(f, { rng = g })
    local times = {}
    for i = 1, 30 do times[i] = 2 ^ (i / 3) end
    local traj = ss.osmosis.evolve(f, v, { tau = 5, times = times })
    local means0 = f:reshape({ 3, 576 }):per_sample("mean")
    local prev_means, prev_L = means0, ss.osmosis.relative_entropy(f, v)
    for _, s in ipairs(traj) do
      local m = s.u:reshape({ 3, 576 }):per_sample("mean")
      assert.is_true((m - prev_means):abs():max() <= 1e-6, "channel means move at t = " .. s.t)
      local L = ss.osmosis.relative_entropy(s.u, v)
      assert.is_true(((L - prev_L):min()) >= -1e-4 * prev_L:abs():max(), "L decreases at t = " .. s.t)
      prev_means, prev_L = m, L
    end
    assert.is_true((prev_L - ss.osmosis.relative_entropy(f, v)):min() > 0)
  end)

  it("refuses an unstable explicit step and a non-positive guidance", function()
    local f = g:uniform({ 1, 8, 8 }, 0, 1)
    local v = g:uniform({ 1, 8, 8 }, 0.2, 1)
    local lim = ss.osmosis.explicit_limit(v + 1)
    local ok, err = pcall(ss.osmosis.evolve, f, v, { explicit = true, tau = 1.5 * lim, steps = 1 })
    assert.truthy(err:find("exceeds the explicit stability limit", 1, true))
    ok, err = pcall(ss.osmosis.operator, v - 2)
    assert.truthy(err:find("must be > 0", 1, true))
  end)

  it("makes the probabilistic guidance Peter describes", function()
    local f = ss.full({ 3, 32, 32 }, 0.3)
    local v = ss.osmosis.noise_guidance(f, { rng = g })
    assert.is_true(v:min() >= ss.full({ 1 }, 1e-6):get(1) and v:max() <= 1) -- 1e-6 as a float
    assert.is_true(math.abs(v:mean() - 0.3) < 0.01)
    assert.is_true(math.abs(v:std() - 0.1) < 0.01)
  end)
end)
