-- memory_spec.lua — the host block cache and the collector's pace from Lua: a loop
-- that makes tensors and never calls collectgarbage() stays within bounded memory and
-- reuses its blocks (issue 16); ss.memory() and ss.empty_cache(); out= on operators.
local ss = require "scalespace"

local function status_kb(key)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. key .. ":%s+(%d+)")
    if v then return tonumber(v) end
  end
end

describe("host memory", function()
  it("reports its figures and empties its cache", function()
    local m = ss.memory()
    for _, k in ipairs { "in_use", "cached", "peak", "cache_limit", "system_allocs", "reused", "tensor_live",
      "tensor_made" } do
      assert.is_number(m[k], k)
    end
    local t = ss.zeros { 1000, 100 }
    local m1 = ss.memory()
    assert.are.equal(m.tensor_made + 400000, m1.tensor_made)
    assert.is_true(m1.tensor_live >= 400000 and m1.in_use >= 400000 and m1.peak >= m1.in_use)
    t:free()
    assert.are.equal(m1.tensor_live - 400000, ss.memory().tensor_live)
    assert.is_true(ss.memory().cached >= 400384) -- the freed block waits for reuse
    ss.empty_cache()
    assert.are.equal(0, ss.memory().cached)
  end)

  it("runs 10 000 allocations of 16x3x64x64 in bounded memory without collectgarbage()", function()
    collectgarbage()
    local m0, rss0 = ss.memory(), status_kb("VmRSS")
    local max_live, max_rss = 0, 0
    for i = 1, 10000 do
      local t = ss.empty { 16, 3, 64, 64 }
      t:fill(i) -- every page touched, so the pages count as resident
      if i % 100 == 0 then
        max_live = math.max(max_live, ss.memory().tensor_live)
        max_rss = math.max(max_rss, status_kb("VmRSS"))
      end
    end
    local m1 = ss.memory()
    print(string.format("\n10000 x 16x3x64x64: %d blocks from the system, %d reused, tensors alive at most %.1f MB,"
      .. " VmRSS %.1f -> at most %.1f MB", m1.system_allocs - m0.system_allocs, m1.reused - m0.reused, max_live / 2 ^ 20,
      rss0 / 1024, max_rss / 1024))
    -- the collector is paced by tensor bytes: dead tensors never exceed its 16 MiB step by much
    assert.is_true(max_live < 32 * 2 ^ 20, "tensors alive at most " .. max_live)
    assert.is_true(max_rss - rss0 < 100 * 1024, "VmRSS grew by " .. (max_rss - rss0) .. " kB")
    -- O(1) blocks from the system: those alive between two collections, not one per tensor
    assert.is_true(m1.system_allocs - m0.system_allocs < 200, "system allocations " .. m1.system_allocs - m0.system_allocs)
    assert.is_true(m1.reused - m0.reused > 9800)
  end)
end)

describe("operators with out=", function()
  it("write into a given output and return it", function()
    local g = ss.rng(1)
    local R = ss.op.resize { from = { 16, 16 }, to = { 8, 8 } }
    local x, y = g:normal { 2, 3, 16, 16 }, g:normal { 2, 3, 8, 8 }
    local fx, ay = ss.empty { 2, 3, 8, 8 }, ss.empty { 2, 3, 16, 16 }
    assert.are.equal(fx, R:apply(x, { out = fx }))
    assert.are.equal(ay, R:adjoint(y, { out = ay }))
    assert.are.equal(0, (fx - R:apply(x)):norm())
    assert.are.equal(0, (ay - R:adjoint(y)):norm())
  end)

  it("reject an output of the wrong kind or shape at the caller's line", function()
    local R = ss.op.resize { from = { 16, 16 }, to = { 8, 8 } }
    local x = ss.zeros { 1, 1, 16, 16 }
    local ok, err = pcall(function() return R:apply(x, { out = 3 }) end)
    assert.is_false(ok)
    assert.matches("apply: out must be a tensor", err)
    ok, err = pcall(function() return R:apply(x, { out = ss.zeros { 1, 1, 16, 16 } }) end)
    assert.is_false(ok)
    assert.matches("gives %(...,8,8%), got output %(1,1,16,16%)", err)
    ok, err = pcall(function() return R:adjoint(ss.zeros { 1, 1, 8, 8 }, 5) end)
    assert.is_false(ok)
    assert.matches("adjoint: argument 2: expected an options table", err)
  end)
end)
