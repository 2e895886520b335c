-- bench/common.lua — what the UNet benches (unet_train.lua, sampling.lua, conv.lua) share:
-- medians of wall and process CPU time, the load average, rounds that alternate our runs
-- with the PyTorch peer's (so both see the same load), and the convolution and sgemm
-- rates printed beside the end-to-end times. Loaded with dofile, not part of the library.
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"

local M = {}

--- Median wall and process CPU milliseconds (all threads' CPU time: steadier than wall
-- time when other processes share the cores) of fn() over reps runs after warmup runs.
function M.medians(fn, reps, warmup)
  for _ = 1, warmup or 1 do fn() end
  local wall, cpu = {}, {}
  for i = 1, reps do
    local t0, c0 = bench.now(), os.clock()
    fn()
    wall[i], cpu[i] = (bench.now() - t0) * 1e3, (os.clock() - c0) * 1e3
  end
  table.sort(wall)
  table.sort(cpu)
  local mid = math.floor((reps + 1) / 2)
  return wall[mid], cpu[mid]
end

--- The 1-minute load average, a number (nil where /proc is missing).
function M.load()
  local f = io.open("/proc/loadavg")
  if not f then return nil end
  local v = tonumber((f:read("*l") or ""):match("^(%S+)"))
  f:close()
  return v
end

--- Median, min and max of a list of numbers.
function M.stats(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  return s[math.floor((#s + 1) / 2)], s[1], s[#s]
end

--- rounds × (the peer script once, then ours) — each side's per-round medians, so both
-- see the same load. peer(): a row table {median_ms=, cpu_ms=, ...} per case, keyed by
-- case, or nil; ours(): wall ms, cpu ms. Returns ours = {wall = {...}, cpu = {...}} and
-- peers = {case = {wall = {...}, cpu = {...}}}, loads = {...}.
function M.interleave(rounds, peer, ours)
  local mine, theirs, loads = { wall = {}, cpu = {} }, {}, {}
  for r = 1, rounds do
    loads[#loads + 1] = M.load()
    for case, row in pairs(peer() or {}) do
      theirs[case] = theirs[case] or { wall = {}, cpu = {} }
      theirs[case].wall[r], theirs[case].cpu[r] = row.median_ms, row.cpu_ms
    end
    mine.wall[r], mine.cpu[r] = ours()
  end
  loads[#loads + 1] = M.load()
  return mine, theirs, loads
end

--- The peer script's rows keyed by case (nil and a note on stderr without Python/torch).
function M.peer_rows(script, args, who)
  local rows, why = bench.python(script, args)
  if not rows then
    io.stderr:write(who, ": no peer timings (python3-torch?): ", why or "", "\n")
    return nil
  end
  local out = {}
  for _, row in ipairs(rows) do out[row.case] = row end
  return out
end

pcall(ffi.cdef, "char *openblas_get_corename(void);")

--- What runs the products: OpenBLAS's kernel name (the environment as found: this never
-- sets OPENBLAS_CORETYPE) and the CPU convolution path.
function M.kernels()
  return ffi.string(ss.C.openblas_get_corename()), ffi.string(ss.C.ss_conv2d_cpu_path())
end

--- GFLOP/s of a 3x3 convolution's forward + backward (nn.Conv2d, batch 32, c→c channels
-- at hw x hw: 3·2·32·c²·9·hw² flops) and wall ms; and of a 1024² sgemm (ss_bmm).
function M.conv_rate(g, c, hw)
  local x, gy = g:normal { 32, c, hw, hw }, g:normal { 32, c, hw, hw }
  local conv = ss.nn.Conv2d(c, c, 3, { rng = g })
  local ms = bench.median(function() conv:backward(x, gy, conv:forward(x)) end, 11, 2) * 1e3
  return 3 * 2 * 32 * c * c * 9 * hw * hw / ms * 1e-6, ms
end

function M.sgemm_rate(g)
  local n = 1024
  local a, b, c = g:normal { n, n }, g:normal { n, n }, ss.empty { n, n }
  local ms = bench.median(function() ss.check(ss.C.ss_bmm(c.p, a.p, b.p, 0, 0, 1, 0)) end, 11, 2) * 1e3
  return 2 * n ^ 3 / ms * 1e-6, ms
end

return M
