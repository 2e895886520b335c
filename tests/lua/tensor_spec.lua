-- tensor_spec.lua — the DESIGN's tensor and RNG API from Lua, errors at the caller's
-- line, and the FFI struct layout against C's.
local ss = require "scalespace"
local ffi = require "ffi"

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-6) end

describe("tensors", function()
  it("creates, reads and writes with 1-based indices", function()
    local t = ss.zeros { 2, 3, 4, 5 }
    assert.are.same({ 2, 3, 4, 5 }, t:shape())
    assert.are.equal(120, t:numel())
    assert.are.equal(2, #t)
    t:set(7, 2, 3, 4, 5)
    assert.are.equal(7, t:get(2, 3, 4, 5))
    assert.are.equal(7, t:sum())
    assert.are.equal(3, ss.full({ 2 }, 1.5):sum())
    assert.are.equal(6, ss.ones { 2, 3 }:sum())
    local f = ss.from_table { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.same({ 2, 3 }, f:shape())
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, f:totable())
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, ss.from_table({ 1, 2, 3, 4, 5, 6 }, { 3, 2 }):values())
  end)

  it("views share storage; clone and copy do not", function()
    local t = ss.from_table({ 1, 2, 3, 4, 5, 6 }, { 3, 2 })
    local v = t:reshape { 2, 3 }
    v:set(10, 1, 1)
    assert.are.equal(10, t:get(1, 1))
    local row = t:narrow(2, 2)
    assert.are.same({ 3, 4, 5, 6 }, row:values())
    assert.are.same({ 3, 2 }, t:reshape({ -1, 2 }):shape())
    local c = t:clone():fill(0)
    assert.are.equal(10, t:get(1, 1))
    t:copy(c)
    assert.are.equal(0, t:sum())
  end)

  it("does arithmetic with numbers and broadcasting", function()
    local a = ss.from_table { 1, 2, 3, 4 }
    assert.are.same({ 3, 5, 7, 9 }, (a * 2 + 1):values())
    assert.are.same({ 1, 0, -1, -2 }, (2 - a):values())
    local r = (2 / a):values()
    assert.is_true(close(r[1], 2) and close(r[2], 1) and close(r[3], 2 / 3) and close(r[4], 0.5))
    assert.are.same({ -1, -2, -3, -4 }, (-a):values())
    assert.are.same({ 1, 4, 9, 16 }, (a ^ 2):values())
    local m = ss.ones { 2, 1, 2, 2 } * ss.from_table({ 1, 10 }, { 2, 1, 1, 1 })
    assert.are.same({ 1, 1, 1, 1, 10, 10, 10, 10 }, m:values())
    local x = ss.ones { 4 }
    x:add_(a, 2):mul_(0.5):sub_(1)
    assert.are.same({ 0.5, 1.5, 2.5, 3.5 }, x:values())
    assert.are.same({ 1, 2, 2, 2 }, a:clamp(1, 2):values())
    assert.is_true(close(a:exp():log():sum(), 10, 1e-5))
    assert.are.same({ 2, 3, 4, 5 }, a:clone():axpby_(1, 1, ss.ones { 4 }):values())
  end)

  it("reduces in double", function()
    local a = ss.from_table { 1, 2, 3, 4 }
    assert.are.equal(10, a:sum())
    assert.are.equal(2.5, a:mean())
    assert.are.equal(1.25, a:var())
    assert.is_true(close(a:var(true), 5 / 3, 1e-12))
    assert.are.equal(1, a:min())
    assert.are.equal(4, a:max())
    assert.is_true(close(a:norm(), math.sqrt(30), 1e-12))
    assert.are.equal(30, ss.dot(a, a))
    local b = ss.from_table({ 1, 2, 3, 4, 5, 6 }, { 2, 3 })
    assert.are.same({ 2, 5 }, b:per_sample("mean"):values())
  end)

  it("concatenates and multiplies matrices", function()
    local a, b = ss.ones { 2, 1, 2, 2 }, ss.zeros { 2, 2, 2, 2 }
    local c = ss.cat({ a, b }, 2)
    assert.are.same({ 2, 3, 2, 2 }, c:shape())
    assert.are.equal(8, c:sum())
    assert.are.same({ 4, 2, 2, 2 }, ss.cat({ b, b }, 1):shape())
    local m = ss.bmm(ss.from_table { { 1, 2 }, { 3, 4 } }, ss.from_table { { 1 }, { 1 } })
    assert.are.same({ 3, 7 }, m:values())
    local mt = ss.bmm(ss.from_table { { 1, 2 }, { 3, 4 } }, ss.from_table { { 1, 0 }, { 0, 1 } }, { trans_a = true })
    assert.are.same({ 1, 3, 2, 4 }, mt:values())
  end)

  it("prints a summary", function()
    local s = tostring(ss.from_table { 1, 2, 3 })
    assert.truthy(s:find("tensor(3) cpu [1, 2, 3]", 1, true))
    local big = tostring(ss.zeros { 100, 100 })
    assert.truthy(big:find("mean=0", 1, true))
  end)

  it("frees idempotently and then refuses use", function()
    local t = ss.ones { 3 }
    t:free()
    t:free()
    assert.is_true(t:is_freed())
    assert.has_error(function() return t:sum() end)
    assert.truthy(tostring(t):find("freed"))
  end)

  it("reports errors at the caller's line with a clear message", function()
    local ok, err = pcall(function() local _ = ss.ones { 2, 3 } + ss.ones { 3, 2 } end)
    assert.is_false(ok)
    assert.truthy(err:find("tensor_spec.lua:%d+: add: shapes %(2,3%) and %(3,2%) do not broadcast"))
    ok, err = pcall(function() local _ = ss.zeros { 2, 0 } end)
    assert.truthy(err:find("tensor_spec.lua:%d+: zeros: argument 1: size 2 must be a positive integer"))
    ok, err = pcall(function() local _ = ss.ones { 2 }:clamp(1, 0) end)
    assert.truthy(err:find("tensor_spec.lua:%d+: ss_clamp: lower bound"))
    ok, err = pcall(function() local _ = ss.dot(ss.ones { 2 }, nil) end)
    assert.truthy(err:find("dot: argument 2: expected a tensor, got nil", 1, true))
    ok, err = pcall(function() local _ = ss.ones { 2, 2 }:get(3, 1) end)
    assert.truthy(err:find("get: index 1 is 3, outside 1..2", 1, true))
    ok, err = pcall(function() local _ = ss.ones { 2 }:to("tpu") end)
    assert.truthy(err:find('device must be "cpu" or "cuda"', 1, true))
    ok, err = pcall(function() local _ = ss.ones { 3 }:narrow(3, 2) end)
    assert.truthy(err:find("outside dimension 1 of size 3", 1, true))
  end)

  it("says clearly when CUDA is not there", function()
    if ss.has_cuda() then
      local ok, err = pcall(function() return ss.ones { 2 }:to("cuda") end)
      if not ok then assert.truthy(err:find("cuda", 1, true)) end
    else
      assert.has_error(function() return ss.ones { 2 }:to("cuda") end)
    end
  end)
end)

