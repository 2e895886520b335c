-- nn_spec.lua — ss.nn modules: finite differences for the blocks, and a whole small UNet
-- and Flexi-UNet against PyTorch 1.13 (tests/reference/make_unet_fixtures.py, float64):
-- output, loss and every parameter gradient within 1e-4 relative.
local ss = require "scalespace"
local ssfx = dofile("tests/lua/ssfx.lua")

local CONFIG = { in_ch = 2, ch = 4, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 4 }, dropout = 0,
  size = 8, heads = 2, groups = 2, zero_init = false }

-- max |a − b| / max |b|: relative to the reference's scale, as the other exactness tests.
local function rel_err(a, b)
  local d = (a - b):abs():max()
  local s = b:abs():max()
  return s > 0 and d / s or d
end

local function load_params(net, fx)
  for _, e in ipairs(net:named_parameters()) do
    local ref = fx["param." .. e.name]
    assert(ref, "fixture lacks " .. e.name)
    e.param:copy(ref)
  end
end

-- forward, MSE and backward of `net` for fixture case `name`; checks output, loss and
-- every parameter gradient; returns the worst gradient error.
local function check_case(net, fx, name)
  local x, t, target = fx[name .. ".x"], fx[name .. ".t"], fx[name .. ".target"]
  net:zero_grad()
  local y = net:forward(x, t, { out_size = target:size(3) })
  local ey = rel_err(y, fx[name .. ".y"])
  local loss = ss.nn.mse(y, target)
  local ref_loss = fx[name .. ".loss"]:get(1)
  local el = math.abs(loss - ref_loss) / ref_loss
  net:backward(x, ss.nn.mse_backward(y, target))
  local worst, worst_name, count = 0, "", 0
  for _, e in ipairs(net:named_parameters()) do
    local ref = fx[name .. ".grad." .. e.name]
    assert(ref, "fixture lacks the gradient of " .. e.name)
    local err = rel_err(e.grad, ref)
    if ref:abs():max() == 0 then err = e.grad:abs():max() end
    if err > worst then worst, worst_name = err, e.name end
    count = count + 1
  end
  print(string.format("nn %-9s output %.2e  loss %.2e  %d parameter gradients: worst %.2e (%s)", name, ey, el,
    count, worst, worst_name))
  assert.is_true(ey < 1e-4, "output")
  assert.is_true(el < 1e-4, "loss")
  assert.is_true(worst < 1e-4, "gradient of " .. worst_name)
  return y
end

-- Central differences of L = Σ out·r for a module with forward(x[, extra]).
local function fd_check(m, x, extra, g, what)
  local out = m:forward(x, extra)
  local r = g:normal(out:shape())
  local function loss()
    local o = m:forward(x, extra)
    return ss.dot(o, r)
  end
  m:zero_grad()
  m:forward(x, extra)
  local gx = m:backward(x, r):clone()
  local h = 1e-2
  -- |central difference − analytic gradient| at element i of t, relative to max(1, |fd|)
  local function probe(t, grad, i)
    local v = t.p.data[i - 1]
    t.p.data[i - 1] = v + h
    local lp = loss()
    t.p.data[i - 1] = v - h
    local lm = loss()
    t.p.data[i - 1] = v
    local fd = (lp - lm) / (2 * h)
    return math.abs(fd - grad.p.data[i - 1]) / math.max(1, math.abs(fd))
  end
  local worst = 0
  for _, i in ipairs { 1, 7, math.floor(x:numel() / 2), x:numel() } do worst = math.max(worst, probe(x, gx, i)) end
  for _, e in ipairs(m:named_parameters()) do
    worst = math.max(worst, probe(e.param, e.grad, math.floor((e.param:numel() + 1) / 2)))
  end
  print(string.format("nn finite differences %-9s worst %.2e (seed 5)", what, worst))
  assert.is_true(worst < 2e-2)
end

