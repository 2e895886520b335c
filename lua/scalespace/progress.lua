--- scalespace.progress — a progress line for training, sampling and evaluation loops.
--
-- On a terminal one line is redrawn in place with "\r":
--
--     train [#####.........................] 120/1000 12.0% 35.2 it/s ETA 00:25 loss=0.123
--
-- When the stream is not a terminal (a log file, a pipe, CI), a plain line without the bar
-- and without "\r" is printed at most every `every_plain` seconds, and once at the end.
--
-- In a Jupyter notebook (the scalespace kernel) a bar on io.stderr or io.stdout is one
-- output, an HTML <progress> bar with the line beside it (the line alone as the text form),
-- updated in place at most five times a second.
--
--     local progress = require "scalespace.progress"
--     local bar = progress.new{total = steps, desc = "train"}
--     for i = 1, steps do
--       local loss = train_step()
--       bar:update(i, {loss = loss})      -- or bar:step(1, {loss = loss})
--     end
--     bar:close()
--
-- The environment variable `SS_PROGRESS=plain|tty|off` overrides the terminal and notebook
-- detection (an explicit `plain` option overrides both). Rates and ETAs use a monotonic clock.
-- @module scalespace.progress

local M = {}

local has_ffi, ffi = pcall(require, "ffi")

-- Declarations are guarded: another module may have declared the same functions.
local function cdef(decl)
  if has_ffi then pcall(ffi.cdef, decl) end
end
cdef "int isatty(int fd);"
cdef "int fileno(void *stream);"
cdef "int clock_gettime(int clk_id, void *tp);"
cdef "typedef struct ss_progress_timespec { long tv_sec; long tv_nsec; } ss_progress_timespec;"

local CLOCK_MONOTONIC = 1 -- Linux

local monotonic
if has_ffi then
  local ok = pcall(function()
    local ts = ffi.new("ss_progress_timespec")
    local p = ffi.cast("void *", ts)
    assert(ffi.C.clock_gettime(CLOCK_MONOTONIC, p) == 0)
    monotonic = function()
      ffi.C.clock_gettime(CLOCK_MONOTONIC, p)
      return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
    end
  end)
  if not ok then monotonic = nil end
end

--- Seconds on a monotonic clock (CLOCK_MONOTONIC; `os.time` when the FFI is missing).
-- @treturn number seconds since an arbitrary origin
function M.clock()
  if monotonic then return monotonic() end
  return os.time()
end

--- Whether a stream is a terminal: `io.stdout`, `io.stderr` or another Lua file handle,
-- tested with isatty(fileno(stream)). Anything else (a table with `write`) is not.
-- @param stream a file handle or an object with a `write` method
-- @treturn boolean
function M.isatty(stream)
  if not has_ffi or io.type(stream) ~= "file" then return false end
  local ok, res = pcall(function()
    local fd
    if stream == io.stdout then
      fd = 1
    elseif stream == io.stderr then
      fd = 2
    else
      local fp = ffi.cast("void *", stream) -- an io.* handle converts to its FILE *
      if fp == nil then return false end
      fd = ffi.C.fileno(fp)
    end
    return fd >= 0 and ffi.C.isatty(fd) == 1
  end)
  return ok and res == true
end

--- How a bar with these options draws on `stream`: "tty", "plain", "notebook" or "off".
-- `opts.plain` (true/false) wins, then `SS_PROGRESS`, then a notebook (io.stdout or io.stderr
-- in the scalespace Jupyter kernel), then terminal detection.
-- @tab opts options of @{new}
-- @param stream the output stream
-- @treturn string
function M.mode(opts, stream)
  if opts.plain == true then return "plain" end
  if opts.plain == false then return "tty" end
  local env = os.getenv("SS_PROGRESS")
  if env == "plain" or env == "tty" or env == "off" then return env end
  if package.loaded["scalespace.kernel"] and (stream == io.stdout or stream == io.stderr) then return "notebook" end
  return M.isatty(stream) and "tty" or "plain"
end

--- Formats a duration as MM:SS, or H:MM:SS from one hour on; "--:--" when unknown.
-- @number s seconds
-- @treturn string
function M.format_time(s)
  if type(s) ~= "number" or s ~= s or s < 0 or s == math.huge then return "--:--" end
  s = math.floor(s + 0.5)
  local h, m, sec = math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%02d:%02d", m, sec)
end

--- Formats a value compactly: integers as such, other numbers with %.4g.
-- @param v number, string, boolean, cdata or anything with __tostring
-- @treturn string
function M.format_value(v)
  if type(v) == "cdata" then v = tonumber(v) or v end
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
    return string.format("%.4g", v)
  end
  return tostring(v)
end

--- Formats a rate: "35.2 it/s", or "2.50 s/it" below one iteration per second.
-- @number rate iterations per second (nil when unknown)
-- @treturn string
function M.format_rate(rate)
  if not rate or rate ~= rate or rate <= 0 or rate == math.huge then return "? it/s" end
  if rate < 1 then return string.format("%.2f s/it", 1 / rate) end
  return string.format("%.1f it/s", rate)
end

local function format_values(values)
  if not values then return nil end
  local keys = {}
  for k in pairs(values) do keys[#keys + 1] = tostring(k) end
  if #keys == 0 then return nil end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local v = values[k]
    if v == nil then v = values[tonumber(k)] end
    parts[i] = k .. "=" .. M.format_value(v)
  end
  return table.concat(parts, " ")
end

local Bar = {}
Bar.__index = Bar

--- A progress bar.
-- @tab[opt] opts
-- @tparam[opt] number opts.total number of iterations (nil: no bar, no percentage, no ETA)
-- @string[opt] opts.desc label in front of the line
-- @number[opt=0.5] opts.every seconds between redraws on a terminal
-- @number[opt=10] opts.every_plain seconds between lines when not on a terminal
-- @param[opt=io.stderr] opts.stream file handle, or any object with `write` (and `flush`)
-- @int[opt=30] opts.width bar width in characters (0: no bar)
-- @tparam[opt] boolean opts.plain force plain (true) or terminal (false) output
-- @number[opt=0] opts.initial count at the start (a resumed run); rates count from here
-- @func[opt] opts.clock function returning seconds (default: monotonic clock)
-- @treturn Bar
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("progress.new: argument 1: expected a table of options, got " .. type(opts), 2)
  end
  local total = opts.total
  if total ~= nil and (type(total) ~= "number" or total < 0 or total ~= total) then
    error("progress.new: total must be a non-negative number or nil, got " .. tostring(total), 2)
  end
  local stream = opts.stream or io.stderr
  if type(stream) ~= "userdata" and (type(stream) ~= "table" or type(stream.write) ~= "function") then
    error("progress.new: stream must be a file or an object with a write method, got " .. type(stream), 2)
  end
  local clock = opts.clock or M.clock
  if type(clock) ~= "function" then
    error("progress.new: clock must be a function, got " .. type(clock), 2)
  end
  for _, k in ipairs { "every", "every_plain", "width", "initial" } do
    if opts[k] ~= nil and type(opts[k]) ~= "number" then
      error("progress.new: " .. k .. " must be a number, got " .. type(opts[k]), 2)
    end
  end
  local now = clock()
  local self = setmetatable({
    total = total,
    desc = opts.desc,
    every = opts.every or 0.5,
    every_plain = opts.every_plain or 10,
    stream = stream,
    width = math.max(0, math.floor(opts.width or 30)),
    clock = clock,
    n = opts.initial or 0,
    n0 = opts.initial or 0,
    start = now,
    last_draw = -math.huge,
    last_plain = now,
    last_len = 0,
    closed = false,
  }, Bar)
  self.mode = M.mode(opts, stream)
  return self
end

--- The text of the progress line at time `now` (without "\r" or newline).
-- @number[opt] now clock reading (default: now)
-- @bool[opt] final the closing line: elapsed time instead of the ETA
-- @treturn string
function Bar:line(now, final)
  now = now or self.clock()
  local parts = {}
  if self.desc and self.desc ~= "" then parts[#parts + 1] = tostring(self.desc) end
  local n, total = self.n, self.total
  local elapsed = now - self.start
  local rate = (elapsed > 0 and n > self.n0) and (n - self.n0) / elapsed or nil
  if total then
    local frac = total > 0 and n / total or 1
    if self.mode == "tty" and self.width > 0 then
      local filled = math.floor(self.width * math.min(math.max(frac, 0), 1))
      parts[#parts + 1] = "[" .. string.rep("#", filled) .. string.rep(".", self.width - filled) .. "]"
    end
    parts[#parts + 1] = M.format_value(n) .. "/" .. M.format_value(total)
    parts[#parts + 1] = string.format("%.1f%%", 100 * frac)
  else
    parts[#parts + 1] = M.format_value(n)
  end
  parts[#parts + 1] = M.format_rate(rate)
  if total and not final then
    parts[#parts + 1] = "ETA " .. (rate and M.format_time(math.max(total - n, 0) / rate) or "--:--")
  else
    parts[#parts + 1] = "elapsed " .. M.format_time(elapsed)
  end
  parts[#parts + 1] = format_values(self.values)
  return table.concat(parts, " ")
end

local function emit(self, s)
  self.stream:write(s)
  if self.stream.flush then self.stream:flush() end
end

-- Seconds between updates of a notebook's bar: at most five a second.
local NOTEBOOK_EVERY = 0.2

-- Draws the bar in its notebook output (made at the first draw, then updated).
local function draw_notebook(self, now, final)
  local display = require "scalespace.display"
  local text = self:line(now, final)
  local bar = self.total and string.format('<progress value="%s" max="%s" style="width:20em"></progress>',
    M.format_value(self.n), M.format_value(self.total)) or '<progress style="width:20em"></progress>'
  local html = '<div style="font-family:monospace">' .. bar .. " " ..
    text:gsub("[&<>]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;" }) .. "</div>"
  local data = { ["text/html"] = html, ["text/plain"] = text }
  self.last_draw = now
  if self.handle then
    self.handle:update(data)
  else
    self.handle = display.mime(data, { display_id = true })
  end
end

-- Draws the line in place on a terminal, padding over the rest of a longer previous line.
local function draw(self, now, final)
  local text = self:line(now, final)
  local pad = self.last_len > #text and string.rep(" ", self.last_len - #text) or ""
  self.last_len = #text
  self.last_draw = now
  emit(self, "\r" .. text .. pad .. (final and "\n" or ""))
end

--- Sets the count of finished iterations (an absolute count) and, optionally, the values shown
-- after the line (they stay until replaced). Redraws when `every` (terminal) or `every_plain`
-- (plain) seconds have passed since the last output.
-- @number n iterations done
-- @tab[opt] values e.g. `{loss = 0.123, lr = 2e-4}`
-- @return self
function Bar:update(n, values)
  if type(n) ~= "number" then
    error("progress: update: argument 1: expected a number, got " .. type(n), 2)
  end
  if self.closed then return self end
  self.n = n
  if values ~= nil then self.values = values end
  if self.mode == "off" then return self end
  local now = self.clock()
  if self.mode == "tty" then
    if now - self.last_draw >= self.every then draw(self, now, false) end
  elseif self.mode == "notebook" then
    if now - self.last_draw >= NOTEBOOK_EVERY then draw_notebook(self, now, false) end
  elseif now - self.last_plain >= self.every_plain then
    self.last_plain = now
    emit(self, self:line(now, false) .. "\n")
  end
  return self
end

--- Advances the count by `k` (default 1); see @{Bar:update}.
-- @number[opt=1] k
-- @tab[opt] values
-- @return self
function Bar:step(k, values)
  if k ~= nil and type(k) ~= "number" then
    error("progress: step: argument 1: expected a number, got " .. type(k), 2)
  end
  return self:update(self.n + (k or 1), values)
end

--- Prints a message line without breaking the bar (on a terminal the bar is redrawn below it).
-- @string text
-- @return self
function Bar:write(text)
  text = tostring(text)
  if self.mode == "tty" and not self.closed and self.last_draw > -math.huge then
    local pad = self.last_len > #text and string.rep(" ", self.last_len - #text) or ""
    emit(self, "\r" .. text .. pad .. "\n")
    self.last_len = 0
    draw(self, self.clock(), false)
  elseif self.mode == "notebook" then -- a message, not progress: the bar stays one output
    io.stdout:write(text, "\n")
    io.stdout:flush()
  else
    emit(self, text .. "\n")
  end
  return self
end

--- Prints the final line (count, rate, elapsed time, values) and a newline. Idempotent.
-- @return self
function Bar:close()
  if self.closed then return self end
  self.closed = true
  if self.mode == "off" then return self end
  local now = self.clock()
  if self.mode == "tty" then
    draw(self, now, true)
  elseif self.mode == "notebook" then
    draw_notebook(self, now, true)
  else
    emit(self, self:line(now, true) .. "\n")
  end
  return self
end

--- The bar's text line (what a REPL or a notebook's Out shows for the bar itself).
function Bar:__tostring() return "progress: " .. self:line(nil, self.closed) end

M.Bar = Bar

return M
