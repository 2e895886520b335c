-- scalespace.display outside a notebook: the text forms (repr: the REPL's and Out[n]'s),
-- the MIME bundles the kernel sends (pictures as PNG with small images scaled up, tables as
-- HTML with a text fallback, files), and what a script sees: text on stdout, pictures as
-- files under display.dir. The notebook side runs in tests/jupyter.
local ss = require "scalespace"
local display = require "scalespace.display"
local h = dofile("tests/lua/helpers.lua")

-- What f writes through io.write, with io.output pointed at a temporary file.
local function captured(f)
  local path = os.tmpname()
  local old = io.output()
  io.output(path)
  local ok, err = pcall(f)
  io.output():close()
  io.output(old)
  local text = h.read(path)
  os.remove(path)
  assert(ok, err)
  return text
end

-- The PNG's width and height from its IHDR chunk.
local function png_size(bytes)
  assert.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
  local function u32(at)
    local a, b, c, d = bytes:byte(at, at + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
  end
  return u32(17), u32(21)
end

describe("scalespace.display", function()
  it("is a lazy submodule of scalespace, callable", function()
    assert.equal(display, ss.display)
    assert.is_false(display.active())
  end)

  describe("repr", function()
    it("prints lists, records, nesting and quoted strings on one line when short", function()
      assert.equal("{2, 3, 4}", display.repr(ss.zeros { 2, 3, 4 }:shape()))
      assert.equal('{1, "two", a = true, b = {x = 1.5}}', display.repr { 1, "two", a = true, b = { x = 1.5 } })
      assert.equal("{}", display.repr {})
      assert.equal('{"line\\nbreak"}', display.repr { "line\nbreak" })
      assert.equal("{[true] = 2, [1.5] = 1}", display.repr { [1.5] = 1, [true] = 2 }) -- keys by type, then value
    end)

    it("leaves strings, numbers and __tostring values as they print", function()
      assert.equal("plain text", display.repr "plain text")
      assert.equal("3", display.repr(3))
      assert.equal("0.1", display.repr(0.1))
      local t = ss.ones { 2 }
      assert.equal(tostring(t), display.repr(t))
      assert.equal(tostring(t), display.repr { t }:sub(2, -2))
    end)

    it("breaks long tables over indented lines, and stops at cycles, depth and 100 entries", function()
      local long = {}
      for i = 1, 30 do long[i] = "item" .. i end
      local text = display.repr { list = long }
      assert.truthy(text:find('^{\n  list = {\n    "item1",\n    "item2",'), text)
      local cyc = {}
      cyc.self = cyc
      assert.equal("{self = <cycle>}", display.repr(cyc))
      assert.equal("{{{{{{...}}}}}}", display.repr { { { { { { {} } } } } } })
      local many = {}
      for i = 1, 150 do many[i] = i end
      assert.truthy(display.repr(many):find("... (150 entries in all)", 1, true))
    end)
  end)

  describe("bundles", function()
    it("shows a batch as a PNG grid with 28x28 images scaled up three times", function()
      local b = display.bundle(ss.ones { 16, 1, 28, 28 })
      local w, hgt = png_size(b["image/png"])
      -- 8 per row: 8*(28+2)+2 = 242 wide, 2 rows: 62 high, every pixel 3x3
      assert.equal(3 * 242, w)
      assert.equal(3 * 62, hgt)
      assert.truthy(b["text/plain"]:find("^16 images, tensor%(16,1,28,28%) cpu"), b["text/plain"])
    end)

    it("shows (C,H,W) and (H,W) as one image, scaled to about 96 pixels, or by opts.scale", function()
      assert.same({ 80, 40 }, { png_size(display.bundle(ss.zeros { 3, 10, 20 })["image/png"]) }) -- 96/20 -> 4
      assert.same({ 84, 84 }, { png_size(display.bundle(ss.zeros { 28, 28 })["image/png"]) })
      assert.same({ 20, 10 }, { png_size(display.bundle(ss.zeros { 3, 10, 20 }, { scale = 1 })["image/png"]) })
      -- a batch keeps the grid's padding, even of one image
      assert.same({ 132, 132 }, { png_size(display.bundle(ss.zeros { 1, 3, 128, 128 })["image/png"]) })
      -- a wide grid stays within 1024 pixels: 64 digits in one row would be 1922 wide
      local w = png_size(display.bundle(ss.zeros { 64, 1, 28, 28 }, { nrow = 64 })["image/png"])
      assert.equal(1922, w)
    end)

    it("maps opts.range onto [0, 1] and decodes to the values it was given", function()
      local path = os.tmpname() .. ".png"
      local x = ss.from_table({ 0, 1, 2, 4 }, { 1, 2, 2 })
      h.write(path, display.bundle(x, { range = { 0, 4 }, scale = 1 })["image/png"])
      local back = ss.image.load(path)
      os.remove(path)
      local want = { 0, 64, 128, 255 } -- round(v/4 * 255) as ss.image.save rounds
      for i, v in ipairs(back:values()) do assert.near(want[i] / 255, v, 1e-6) end
    end)

    it("shows other tensors as their summary line only", function()
      for _, shape in ipairs { { 5 }, { 1, 2, 4, 4 }, { 5, 4, 4 } } do
        local t = ss.zeros(shape)
        assert.same({ ["text/plain"] = tostring(t) }, display.bundle(t))
      end
    end)

    it("shows a list of records as an HTML table with a text fallback", function()
      local b = display.bundle { { process = "ddpm", fid = 12.3456 }, { process = "ihdm<>", fid = 7 } }
      assert.equal("fid    process\n-----  -------\n12.35  ddpm\n7      ihdm<>", b["text/plain"])
      assert.truthy(b["text/html"]:find("<thead><tr><th>fid</th><th>process</th></tr></thead>", 1, true))
      assert.truthy(b["text/html"]:find("<td>ihdm&lt;&gt;</td>", 1, true))
    end)

    it("takes the column order, or a header for lists, from opts.columns", function()
      local b = display.bundle({ { process = "ddpm", fid = 1 } }, { columns = { "process", "fid" } })
      assert.equal("process  fid\n-------  ---\nddpm     1", b["text/plain"])
      b = display.bundle({ { "a", 1 }, { "b", 2.5 } }, { columns = { "name", "value" } })
      assert.equal("name  value\n----  -----\na     1\nb     2.5", b["text/plain"])
      b = display.bundle { { "a", 1 }, { "b", 2 } }
      assert.equal("a  1\nb  2", b["text/plain"])
      assert.falsy(b["text/html"]:find("<thead>", 1, true))
    end)

    it("shows a PNG or SVG file as the picture, and says when it is missing", function()
      local png = os.tmpname() .. ".png"
      ss.image.save(png, ss.zeros { 1, 2, 3 })
      assert.equal(h.read(png), display.bundle(png)["image/png"])
      os.remove(png)
      local svg = os.tmpname() .. ".svg"
      h.write(svg, "<svg xmlns='http://www.w3.org/2000/svg'/>")
      assert.equal(h.read(svg), display.bundle(svg)["image/svg+xml"])
      os.remove(svg)
      assert.has_error(function() display.bundle(png) end, "display: cannot open " .. png .. ": No such file or directory")
      assert.same({ ["text/plain"] = "just text.png or not" }, display.bundle "just text.png or not")
    end)

    it("names the shape of a tensor that is no picture", function()
      assert.has_error(function() display.encode_png(ss.zeros { 5 }) end,
        "display: a picture is (H,W), (C,H,W) or (N,C,H,W), got a tensor of shape (5)")
    end)
  end)

  describe("outside a notebook", function()
    after_each(function() display.dir = nil end)

    it("prints the text form and returns a handle only when asked", function()
      local out = captured(function()
        assert.is_nil(display(ss.zeros { 2, 1, 4, 4 }))
        display { { a = 1 } }
        display.html("<b>bold</b>")
        display.markdown("*md*")
        display.clear_output()
        display.figure("/no/such/figure.png")
      end)
      assert.equal("2 images, " .. tostring(ss.zeros { 2, 1, 4, 4 }) .. "\na\n-\n1\n<b>bold</b>\n*md*\n", out)
    end)

    it("writes pictures under display.dir, and a handle's updates too", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert.truthy(os.execute("mkdir " .. h.quote(dir)))
      display.dir = dir
      local handle
      local out = captured(function()
        handle = display(ss.ones { 1, 8, 8 }, { display_id = true })
        handle:update(ss.zeros { 1, 8, 8 })
      end)
      assert.truthy(tostring(handle):find("^display display%-%d+$"), tostring(handle))
      local first, second = out:match("  %[([^%]]+%.png)%]\n.*  %[([^%]]+%.png)%]\n$")
      assert.truthy(first and second, out)
      assert.near(1, ss.image.load(first):mean(), 1e-6)
      assert.near(0, ss.image.load(second):mean(), 1e-6)
      os.remove(first)
      os.remove(second)
      os.remove(dir)
    end)
  end)

  describe("describe", function()
    it("gives a function's definition line and doc comment", function()
      local text = display.describe(ss.image.save, "ss.image.save")
      assert.truthy(text:find("^ss.image.save: function M.save%(path, img%)\n\nSaves an image"), text)
      assert.truthy(text:find("image.lua:%d+%)$"), text)
      assert.equal("math.floor: a built-in function", display.describe(math.floor, "math.floor"))
    end)

    it("lists a table's fields and gives a tensor's summary", function()
      local text = display.describe({ 1, 2, alpha = 1, beta = 2 }, "t")
      assert.truthy(text:find("^t: table with 2 list entries and 2 fields: alpha, beta\n\n{1, 2, alpha = 1, beta = 2}$"), text)
      local t = ss.ones { 3 }
      assert.equal("t: " .. tostring(t), display.describe(t, "t"))
      assert.equal("n: number 5", display.describe(5, "n"))
    end)
  end)
end)
