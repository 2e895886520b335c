-- plot_spec.lua — scalespace.plot: CSV round trips and bad inputs, PNG line plots by gnuplot.
local ss = require "scalespace"
local plot = ss.plot

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p " .. tmp)
local h = dofile("tests/lua/helpers.lua")
local read, exists = h.read, h.exists

-- The names in a directory, sorted.
local function listing(dir)
  local p = io.popen("ls -A '" .. dir .. "'")
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  table.sort(names)
  return names
end

-- A fresh, empty directory under tmp.
local dirs = 0
local function fresh_dir()
  dirs = dirs + 1
  local d = tmp .. "/d" .. dirs
  os.execute("mkdir -p " .. d)
  return d
end

local function raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  assert.truthy(tostring(err):find(pattern, 1, true), "message '" .. tostring(err) .. "' lacks '" .. pattern .. "'")
  return err
end

local PNG_SIGNATURE = "\137PNG\r\n\26\n"

teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

describe("plot.write_csv / read_csv", function()
  it("round-trips header, numbers and strings, and leaves no .tmp", function()
    local d = fresh_dir()
    local path = d .. "/loss.csv"
    local rows = {
      { 1, 0.125, "ddpm" },
      { 2, 1 / 3, "a,b" },
      { 3, -2.5e-7, 'say "hi"' },
      { 1e6, 0, "12" }, -- a string that looks like a number stays a string
      { 5, 1 / 0, "" },
    }
    assert.equal(path, plot.write_csv(path, { "step", "train_loss", "name" }, rows))
    assert.same({ "loss.csv" }, listing(d))
    local text = read(path)
    assert.equal("step,train_loss,name\n", text:sub(1, 21))
    assert.truthy(text:find('\n2,0.333333333,"a,b"\n', 1, true)) -- %.9g
    assert.truthy(text:find('"say ""hi"""', 1, true))

    local columns, back = plot.read_csv(path)
    assert.same({ "step", "train_loss", "name" }, columns)
    assert.equal(#rows, #back)
    for i, row in ipairs(rows) do
      assert.equal(row[1], back[i][1])
      assert.is_true(math.abs(back[i][2] - row[2]) <= 1e-8 * math.abs(row[2]) or back[i][2] == row[2])
      assert.equal(row[3], back[i][3])
    end
    assert.equal("number", type(back[4][1]))
    assert.equal("string", type(back[4][3]))
    assert.equal(math.huge, back[5][2])
  end)

  it("writes nan and reads it back as NaN; accepts the series form", function()
    local path = fresh_dir() .. "/s.csv"
    plot.write_csv(path, { "x", "y" }, { x = { 1, 2, 3 }, y = { 0 / 0, -1 / 0, 4 } })
    assert.equal("x,y\n1,nan\n2,-inf\n3,4\n", read(path))
    local _, rows = plot.read_csv(path)
    assert.is_true(rows[1][2] ~= rows[1][2])
    assert.equal(-math.huge, rows[2][2])
  end)

  it("writes only a header for no rows", function()
    local path = fresh_dir() .. "/empty.csv"
    plot.write_csv(path, { "a" }, {})
    local columns, rows = plot.read_csv(path)
    assert.same({ "a" }, columns)
    assert.same({}, rows)
  end)

  it("raises on bad input, naming the path and the row, and creates no file", function()
    local d = fresh_dir()
    local path = d .. "/bad.csv"
    raises("bad.csv: row 2 has 1 cells, expected 2 (a, b)", plot.write_csv, path, { "a", "b" }, { { 1, 2 }, { 3 } })
    raises("bad.csv: row 1, column 'b': expected a number or a string, got boolean",
      plot.write_csv, path, { "a", "b" }, { { 1, true } })
    raises("bad.csv: row 2 has 0 cells, expected 1 (a)", plot.write_csv, path, { "a" }, { { 1 }, {} })
    raises("bad.csv: row 2: expected a table, got number", plot.write_csv, path, { "a" }, { { 1 }, 2 })
    raises("bad.csv: column 'b' has 1 values, column 'a' has 2", plot.write_csv, path, { "a", "b" }, { a = { 1, 2 }, b = { 3 } })
    raises("no list of values for column 'b'", plot.write_csv, path, { "a", "b" }, { a = { 1 } })
    raises("plot.write_csv: argument 2: expected a non-empty list of column names, got string",
      plot.write_csv, path, "a,b", {})
    raises("plot.write_csv: argument 1: expected a file path, got nil", plot.write_csv, nil, { "a" }, {})
    assert.same({}, listing(d))
    raises("cannot create temporary file " .. tmp .. "/missing/x.csv.tmp", plot.write_csv, tmp .. "/missing/x.csv",
      { "a" }, { { 1 } })
  end)

  it("blames the caller's line", function()
    local err = raises("row 1", plot.write_csv, tmp .. "/x.csv", { "a" }, { { {} } })
    assert.truthy(err:find("plot_spec.lua:", 1, true))
  end)

  it("raises on missing and malformed files", function()
    local d = fresh_dir()
    raises("plot.read_csv: cannot open " .. d .. "/none.csv", plot.read_csv, d .. "/none.csv")
    local f = assert(io.open(d .. "/ragged.csv", "wb"))
    f:write("a,b\n1,2\n3\n")
    f:close()
    raises("ragged.csv: row 2 has 1 fields, expected 2", plot.read_csv, d .. "/ragged.csv")
    f = assert(io.open(d .. "/empty.csv", "wb"))
    f:close()
    raises("empty file", plot.read_csv, d .. "/empty.csv")
  end)
end)

describe("plot.lines", function()
  it("reports gnuplot as available", function()
    assert.is_true(plot.available())
    assert.is_false(plot.available("/nonexistent/gnuplot"))
  end)

  it("writes a PNG of the requested size and nothing else", function()
    local d = fresh_dir()
    local path = d .. "/curves.png"
    local ret = plot.lines(path, {
      series = {
        { x = { 1, 2, 3, 4 }, y = { 1, 0.5, 0.3, 0.2 }, title = "DDPM" },
        { y = { 2, 1, 0.7 }, title = "heat_dissipation" }, -- x defaults to 1..#y
      },
      title = "train_loss", xlabel = "step", ylabel = "loss", note = "data scaled to [0,1]",
      width = 400, height = 300,
    })
    assert.equal(path, ret)
    assert.same({ "curves.png" }, listing(d))
    assert.equal(PNG_SIGNATURE, read(path):sub(1, 8))
    local img = ss.image.load(path)
    local s = img:shape()
    assert.equal(300, s[2])
    assert.equal(400, s[3])
  end)

  it("defaults to 800x500", function()
    local path = fresh_dir() .. "/default.png"
    plot.lines(path, { series = { { y = { 3, 1, 2 } } } })
    local s = ss.image.load(path):shape()
    assert.same({ 500, 800 }, { s[2], s[3] })
  end)

  it("draws log axes with zero and negative values", function()
    local path = fresh_dir() .. "/log.png"
    plot.lines(path, {
      series = { { x = { 0, 1, 10, 100 }, y = { 1, 0, 0.01, -1 }, title = "x" }, { x = { 1, 10 }, y = { 0, 1 } } },
      logx = true, logy = true, width = 320, height = 240,
    })
    assert.equal(PNG_SIGNATURE, read(path):sub(1, 8))
    assert.same({ 240, 320 }, { ss.image.load(path):shape()[2], ss.image.load(path):shape()[3] })
  end)

  it("plots columns of a CSV and keeps the script on request", function()
    local d = fresh_dir()
    local csv = plot.write_csv(d .. "/runs.csv", { "step", "ddpm_loss", "heat_loss", "tag" },
      { { 10, 1.0, 2.0, "a" }, { 20, 0.5, 1.0, "b" }, { 30, 0.25, 0.0, "c" } })
    local path = plot.lines(d .. "/runs.png", {
      csv = csv, x = "step", y = { "ddpm_loss", "heat_loss" }, logy = true, keep_script = true,
    })
    assert.same({ "runs.csv", "runs.dat", "runs.gp", "runs.png" }, listing(d))
    local gp = read(d .. "/runs.gp")
    assert.truthy(gp:find("noenhanced", 1, true))
    assert.truthy(gp:find("title 'heat_loss'", 1, true))
    assert.truthy(gp:find("set output '" .. path .. "'", 1, true))
    assert.equal(PNG_SIGNATURE, read(path):sub(1, 8))
    raises("runs.csv has no column 'nope' (columns: step, ddpm_loss, heat_loss, tag)",
      plot.lines, d .. "/x.png", { csv = csv, y = { "nope" } })
  end)

  it("says how to install gnuplot when it is missing, and writes nothing", function()
    local d = fresh_dir()
    local err = raises("plot.lines: gnuplot not found; `make run` installs it (apt-get install gnuplot-nox)",
      plot.lines, d .. "/p.png", { series = { { y = { 1, 2 } } }, gnuplot = "/nonexistent/gnuplot" })
    assert.truthy(err:find("plot_spec.lua:", 1, true))
    assert.same({}, listing(d))
  end)

  it("raises gnuplot's own error, and on bad options", function()
    raises("cannot open file", plot.lines, tmp .. "/missing/p.png", { series = { { y = { 1, 2 } } } })
    assert.is_false(exists(tmp .. "/missing"))
    local path = tmp .. "/bad.png"
    raises("give exactly one of opts.series and opts.csv", plot.lines, path, {})
    raises("series 1: 2 x values but 3 y values", plot.lines, path, { series = { { x = { 1, 2 }, y = { 1, 2, 3 } } } })
    raises("series 2: expected {x = {...}, y = {...}}", plot.lines, path, { series = { { y = { 1 } }, 5 } })
    raises("width must be a positive integer, got 0", plot.lines, path, { series = { { y = { 1 } } }, width = 0 })
    raises("no finite points to plot", plot.lines, path, { series = { { y = { 0, -1 } } }, logy = true })
    assert.is_false(exists(path))
  end)
end)
