-- user_process_spec.lua — a process defined here, in the spec (a blur written in Lua, a
-- down-sampling and noise), trains, resumes bit for bit, samples, and is rebuilt from its
-- checkpoint through the registry — with no library code that knows it.
local ss = require "scalespace"
local ffi = require "ffi"

pcall(ffi.cdef, "int raise(int sig);")
local SIGINT = 2
local h = dofile("tests/lua/helpers.lua")
local seed = 8
print("user_process_spec seed " .. seed)

-- A 3-tap row blur [1/4, 1/2, 1/4] with reflecting ends, written with the tensor API; it
-- is symmetric, so it is its own adjoint.
local function row_blur(n)
  local function apply(x)
    local p = x:pad({ 1, 1 }, { mode = "replicate" })
    return p:narrow(-1, 1, n) * 0.25 + p:narrow(-1, 2, n) * 0.5 + p:narrow(-1, 3, n) * 0.25
  end
  return ss.op.new { name = "row_blur", in_shape = { n, n }, out_shape = { n, n }, apply = apply, adjoint = apply }
end

ss.process.register("spec_blur_down", function(o)
  local T = o.T or 20
  local beta = ss.schedule.linear_beta(T, 1e-3, 0.2)
  local abar = ss.schedule.alphas_cumprod(beta)
  local blur, down = row_blur(8), ss.op.resize { from = { 8, 8 }, to = { 4, 4 }, mode = "area" }
  return ss.process.linear { name = "spec_blur_down", size = 8, T = T, predictions = o.predictions,
    step_op = function(t)
      local c = math.sqrt(1 - beta[t])
      if t == 6 then return c * blur end
      if t == 12 then return c * down end
      return c
    end,
    std = function(t) return math.sqrt(1 - abar[t]) end,
    step_scale = function(t) return math.sqrt(1 - beta[t]) end }
end)

local function data()
  return ss.op.blur { size = 8, sigma = 1 }(ss.rng(seed):uniform({ 32, 1, 8, 8 }, -1, 1))
end
local function net()
  return ss.nn.FlexiUNet { ch = 8, mult = { 1, 2 }, num_res_blocks = 1, attn_res = {}, groups = 4, size = 8,
    dropout = 0, seed = seed }
end

describe("a process written in a script", function()
  local dir, remove
  setup(function() dir, remove = h.tmpdir("ss_user_process") end)
  teardown(function() remove() end)

  it("has an exact adjoint, a blur that preserves constants, and a rebuildable descriptor", function()
    local P = ss.process.spec_blur_down { T = 20 }
    assert.is_true(ss.op.check(P:mean_op(20), { rng = ss.rng(seed) }) < 1e-5)
    local one = ss.ones { 1, 1, 8, 8 }
    assert.is_true((row_blur(8)(one) - one):abs():max() < 1e-7)
    local d = P:descriptor()
    assert.are.equal("spec_blur_down", d.name)
    assert.truthy(d.source:find("user_process_spec.lua", 1, true))
    local Q = ss.process.rebuild(d)
    local x, g1, g2 = data(), ss.rng(1), ss.rng(1)
    assert.are.equal(h.bits(P:marginal(x, 15, g1)), h.bits(Q:marginal(x, 15, g2)))
    local ok, err = pcall(ss.process.rebuild, { name = "no_such_process", options = {} })
    assert.is_false(ok)
    assert.truthy(err:find("no process is registered as 'no_such_process' (registered: ", 1, true), err)
    assert.truthy(err:find("ss.process.register('no_such_process', constructor)", 1, true), err)
  end)

  it("trains, resumes an interrupted run bit for bit, and samples", function()
    local P = ss.process.spec_blur_down { T = 20 }
    local function cfg(out, extra)
      local c = { steps = 12, batch = 8, lr = 1e-3, seed = seed, out = out, samples = 4, log_every = 4,
        progress = false, data_range = { -1, 1 }, sample_steps = 8 }
      for k, v in pairs(extra or {}) do c[k] = v end
      return c
    end
    local net_a = net()
    local a = ss.train.run(P, net_a, data(), cfg(dir .. "/a"))
    local b1 = ss.train.run(P, net(), data(), cfg(dir .. "/b", {
      on_step = function(step) if step == 5 then ffi.C.raise(SIGINT) end end }))
    assert.is_true(b1.interrupted)
    local net_b = net()
    local b2 = ss.train.run(ss.process.spec_blur_down { T = 20 }, net_b, data(), cfg(dir .. "/b"))
    for step = 6, 12 do assert.are.equal(a.losses[step], b2.losses[step], "step " .. step) end
    local pa, pb = net_a:parameters(), net_b:parameters()
    for i = 1, #pa do assert.are.equal(h.bits(pa[i]), h.bits(pb[i])) end
    print(string.format("  spec_blur_down: losses %.4g → %.4g; resumed steps 6-12 bit-identical", a.losses[1],
      a.losses[12]))
    -- the checkpoint alone rebuilds process and network, and samples
    local path = dir .. "/a/checkpoint.safetensors"
    local c = ss.checkpoint.config(path)
    local Q = ss.process.rebuild(c.process)
    local net_c = ss.checkpoint.load_weights(path, ss.nn[c.net.class](c.net.config))
    local x, traj = ss.sample.run(Q, net_c, { n = 3, seed = 2, steps = 8, trajectory = 4 })
    assert.are.same({ 3, 1, 8, 8 }, x:shape())
    assert.are.same({ 3, 1, 4, 4 }, traj[1]:shape())
    assert.has_no.errors(function() x:check_finite("samples") end)
  end)

  it("samples exactly from oracle predictions of x_0, of the mean and of ε", function()
    local xstar = data():narrow(1, 1, 1)
    local P = ss.process.spec_blur_down { T = 20 }
    local function batch(t, n) return t:index({ 1, 1, 1 }):narrow(1, 1, n) end
    local oracles = {
      x0 = function() return batch(xstar, 3) end,
      mean = function(_, t) return batch(P:mean(xstar, t - 1), 3):mul_(1 / P:scale(t - 1)) end,
      eps = function(x, t) return (x - batch(P:mean(xstar, t), 3)):mul_(1 / P:std(t)) end,
    }
    local report, worst = {}, 0
    for _, pred in ipairs { "x0", "mean", "eps" } do
      local net_o = { forward = function(_, x, t) return oracles[pred](x, t) end }
      for _, steps in ipairs { 20, 7 } do
        local x = ss.sample.run(P, net_o, { n = 3, seed = 4, prediction = pred, steps = steps })
        local e = (x - batch(xstar, 3)):abs():max()
        report[#report + 1] = string.format("%s/%d %.2g", pred, steps, e)
        worst = math.max(worst, e)
      end
    end
    print("  oracle samplers of a script's process, max |x - x*|: " .. table.concat(report, ", "))
    assert.is_true(worst < 1e-4)
  end)
end)
