-- op_spec.lua — the Lua operator algebra over the C operators: application, the
-- dot-product test of every built-in and composite, Lua-written operators inside C
-- composites, the heat properties, and errors that name both shapes.
local ss = require "scalespace"
local h = dofile("tests/lua/helpers.lua")
local build = os.getenv("SS_BUILD_DIR") or "build"

local seed = 20240611
print("op_spec seed " .. seed)

local function maxdiff(a, b) return (a - b):abs():max() end

describe("operators", function()
  local g = ss.rng(seed)

  it("pass the dot-product test (<= 1e-6), built-in and composite", function()
    local blur = ss.op.blur { size = 28, sigma = 2 }
    local down = ss.op.resize { from = { 28, 28 }, to = { 14, 14 } }
    local cases = {
      ss.op.identity { size = { 6, 7 } }, ss.op.dct2 { size = { 9, 12 } }, ss.op.heat { size = 16, t = 1.5 }, blur,
      ss.op.laplace { size = { 8, 11 } }, ss.op.diag_dct { scale = g:uniform { 10, 13 } }, down,
      ss.op.resize { from = { 28, 28 }, to = { 8, 8 }, mode = "bicubic" },
      ss.op.resize { from = { 12, 20 }, to = { 5, 7 }, mode = "area" },
      ss.op.resize { from = { 7, 7 }, to = { 14, 14 }, mode = "nearest" },
      down * blur, down:T() * down, 0.3 * blur + ss.op.identity { size = 28 }, blur - 2 * blur, -(down * blur),
    }
    for _, M in ipairs(cases) do
      local err = ss.op.check(M, { rng = g })
      print(string.format("  dot test %-70s rel err %.3g", M.name, err))
      assert.is_true(err <= 1e-6, M.name .. ": " .. err)
    end
  end)

  it("applies with leading batch dimensions and the right output shape", function()
    local down = ss.op.resize { from = { 28, 28 }, to = { 14, 14 } }
    local x = g:normal { 3, 2, 28, 28 }
    assert.are.same({ 3, 2, 14, 14 }, down(x):shape())
    assert.are.same({ 3, 2, 28, 28 }, down:adjoint(down(x)):shape())
    assert.are.same({ 3, 2, 14, 14 }, (down * x):shape())
    assert.are.same({ 3, 2, 28, 28 }, down:T()(down(x)):shape())
    assert.are.equal(0, maxdiff(down:T()(down(x)), down:adjoint(down(x))))
    assert.truthy(tostring(down):find("28x28 -> 14x14", 1, true))
    -- sizes and names come through the C accessors; the transpose of a transpose is the operator
    local T = down:T()
    assert.are.same({ { 14, 14 }, { 28, 28 } }, { T.in_shape, T.out_shape })
    assert.are.equal("transpose(" .. down.name .. ")", T.name)
    local TT = T:T()
    assert.are.same({ down.name, down.in_shape, down.out_shape }, { TT.name, TT.in_shape, TT.out_shape })
    assert.is_true(TT.c == down.c) -- the same C operator, a new reference
  end)

  it("keeps the heat semigroup, the mean, and the identity at t = 0", function()
    local x = g:uniform { 2, 3, 16, 16 }
    local H = function(t) return ss.op.heat { size = 16, t = t } end
    assert.is_true(maxdiff(H(1.2)(H(0.8)(x)), H(2)(x)) <= 1e-5)
    assert.is_true(maxdiff((H(1.2) * H(0.8))(x), H(2)(x)) <= 1e-5)
    assert.is_true(maxdiff(H(3)(x):per_sample("mean"), x:per_sample("mean")) <= 1e-6)
    assert.are.equal(0, maxdiff(H(0)(x), x))
    local flat = H(1e6)(x)
    local means = x:reshape({ 6, 256 }):per_sample("mean")
    assert.is_true(maxdiff(flat:reshape { 6, 256 }, means:reshape { 6, 1 }) <= 1e-6)
  end)

  it("turns Lua functions into an operator usable inside C composites", function()
    -- a degradation written in Lua: keep the left half of the columns, zero the rest
    local mask = ss.ones { 8, 8 }
    for r = 1, 8 do for c = 5, 8 do mask:set(0, r, c) end end
    local halve = ss.op.new {
      name = "halve", in_shape = { 8, 8 }, out_shape = { 8, 8 },
      apply = function(x) return x * mask end, adjoint = function(y) return y * mask end,
    }
    local M = ss.op.resize { from = { 8, 8 }, to = { 4, 4 } } * halve * ss.op.heat { size = 8, t = 1 }
    assert.is_true(ss.op.check(M, { rng = g }) <= 1e-6)
    local x = g:normal { 2, 8, 8 }
    local direct = ss.op.resize { from = { 8, 8 }, to = { 4, 4 } }(halve(ss.op.heat { size = 8, t = 1 }(x)))
    assert.are.equal(0, maxdiff(M(x), direct))
    collectgarbage()
    collectgarbage() -- the composite keeps its Lua part alive
    assert.are.equal(0, maxdiff(M(x), direct))
  end)

  it("keeps C calls that may call a Lua operator back out of compiled traces", function()
    -- Compiled code must not enter an FFI callback (LuaJIT panics: "bad callback"), so with
    -- every loop hot at once the recorder must stop at those calls. A fresh process: in this
    -- one, earlier specs may have blacklisted the functions on the way (LuaJIT's penalties are
    -- random), and the recorder would then stop before it reaches them.
    local dir, cleanup = h.tmpdir("ss_op_spec")
    local script, log = dir .. "/hot.lua", dir .. "/jit.log"
    h.write(script, [[
      local ss = require "scalespace"
      local id = ss.op.new { name = "id", in_shape = { 4, 4 }, out_shape = { 4, 4 },
        apply = function(x) return x end, adjoint = function(y) return y end }
      local x = ss.ones { 1, 4, 4 }
      jit.opt.start("hotloop=1", "hotexit=1")
      require("jit.v").on(arg[1])
      for _ = 1, 50 do
        local y = id(x)
        y = id:adjoint(y)
        ss.linalg.cg(id, y, { maxiter = 1 })
      end
      print("survived")
    ]])
    local out = h.shell(h.quote(build .. "/scalespace") .. " " .. h.quote(script) .. " " .. h.quote(log) .. " 2>&1")
    local text = h.exists(log) and h.read(log) or ""
    cleanup()
    assert.truthy(out:find("survived", 1, true), out)
    assert.truthy(text:find("JIT compilation disabled for function at op.lua", 1, true), text)
    assert.truthy(text:find("JIT compilation disabled for function at linalg.lua", 1, true), text)
  end)

  it("reports errors with both shapes, and a Lua operator's own error", function()
    local down = ss.op.resize { from = { 28, 28 }, to = { 14, 14 } }
    local ok, err = pcall(function() local _ = down * down end)
    assert.truthy(err:find("op_spec.lua:%d+: ss_linop_compose: .*takes %(...,28,28%) and B .* gives %(...,14,14%)"))
    ok, err = pcall(function() local _ = down(ss.ones { 1, 27, 28 }) end)
    assert.truthy(err:find("apply: operator 'resize_bilinear_aa(28x28->14x14)' takes (…,28,28), got (1,27,28)", 1,
      true), err)
    -- an operator far larger than its input is refused before anything is allocated
    ok, err = pcall(function() local _ = ss.op.dct2 { size = 100000 }(ss.ones { 4, 4 }) end)
    assert.truthy(err:find("apply: operator 'dct2' takes (…,100000,100000), got (4,4)", 1, true), err)
    ok, err = pcall(function() local _ = ss.op.heat { size = 4, t = -1 } end)
    assert.truthy(err:find("op.heat: t must be a finite number >= 0, got -1", 1, true), err)
    ok, err = pcall(function() local _ = ss.op.heat { size = "8", t = 1 } end)
    assert.truthy(err:find('op.heat: size must be a size n or {h, w}, got "8"', 1, true), err)
    ok, err = pcall(function() local _ = ss.op.blur { h = 8, w = 8, sigma = 1 } end)
    assert.truthy(err:find("op.blur: the image size is size = n or size = {h, w}", 1, true), err)
    ok, err = pcall(function() local _ = ss.op.resize { from = { 4, 4 }, to = { 2, 2 }, mode = "lanczos" } end)
    assert.truthy(err:find('mode must be "bilinear"', 1, true))
    local bad = ss.op.new { name = "bad", in_shape = { 4, 4 }, out_shape = { 4, 4 },
      apply = function() error("boom from user code", 0) end, adjoint = function(y) return y end }
    ok, err = pcall(function() local _ = (bad * ss.op.heat { size = 4, t = 1 })(ss.ones { 1, 4, 4 }) end)
    assert.truthy(err:find("boom from user code", 1, true))
    local wrong = ss.op.new { name = "wrong", in_shape = { 4, 4 }, out_shape = { 4, 4 },
      apply = function() return 3 end, adjoint = function(y) return y end }
    ok, err = pcall(function() local _ = wrong(ss.ones { 1, 4, 4 }) end)
    assert.truthy(err:find("wrong: apply must return a tensor, got number", 1, true))
    assert.has_error(function() local _ = ss.op.new { apply = 1 } end)
  end)
end)

describe("photographs and folders", function()
  it("loads a photograph and a folder of PNGs at a given size", function()
    local astro = ss.data.photo("astronaut", { size = 64 })
    assert.are.same({ 3, 64, 64 }, astro:shape())
    local grey = ss.data.photo("camera", { size = 32, channels = 1 })
    assert.are.same({ 1, 32, 32 }, grey:shape())
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    ss.image.save(dir .. "/a.png", ss.ones { 1, 20, 30 })
    ss.image.save(dir .. "/b.png", ss.zeros { 3, 40, 24 })
    local ds = ss.data.folder(dir, { size = 16 })
    assert.are.same({ 2, 3, 16, 16 }, ds.images:shape())
    assert.is_true(math.abs(ds.images:mean() - 0.5) < 1e-6)
    local ok, err = pcall(ss.data.folder, dir .. "/none")
    assert.truthy(err:find("none", 1, true))
    ok, err = pcall(ss.data.photo, "no-such-photo")
    assert.truthy(err:find("no-such-photo.png not found", 1, true))
  end)
end)
