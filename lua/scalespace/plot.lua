--- scalespace.plot — CSV files of results and line plots (PNG) drawn by gnuplot.
--
--     local plot = require("scalespace").plot
--     plot.write_csv("out/loss.csv", { "step", "ddpm", "heat" }, rows)
--     plot.lines("out/loss.png", { csv = "out/loss.csv", x = "step", y = { "ddpm", "heat" },
--                                  logy = true, ylabel = "loss" })
--
-- Files are written under a temporary name and renamed into place, so a crash never leaves
-- half a file. gnuplot (Debian: gnuplot-nox) is run as a separate program; see @{available}.
-- @module scalespace.plot
local lib = require "scalespace.ffi"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

local fmt = string.format
local nan = 0 / 0

-- Non-finite numbers are written as nan/inf/-inf ("%.9g" may print "-nan").
local function number_text(v)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  return fmt("%.9g", v)
end

-- A CSV field as a number when it reads as one (nan and inf included), else nil.
local function to_number(s)
  local v = tonumber(s)
  if v then return v end
  local w = s:lower():match("^%s*([+-]?%a+)%s*$")
  if w == "nan" or w == "+nan" or w == "-nan" then return nan end
  if w == "inf" or w == "+inf" or w == "infinity" or w == "+infinity" then return math.huge end
  if w == "-inf" or w == "-infinity" then return -math.huge end
end

-- A string field, quoted (RFC 4180) when it holds a separator, a quote or a line break, is
-- empty, or would read back as a number: every cell then round-trips with its type.
local function string_text(s)
  if s == "" or s:find('[,"\r\n]') or to_number(s) then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

local function cell_text(v, path, r, name)
  if type(v) == "cdata" then v = tonumber(v) or v end -- int64 counters and the like
  if type(v) == "number" then return number_text(v) end
  if type(v) == "string" then return string_text(v) end
  raise(fmt("plot.write_csv: %s: row %d, column '%s': expected a number or a string, got %s",
    path, r, name, lib.typename(v)))
end

