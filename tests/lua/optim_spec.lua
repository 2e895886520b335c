-- optim_spec.lua — ss.optim from Lua: Adam/AdamW against ten torch.optim steps (the
-- fixture of tests/c/test_optim.c), warm-up, clipping, EMA with IHDM's warm-up decay.
local ss = require "scalespace"
local load_ssfx = dofile("tests/lua/ssfx.lua")
local fx = load_ssfx(ss.config.root .. "/tests/reference/optim/optim.ssfx")

describe("optim", function()
  it("Adam and AdamW follow torch.optim for ten steps", function()
    for _, case in ipairs { { "adam", ss.optim.Adam, { lr = 2e-4 } }, { "adamwd", ss.optim.Adam, { lr = 1e-2,
      weight_decay = 0.1 } }, { "adamw", ss.optim.AdamW, { lr = 1e-2, weight_decay = 0.1 } } } do
      local p = fx["adam.p0"]:clone()
      local g = ss.zeros(p:shape())
      local opt = case[2]({ p }, { g }, case[3])
      for k = 1, 10 do
        g:copy(fx["adam.grads"]:narrow(1, k, 1):reshape(p:shape()))
        opt:step()
      end
      local err = (p - fx[case[1] .. ".p10"]):abs():max()
      print(string.format("  %s: 10 steps max diff %.3g", case[1], err))
      assert.is_true(err < 1e-5)
    end
  end)

  it("warms the learning rate up and clips the global gradient norm", function()
    local p, g = ss.zeros { 4 }, ss.full({ 4 }, 3)
    local opt = ss.optim.Adam({ p }, { g }, { lr = 1, warmup = 4, clip = 1 })
    assert.are.equal(0.25, opt:current_lr())
    local norm = opt:step()
    assert.is_true(math.abs(norm - 6) < 1e-6)
    assert.is_true(math.abs(opt:grad_norm() - 1) < 1e-5)
    assert.are.equal(0.5, opt:current_lr())
    local ok, err = pcall(ss.optim.Adam, { p }, {}, {})
    assert.is_false(ok)
    assert.matches("gradients", err)
  end)

  it("averages with IHDM's warm-up decay min(d, (1+n)/(10+n))", function()
    local p = ss.zeros { 3 }
    local ema = ss.optim.EMA({ p }, 0.999)
    p:fill(1)
    assert.are.equal(0.1, ema:update())
    assert.is_true(math.abs(ema.shadow[1]:get(1) - 0.9) < 1e-6)
    assert.is_true(math.abs(ema:update() - 2 / 11) < 1e-12)
    for _ = 1, 20000 do ema.updates = ema.updates + 1 end
    assert.are.equal(0.999, ema:current_decay())
    local q = ss.zeros { 3 }
    ema:copy_to({ q })
    assert.is_true(q:get(1) > 0.9)
  end)
end)
