-- nn_pool_spec.lua — the modules of Inception-v3's layers (issue 15): nn.Conv2d with
-- rectangular kernels, per-axis stride and padding and a folded BatchNorm; nn.ReLU;
-- nn.MaxPool2d; nn.AvgPool2d (general, 2x2 included); nn.GlobalAvgPool — against the PyTorch
-- 1.13 fixtures of tests/reference/make_nn_pool_fixtures.py (1e-4 relative), central finite
-- differences through a small network, and the errors in the caller's terms.
local ss = require "scalespace"
local ssfx = dofile("tests/lua/ssfx.lua")

local function rel_err(a, b)
  local d = (a - b):abs():max()
  local s = b:abs():max()
  return s > 0 and d / s or d
end

local function pair(t) return { t:get(1), t:get(2) } end

describe("ss.nn Inception layers", function()
  local fx = ssfx("tests/reference/nn_pool/pool.ssfx")

  it("pool as PyTorch does, forward and backward", function()
    local cases = { { "max_k3s2", "MaxPool2d" }, { "max_k3s1p1", "MaxPool2d" }, { "max_ties", "MaxPool2d" },
      { "avg_k3s1p1_excl", "AvgPool2d" }, { "avg_k3s1p1_incl", "AvgPool2d" }, { "avg_k2s2", "AvgPool2d" } }
    for _, c in ipairs(cases) do
      local name = c[1]
      local opts = { stride = pair(fx[name .. ".s"]), padding = pair(fx[name .. ".p"]) }
      if fx[name .. ".include_pad"] then opts.count_include_pad = fx[name .. ".include_pad"]:get(1) == 1 end
      local m = ss.nn[c[2]](pair(fx[name .. ".k"]), opts)
      local x = fx[name .. ".x"]
      local ey = rel_err(m:forward(x), fx[name .. ".y"])
      local eg = rel_err(m:backward(x, fx[name .. ".g"]), fx[name .. ".dx"])
      print(string.format("nn %-16s %-9s forward %.2e  grad_in %.2e", name, c[2], ey, eg))
      assert.is_true(ey < 1e-4 and eg < 1e-4, name)
    end
    local relu, x = ss.nn.ReLU(), fx["relu.x"]
    assert.is_true(rel_err(relu:forward(x), fx["relu.y"]) < 1e-4)
    assert.is_true(rel_err(relu:backward(x, fx["relu.g"]), fx["relu.dx"]) < 1e-4)
    local gap = ss.nn.GlobalAvgPool()
    x = fx["global.x"]
    local y = gap:forward(x)
    assert.same({ 3, 5 }, y:shape())
    assert.is_true(rel_err(y, fx["global.y"]) < 1e-4)
    assert.is_true(rel_err(gap:backward(x, fx["global.g"]), fx["global.dx"]) < 1e-4)
  end)

  it("folds an inference BatchNorm into a 1x7 convolution with padding {0, 3}", function()
    for _, name in ipairs { "bn_k3", "bn_k1x7_nogamma" } do
      local w = fx[name .. ".w"]
      local kh, kw = w:size(3), w:size(4)
      local conv = ss.nn.Conv2d(w:size(2), w:size(1), { kh, kw }, { padding = pair(fx[name .. ".p"]), bias = false })
      conv.weight:copy(w)
      conv:fold_batchnorm { weight = fx[name .. ".gamma"], bias = fx[name .. ".beta"], mean = fx[name .. ".mean"],
        var = fx[name .. ".var"] }
      local e = rel_err(conv:forward(fx[name .. ".x"]), fx[name .. ".y"])
      print(string.format("nn %-16s conv with BatchNorm folded vs bn(conv): %.2e", name, e))
      assert.is_true(e < 1e-4)
    end
  end)

  it("a small Inception-like network passes central finite differences", function()
    local g = ss.rng(7)
    local o = { rng = g }
    local net = ss.nn.Sequential(ss.nn.Conv2d(2, 4, 3, { rng = g, stride = 2, padding = 0 }), ss.nn.ReLU(),
      ss.nn.Conv2d(4, 4, { 1, 3 }, o), ss.nn.Conv2d(4, 3, { 3, 1 }, { rng = g, stride = { 2, 1 } }),
      ss.nn.AvgPool2d(3, { stride = 1, padding = 1, count_include_pad = false }), ss.nn.GlobalAvgPool(),
      ss.nn.Linear(3, 2, o))
    local x = g:normal { 2, 2, 11, 9 }
    local r = g:normal(net:forward(x):shape())
    net:zero_grad()
    net:forward(x)
    local gx = net:backward(x, r):clone()
    local h, worst = 1e-2, 0
    local function probe(t, grad, i)
      local v = t.p.data[i - 1]
      t.p.data[i - 1] = v + h
      local lp = ss.dot(net:forward(x), r)
      t.p.data[i - 1] = v - h
      local lm = ss.dot(net:forward(x), r)
      t.p.data[i - 1] = v
      local fd = (lp - lm) / (2 * h)
      return math.abs(fd - grad.p.data[i - 1]) / math.max(1, math.abs(fd))
    end
    for _, i in ipairs { 1, 50, 101, x:numel() } do worst = math.max(worst, probe(x, gx, i)) end
    for _, e in ipairs(net:named_parameters()) do worst = math.max(worst, probe(e.param, e.grad, 1)) end
    print(string.format("nn finite differences through conv/ReLU/1x3/3x1/avgpool/global/linear: worst %.2e", worst))
    assert.is_true(worst < 2e-2)
    assert.same({ 2, 3, 3, 4 }, net[4]:forward(net[3]:forward(net[2]:forward(net[1]:forward(x)))):shape())
  end)

  it("reports bad sizes in the caller's terms", function()
    assert.has_error(function() ss.nn.Conv2d(3, 4, { 1, 0 }) end)
    local ok, err = pcall(ss.nn.Conv2d, 3, 4, { 1, 0 })
    assert.matches("nn.Conv2d: argument 3: expected a whole number >= 1 or a pair {h, w} of them", err)
    ok, err = pcall(ss.nn.Conv2d, 3, 4, 3, { padding = { 1 } })
    assert.matches("nn.Conv2d: option padding must be a whole number >= 0 or a pair", err)
    ok, err = pcall(ss.nn.MaxPool2d, 3, { stride = 0 })
    assert.matches("nn.MaxPool2d: option stride must be a whole number >= 1", err)
    ok, err = pcall(ss.nn.AvgPool2d, 3, { count_include_pad = "no" })
    assert.matches("option count_include_pad must be a boolean", err)
    local m = ss.nn.MaxPool2d(3, { stride = 2, padding = 2 })
    ok, err = pcall(m.forward, m, ss.zeros { 1, 1, 5, 5 })
    assert.matches("padding %(2,2%) must be >= 0 and at most half the kernel 3x3", err)
    m = ss.nn.MaxPool2d(5)
    ok, err = pcall(m.forward, m, ss.zeros { 1, 1, 3, 8 })
    assert.matches("nn.MaxPool2d:forward: a 5x5 window with padding {0, 0} does not fit a 3x8 input", err)
    local conv = ss.nn.Conv2d(2, 2, 3)
    ok, err = pcall(conv.fold_batchnorm, conv, { mean = ss.zeros { 2 } })
    assert.matches("Conv2d:fold_batchnorm: var must be a tensor", err)
    ok, err = pcall(conv.fold_batchnorm, conv, { mean = ss.zeros { 3 }, var = ss.ones { 3 } })
    assert.matches("mean has shape %(3%), expected %(2%)", err)
  end)
end)
