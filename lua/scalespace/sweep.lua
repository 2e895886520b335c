--- scalespace.sweep — measure a function at a list of points, one CSV row per point,
-- resumable: FID against checkpoints × samplers × step counts, or a distance per process
-- and time.
--
--   local rows = ss.sweep.run(points, function(p) return { fd = … } end, {
--     csv = "out/sweep.csv", plot = { path = "out/sweep.png", x = "steps", y = "fd", series = "sampler" } })
--
-- points is a list of tables whose fields (numbers, strings, booleans) name the point; the
-- measure returns a number (column "value") or a table of named numbers and strings (its
-- columns, after the point's). After each point the whole CSV is rewritten atomically
-- (ss.plot.write_csv: a temporary file, fsync, rename), so a run killed at any moment —
-- SIGKILL included — leaves the rows measured so far, and the next run with the same CSV
-- measures only the points the file lacks (a point is found by its fields' CSV text). Rows
-- of the file that are not in the list are kept, after the list's.
--
-- Under MPI (ss.dist initialised with several ranks) the missing points are dealt out in
-- rounds, point j of the round to rank j; every rank measures its point, the results are
-- gathered to rank 0, which alone writes the CSV (after every round, so a kill loses at
-- most one round) and the plot; every rank returns the same rows. Rank 0 reads the file
-- and tells the others what is missing, so the ranks need no shared file system.
local lib = require "scalespace.ffi"
local plot = require "scalespace.plot"
local json = require "scalespace.json"
local progress = require "scalespace.progress"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

local fmt = string.format

-- A point field's text as the CSV holds it (what identifies a point across runs).
local function cell_key(v)
  if type(v) == "number" then return fmt("%.9g", v) end
  return tostring(v)
end

-- The key columns of the points: opts.keys, else every field of every point, sorted.
local function key_columns(points, opts, fname)
  if opts.keys then
    if type(opts.keys) ~= "table" or #opts.keys == 0 then
      raise(fname .. ": option keys must be a non-empty list of field names")
    end
    return opts.keys
  end
  local seen, cols = {}, {}
  for _, p in ipairs(points) do
    for k in pairs(p) do
      if not seen[k] then
        if type(k) ~= "string" then raise(fmt("%s: point fields must be named by strings, got the key %s", fname, tostring(k))) end
        seen[k] = true
        cols[#cols + 1] = k
      end
    end
  end
  table.sort(cols)
  return cols
end

local function point_key(p, keys, fname, i)
  local parts = {}
  for j, k in ipairs(keys) do
    local v = p[k]
    local t = type(v)
    if t ~= "number" and t ~= "string" and t ~= "boolean" then
      raise(fmt("%s: point %d: field %s must be a number, a string or a boolean, got %s", fname, i, k, lib.typename(v)))
    end
    parts[j] = cell_key(v)
  end
  return table.concat(parts, "\0")
end

-- Result values over MPI: numbers as exact text (NaN and infinities included).
local function pack(result)
  local t = {}
  for k, v in pairs(result) do t[k] = type(v) == "number" and { n = fmt("%.17g", v) } or v end
  return t
end
local function unpack_value(v)
  if type(v) ~= "table" then return v end
  local s = v.n
  if s == "inf" then return math.huge elseif s == "-inf" then return -math.huge end
  return tonumber(s) or 0 / 0
end
local function unpack_result(t)
  for k, v in pairs(t) do t[k] = unpack_value(v) end
  return t
end

-- The measure's result as a table of columns.
local function as_result(r, fname, i)
  if type(r) == "number" then return { value = r } end
  if type(r) ~= "table" then
    raise(fmt("%s: the measure of point %d returned %s; return a number or a table of named numbers", fname, i,
      lib.typename(r)))
  end
  for k, v in pairs(r) do
    if type(k) ~= "string" or (type(v) ~= "number" and type(v) ~= "string") then
      raise(fmt("%s: the measure of point %d returned %s = %s; results are named numbers or strings", fname, i,
        tostring(k), lib.typename(v)))
    end
  end
  return r
end

-- Reads an existing CSV (rank 0): columns, rows as tables by column name, keyed.
local function read_existing(path, keys, fname)
  if not lib.file_exists(path) then return nil end
  local columns, rows = plot.read_csv(path)
  for j, k in ipairs(keys) do
    if columns[j] ~= k then
      raise(fmt("%s: %s has columns %s; this sweep's points are named by %s (a different sweep? use another csv)",
        fname, path, table.concat(columns, ", "), table.concat(keys, ", ")))
    end
  end
  local by_key, order = {}, {}
  for _, r in ipairs(rows) do
    local t = {}
    for j, c in ipairs(columns) do t[c] = r[j] end
    local key = point_key(t, keys, fname, 0)
    if not by_key[key] then order[#order + 1] = key end
    by_key[key] = t
  end
  return { columns = columns, by_key = by_key, order = order }
end

local function draw(rows, opts, columns)
  local p = opts.plot
  if not p or not plot.available() then return nil end
  local groups, names = {}, {}
  for _, r in ipairs(rows) do
    local g = p.series and tostring(r[p.series]) or (p.y)
    if not groups[g] then
      groups[g] = { x = {}, y = {}, title = g }
      names[#names + 1] = g
    end
    local s = groups[g]
    s.x[#s.x + 1], s.y[#s.y + 1] = r[p.x or columns[1]], r[p.y]
  end
  local series = {}
  for i, g in ipairs(names) do series[i] = groups[g] end
  local o = { series = series }
  for k, v in pairs(p) do
    if k ~= "path" and k ~= "x" and k ~= "y" and k ~= "series" then o[k] = v end
  end
  o.xlabel = o.xlabel or p.x or columns[1]
  o.ylabel = o.ylabel or p.y
  return plot.lines(p.path, o)
end

local function dist_world()
  local ok, dist = pcall(require, "scalespace.dist")
  if ok and dist.initialized() and dist.size() > 1 then return dist end
  return nil
end

--- Measures measure(point, i) at every point not yet in opts.csv and writes the rows.
-- opts: csv (the file; required), keys (the point fields that name a point; default all,
-- sorted), columns (the result columns in order; default the first result's, sorted),
-- plot = {path=, x= (a column; default the first), y= (a result column), series= (a
-- column whose values make one line each), and ss.plot.lines options (logx, title, …)},
-- progress (false: no bar), desc (its label), dist (false: run on this rank alone even
-- under MPI). Returns the rows (tables by column name, the list's points first, in order)
-- and {measured=, skipped=, csv=, plot=}.
function M.run(points, measure, opts)
  local fname = "sweep.run"
  if type(points) ~= "table" or #points == 0 then arg_error(fname, 1, "a non-empty list of points (tables)", points) end
  if type(measure) ~= "function" then arg_error(fname, 2, "a function(point, i) returning results", measure) end
  if type(opts) ~= "table" or type(opts.csv) ~= "string" then
    arg_error(fname, 3, "an options table with csv = a file path", opts)
  end
  for i, p in ipairs(points) do
    if type(p) ~= "table" then raise(fmt("%s: point %d is %s, not a table", fname, i, lib.typename(p))) end
  end
  local keys = key_columns(points, opts, fname)
  local key_of, index_of = {}, {}
  for i, p in ipairs(points) do
    local k = point_key(p, keys, fname, i)
    if index_of[k] then raise(fmt("%s: points %d and %d have the same fields", fname, index_of[k], i)) end
    key_of[i], index_of[k] = k, i
  end
  local dist = opts.dist ~= false and dist_world() or nil
  local rank, size = dist and dist.rank() or 0, dist and dist.size() or 1

  -- Rank 0 reads what is there; every rank learns which points are missing.
  local existing, missing = nil, {}
  if rank == 0 then
    existing = read_existing(opts.csv, keys, fname)
    for i = 1, #points do
      if not (existing and existing.by_key[key_of[i]]) then missing[#missing + 1] = i end
    end
  end
  if dist then missing = json.decode(dist.broadcast_string(rank == 0 and json.encode(missing) or nil), fname) end

  local results = {} -- point index -> result table (rank 0)
  local columns = opts.columns or (existing and { unpack(existing.columns, #keys + 1) }) or nil
  local function write()
    local rows = {}
    for i = 1, #points do
      local r = results[i] or (existing and existing.by_key[key_of[i]])
      if r then
        local row = {}
        for j, k in ipairs(keys) do
          local v = points[i][k]
          row[j] = type(v) == "boolean" and tostring(v) or v
        end
        for j, c in ipairs(columns) do row[#keys + j] = r[c] == nil and 0 / 0 or r[c] end
        rows[#rows + 1] = row
      end
    end
    for _, k in ipairs(existing and existing.order or {}) do
      if not index_of[k] then
        local r, row = existing.by_key[k], {}
        for j, c in ipairs(keys) do row[j] = r[c] end
        for j, c in ipairs(columns) do row[#keys + j] = r[c] == nil and 0 / 0 or r[c] end
        rows[#rows + 1] = row
      end
    end
    local header = {}
    for j, k in ipairs(keys) do header[j] = k end
    for j, c in ipairs(columns) do header[#keys + j] = c end
    plot.write_csv(opts.csv, header, rows)
  end
  local function record(i, r)
    if not columns then
      columns = {}
      for c in pairs(r) do columns[#columns + 1] = c end
      table.sort(columns)
    end
    local known = {}
    for _, c in ipairs(columns) do known[c] = true end
    for c in pairs(r) do
      if not known[c] then
        raise(fmt("%s: the measure of point %d returned %s, which is not a column of %s (%s)", fname, i, c, opts.csv,
          table.concat(columns, ", ")))
      end
    end
    results[i] = r
  end

  local bar = rank == 0 and opts.progress ~= false and #missing > 0
      and progress.new { total = #missing, desc = opts.desc or "sweep" } or nil
  local rounds = math.ceil(#missing / size)
  for round = 0, rounds - 1 do
    local j = round * size + rank + 1
    local mine = missing[j] and as_result(measure(points[missing[j]], missing[j]), fname, missing[j]) or nil
    if dist then
      local got = dist.gather(mine and json.encode(pack(mine)) or "", 0)
      if rank == 0 then
        for r = 0, size - 1 do
          local k = round * size + r + 1
          if missing[k] and got[r + 1] ~= "" then
            record(missing[k], unpack_result(json.decode(got[r + 1], fname)))
          end
        end
      end
    elseif mine then
      record(missing[j], mine)
    end
    if rank == 0 then
      write()
      if bar then bar:update(math.min((round + 1) * size, #missing)) end
    end
  end
  if bar then bar:close() end

  -- Every rank returns the same rows.
  local rows
  if rank == 0 then
    local cols, data = plot.read_csv(opts.csv)
    rows = {}
    for _, r in ipairs(data) do
      local t = {}
      for j, c in ipairs(cols) do t[c] = r[j] end
      rows[#rows + 1] = t
    end
  end
  local info = { measured = #missing, skipped = #points - #missing, csv = opts.csv }
  if rank == 0 then info.plot = draw(rows, opts, keys) end
  if dist then
    local packed = {}
    for i, r in ipairs(rows or {}) do packed[i] = pack(r) end
    rows = json.decode(dist.broadcast_string(rank == 0 and json.encode(packed) or nil), fname)
    for _, r in ipairs(rows) do unpack_result(r) end
  end
  return rows, info
end

return M
