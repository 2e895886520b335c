-- sweep_spec.lua — ss.sweep: one CSV row per point, resumable after SIGKILL, a plot, and
-- errors in the caller's terms. (The 2-rank sweep is tests/dist/sweep.lua.)
local ss = require "scalespace"
local H = dofile("tests/lua/helpers.lua")
local build = os.getenv("SS_BUILD_DIR") or "build"

describe("sweep", function()
  local dir, cleanup = H.tmpdir("ss_sweep")
  teardown(cleanup)

  local function points()
    local list = {}
    for _, s in ipairs { "ddpm", "ddim" } do
      for _, n in ipairs { 10, 20, 50, 100 } do list[#list + 1] = { sampler = s, steps = n } end
    end
    return list
  end

  it("measures every point once, writes the CSV in the points' order, and skips them on a rerun", function()
    local csv, calls = dir .. "/basic.csv", 0
    local function measure(p)
      calls = calls + 1
      return { fd = p.steps / (p.sampler == "ddim" and 2 or 1), note = p.sampler .. p.steps }
    end
    local rows, info = ss.sweep.run(points(), measure, { csv = csv, progress = false })
    assert.equal(8, calls)
    assert.same({ measured = 8, skipped = 0, csv = csv }, { measured = info.measured, skipped = info.skipped, csv = info.csv })
    local columns, data = ss.plot.read_csv(csv)
    assert.same({ "sampler", "steps", "fd", "note" }, columns)
    assert.same({ "ddpm", 10, 10, "ddpm10" }, data[1])
    assert.same({ "ddim", 100, 50, "ddim100" }, data[8])
    assert.equal(25, rows[7].fd)
    calls = 0
    local again = ss.sweep.run(points(), measure, { csv = csv, progress = false })
    assert.equal(0, calls)
    assert.same(rows, again)
    -- more points later: only the new ones are measured; rows of the file not in the list stay
    local more = points()
    table.remove(more, 1)
    more[#more + 1] = { sampler = "ddim", steps = 1000 }
    ss.sweep.run(more, measure, { csv = csv, progress = false })
    assert.equal(1, calls)
    _, data = ss.plot.read_csv(csv)
    assert.equal(9, #data)
    assert.same({ "ddpm", 10, 10, "ddpm10" }, data[9])
  end)

  it("a run killed with SIGKILL part-way resumes: only the missing points are measured, each row once", function()
    local csv, log, script = dir .. "/killed.csv", dir .. "/calls.log", dir .. "/sweep_kill.lua"
    H.write(script, [[
local ss = require "scalespace"
local ffi = require "ffi"
ffi.cdef "int getpid(void); int kill(int pid, int sig);"
local csv, log, kill_at = arg[1], arg[2], tonumber(arg[3])
local points = {}
for i = 1, 10 do points[i] = { i = i, t = i / 3 } end
ss.sweep.run(points, function(p)
  local f = io.open(log, "a")
  f:write(p.i, "\n")
  f:close()
  if p.i == kill_at then ffi.C.kill(ffi.C.getpid(), 9) end
  return { value = p.t * p.t, seed = ss.rng(p.i):normal({ 4 }):sum() }
end, { csv = csv, progress = false })
]])
    local cmd = string.format("%s/scalespace %s %s %s ", build, H.quote(script), H.quote(csv), H.quote(log))
    local ok, how, code = os.execute(cmd .. "6 >/dev/null 2>&1")
    -- LuaJIT's os.execute gives the raw wait status: killed by signal 9
    assert.is_true(ok ~= 0 and ok ~= true, "the first run was killed: " .. tostring(ok) .. " " .. tostring(how) .. " " .. tostring(code))
    local _, data = ss.plot.read_csv(csv)
    assert.equal(5, #data, "the rows measured before the kill are in the file")
    assert.is_nil(io.open(csv .. ".tmp"), "no temporary file left under the CSV's name")
    assert.equal(0, os.execute(cmd .. "0 >/dev/null 2>&1"))
    local calls = {}
    for line in H.read(log):gmatch("[^\n]+") do calls[#calls + 1] = tonumber(line) end
    assert.same({ 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10 }, calls)
    local columns
    columns, data = ss.plot.read_csv(csv)
    assert.same({ "i", "t", "seed", "value" }, columns)
    assert.equal(10, #data)
    for i, row in ipairs(data) do
      assert.equal(i, row[1])
      assert.near((i / 3) ^ 2, row[4], 1e-7 * (i / 3) ^ 2)
    end
  end)

  it("draws a plot with one line per series", function()
    if not ss.plot.available() then return pending("gnuplot is not installed") end
    local csv, png = dir .. "/plot.csv", dir .. "/plot.png"
    local _, info = ss.sweep.run(points(), function(p) return { fd = 100 / p.steps } end,
      { csv = csv, progress = false, plot = { path = png, x = "steps", y = "fd", series = "sampler", logx = true } })
    assert.equal(png, info.plot)
    assert.is_true(H.exists(png))
  end)

  it("refuses bad arguments, duplicate points, bad results and another sweep's CSV", function()
    local function raises(pattern, ...)
      local ok, err = pcall(ss.sweep.run, ...)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
    end
    local m = function() return 1 end
    raises("sweep.run: argument 1: expected a non-empty list of points", {}, m, { csv = dir .. "/x.csv" })
    raises("sweep.run: argument 2: expected a function", { { a = 1 } }, 5, { csv = dir .. "/x.csv" })
    raises("sweep.run: argument 3: expected an options table with csv = a file path", { { a = 1 } }, m, {})
    raises("points 1 and 2 have the same fields", { { a = 1 }, { a = 1 } }, m, { csv = dir .. "/x.csv" })
    raises("point 2: field a must be a number, a string or a boolean, got table", { { a = 1 }, { a = {} } }, m,
      { csv = dir .. "/x.csv" })
    raises("the measure of point 1 returned nil", { { a = 1 } }, function() end, { csv = dir .. "/y.csv", progress = false })
    raises("returned fd = table", { { a = 1 } }, function() return { fd = {} } end, { csv = dir .. "/z.csv", progress = false })
    ss.sweep.run({ { a = 1 } }, m, { csv = dir .. "/w.csv", progress = false })
    raises("has columns a, value; this sweep's points are named by b", { { b = 1 } }, m, { csv = dir .. "/w.csv" })
    raises("returned other, which is not a column", { { a = 2 } }, function() return { other = 1 } end,
      { csv = dir .. "/w.csv", progress = false })
    local ok, err = pcall(ss.sweep.run, {}, m, { csv = "x" })
    assert.truthy(tostring(err):find("sweep_spec.lua:", 1, true), "the error points at the caller's line")
  end)
end)
