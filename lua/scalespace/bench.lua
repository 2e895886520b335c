--- scalespace.bench — timing helpers for bench/*.lua: a monotonic clock, the
-- median of repeated runs, JSON lines, and running a Python peer in the same run.
local ffi = require "ffi"

local M = {}

pcall(ffi.cdef, [[
typedef struct ss_timespec { long tv_sec; long tv_nsec; } ss_timespec;
int clock_gettime(int clk_id, ss_timespec *tp);
]])
local ts = ffi.new("ss_timespec")

--- Seconds on the monotonic clock.
function M.now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

--- Wall times in seconds of fn() over `reps` runs after `warmup` runs: the median and
-- the spread, {median =, p25 =, p75 =, min =, max =}.
function M.times(fn, reps, warmup)
  for _ = 1, warmup or 2 do fn() end
  local times = {}
  for i = 1, reps or 11 do
    local t0 = M.now()
    fn()
    times[i] = M.now() - t0
  end
  table.sort(times)
  local function at(q) return times[math.floor(q * (#times - 1) + 0.5) + 1] end
  return { median = times[math.floor((#times + 1) / 2)], p25 = at(0.25), p75 = at(0.75), min = times[1],
    max = times[#times] }
end

--- Median wall time in seconds of fn() over `reps` runs after `warmup` runs.
function M.median(fn, reps, warmup) return M.times(fn, reps, warmup).median end

local json = require "scalespace.json"

--- A record as one JSON line's text (keys sorted, so lines diff well; 6 significant digits).
function M.encode(v) return json.encode(v, { digits = 6 }) end

--- Prints one JSON object on a line (keys sorted, so lines diff well).
function M.emit(record)
  io.write(M.encode(record), "\n")
  io.flush()
end

--- Runs a Python peer script with Debian's python3 (or $SS_PYTHON) and returns its
-- `key=value` output lines as tables, or nil and the output when no line came back
-- (Python or the peer library missing: the bench then reports our side alone).
function M.python(script, args)
  local python = os.getenv("SS_PYTHON") or "/usr/bin/python3"
  local p = io.popen(python .. " " .. script .. " " .. table.concat(args or {}, " ") .. " 2>&1")
  local out = p:read("*a")
  p:close()
  local rows = {}
  for line in out:gmatch("[^\n]+") do
    local row = {}
    for k, v in line:gmatch("([%w_]+)=(%S+)") do row[k] = tonumber(v) or v end
    if next(row) then rows[#rows + 1] = row end
  end
  if #rows == 0 then return nil, out end
  return rows
end

--- A CPU tensor's float32 values written to a new temporary file (for a peer to read
-- with numpy.fromfile); returns its path. The caller removes it.
function M.dump_raw(t)
  local path = os.tmpname()
  local fh = assert(io.open(path, "wb"))
  fh:write(ffi.string(t.p.data, t:numel() * 4))
  fh:close()
  return path
end

return M