-- Rows from the series form { name = {values...}, ... } (one list per column, equal lengths).
local function series_rows(path, columns, series)
  local rows, n = {}, nil
  for j, name in ipairs(columns) do
    local list = series[name]
    if type(list) ~= "table" then
      raise(fmt("plot.write_csv: %s: no list of values for column '%s'", path, name))
    end
    n = n or #list
    if #list ~= n then
      raise(fmt("plot.write_csv: %s: column '%s' has %d values, column '%s' has %d",
        path, name, #list, columns[1], n))
    end
    for i = 1, n do
      rows[i] = rows[i] or {}
      rows[i][j] = list[i]
    end
  end
  return rows
end

--- Writes a CSV file with a header line, atomically (a temporary file, flushed to disk and
-- renamed over path: a kill leaves the old file or the new one; C: ss_file_write_atomic).
-- Numbers are written with "%.9g" (nan, inf, -inf when not finite), strings quoted when needed.
-- @string path the file
-- @tparam {string,...} columns column names
-- @tparam table data a list of rows, each a list of numbers/strings in column order; or the
--   series form, a table mapping each column name to its list of values
-- @treturn string path
function M.write_csv(path, columns, data)
  if type(path) ~= "string" then arg_error("plot.write_csv", 1, "a file path", path) end
  if type(columns) ~= "table" or #columns == 0 then
    arg_error("plot.write_csv", 2, "a non-empty list of column names", columns)
  end
  if type(data) ~= "table" then arg_error("plot.write_csv", 3, "a list of rows or a table of columns", data) end
  local names = {}
  for j, name in ipairs(columns) do
    if type(name) ~= "string" then
      raise(fmt("plot.write_csv: %s: column %d: expected a string name, got %s", path, j, lib.typename(name)))
    end
    names[j] = string_text(name)
  end
  if #data == 0 and next(data) ~= nil then data = series_rows(path, columns, data) end
  -- Everything is formatted before the file is opened: a bad row creates no file at all.
  local lines = { table.concat(names, ",") }
  for r, row in ipairs(data) do
    if type(row) ~= "table" then
      raise(fmt("plot.write_csv: %s: row %d: expected a table, got %s", path, r, lib.typename(row)))
    end
    if #row ~= #columns then
      raise(fmt("plot.write_csv: %s: row %d has %d cells, expected %d (%s)",
        path, r, #row, #columns, table.concat(columns, ", ")))
    end
    local cells = {}
    for j, name in ipairs(columns) do cells[j] = cell_text(row[j], path, r, name) end
    lines[#lines + 1] = table.concat(cells, ",")
  end
  lines[#lines + 1] = ""
  local text = table.concat(lines, "\n")
  if lib.C.ss_file_write_atomic(path, text, #text) < 0 then raise("plot.write_csv: " .. lib.last_error()) end
  return path
end

--- Reads a CSV file written by @{write_csv} (or any RFC 4180 file with a header line).
-- Unquoted fields that read as numbers become numbers; quoted fields stay strings.
-- @string path
-- @treturn {string,...} the column names
-- @treturn {{...},...} the rows, lists in column order
function M.read_csv(path)
  if type(path) ~= "string" then arg_error("plot.read_csv", 1, "a file path", path) end
  local f, err = io.open(path, "rb")
  if not f then raise("plot.read_csv: cannot open " .. err) end
  local text = f:read("*a")
  f:close()
  local records, rec, pos, n = {}, {}, 1, #text
  while pos <= n do
    local field
    if text:sub(pos, pos) == '"' then
      local parts = {}
      pos = pos + 1
      while true do
        local q = text:find('"', pos, true)
        if not q then raise(fmt("plot.read_csv: %s: unterminated quoted field in row %d", path, #records)) end
        parts[#parts + 1] = text:sub(pos, q - 1)
        pos = q + 1
        if text:sub(pos, pos) ~= '"' then break end
        parts[#parts + 1] = '"' -- a doubled quote
        pos = pos + 1
      end
      field = table.concat(parts)
    else
      local e = text:find("[,\r\n]", pos) or n + 1
      field = text:sub(pos, e - 1)
      field = to_number(field) or field
      pos = e
    end
    rec[#rec + 1] = field
    local sep = text:sub(pos, pos)
    if sep == "," then
      pos = pos + 1
    elseif sep == "\r" or sep == "\n" or sep == "" then
      if not (#rec == 1 and rec[1] == "") then records[#records + 1] = rec end -- skip blank lines
      rec = {}
      pos = pos + (text:sub(pos, pos + 1) == "\r\n" and 2 or 1)
    else
      raise(fmt("plot.read_csv: %s: text after a quoted field in row %d", path, #records))
    end
  end
  local columns = table.remove(records, 1)
  if not columns then raise("plot.read_csv: " .. path .. ": empty file (no header line)") end
  for r, row in ipairs(records) do
    if #row ~= #columns then
      raise(fmt("plot.read_csv: %s: row %d has %d fields, expected %d", path, r, #row, #columns))
    end
  end
  for j, name in ipairs(columns) do columns[j] = tostring(name) end
  return columns, records
end

-- Shell and gnuplot single-quoted strings: neither interprets anything inside.
local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function gp_quote(s) return "'" .. tostring(s):gsub("[\r\n]", " "):gsub("'", "''") .. "'" end

-- Runs a shell command, returning its combined output and exit code. LuaJIT's popen:close()
-- does not report the status (without 5.2 compatibility), so the shell echoes it last.
local function run(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit $?\"")
  local out = p:read("*a")
  p:close()
  local body, code = out:match("^(.-)exit (%d+)%s*$")
  return body or out, tonumber(code) or -1
end

--- Whether gnuplot can be run.
-- @string[opt="gnuplot"] exe the executable (a name on PATH or a path)
-- @treturn boolean
function M.available(exe)
  local _, code = run(shell_quote(exe or "gnuplot") .. " --version")
  return code == 0
end

local NOT_FOUND = "plot.lines: gnuplot not found; `make run` installs it (apt-get install gnuplot-nox)"

-- The series of `opts.csv`: x column `opts.x` (default the first), y columns `opts.y` (default
-- all others); cells that are not numbers become gaps.
local function csv_series(opts)
  local columns, rows = M.read_csv(opts.csv)
  local index = {}
  for j, name in ipairs(columns) do index[name] = j end
  local function col(name)
    local j = index[name]
    if not j then
      raise(fmt("plot.lines: %s has no column '%s' (columns: %s)", opts.csv, tostring(name),
        table.concat(columns, ", ")))
    end
    return j
  end
  local xj = col(opts.x or columns[1])
  local ys = opts.y
  if type(ys) == "string" then ys = { ys } end
  if ys == nil then
    ys = {}
    for j, name in ipairs(columns) do if j ~= xj then ys[#ys + 1] = name end end
  end
  local series = {}
  for k, name in ipairs(ys) do
    local yj, x, y = col(name), {}, {}
    for i, row in ipairs(rows) do
      x[i] = type(row[xj]) == "number" and row[xj] or nan
      y[i] = type(row[yj]) == "number" and row[yj] or nan
    end
    series[k] = { x = x, y = y, title = name }
  end
  return series
end

-- The gnuplot script: PNG terminal, labels, axes, one `plot` clause per block of `data`.
local function script(opts, series, data, out)
  local s = {}
  local function add(...) s[#s + 1] = fmt(...) end
  -- pngcairo draws anti-aliased lines; the libgd png terminal is the fallback.
  -- noenhanced: "train_loss" is a name, not train with subscript l.
  local size = fmt("size %d,%d noenhanced", opts.width or 800, opts.height or 500)
  add('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo %s } else { set terminal png %s }',
    size, size)
  add("set output %s", gp_quote(out))
  add("set grid")
  add("set key %s", opts.key or "top right")
  if opts.title then add("set title %s", gp_quote(opts.title)) end
  if opts.xlabel then add("set xlabel %s", gp_quote(opts.xlabel)) end
  if opts.ylabel then add("set ylabel %s", gp_quote(opts.ylabel)) end
  if opts.logx then add("set logscale x") end
  if opts.logy then add("set logscale y") end
  if opts.note then add("set label 1 %s at graph 0.02, graph 0.95 left front", gp_quote(opts.note)) end
  local clauses = {}
  for i, ser in ipairs(series) do
    clauses[i] = fmt("%s index %d using 1:2 with lines lw 2 dt %d %s", i == 1 and gp_quote(data) or "''", i - 1,
      math.floor(tonumber(ser.dash) or 1), ser.title and "title " .. gp_quote(ser.title) or "notitle")
  end
  add("plot %s", table.concat(clauses, ", \\\n     "))
  return table.concat(s, "\n") .. "\n"
end

-- Writes a whole file; nil and a message on failure.
local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, "cannot open " .. err end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not (ok and closed) then return nil, path .. ": write failed: " .. tostring(werr or cerr) end
  return true
end

--- Draws a line plot to a PNG with gnuplot (written under a temporary name, then renamed).
-- @string path the PNG file
-- @tab opts
-- @tparam[opt] {table,...} opts.series list of `{x = {...}, y = {...}, title = "DDPM"}`
--   (optional `dash`: gnuplot's dash type, 1 solid, 2 dashed, 3 dotted, …)
--   (x defaults to 1..#y; non-numbers and NaN are gaps)
-- @string[opt] opts.csv instead of series: a CSV file from @{write_csv}, with `opts.x` (a column
--   name, default the first column) and `opts.y` (a list of column names, default all others)
-- @string[opt] opts.title
-- @string[opt] opts.xlabel
-- @string[opt] opts.ylabel
-- @bool[opt] opts.logx logarithmic x axis (points with x <= 0 are dropped)
-- @bool[opt] opts.logy logarithmic y axis (points with y <= 0 are dropped)
-- @int[opt=800] opts.width
-- @int[opt=500] opts.height
-- @string[opt] opts.note a line of text drawn at the top left of the plot
-- @string[opt="top right"] opts.key where gnuplot puts the legend ("bottom left", "outside right", …)
-- @bool[opt] opts.keep_script keep `<path without .png>.gp` and its `.dat` next to the PNG
--   (`gnuplot fig.gp`, run from the same directory as the script that drew it, redraws fig.png)
-- @string[opt="gnuplot"] opts.gnuplot the gnuplot executable
-- @bool[opt] opts.display in a Jupyter notebook, show the figure inline (default: when
--   called from the notebook's own code, not from a library module such as ss.train)
-- @treturn string path
function M.lines(path, opts)
  if type(path) ~= "string" then arg_error("plot.lines", 1, "a file path", path) end
  if type(opts) ~= "table" then arg_error("plot.lines", 2, "a table of options", opts) end
  for _, k in ipairs { "width", "height" } do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 1 or v ~= math.floor(v)) then
      raise(fmt("plot.lines: %s must be a positive integer, got %s", k, tostring(v)))
    end
  end
  local series = opts.series
  if (series == nil) == (opts.csv == nil) then raise("plot.lines: give exactly one of opts.series and opts.csv") end
  if opts.csv then
    series = csv_series(opts)
  elseif type(series) ~= "table" or #series == 0 then
    raise("plot.lines: opts.series must be a non-empty list of {x = {...}, y = {...}, title = ...}")
  end

  -- The data file: one block per series, separated by two blank lines (gnuplot's `index`).
  -- Points a log axis cannot show are written as NaN, which gnuplot leaves out as a gap.
  local blocks, points = {}, 0
  for i, ser in ipairs(series) do
    local x, y = type(ser) == "table" and ser.x, type(ser) == "table" and ser.y
    if type(y) ~= "table" or (x and type(x) ~= "table") then
      raise(fmt("plot.lines: series %d: expected {x = {...}, y = {...}}", i))
    end
    if x and #x ~= #y then raise(fmt("plot.lines: series %d: %d x values but %d y values", i, #x, #y)) end
    local b = {}
    for k = 1, #y do
      local xv, yv = x and x[k] or k, y[k]
      xv = type(xv) == "number" and xv or nan
      yv = type(yv) == "number" and yv or nan
      if (opts.logx and not (xv > 0)) or (opts.logy and not (yv > 0)) then xv, yv = nan, nan end
      if xv == xv and yv == yv and math.abs(xv) ~= math.huge and math.abs(yv) ~= math.huge then
        points = points + 1
        b[k] = fmt("%.9g %.9g", xv, yv)
      else
        b[k] = "NaN NaN"
      end
    end
    -- An empty block would end the file early for `index`; one gap point keeps its place.
    blocks[i] = #b > 0 and table.concat(b, "\n") or "NaN NaN"
  end
  if points == 0 then raise("plot.lines: " .. path .. ": no finite points to plot") end

  -- Temporary files go whatever happens; the kept script and its data stay.
  local base = path:gsub("%.png$", "")
  local data = opts.keep_script and base .. ".dat" or os.tmpname()
  local gp, out = os.tmpname(), path .. ".tmp"
  local temps = { gp, out, not opts.keep_script and data or nil }
  local function cleanup() for _, f in pairs(temps) do os.remove(f) end end
  local function fail(msg)
    cleanup()
    raise(msg)
  end
  local ok, err = write_file(data, table.concat(blocks, "\n\n\n") .. "\n")
  if ok then ok, err = write_file(gp, script(opts, series, data, out)) end
  if ok and opts.keep_script then ok, err = write_file(base .. ".gp", script(opts, series, data, path)) end
  if not ok then fail("plot.lines: " .. err) end

  local output, code = run(shell_quote(opts.gnuplot or "gnuplot") .. " " .. shell_quote(gp))
  if code == 126 or code == 127 then fail(NOT_FOUND) end -- the shell could not run it
  if code ~= 0 then fail("plot.lines: gnuplot failed for " .. path .. ":\n" .. output:gsub("%s+$", "")) end
  local renamed, rerr = os.rename(out, path)
  if not renamed then fail("plot.lines: cannot rename to " .. path .. ": " .. tostring(rerr)) end
  temps[2] = nil -- now the PNG itself
  cleanup()
  require("scalespace.display").figure(path, opts.display)
  return path
end

return M
