-- tensor_spec.lua — the DESIGN's tensor and RNG API from Lua, errors at the caller's
-- line, and the FFI struct layout against C's.
local ss = require "scalespace"
local ffi = require "ffi"
local bit = require "bit"

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
    local row = t:narrow(1, 2, 2)
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
    ok, err = pcall(function() local _ = ss.ones { 3 }:narrow(1, 3, 5) end)
    assert.truthy(err:find("tensor_spec.lua:%d+: narrow: rows 3..7 of dimension 1 are outside 1..3"))
    ok, err = pcall(function() local _ = ss.ones { 3, 2 }:index { 7 } end)
    assert.truthy(err:find("tensor_spec.lua:%d+: index: row 7 is outside 1..3"))
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

describe("shape ops", function()
  local load_ssfx = dofile("tests/lua/ssfx.lua")
  local fx = load_ssfx(ss.config.root .. "/tests/reference/tensor/shape.ssfx")

  -- max |a - b| / max(1, |b|) over the values; NaN must meet NaN.
  local function diff(a, b)
    assert.are.same(b:shape(), a:shape())
    local va, vb, worst = a:values(), b:values(), 0
    for i = 1, #vb do
      local x, y = va[i], vb[i]
      local d = (x ~= x or y ~= y) and ((x ~= x and y ~= y) and 0 or math.huge) or math.abs(x - y) / math.max(1, math.abs(y))
      worst = math.max(worst, d)
    end
    return worst
  end

  local function ints(t)
    local v = t:values()
    for i = 1, #v do v[i] = math.floor(v[i] + 0.5) end
    return v
  end

  local function plus1(list)
    local out = {}
    for i, v in ipairs(list) do out[i] = v + 1 end
    return out
  end

  -- Each fixture case through the Lua method, the C arguments made 1-based.
  local pad_modes = { [0] = "zero", "reflect", "replicate" }
  local run = {
    permute = function(x, a, c) return x:permute(plus1(a)), c.y end,
    narrow = function(x, a, c) return x:narrow(a[1] + 1, a[2] + 1, a[3]), c.y end,
    flip = function(x, a, c)
      local dims = {}
      for d = 0, 3 do if bit.band(a[1], bit.lshift(1, d)) ~= 0 then dims[#dims + 1] = d + 1 end end
      return x:flip(dims), c.y
    end,
    roll = function(x, a, c)
      local dims = {}
      for d = 1, #a do dims[d] = d end
      return x:roll(a, dims), c.y
    end,
    pad = function(x, a, c)
      local mode = pad_modes[a[5]]
      return x:pad({ a[1], a[2], a[3], a[4] }, { mode = mode, value = mode == "zero" and c.args:values()[6] or nil }), c.y
    end,
    crop = function(x, a, c)
      local s = c.y:shape()
      return x:crop(a[1] + 1, a[2] + 1, s[#s - 1], s[#s]), c.y
    end,
    index = function(x, a, c) return x:index(plus1(a)), c.y end,
  }

  it("match numpy and torch.nn.functional.pad (fixtures, exact)", function()
    local cases = {}
    for name in pairs(fx) do
      local c = name:match("^(.*)%.x$")
      if c then cases[#cases + 1] = c end
    end
    table.sort(cases)
    local count = 0
    for _, name in ipairs(cases) do
      local c = { y = fx[name .. ".y"], args = fx[name .. ".args"] }
      local x, a, op = fx[name .. ".x"], c.args and ints(c.args), name:match("^(%a+)_")
      if run[op] then
        local got, want = run[op](x, a, c)
        assert.are.equal(0, diff(got, want), name)
        if op == "permute" and name == "permute_t" then assert.are.equal(0, diff(x:transpose(-1, 3), want)) end
      elseif op == "cat" then
        local parts, sizes = {}, {}
        for i = 1, a[2] do
          parts[i] = fx[name .. ".p" .. (i - 1)]
          sizes[i] = parts[i]:shape()[a[1] + 1]
        end
        assert.are.equal(0, diff(ss.cat(parts, a[1] + 1), x), name)
        for i, p in ipairs(x:split(sizes, a[1] + 1)) do assert.are.equal(0, diff(p, parts[i]), name) end
      elseif op == "reduce" then
        for _, r in ipairs { "sum", "mean", "max", "min" } do
          local tol = (r == "sum" or r == "mean") and 1e-6 or 0
          assert.is_true(diff(x[r](x, a[1] + 1), fx[name .. "." .. r]) <= tol, name .. " " .. r)
        end
      elseif op == "where" then
        assert.are.equal(0, diff(ss.where(x, fx[name .. ".a"], fx[name .. ".b"]), c.y), name)
      else
        error("fixture case " .. name .. " names no op")
      end
      count = count + 1
    end
    assert.is_true(count >= 49)
  end)

  it("narrow and select: views where the rows are one block, copies elsewhere", function()
    local t = ss.from_table({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, { 1, 3, 4 })
    local v = t:narrow(2, 2, 2)              -- every size before dimension 2 is 1: a view
    assert.are.same({ 1, 2, 4 }, v:shape())
    assert.are.same({ 5, 6, 7, 8, 9, 10, 11, 12 }, v:values())
    v:fill(0)
    assert.are.equal(1 + 2 + 3 + 4, t:sum())
    local c = t:narrow(3, -2, 2)             -- a later dimension: a copy; -2 is the next to last
    assert.are.same({ 3, 4, 0, 0, 0, 0 }, c:values())
    c:fill(100)
    assert.are.equal(10, t:sum())
    local r = t:select(3, -1)                -- the last column, the dimension dropped
    assert.are.same({ 1, 3 }, r:shape())
    assert.are.same({ 4, 0, 0 }, r:values())
    assert.are.same({ 1, 4 }, t:select(2, 1):shape())
    assert.are.same({ 1 }, ss.from_table { 5, 6 }:select(1, 2):shape())
    assert.are.equal(6, ss.from_table { 5, 6 }:select(1, 2):values()[1])
    local m = ss.from_table({ 1, 2, 3, 4, 5, 6 }, { 3, 2 })
    m:select(1, 2):fill(0)                   -- a row of dimension 1 is a view
    assert.are.same({ 1, 2, 0, 0, 5, 6 }, m:values())
  end)

  it("transposes, permutes, flips and rolls with numpy's semantics", function()
    local t = ss.from_table { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, t:transpose(1, 2):totable())
    assert.are.same(t:transpose(1, 2):values(), t:transpose(-1, -2):values())
    assert.are.same(t:transpose(1, 2):values(), t:permute(2, 1):values())
    assert.are.same({ { 3, 2, 1 }, { 6, 5, 4 } }, t:flip(2):totable())
    assert.are.same({ { 6, 5, 4 }, { 3, 2, 1 } }, t:flip { 1, -1 }:totable())
    -- np.roll(t, 1) rolls the flat array; np.roll(t, -1, axis=1); np.roll(t, 4, axis=1) = 1
    assert.are.same({ { 6, 1, 2 }, { 3, 4, 5 } }, t:roll(1):totable())
    assert.are.same({ { 2, 3, 1 }, { 5, 6, 4 } }, t:roll(-1, 2):totable())
    assert.are.same(t:roll(1, 2):values(), t:roll(4, -1):values())
    -- np.roll(t, (1, 1), axis=(1, 1)) adds the shifts; one shift for several axes
    assert.are.same(t:roll(2, 2):values(), t:roll({ 1, 1 }, { 2, 2 }):values())
    assert.are.same({ { 6, 4, 5 }, { 3, 1, 2 } }, t:roll(1, { 1, 2 }):totable())
    -- np.rot90 of each image (the rotation process_spec uses)
    local img = ss.from_table({ 1, 2, 3, 4 }, { 1, 1, 2, 2 })
    assert.are.same({ 2, 4, 1, 3 }, img:flip(4):transpose(3, 4):values())
  end)

  it("pads (zero, reflect, replicate), crops, concatenates and splits", function()
    local t = ss.from_table { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.same({ { 0, 1, 2, 3, 0, 0 }, { 0, 4, 5, 6, 0, 0 } }, t:pad { 1, 2 }:totable())
    assert.are.same({ { 9, 9, 9, 9 }, { 9, 1, 2, 3 }, { 9, 4, 5, 6 } }, t:pad({ 1, 0, 1, 0 }, { value = 9 }):totable())
    -- np.pad(t, ((1, 0), (2, 2)), "reflect") and "edge"
    assert.are.same({ { 6, 5, 4, 5, 6, 5, 4 }, { 3, 2, 1, 2, 3, 2, 1 }, { 6, 5, 4, 5, 6, 5, 4 } },
      t:pad({ 2, 2, 1, 0 }, { mode = "reflect" }):totable())
    assert.are.same({ { 1, 1, 1, 2, 3, 3, 3 }, { 1, 1, 1, 2, 3, 3, 3 }, { 4, 4, 4, 5, 6, 6, 6 } },
      t:pad({ 2, 2, 1, 0 }, { mode = "replicate" }):totable())
    assert.are.same({ 2, 1, 2, 3, 2 }, ss.from_table { 1, 2, 3 }:pad({ 1, 1 }, { mode = "reflect" }):values())
    assert.are.same({ { 5, 6 } }, t:crop(2, 2, 1, 2):totable())
    local c = ss.cat({ t, t * 10 }, -1)
    assert.are.same({ { 1, 2, 3, 10, 20, 30 }, { 4, 5, 6, 40, 50, 60 } }, c:totable())
    local parts = c:split(4, 2)               -- pieces of 4 columns, the last smaller
    assert.are.equal(2, #parts)
    assert.are.same({ { 1, 2, 3, 10 }, { 4, 5, 6, 40 } }, parts[1]:totable())
    assert.are.same({ { 20, 30 }, { 50, 60 } }, parts[2]:totable())
    local rows = t:split { 1, 1 }
    assert.are.same({ { 4, 5, 6 } }, rows[2]:totable())
  end)

  it("reduces over one dimension in double, with keepdim", function()
    local t = ss.from_table { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.equal(21, t:sum())
    assert.are.same({ 5, 7, 9 }, t:sum(1):values())
    assert.are.same({ 2, 1 }, t:mean(-1, true):shape())
    assert.are.same({ 2, 5 }, t:mean(2):values())
    assert.are.same({ 4, 5, 6 }, t:max(1):values())
    assert.are.same({ 1, 4 }, t:min(2):values())
    assert.are.same({ 1 }, ss.from_table { 1, 2 }:sum(1):shape())
    -- 1e8 + 1 + ... in float32 loses the ones; the double accumulator does not
    local big = ss.from_table({ 1e8, 1, 1, 1, 1, 1, 1, 1, 1 }, { 9, 1 })
    assert.are.equal(1e8 + 8, big:sum(1):values()[1])
    local n = ss.from_table { { 1, 0 / 0 }, { 2, 3 } }
    local mx = n:max(1):values()
    assert.are.equal(2, mx[1])
    assert.is_true(mx[2] ~= mx[2])
  end)

  it("selects with where and masked_fill", function()
    local t = ss.from_table { { 1, 2, 3 }, { 4, 5, 6 } }
    local m = ss.from_table { 1, 0, 2 }       -- broadcast over rows; any nonzero selects
    assert.are.same({ { 1, -1, 3 }, { 4, -1, 6 } }, ss.where(m, t, -1):totable())
    assert.are.same({ { 0, 2, 0 }, { 0, 5, 0 } }, t:masked_fill(m, 0):totable())
    assert.are.same({ { 0, 2, 0 }, { 0, 5, 0 } }, (t * (1 - m:clamp(0, 1))):totable())
    local w = ss.where(ss.from_table { 0 / 0, 1 }, 1, 2):values()
    assert.is_true(w[1] ~= w[1])
    assert.are.equal(1, w[2])
    local u = t:clone()
    assert.are.equal(u, u:masked_fill_(ss.from_table({ 0, 1 }, { 2, 1 }), 7))
    assert.are.same({ { 1, 2, 3 }, { 7, 7, 7 } }, u:totable())
  end)

  it("says what is wrong in the caller's terms, with 1-based numbers", function()
    local t = ss.ones { 2, 3, 4 }
    local function fails(f, pattern)
      local ok, err = pcall(f)
      assert.is_false(ok, pattern)
      assert.truthy(err:find("tensor_spec.lua:%d+: " .. pattern), err)
    end
    fails(function() return t:narrow(3, 2, 4) end, "narrow: rows 2..5 of dimension 3 are outside 1..4")
    fails(function() return t:narrow(4, 1, 1) end, "narrow: dimension 4 is outside 1..3 %(or %-3..%-1%)")
    fails(function() return t:narrow(0, 1, 1) end, "narrow: dimension 0 is outside 1..3")
    fails(function() return t:narrow(2, -4, 1) end, "narrow: first row %-4 is outside 1..3 %(or %-3..%-1%) of dimension 2")
    fails(function() return t:narrow(2, 1, 0) end, "narrow: n must be at least 1, got 0")
    fails(function() return t:narrow(2, 0 / 0, 1) end, "narrow: first row must be an integer, got nan")
    fails(function() return t:narrow(1, 2) end, "narrow: takes %(dim, first, n%)")
    fails(function() return t:select(2, 4) end, "select: index 4 is outside 1..3 %(or %-3..%-1%) of dimension 2")
    fails(function() return t:index { 1, 3 } end, "index: row 3 is outside 1..2")
    fails(function() return t:index { 1.5 } end, "index: row 1.5 is outside 1..2")
    fails(function() return t:transpose(1, 5) end, "transpose: dimension 5 is outside 1..3")
    fails(function() return t:permute { 1, 2 } end, "permute: 2 dimensions given for a 3%-dimensional tensor")
    fails(function() return t:permute { 1, 2, -2 } end, "permute: dimension 2 appears twice")
    fails(function() return t:flip { 3, -1 } end, "flip: dimension 3 appears twice")
    fails(function() return t:flip {} end, "flip: argument 1: expected a dimension or a list of them")
    fails(function() return t:roll(1.5, 1) end, "roll: shift must be an integer, got 1.5")
    fails(function() return t:roll({ 1, 2 }, { 1 }) end, "roll: 2 shifts for 1 dimensions")
    fails(function() return t:pad { 1, 2, 3 } end, "pad: argument 1: expected pads")
    fails(function() return t:pad { -1, 0 } end, "pad: pads must be >= 0 %(crop cuts%), got %-1 on the left")
    fails(function() return t:pad({ 0, 0, 4, 0 }, { mode = "reflect" }) end,
      "pad: reflect needs each pad smaller than its size: top 4 >= height 3")
    fails(function() return t:pad({ 1, 1 }, { mode = "wrap" }) end, 'pad: mode must be "zero", "reflect" or "replicate"')
    fails(function() return t:pad({ 1, 1 }, { mode = "replicate", value = 2 }) end, 'pad: value is for mode "zero" only')
    fails(function() return ss.ones { 3 }:pad { 1, 1, 1, 1 } end, "pad: {left, right, top, bottom} needs a tensor")
    fails(function() return t:crop(3, 1, 2, 2) end, "crop: rows 3..4 are outside 1..3")
    fails(function() return t:crop(1, 0, 2, 2) end, "crop: columns 0..1 are outside 1..4")
    fails(function() return ss.cat({ t, ss.ones { 2, 2, 4 } }, 1) end,
      "cat: tensor 2 has shape %(2,2,4%), which does not match tensor 1's %(2,3,4%) outside dimension 1")
    fails(function() return ss.cat({ t, 3 }) end, "cat: element 2 is not a tensor")
    fails(function() return ss.cat({ t }, 4) end, "cat: dimension 4 is outside 1..3")
    fails(function() return t:split({ 1, 1 }, 3) end, "split: sizes add up to 2, dimension 3 has 4")
    fails(function() return t:split(0) end, "split: the piece size must be at least 1, got 0")
    fails(function() return t:sum(4) end, "sum: dimension 4 is outside 1..3")
    fails(function() return t:max(1, "yes") end, "max: argument 2: expected keepdim true or false")
    fails(function() return ss.where(ss.ones { 5 }, t, 0) end, "where: shapes %(5%) and %(2,3,4%) do not broadcast")
    fails(function() return ss.where(t, "a", 0) end, "where: argument 2: expected a tensor or a number, got string")
    fails(function() return t:masked_fill(ss.ones { 3, 2, 3, 4 }, 0) end,
      "masked_fill: mask %(3,2,3,4%) does not broadcast to the tensor's shape %(2,3,4%)")
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

  it("draws new tensors on a chosen device, the same stream on each", function()
    assert.are.same(ss.rng(3):uniform({ 10 }, -1, 2):values(), ss.rng(3):uniform({ 10 }, -1, 2, "cpu"):values())
    assert.are.same(ss.rng(3):bernoulli({ 10 }, 0.4):values(), ss.rng(3):bernoulli({ 10 }, 0.4, "cpu"):values())
    local ok, err = pcall(function() return ss.rng(3):uniform({ 3 }, 0, 1, "gpu") end)
    assert.truthy(not ok and err:find('uniform: argument 4: device must be "cpu" or "cuda", got gpu', 1, true))
    ok, err = pcall(function() return ss.rng(3):bernoulli(ss.zeros { 3 }, 0.5, "cuda") end)
    assert.truthy(not ok and err:find("bernoulli: argument 3: the tensor to fill is on cpu, not cuda", 1, true))
    ok, err = pcall(function() return ss.rng(3):bernoulli({ 3 }) end)
    assert.truthy(not ok and err:find("bernoulli: argument 2: expected a probability, got nil", 1, true))
    if ss.cuda.available() then   -- uniform and bernoulli are bit-exact across devices
      local c, g = ss.rng(9), ss.rng(9)
      assert.are.same(c:uniform({ 1000 }, -1, 2):values(), g:uniform({ 1000 }, -1, 2, "cuda"):values())
      assert.are.same(c:bernoulli({ 1000 }, 0.3):values(), g:bernoulli({ 1000 }, 0.3, "cuda"):values())
      assert.are.equal("cuda", g:normal({ 4 }, 0, 1, "cuda"):device_name())
    else
      assert.has_error(function() return ss.rng(3):uniform({ 3 }, 0, 1, "cuda") end)
    end
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

describe("arange and mkdir", function()
  it("count like numpy's arange and refuse empty ranges", function()
    assert.are.same({ 0, 1, 2, 3 }, ss.arange(4):values())
    assert.are.same({ 2, 3, 4 }, ss.arange(2, 5):values())
    assert.are.same({ 1, 0.5, 0 }, ss.arange(1, -0.25, -0.5):values())
    local ok, err = pcall(ss.arange, 3, 1)
    assert.is_false(ok)
    assert.truthy(err:find("arange: no numbers from 3 below 1", 1, true), err)
    assert.are.same({ 3 }, ss.from_table({ 1, 2, 3 }, { 3 }, "cpu"):shape())
  end)

  it("mkdir makes parents and says why it cannot", function()
    local h = dofile("tests/lua/helpers.lua")
    local dir, remove = h.tmpdir("ss_mkdir")
    assert.are.equal(dir .. "/a/b/c", ss.mkdir(dir .. "/a/b/c"))
    assert.are.equal(dir .. "/a/b/c", ss.mkdir(dir .. "/a/b/c")) -- exists: fine
    h.write(dir .. "/file", "x")
    local ok, err = pcall(ss.mkdir, dir .. "/file/x")
    assert.is_false(ok)
    assert.truthy(err:find("mkdir: cannot create " .. dir .. "/file/x: Not a directory", 1, true), err)
    remove()
  end)
end)
