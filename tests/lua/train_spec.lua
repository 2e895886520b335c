-- train_spec.lua — ss.train: an interrupted and resumed run repeats the uninterrupted one
-- bit for bit (the interruption is a real SIGINT, or SIGUSR1 as mpirun passes it on), a
-- non-finite loss stops the run keeping the last good checkpoint, bad configs are refused
-- before anything runs, and every process kind trains and writes its outputs. The pieces
-- of a data-parallel run that one process can check: a rank's share of the batch, its
-- dropout masks (the whole batch's rows), gradients as views of one flat buffer. The runs
-- on 2 ranks are tests/dist/train.lua.
local ss = require "scalespace"
local ffi = require "ffi"

pcall(ffi.cdef, "int raise(int sig);")
local SIGINT, SIGUSR1 = 2, 10

local h = dofile("tests/lua/helpers.lua")
local exists, bits = h.exists, h.bits

local seed = 3
print("train_spec seed " .. seed)

-- 64 smooth random 8x8 images in [0, 1] and a small network for them.
local function data()
  local g = ss.rng(seed)
  local x = ss.op.blur { size = 8, sigma = 1 }(g:uniform { 64, 1, 8, 8 })
  return x
end
local function net(flexi)
  local cls = flexi and ss.nn.FlexiUNet or ss.nn.UNet
  return cls { ch = 8, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 4 }, groups = 4, size = 8, dropout = 0.1,
    seed = seed }
end

