-- checkpoint_spec.lua — ss.checkpoint: bit-exact round trips of tensors and metadata, RNG
-- state through metadata, load_into's mismatch report, files written by PyTorch tooling, and
-- a writer killed with SIGKILL mid-write (the path must hold the old or a whole new file);
-- checksums and non-finite values at load; PyTorch's own files through load_torch.
local ss = require "scalespace"
local ck = require "scalespace.checkpoint"
local ffi = require "ffi"
local ssfx = dofile("tests/lua/ssfx.lua")

local build = os.getenv("SS_BUILD_DIR") or "build"
local exe = build .. "/scalespace"
local fixtures = "tests/reference/checkpoint/"

local h = dofile("tests/lua/helpers.lua")
local shell, bits, q, slurp = h.shell, h.bits, h.quote, h.read

pcall(ffi.cdef, "int usleep(unsigned int usec); int kill(int pid, int sig);")
local function usleep(us) ffi.C.usleep(us) end

describe("checkpoint", function()
  local dir, remove

  setup(function() dir, remove = h.tmpdir("ss_ckpt_spec") end)
  teardown(function() remove() end)

  it("round-trips tensors and metadata bit for bit", function()
    local g = ss.rng(7)
    local tensors = {
      scalar = g:normal { 1 },
      bias = g:normal { 13 },
      ["layer.0.weight"] = g:normal({ 16, 8, 3, 3 }, 0, 0.1),
      table = g:uniform({ 5, 7 }, -1e30, 1e30),
      images = g:normal { 2, 3, 32, 32 },
      ["σ/schedule"] = g:normal { 3, 4, 5 },
    }
    -- specials: NaN with a payload, -0, infinities, the smallest subnormal
    local u = ffi.cast("uint32_t *", tensors.bias.p.data)
    u[0], u[1], u[2], u[3], u[4] = 0x7fc0beef, 0x80000000, 0x7f800000, 0xff800000, 1
    local meta = { step = 123456, lr = 2e-4, name = "ddpm \"cosine\"\nline 2", resumed = true, zero = 0,
      neg = -17, big = 2 ^ 53, third = 1 / 3, negzero = -0.0, tiny = 5e-324 }
    local path = dir .. "/round.safetensors"
    assert.are.equal(path, ck.save(path, tensors, meta))
    local back, m = ck.load(path, { allow_nonfinite = true }) -- the specials
    local count = 0
    for name, t in pairs(tensors) do
      assert.is_truthy(back[name], name)
      assert.are.same(t:shape(), back[name]:shape())
      assert.is_true(bits(t) == bits(back[name]), name .. " is not bit-identical")
      count = count + 1
    end
    for name in pairs(back) do assert.is_truthy(tensors[name], "unexpected " .. name) end
    assert.are.equal(6, count)
    assert.are.same({ step = "123456", lr = "0.00020000000000000001", name = meta.name, resumed = "true",
      zero = "0", neg = "-17", big = "9007199254740992", third = "0.33333333333333331", negzero = "-0",
      tiny = "4.9406564584124654e-324" }, m)
    for _, k in ipairs { "step", "lr", "zero", "neg", "big", "third", "tiny" } do
      assert.are.equal(meta[k], tonumber(m[k]), k)
    end
    assert.are.equal(-math.huge, 1 / tonumber(m.negzero)) -- the sign of zero survives
    assert.are.same(m, ck.meta(path))
  end)

  it("saves and restores a whole training state bit for bit", function()
    local cfg = { in_ch = 1, ch = 4, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 2 }, groups = 2, size = 4,
      dropout = 0.1, seed = 3 }
    local function setup()
      local net = ss.nn.UNet(cfg)
      local params, grads = net:parameters()
      return { model = net, optim = ss.optim.Adam(params, grads, { lr = 1e-2 }), ema = ss.optim.EMA(params, 0.99),
        rng = ss.rng(11), config = cfg }
    end
    local function train(s, steps)
      for _ = 1, steps do
        local x = s.rng:normal { 2, 1, 4, 4 }
        s.model:zero_grad()
        local y = s.model:forward(x, { 3, 7 })
        s.model:backward(x, ss.nn.mse_backward(y, x))
        s.optim:step()
        s.ema:update()
      end
    end
    local a = setup()
    train(a, 3)
    local path = dir .. "/state.safetensors"
    ck.save_state(path, { model = a.model, optim = a.optim, ema = a.ema, rng = a.rng, step = 3, config = cfg })
    local b = setup()
    local step = ck.load_state(path, b)
    assert.equals(3, step)
    assert.equals(a.optim.step_count, b.optim.step_count)
    assert.equals(a.ema.updates, b.ema.updates)
    assert.are.same(a.rng:state(), b.rng:state())
    assert.are.same(a.model.rng:state(), b.model.rng:state()) -- dropout's generator
    train(a, 2)
    train(b, 2)
    local pa, pb = a.model:parameters(), b.model:parameters()
    for i = 1, #pa do assert.is_true(bits(pa[i]) == bits(pb[i])) end
    for i = 1, #pa do assert.is_true(bits(a.ema.shadow[i]) == bits(b.ema.shadow[i])) end
    -- the config comes back as a table, and rebuilds the same network
    local saved = ck.config(path)
    assert.are.same({ 1, 2 }, saved.mult)
    assert.equals(0.1, saved.dropout)
    assert.equals(2, saved.groups)
    assert.equals(ss.nn.UNet(saved):num_parameters(), a.model:num_parameters())
    assert.are.same({ a = { "x\"y\n", true, -1.5e-300 }, b = {} }, ck.config((function()
      ck.save_state(dir .. "/cfg.safetensors", { config = { a = { "x\"y\n", true, -1.5e-300 }, b = {} } })
      return dir .. "/cfg.safetensors"
    end)()))
    ck.save(dir .. "/bad.safetensors", { x = ss.zeros { 1 } }, { config = '{"a":[1,}' })
    assert.has_error(function() ck.config(dir .. "/bad.safetensors") end)
    -- another config is refused, naming both
    local c = setup()
    c.config = { ch = 8 }
    assert.has_error(function() ck.load_state(path, c) end)
    local ok, err = pcall(ck.load_state, path, c)
    assert.is_false(ok)
    assert.matches('was saved with config {.*"ch":4.*}, not {"ch":8}', err)
  end)

  it("keeps an RNG's state exactly in metadata", function()
    local g = ss.rng(20250301)
    g:normal { 1001 }
    g:perm(17)
    local s = g:state()
    assert.are.equal("number", type(s.seed))
    assert.are.equal("number", type(s.offset))
    local x = ss.zeros { 4 }
    local path = dir .. "/rng.safetensors"
    ck.save(path, { x = x }, { ["rng.seed"] = s.seed, ["rng.offset"] = s.offset })
    local _, m = ck.load(path)
    local g2 = ss.rng(0):set_state { seed = tonumber(m["rng.seed"]), offset = tonumber(m["rng.offset"]) }
    assert.are.same(s, g2:state())
    assert.is_true(bits(g:normal { 257 }) == bits(g2:normal { 257 }))
    -- seeds beyond 2^53 survive as int64/uint64 cdata (the rng's own fields)
    local h = ss.rng(0xFFFFFFFFFFFFFFFFULL)
    ck.save(path, { x = x }, { seed = h.seed, offset = h.offset })
    assert.are.same({ seed = "18446744073709551615", offset = "0" }, ck.meta(path))
  end)

  it("lists entries without loading them", function()
    local path = dir .. "/entries.safetensors"
    ck.save(path, { b = ss.zeros { 2, 3 }, a = ss.ones { 4 }, c = ss.zeros { 1, 2, 3, 4 } })
    assert.are.same({
      { name = "a", dtype = "F32", shape = { 4 } },
      { name = "b", dtype = "F32", shape = { 2, 3 } },
      { name = "c", dtype = "F32", shape = { 1, 2, 3, 4 } },
    }, ck.entries(path))
    assert.are.same({}, ck.meta(path))
  end)

  it("load_into copies into existing tensors and reports every mismatch at once", function()
    local path = dir .. "/model.safetensors"
    local g = ss.rng(3)
    local saved = { ["conv.w"] = g:normal { 8, 3, 3, 3 }, ["conv.b"] = g:normal { 8 }, ["fc.w"] = g:normal { 10, 32 },
      ema = g:normal { 5 } }
    ck.save(path, saved, { step = 99 })
    local params = { ["conv.w"] = ss.zeros { 8, 3, 3, 3 }, ["conv.b"] = ss.zeros { 8 }, ["fc.w"] = ss.zeros { 10, 32 } }
    -- ema is extra: strict (the default) refuses, strict=false allows
    local ok, err = pcall(ck.load_into, path, params)
    assert.is_false(ok)
    assert.matches("1 problem", err)
    assert.matches("in the file but not expected %(1%): ema", err)
    assert.are.equal(0, params["conv.w"]:norm()) -- nothing copied
    local meta = ck.load_into(path, params, { strict = false })
    assert.are.same({ step = "99" }, meta)
    for k, t in pairs(params) do assert.is_true(bits(t) == bits(saved[k]), k) end

    local wrong = { ["conv.w"] = ss.zeros { 8, 3, 5, 5 }, ["conv.b"] = ss.zeros { 8 }, ["fc.w"] = ss.zeros { 32, 10 },
      ["fc.b"] = ss.zeros { 10 }, ["head.w"] = ss.zeros { 2 } }
    ok, err = pcall(ck.load_into, path, wrong)
    assert.is_false(ok)
    assert.matches("checkpoint_spec.lua:%d+: checkpoint.load_into: ", err) -- blames the caller
    assert.matches(path, err, 1, true)
    assert.matches("5 problems", err)
    assert.matches("missing from the file %(2%): fc.b, head.w", err)
    assert.matches("in the file but not expected %(1%): ema", err)
    assert.matches("conv.w: shape %(8,3,3,3%) in the file, %(8,3,5,5%) expected", err)
    assert.matches("fc.w: shape %(10,32%) in the file, %(32,10%) expected", err)
    assert.are.equal(0, wrong["conv.b"]:norm()) -- a matching entry is not copied either
  end)

  it("loads a network's weights strictly: fewer levels or no attention is an error naming the entries", function()
    local path = dir .. "/net.safetensors"
    local cfg = { ch = 8, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 2 }, groups = 4, size = 8,
      seed = 1 }
    local net = ss.nn.UNet(cfg)
    ck.save_state(path, { model = net, ema = ss.optim.EMA((net:parameters()), 0.9) })
    -- the same architecture loads, bit for bit
    local same = ck.load_weights(path, ss.nn.UNet(cfg))
    local pa, pb = net:parameters(), same:parameters()
    for i = 1, #pa do assert.are.equal(bits(pa[i]), bits(pb[i])) end
    local function variant(changes)
      local c = {}
      for k, v in pairs(cfg) do c[k] = v end
      for k, v in pairs(changes) do c[k] = v end
      return ss.nn.UNet(c)
    end
    local ok, err = pcall(ck.load_weights, path, variant { mult = { 1, 2 } })
    assert.is_false(ok)
    assert.matches("checkpoint_spec.lua:%d+: checkpoint.load_weights: ", err)
    assert.matches("in the file but not expected %(%d+%): ema%.down%.", err)
    assert.matches("… and %d+ more", err)
    ok, err = pcall(ck.load_weights, path, variant { attn_res = {} })
    assert.is_false(ok)
    assert.matches("in the file but not expected %(%d+%): ema%.down%.3%.attn", err)
    -- a wider network: shapes differ, which strict = false does not excuse
    ok, err = pcall(ck.load_weights, path, variant { ch = 16, groups = 8 }, { strict = false })
    assert.is_false(ok)
    assert.truthy(err:find("ema.conv_in.weight: shape (8,1,3,3) in the file, (16,1,3,3) expected", 1, true), err)
    -- strict = false loads the matching part of a smaller network and warns
    local small = variant { attn_res = {} }
    assert.has_no.errors(function() ck.load_weights(path, small, { strict = false }) end)
    assert.are.equal(bits(net.conv_in.weight), bits(small.conv_in.weight))
  end)

  it("reads files written by PyTorch tooling (F32, F16, BF16, F64, 0-d)", function()
    local path = fixtures .. "torch_mixed.safetensors"
    assert.are.same({
      { name = "arange_f32", dtype = "F32", shape = { 2, 3, 4 } },
      { name = "scalar_f32", dtype = "F32", shape = {} },
      { name = "table_f64", dtype = "F64", shape = { 7 } },
      { name = "weight_bf16", dtype = "BF16", shape = { 3, 5 } },
      { name = "weight_f16", dtype = "F16", shape = { 5, 4 } },
      { name = "weight_f32", dtype = "F32", shape = { 2, 3, 3, 3 } },
    }, ck.entries(path))
    local t, meta = ck.load(path)
    local want = ssfx(fixtures .. "torch_mixed.ssfx") -- torch's own .float() of each entry
    for name, w in pairs(want) do
      assert.are.same(w:shape(), t[name]:shape(), name)
      assert.is_true(bits(w) == bits(t[name]), name .. " differs from torch's float32 conversion")
    end
    local values = t.arange_f32:values()
    for i = 1, 24 do assert.are.equal(i - 1, values[i]) end
    assert.are.equal(65504, t.weight_f16:get(1, 2))
    assert.are.equal(2 ^ -24, t.weight_f16:get(1, 3))
    assert.are.same({ format = "pt", step = "1000", note = "σ = 0.5, \"quoted\"\nsecond line" }, meta)
    -- into existing tensors: the 0-d entry fills a (1) tensor
    local s = ss.zeros { 1 }
    ck.load_into(path, { scalar_f32 = s }, { strict = false })
    assert.are.equal(3.5, s:get(1))
    local nometa, m2 = ck.load(fixtures .. "torch_nometa.safetensors")
    assert.are.same({ 0, 0.125, 0.25, 0.375, 0.5, 0.625 }, nometa.w:values())
    assert.are.same({}, m2)
  end)

  it("writes the reference implementation's layout byte for byte", function()
    local path = dir .. "/ref.safetensors"
    ck.save(path, {
      c = ss.from_table({ 0, 1, 2, 3 }, { 1, 1, 2, 2 }),
      a = ss.from_table({ 0, 0.25, 0.5, 0.75, 1, 1.25 }, { 2, 3 }),
      b = ss.from_table { -1.5, 0, 2.25, 1e-3 },
    }, { epoch = 3 })
    assert.is_true(slurp(path) == slurp(fixtures .. "ref_f32.safetensors"))
  end)

  it("raises clear errors at the caller's line", function()
    local path = dir .. "/errors.safetensors"
    local function fails(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      assert.matches("checkpoint_spec.lua:%d+: ", err)
      assert.matches(pattern, err, 1, true)
    end
    fails("cannot open: No such file", ck.load, dir .. "/missing.safetensors")
    fails("cannot open", ck.entries, dir .. "/missing.safetensors")
    fails("argument 1: expected a file path, got nil", ck.load)
    fails('"w" is number, not a tensor', ck.save, path, { w = 1 })
    fails("tensor names must be strings", ck.save, path, { ss.zeros { 1 } })
    fails('metadata "opts" is table; values must be strings, numbers or booleans', ck.save, path,
      { w = ss.zeros { 1 } }, { opts = { a = 1 } })
    fails('metadata "f" is function', ck.save, path, { w = ss.zeros { 1 } }, { f = print })
    fails("metadata keys must be strings", ck.save, path, { w = ss.zeros { 1 } }, { 5 })
    fails("reserves", ck.save, path, { __metadata__ = ss.zeros { 1 } })
    local f = assert(io.open(path, "wb"))
    f:write("\16\0\0\0\0\0\0\0{\"a\":1}         ")
    f:close()
    fails("corrupt header", ck.load, path)
    fails("expected name = tensor pairs", ck.load_into, path, { w = 3 })
  end)

  it("catches corrupt tensors by their checksum and refuses NaN unless allowed", function()
    local path = dir .. "/crc.safetensors"
    local g = ss.rng(5)
    local w, b = g:normal { 32, 32 }, g:normal { 10 }
    ck.save(path, { w = w, b = b }, { step = 3 })
    assert.are.same({ step = "3" }, ck.meta(path)) -- the checksums are not the caller's metadata
    local bytes = slurp(path)
    local at = #bytes - 4 * 10 - 100 -- inside w, which comes first (names are sorted)
    h.write(path, bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1))
    local ok, err = pcall(ck.load, path)
    assert.is_false(ok)
    assert.matches("checkpoint_spec.lua:%d+: ", err)
    assert.matches(path .. ': "w" fails its checksum', err, 1, true)
    local into = { b = ss.zeros { 10 } }
    ck.load_into(path, into, { strict = false }) -- the intact tensor still loads
    assert.is_true(bits(into.b) == bits(b))

    b.p.data[3] = 0 / 0
    ck.save(path, { w = w, b = b })
    ok, err = pcall(ck.load, path)
    assert.is_false(ok)
    assert.matches('"b" holds NaN at flat index 3', err, 1, true)
    ok, err = pcall(ck.load_into, path, { b = ss.zeros { 10 } }, { strict = false })
    assert.is_false(ok)
    assert.matches("holds NaN", err, 1, true)
    local t = ck.load(path, { allow_nonfinite = true })
    assert.is_true(bits(t.b) == bits(b))
    assert.has_error(function() ck.load(path, 5) end)
  end)

  it("prints one notice for a file without checksums", function()
    local code = ("local ck = require 'scalespace.checkpoint' ck.load(%q) ck.load(%q) "
      .. "ck.load(%q) ck.load(%q)"):format(fixtures .. "torch_mixed.safetensors",
      fixtures .. "torch_mixed.safetensors", fixtures .. "torch_mixed.safetensors", dir .. "/crc.safetensors")
    ck.save(dir .. "/crc.safetensors", { x = ss.ones { 3 } })
    local out = shell(exe .. " -e " .. q(code) .. " 2>&1")
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.same({ "checkpoint: " .. fixtures .. "torch_mixed.safetensors: 6 of 6 tensors have no checksum "
      .. "(an older or another writer); they load unverified" }, lines)
  end)

  it("loads PyTorch files (zip, legacy, TorchScript) without running their pickles", function()
    local torch = "tests/reference/torch/"
    local want = ssfx(torch .. "state_dict.ssfx") -- torch's own .float() of each tensor
    for _, file in ipairs { "state_dict.pt", "state_dict_legacy.pt", "state_dict_deflate.pt", "state_dict_big.pt" } do
      local t, skipped = ck.load_torch(torch .. file)
      assert.are.same({ ["bn.num_batches_tracked"] = "I64" }, skipped)
      local n = 0
      for name, w in pairs(want) do
        assert.are.same(w:shape(), t[name]:shape(), name)
        assert.is_true(bits(w) == bits(t[name]), file .. ": " .. name)
        n = n + 1
      end
      for name in pairs(t) do assert.is_truthy(want[name], name) end
      assert.are.equal(10, n)
    end
    local t, skipped = ck.load_torch(torch .. "script.pt")
    assert.are.same({ ["layers.mixed.bn.num_batches_tracked"] = "I64" }, skipped)
    for name, w in pairs(ssfx(torch .. "script.ssfx")) do
      assert.is_true(bits(w) == bits(t[name]), name)
    end
    assert.are.same({ 4, 3, 3, 3 }, t["layers.conv.weight"]:shape())
    assert.is_truthy(t["layers.mixed.tower.conv.weight"])
    local function refused(file, pattern)
      local ok, err = pcall(ck.load_torch, torch .. file)
      assert.is_false(ok)
      assert.matches("checkpoint_spec.lua:%d+: ", err)
      assert.matches(pattern, err, 1, true)
    end
    refused("evil_system.pt", "refuses global 'posix.system'")
    refused("evil_eval.pt", "refuses global 'builtins.eval'")
    refused("evil_inst.pt", "refuses opcode INST")
    refused("short_data.pt", "holds 100 bytes but its storage needs 54 elements")
    refused("nested.pt", '"five" has 5 dimensions')
    assert.has_error(function() ck.load_torch() end, nil)
  end)

  it("survives SIGKILL mid-write: the path holds the old or a whole new checkpoint", function()
    local path = dir .. "/kill.safetensors"
    local shape = { 4, 256, 1024 } -- 4 MiB per save
    ck.save(path, { w = ss.zeros(shape), b = ss.zeros { 8 } }, { version = 0 })
    -- the writer: saves versions first, first + 1, ... (w all k, b all -k) until killed
    local script = [[
      local ss = require "scalespace"
      local ck = require "scalespace.checkpoint"
      local w, b = ss.empty { %d, %d, %d }, ss.empty { 8 }
      for k = %d, 1e9 do
        w:fill(k) b:fill(-k)
        ck.save(%q, { w = w, b = b }, { version = k })
      end]]
    local function alive(pid)
      local f = io.open("/proc/" .. pid .. "/stat")
      if not f then return false end
      local state = f:read("*a"):match("^%d+ %b() (%a)")
      f:close()
      return state ~= "Z"
    end
    local last, caught = 0, 0
    for _ = 1, 4 do
      local code = script:format(shape[1], shape[2], shape[3], last + 1, path)
      local pid = shell(exe .. " -e " .. q(code) .. " >/dev/null 2>&1 & echo $!"):match("%d+")
      assert.is_truthy(pid)
      -- wait until this writer has completed a save and is inside the next one (its
      -- temporary file exists), then kill it at once
      local tmp, seen = path .. ".tmp." .. pid, last
      for _ = 1, 4000 do
        seen = tonumber(ck.meta(path).version)
        local f = seen > last and io.open(tmp)
        if f then
          f:close()
          break
        end
        usleep(500)
      end
      assert.are.equal(0, ffi.C.kill(tonumber(pid), 9)) -- SIGKILL
      for _ = 1, 200 do
        if not alive(pid) then break end
        usleep(5000)
      end
      assert.is_false(alive(pid))
      local f = io.open(tmp)
      if f then -- killed between creating the temporary file and the rename
        f:close()
        caught = caught + 1
        os.remove(tmp)
      end
      local t, meta = ck.load(path)
      local v = tonumber(meta.version)
      assert.is_true(v >= seen and v > last, "version went from " .. last .. " to " .. v)
      assert.are.same(shape, t.w:shape())
      assert.are.equal(v, t.w:min())
      assert.are.equal(v, t.w:max())
      assert.are.equal(-v, t.b:min())
      assert.are.equal(-v, t.b:max())
      last = v
    end
    assert.is_true(caught >= 1, "no kill landed mid-write")
  end)
end)