describe("rng", function()
  it("is reproducible and restorable", function()
    local g = ss.rng(42)
    local s = g:state()
    local a = g:normal { 1000 }
    g:set_state(s)
    assert.are.same(a:values(), g:normal({ 1000 }):values())
    assert.are.same(ss.rng(7):uniform({ 10 }):values(), ss.rng(7):uniform({ 10 }):values())
    assert.are_not.same(ss.rng(7):uniform({ 10 }):values(), ss.rng(8):uniform({ 10 }):values())
  end)

  it("draws from the right distributions", function()
    local g = ss.rng(1)
    local x = g:normal({ 200000 }, 2, 3)
    assert.is_true(close(x:mean(), 2, 0.03))
    assert.is_true(close(x:std(), 3, 0.03))
    local u = g:uniform({ 100000 }, -1, 1)
    assert.is_true(u:min() >= -1 and u:max() < 1)
    local p = g:perm(100)
    table.sort(p)
    for i = 1, 100 do assert.are.equal(i, p[i]) end
    for _, v in ipairs(g:randint(1000, 3, 5)) do assert.is_true(v >= 3 and v <= 5) end
    assert.is_true(close(g:bernoulli({ 100000 }, 0.25):mean(), 0.25, 0.01))
  end)
end)

describe("ffi layout", function()
  it("matches C's sizeof and offsetof for every exported struct", function()
    local C = ss.C
    local name, field = ffi.new("const char*[1]"), ffi.new("const char*[1]")
    local off, size = ffi.new("int64_t[1]"), ffi.new("int64_t[1]")
    local fields_in_c = {}
    local i = 0
    while C.ss_abi_field(i, name, field, off, size) == 0 do
      local s, f = ffi.string(name[0]), ffi.string(field[0])
      assert.are.equal(tonumber(size[0]), ffi.sizeof(s), "sizeof " .. s)
      assert.are.equal(tonumber(off[0]), ffi.offsetof(s, f), "offsetof " .. s .. "." .. f)
      fields_in_c[s] = (fields_in_c[s] or 0) + 1
      i = i + 1
    end
    ss.C.ss_clear_error()
    -- every struct the header defines has rows in abi.c, one per field
    local cdef = require "scalespace.cdef"
    for fields, tname in cdef:gmatch("typedef%s+struct%s+[%w_]+%s*(%b{})%s*([%w_]+)%s*;") do
      local n = 0 -- names declared: one per declaration, plus one per comma in it
      for decl in fields:gsub("/%*.-%*/", ""):gmatch("[^;{}]+;") do n = n + 1 + select(2, decl:gsub(",", "")) end
      assert.are.equal(n, fields_in_c[tname], "abi.c rows for " .. tname)
    end
  end)
end)