describe("training", function()
  local dir, remove
  setup(function() dir, remove = h.tmpdir("ss_train_spec") end)
  teardown(function() remove() end)

  local function config(out, extra)
    local c = { steps = 100, batch = 8, lr = 1e-3, warmup = 10, clip = 1, ema = 0.99, seed = seed, out = out,
      samples = 4, log_every = 10, progress = false }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end

  it("resumes an interrupted run exactly: losses 51-100 and the weights are the uninterrupted run's, bit for bit", function()
    local P = ss.process.ihdm { size = 8, K = 20, sigma_max = 4 }
    local x = data()
    local net_a = net()
    local a = ss.train.run(P, net_a, x, config(dir .. "/a"))
    assert.are.equal(100, a.step)

    local b1 = ss.train.run(P, net(), x, config(dir .. "/b", {
      on_step = function(step) if step == 50 then ffi.C.raise(SIGINT) end end }))
    assert.is_true(b1.interrupted)
    assert.are.equal(50, b1.step)
    assert.are.equal("50", ss.checkpoint.meta(dir .. "/b/checkpoint.safetensors").step)

    local net_b = net() -- a fresh process would start from here: new objects, the checkpoint
    local b2 = ss.train.run(P, net_b, x, config(dir .. "/b"))
    assert.are.equal(100, b2.step)
    assert.is_nil(b2.losses[50])
    local same = 0
    for step = 51, 100 do
      if b2.losses[step] == a.losses[step] then same = same + 1 end
    end
    print(string.format("  resume: %d of 50 losses bit-identical (step 100: %.9g vs %.9g)", same, b2.losses[100],
      a.losses[100]))
    assert.are.equal(50, same)
    local pa, pb = net_a:parameters(), net_b:parameters()
    for i = 1, #pa do assert.are.equal(bits(pa[i]), bits(pb[i])) end
    -- the loss log holds every interval once, in order
    local _, rows = ss.plot.read_csv(dir .. "/b/loss.csv")
    assert.are.equal(10, #rows)
    for i, r in ipairs(rows) do assert.are.equal(10 * i, r[1]) end
    assert.is_true(exists(dir .. "/b/samples_000100.png"))
  end)

  it("stops at a non-finite loss, naming the step and keeping the last good checkpoint", function()
    local P = ss.process.ddpm { beta = ss.schedule.linear_beta(100) }
    local n = net()
    local out = dir .. "/nan"
    local ok, err = pcall(ss.train.run, P, n, data(), config(out, { steps = 10, checkpoint_every = 2,
      on_step = function(step) if step == 3 then n:parameters()[1]:fill(0 / 0) end end }))
    assert.is_false(ok)
    assert.truthy(err:find("the loss is nan at step 4", 1, true), err)
    assert.truthy(err:find("checkpoint.safetensors, step 2", 1, true), err)
    local saved = ss.checkpoint.load(out .. "/checkpoint.safetensors")
    assert.are.equal("2", ss.checkpoint.meta(out .. "/checkpoint.safetensors").step)
    local models = 0
    for name, t in pairs(saved) do
      if name:match("^model%.") then
        models = models + 1
        assert.has_no.errors(function() t:check_finite(name) end)
      end
    end
    assert.is_true(models > 10)
  end)

  it("refuses unknown keys, wrong types and a changed config before it starts", function()
    local P = ss.process.ihdm { size = 8, K = 20, sigma_max = 4 }
    local out = dir .. "/bad"
    local cases = {
      { { steps = 10, out = out, lerning_rate = 1 }, "unknown config key 'lerning_rate'" },
      { { steps = 10, out = out, batch = "8" }, "config key 'batch' must be a number, got string" },
      { { steps = 10, out = out, clip = true }, "'clip' must be a number or false" },
      { { out = out }, "'steps' must be a whole number" },
      { { steps = 10, out = out, prediction = "x0" }, "'prediction' is \"x0\", but ihdm learns residual" },
      { { steps = 10, out = out, check_every = 2.5 }, "'check_every' must be a whole number >= 0" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(ss.train.run, P, net(), data(), case[1])
      assert.is_false(ok)
      assert.truthy(err:find(case[2], 1, true), err)
    end
    assert.is_false(exists(out)) -- nothing was created
    -- an output directory that cannot be made stops the run before its first step
    local steps_run = 0
    local ok0, err0 = pcall(ss.train.run, P, net(), data(), { steps = 2, out = "/etc/passwd/x", progress = false,
      on_step = function() steps_run = steps_run + 1 end })
    assert.is_false(ok0)
    assert.truthy(err0:find("train: cannot create /etc/passwd/x: Not a directory", 1, true), err0)
    assert.are.equal(0, steps_run)
    local ok, err = pcall(ss.train.run, ss.process.heat { size = 8, K = 3 }, net(), data(), { steps = 1, out = out })
    assert.is_false(ok)
    assert.truthy(err:find("no learned reverse process for 'heat'", 1, true))
    -- a resume with other settings names both
    ss.train.run(P, net(), data(), config(out, { steps = 2 }))
    ok, err = pcall(ss.train.run, P, net(), data(), config(out, { steps = 4, lr = 5e-4 }))
    assert.is_false(ok)
    assert.truthy(err:find("was saved with config", 1, true), err)
  end)

  it("trains every process kind and writes checkpoint, grid, loss CSV", function()
    local x = data() * 2 - 1
    local cases = {
      { ss.process.ddpm { beta = ss.schedule.linear_beta(50) }, net(), {} },
      { ss.process.ddpm { beta = ss.schedule.linear_beta(50) }, net(), { prediction = "x0", min_snr = false } },
      { ss.process.blurring { size = 8, T = 50 }, net(), { sample_steps = 10 } },
      { ss.process.ssd { size = 8, levels = { 8, 4 }, T = 50 }, net(true), { sample_steps = 10 } },
    }
    for i, case in ipairs(cases) do
      local out = dir .. "/kind" .. i
      local extra = { steps = 4, log_every = 2, data_range = { -1, 1 } }
      for k, v in pairs(case[3]) do extra[k] = v end
      local r = ss.train.run(case[1], case[2], x, config(out, extra))
      assert.are.equal(4, r.step)
      for step = 1, 4 do assert.is_true(r.losses[step] > 0 and r.losses[step] < 100, case[1].name) end
      assert.is_true(exists(out .. "/checkpoint.safetensors") and exists(out .. "/samples_000004.png"))
      local _, rows = ss.plot.read_csv(out .. "/loss.csv")
      assert.are.equal(2, #rows)
    end
  end)

  it("stops at SIGUSR1 as at Ctrl-C, with a checkpoint that resumes", function()
    local P = ss.process.ddpm { beta = ss.schedule.linear_beta(50) }
    local out = dir .. "/usr1"
    local r = ss.train.run(P, net(), data(), config(out, { steps = 10,
      on_step = function(step) if step == 4 then ffi.C.raise(SIGUSR1) end end }))
    assert.is_true(r.interrupted)
    assert.are.equal(4, r.step)
    assert.are.equal("4", ss.checkpoint.meta(out .. "/checkpoint.safetensors").step)
    local r2 = ss.train.run(P, net(), data(), config(out, { steps = 10 }))
    assert.is_false(r2.interrupted)
    assert.are.equal(10, r2.step)
  end)
end)

describe("data-parallel pieces", function()
  it("splits a global batch into contiguous shares that differ by at most one", function()
    for _, case in ipairs { { 4, 2 }, { 3, 2 }, { 7, 3 }, { 5, 5 }, { 32, 8 } } do
      local batch, world = case[1], case[2]
      local next_row, sizes = 0, {}
      for rank = 0, world - 1 do
        local first, n = ss.train.batch_part(batch, rank, world)
        assert.are.equal(next_row, first)
        assert.is_true(n >= 1)
        next_row, sizes[#sizes + 1] = first + n, n
      end
      assert.are.equal(batch, next_row)
      assert.is_true(math.max(unpack(sizes)) - math.min(unpack(sizes)) <= 1)
    end
    assert.are.same({ 0, 1 }, { ss.train.batch_part(3, 0, 2) })
    assert.are.same({ 1, 2 }, { ss.train.batch_part(3, 1, 2) })
  end)

  it("draws a share's dropout masks as the rows of the whole batch's, the generator ending alike", function()
    -- 9 and 3 values per row put most shares' first value inside a Philox block of 4; 8 never
    local checked = 0
    for _, shape in ipairs { { 5, 1, 3, 3 }, { 5, 2, 2, 2 }, { 5, 3, 1, 1 } } do
      local x = ss.rng(seed):normal(shape)
      local whole = ss.nn.Dropout(0.3, { rng = ss.rng(seed + 1) })
      local want = whole:forward(x)
      for first = 0, 4 do
        for n = 1, 5 - first do
          local d = ss.nn.Dropout(0.3, { rng = ss.rng(seed + 1) }):set_batch_part(first, 5)
          local rows = x:narrow(1, first + 1, n)
          local y = d:forward(rows)
          assert.are.equal(bits(want:narrow(1, first + 1, n)), bits(y))
          assert.are.equal(whole.rng.offset, d.rng.offset)
          -- the backward applies the same rows of the mask
          local gin = d:backward(rows, ss.ones(y:shape()))
          assert.are.equal(bits(whole.mask:narrow(1, first + 1, n)), bits(gin))
          checked = checked + 1
        end
      end
    end
    print("  dropout shares checked: " .. checked)
    local d = ss.nn.Dropout(0.3):set_batch_part(3, 4)
    assert.has_error(function() d:forward(ss.ones { 2, 1, 2, 2 }) end,
      "nn.Dropout:forward: rows 4..5 of a batch of 4 (set_batch_part)")
    assert.has_error(function() d:set_batch_part(2, 2) end)
    -- cleared, it draws as before
    d:set_batch_part(nil)
    assert.is_nil(d.batch_part)
  end)

  it("makes the gradients views of one flat buffer, in order, without changing them", function()
    local a, b = net(), net()
    local flat = b:flatten_grads()
    local x = data():narrow(1, 1, 4)
    local ts = { 1, 2, 3, 4 }
    for _, m in ipairs { a, b } do
      m:zero_grad()
      local y = m:forward(x, ts)
      m:backward(x, ss.ones(y:shape()))
    end
    local _, ga = a:parameters()
    local _, gb = b:parameters()
    local off = 0
    for i = 1, #ga do
      assert.are.equal(bits(ga[i]), bits(gb[i]))
      assert.are.equal(ffi.cast("char *", flat.p.data) + 4 * off, ffi.cast("char *", gb[i].p.data))
      off = off + gb[i]:numel()
    end
    assert.are.equal(off, flat:numel())
    assert.are.equal(b:num_parameters(), off)
  end)
end)
