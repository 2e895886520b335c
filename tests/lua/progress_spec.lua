-- scalespace.progress with an injected clock and a fake stream.

local progress = require "scalespace.progress"

local function fake_stream()
  local s = { chunks = {}, flushes = 0 }
  function s:write(...)
    for i = 1, select("#", ...) do self.chunks[#self.chunks + 1] = tostring((select(i, ...))) end
    return self
  end
  function s:flush() self.flushes = self.flushes + 1 end
  function s:text() return table.concat(self.chunks) end
  function s:reset() self.chunks = {} end
  return s
end

local function fake_clock()
  local c = { t = 0 }
  c.fn = function() return c.t end
  return c
end

describe("scalespace.progress", function()
  describe("formatting", function()
    it("formats durations as MM:SS and H:MM:SS", function()
      assert.equal("00:00", progress.format_time(0))
      assert.equal("00:25", progress.format_time(25))
      assert.equal("00:25", progress.format_time(25.4))
      assert.equal("01:00", progress.format_time(59.6))
      assert.equal("59:59", progress.format_time(3599))
      assert.equal("1:02:05", progress.format_time(3725))
      assert.equal("100:00:00", progress.format_time(360000))
      for _, bad in ipairs { -1, 0 / 0, math.huge, "x" } do
        assert.equal("--:--", progress.format_time(bad))
      end
      assert.equal("--:--", progress.format_time(nil))
    end)

    it("formats values compactly", function()
      assert.equal("0.1235", progress.format_value(0.123456))
      assert.equal("0.0002", progress.format_value(2e-4))
      assert.equal("1.235e+04", progress.format_value(12345.678))
      assert.equal("3", progress.format_value(3))
      assert.equal("-7", progress.format_value(-7))
      assert.equal("1e+20", progress.format_value(1e20))
      assert.equal("adam", progress.format_value("adam"))
      assert.equal("true", progress.format_value(true))
    end)

    it("formats rates as it/s, or s/it when slow", function()
      assert.equal("35.2 it/s", progress.format_rate(35.2))
      assert.equal("1.0 it/s", progress.format_rate(1))
      assert.equal("2.50 s/it", progress.format_rate(0.4))
      assert.equal("? it/s", progress.format_rate(nil))
      assert.equal("? it/s", progress.format_rate(0))
    end)
  end)

  describe("on a terminal", function()
    local s, c, bar
    before_each(function()
      s, c = fake_stream(), fake_clock()
      bar = progress.new { total = 1000, desc = "train", width = 10, every = 0.5, stream = s,
        clock = c.fn, plain = false }
    end)

    it("draws one line with \\r: bar, count, percent, rate, ETA, values", function()
      assert.equal("tty", bar.mode)
      c.t = 4
      bar:update(120, { loss = 0.123 })
      assert.equal("\rtrain [#.........] 120/1000 12.0% 30.0 it/s ETA 00:29 loss=0.123", s:text())
      assert.truthy(s.flushes >= 1)
    end)

    it("redraws at most every `every` seconds", function()
      c.t = 4
      bar:update(120)
      s:reset()
      c.t = 4.2
      bar:update(130)
      assert.equal("", s:text())
      c.t = 4.6
      bar:update(140, { loss = 0.1, lr = 2e-4 })
      assert.equal("\rtrain [#.........] 140/1000 14.0% 30.4 it/s ETA 00:28 loss=0.1 lr=0.0002", s:text())
    end)

    it("pads over a longer previous line", function()
      c.t = 4
      bar:update(120, { loss = 0.123456 })
      local first = s:text():sub(2)
      s:reset()
      c.t = 5
      bar:update(150, {})
      local second = s:text()
      local line = "train [#.........] 150/1000 15.0% 30.0 it/s ETA 00:28"
      assert.equal("\r" .. line .. string.rep(" ", #first - #line), second)
    end)

    it("shows unknown rate and ETA before time has passed", function()
      bar:update(0)
      assert.equal("\rtrain [..........] 0/1000 0.0% ? it/s ETA --:--", s:text())
    end)

    it("fills the bar and closes with the elapsed time and a newline", function()
      c.t = 4
      bar:update(500, { loss = 2 })
      s:reset()
      c.t = 10
      bar:update(1000)
      bar:close()
      local text = s:text()
      assert.equal("\rtrain [##########] 1000/1000 100.0% 100.0 it/s ETA 00:00 loss=2"
        .. "\rtrain [##########] 1000/1000 100.0% 100.0 it/s elapsed 00:10 loss=2\n", text)
      s:reset()
      bar:close()
      bar:update(1001)
      assert.equal("", s:text(), "close is idempotent and later updates are ignored")
    end)

    it("advances with step", function()
      bar:step()
      assert.equal(1, bar.n)
      bar:step(5)
      assert.equal(6, bar.n)
      bar:step(nil, { a = 1 })
      assert.equal(7, bar.n)
      assert.same({ a = 1 }, bar.values)
    end)

    it("writes messages above the bar", function()
      c.t = 1
      bar:update(10)
      s:reset()
      bar:write("eval: fid=3.2")
      local line = "train [..........] 10/1000 1.0% 10.0 it/s ETA 01:39"
      assert.equal("\reval: fid=3.2" .. string.rep(" ", #line - #"eval: fid=3.2") .. "\n\r" .. line, s:text())
    end)
  end)

  describe("on a non-terminal", function()
    it("prints plain lines at most every `every_plain` seconds, and the final line", function()
      local s, c = fake_stream(), fake_clock()
      local bar = progress.new { total = 100, desc = "eval", stream = s, clock = c.fn, plain = true,
        every_plain = 10 }
      assert.equal("plain", bar.mode)
      for i = 1, 25 do
        c.t = i
        bar:update(4 * i, { acc = i / 100 })
      end
      bar:close()
      local text = s:text()
      assert.falsy(text:find("\r", 1, true))
      assert.falsy(text:find("[", 1, true))
      assert.equal("eval 40/100 40.0% 4.0 it/s ETA 00:15 acc=0.1\n"
        .. "eval 80/100 80.0% 4.0 it/s ETA 00:05 acc=0.2\n"
        .. "eval 100/100 100.0% 4.0 it/s elapsed 00:25 acc=0.25\n", text)
    end)

    it("defaults to 10 seconds between lines", function()
      local s, c = fake_stream(), fake_clock()
      local bar = progress.new { total = 10, stream = s, clock = c.fn, plain = true }
      c.t = 9.9
      bar:update(1)
      assert.equal("", s:text())
      c.t = 10
      bar:update(2)
      assert.equal("2/10 20.0% 5.00 s/it ETA 00:40\n", s:text())
    end)

    it("counts without a total: no bar, no percent, no ETA", function()
      local s, c = fake_stream(), fake_clock()
      local bar = progress.new { desc = "gen", stream = s, clock = c.fn, plain = true }
      c.t = 5
      bar:update(50)
      bar:close()
      assert.equal("gen 50 10.0 it/s elapsed 00:05\n", s:text())
    end)

    it("counts from `initial` for the rate", function()
      local s, c = fake_stream(), fake_clock()
      local bar = progress.new { total = 200, initial = 100, stream = s, clock = c.fn, plain = true }
      c.t = 10
      bar:update(150)
      assert.equal("150/200 75.0% 5.0 it/s ETA 00:10\n", s:text())
    end)

    it("treats streams that are not terminals as plain", function()
      local f = io.tmpfile()
      assert.is_false(progress.isatty(f))
      assert.is_false(progress.isatty(fake_stream()))
      f:close()
      assert.is_false(progress.isatty(f), "a closed file is not a terminal")
    end)
  end)

  describe("SS_PROGRESS", function()
    local ffi = require "ffi"
    pcall(ffi.cdef, "int setenv(const char *name, const char *value, int overwrite);")
    pcall(ffi.cdef, "int unsetenv(const char *name);")
    local saved
    before_each(function() saved = os.getenv("SS_PROGRESS") end)
    after_each(function()
      if saved then ffi.C.setenv("SS_PROGRESS", saved, 1) else ffi.C.unsetenv("SS_PROGRESS") end
    end)

    it("overrides terminal detection, but not an explicit `plain` option", function()
      ffi.C.setenv("SS_PROGRESS", "tty", 1)
      assert.equal("tty", progress.mode({}, fake_stream()))
      assert.equal("plain", progress.mode({ plain = true }, fake_stream()))
      ffi.C.setenv("SS_PROGRESS", "plain", 1)
      assert.equal("plain", progress.mode({}, io.stderr))
      assert.equal("tty", progress.mode({ plain = false }, fake_stream()))
      ffi.C.unsetenv("SS_PROGRESS")
      assert.equal("plain", progress.mode({}, fake_stream()))
    end)

    it("silences the bar with off", function()
      ffi.C.setenv("SS_PROGRESS", "off", 1)
      local s, c = fake_stream(), fake_clock()
      local bar = progress.new { total = 3, stream = s, clock = c.fn }
      for i = 1, 3 do c.t = 20 * i; bar:update(i) end
      bar:close()
      assert.equal("", s:text())
    end)
  end)

  it("has a monotonic default clock", function()
    local a = progress.clock()
    local b = progress.clock()
    assert.is_number(a)
    assert.truthy(b >= a)
  end)

  it("rejects bad arguments with messages", function()
    assert.has_error(function() progress.new { total = -1 } end,
      "progress.new: total must be a non-negative number or nil, got -1")
    assert.has_error(function() progress.new { stream = 3 } end)
    assert.has_error(function() progress.new { clock = 1 } end)
    local bar = progress.new { stream = fake_stream(), plain = true }
    assert.has_error(function() bar:update("x") end,
      "progress: update: argument 1: expected a number, got string")
  end)
end)