describe("ss.nn", function()
  local fx = ssfx("tests/reference/unet/unet.ssfx")

  it("UNet matches PyTorch: output, loss and every parameter gradient", function()
    local net = ss.nn.UNet(CONFIG)
    load_params(net, fx)
    check_case(net, fx, "unet")
  end)

  it("Flexi-UNet matches PyTorch at every level, with and without a resolution change", function()
    local net = ss.nn.FlexiUNet(CONFIG)
    load_params(net, fx)
    local unet = ss.nn.UNet(CONFIG)
    load_params(unet, fx)
    -- at full resolution it is the UNet, bit for bit
    local x, t = fx["unet.x"], fx["unet.t"]
    local d = (net:forward(x, t) - unet:forward(x, t)):abs():max()
    print(string.format("nn FlexiUNet at 8x8 vs UNet: max |difference| %g", d))
    assert.equals(0, d)
    for _, name in ipairs { "flexi2", "flexi2up", "flexi3up" } do check_case(net, fx, name) end
  end)

  it("loads a safetensors state_dict written from the PyTorch model", function()
    local net = ss.nn.FlexiUNet(CONFIG)
    local meta = ss.checkpoint.load_into("tests/reference/unet/flexi.safetensors", net:state_dict())
    assert.equals("pt", meta.format)
    local err = rel_err(net:forward(fx["flexi2.x"], fx["flexi2.t"]), fx["flexi2.y"])
    print(string.format("nn FlexiUNet from PyTorch's state_dict: output error %.2e", err))
    assert.is_true(err < 1e-4)
  end)

  it("blocks pass central finite differences", function()
    local g = ss.rng(5)
    local o = { rng = g, groups = 2, zero_init = false }
    local emb = g:normal { 2, 6 }
    fd_check(ss.nn.ResBlock(4, 6, 6, o), g:normal { 2, 4, 5, 5 }, emb, g, "ResBlock")
    fd_check(ss.nn.AttnBlock(4, { rng = g, groups = 2, heads = 2, zero_init = false }), g:normal { 2, 4, 3, 3 }, nil,
      g, "AttnBlock")
    fd_check(ss.nn.UpsampleConv(3, o), g:normal { 1, 3, 3, 4 }, nil, g, "Upsample")
    fd_check(ss.nn.Sequential(ss.nn.Conv2d(3, 4, 3, o), ss.nn.GroupNorm(2, 4), ss.nn.SiLU(), ss.nn.AvgPool2d(2),
      ss.nn.Linear(2, 3, o)), g:normal { 2, 3, 4, 4 }, nil, g, "Sequential")
  end)

  it("initialises as PyTorch and ADM do", function()
    local net = ss.nn.UNet { in_ch = 1, ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = {}, size = 8 }
    local conv = net.down[1].res[1].conv1
    local b = 1 / math.sqrt(32 * 9)
    assert.is_true(conv.weight:max() <= b and conv.weight:min() >= -b and conv.weight:max() > 0.9 * b)
    assert.equals(0, net.conv_out.weight:abs():max())
    assert.equals(0, net.down[1].res[1].conv2.weight:abs():max())
    assert.equals(0, net.mid.attn.attn.proj.weight:abs():max())
    assert.equals(1, net.norm_out.weight:min())
    -- the same seed builds the same network; another seed another one
    local again = ss.nn.UNet { in_ch = 1, ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = {}, size = 8 }
    assert.equals(0, (again.down[1].res[1].conv1.weight - conv.weight):abs():max())
    -- parameter count equals PyTorch's for the fixture configuration
    local count = 0
    for k in pairs(fx) do
      if k:match("^param%.") and not k:match("^param%.adapt_") then count = count + fx[k]:numel() end
    end
    assert.equals(count, ss.nn.UNet(CONFIG):num_parameters())
  end)

  it("dropout is active in training only, and buffers are reused", function()
    local g = ss.rng(1)
    local d = ss.nn.Dropout(0.5, { rng = g })
    local x = ss.ones { 1000 }
    local y = d:forward(x)
    local kept = y:sum() / 2
    assert.is_true(kept > 400 and kept < 600)
    d:evaluate()
    assert.equals(x, d:forward(x))
    local net = ss.nn.UNet { in_ch = 1, ch = 32, mult = { 1, 2 }, num_res_blocks = 1, size = 8, attn_res = { 4 } }
    local xi = g:normal { 2, 1, 8, 8 }
    local y1 = net:forward(xi, 5)
    local y2 = net:forward(xi, 5)
    assert.equals(y1.p, y2.p)
  end)

  it("rejects bad configs and inputs with clear errors", function()
    assert.has_error(function() ss.nn.UNet { chanels = 3 } end, "nn.UNet: unknown config key 'chanels' (known: attn_res, "
      .. "ch, dropout, groups, heads, in_ch, mult, num_res_blocks, out_ch, rng, seed, size, zero_init)")
    assert.has_error(function() ss.nn.UNet { ch = "64" } end, "nn.UNet: config key 'ch' must be a number, got string")
    assert.has_error(function() ss.nn.UNet { size = 30, mult = { 1, 2, 2 } } end,
      "nn.UNet: size 30 does not halve 2 times")
    assert.has_error(function() ss.nn.GroupNorm(32, 48) end, "nn.GroupNorm: 48 channels do not split into 32 groups")
    local net = ss.nn.FlexiUNet(CONFIG)
    local ok, err = pcall(net.forward, net, ss.zeros { 1, 2, 6, 6 }, 1)
    assert.is_false(ok)
    assert.matches("a 6x6 input is at no level of the pyramid %(8, 4, 2%)", err)
    ok, err = pcall(net.forward, net, ss.zeros { 1, 2, 4, 4 }, 1, { out_size = 16 })
    assert.matches("out_size 16 for a 4x4 input", err)
    ok, err = pcall(net.forward, net, ss.zeros { 1, 3, 8, 8 }, 1)
    assert.matches("argument 1: expected an %(N,2,H,W%) tensor, got %(1,3,8,8%)", err)
    ok, err = pcall(net.forward, net, "x", 1)
    assert.matches("FlexiUNet:forward: argument 1: expected an %(N,2,H,W%) tensor, got string", err)
    ok, err = pcall(ss.nn.Conv2d(1, 2, 3).forward, ss.nn.Conv2d(1, 2, 3), "x")
    assert.matches("nn.Conv2d:forward: argument 1: expected an %(N,C,H,W%) tensor, got string", err)
    ok, err = pcall(ss.nn.GroupNorm(1, 2).forward, ss.nn.GroupNorm(1, 2), nil)
    assert.matches("nn.GroupNorm:forward: argument 1: expected a tensor, got nil", err)
    ok, err = pcall(net.forward, net, ss.zeros { 2, 2, 8, 8 }, { 1, 2, 3 })
    assert.matches("a number, a list of 2 numbers", err)
  end)
end)
