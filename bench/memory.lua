-- bench/memory.lua — what making tensors costs a script: 10 000 tensors of
-- 16x3x64x64 made in a loop (empty, and empty + fill(0)), each loop in a fresh
-- process, reporting the time per tensor, the peak resident memory and the blocks the
-- allocator took from the system; PyTorch's torch.empty (+ fill_) in the same run.
-- Then the start-up of this build: `scalespace -e 'print(1)'`, median wall time and
-- peak resident memory over 21 runs, beside plain LuaJIT's.
-- usage: scalespace bench/memory.lua [--exe PATH: time another build's scalespace]
local ss = require "scalespace"
local bench = require "scalespace.bench"

local exe = arg and arg[-1] or "scalespace" -- the interpreter running this bench
if arg and arg[1] == "--exe" then exe = arg[2] end
local N = 10000

local function load_average()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("*l") or ""
  if f then f:close() end
  return tonumber(s:match("^(%S+)"))
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

-- the loop in a fresh process: prints us per tensor, VmHWM (kB) and the allocator's counters
local loop = [[
local ss = require "scalespace"
local bench = require "scalespace.bench"
local fill = %s
local m0 = ss.memory and ss.memory() or {} -- a build before the block cache has no ss.memory
local t0 = bench.now()
for i = 1, %d do
  local t = ss.empty { 16, 3, 64, 64 }
  if fill then t:fill(0) end
end
local secs = bench.now() - t0
local m1 = ss.memory and ss.memory() or {}
local hwm
for l in io.lines("/proc/self/status") do hwm = hwm or tonumber(l:match("^VmHWM:%%s+(%%d+)")) end
print(string.format("us=%%.3f hwm_kb=%%d system_allocs=%%s reused=%%s", secs / %d * 1e6, hwm,
  m1.system_allocs and m1.system_allocs - m0.system_allocs, m1.reused and m1.reused - m0.reused))
]]
local python = os.getenv("SS_PYTHON") or "/usr/bin/python3"
local peer_loop = [[
import resource, time, torch
torch.set_num_threads(%d)
t0 = time.perf_counter()
for i in range(%d):
    t = torch.empty(16, 3, 64, 64)
    if %s: t.fill_(0)
secs = time.perf_counter() - t0
print("us=%%.3f hwm_kb=%%d" %% (secs / %d * 1e6, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
]]

local function fields(s)
  local row = {}
  for k, v in s:gmatch("([%w_]+)=(%S+)") do row[k] = tonumber(v) or v end
  return row
end

for _, fill in ipairs { false, true } do
  local script = os.tmpname()
  local fh = assert(io.open(script, "w"))
  fh:write(string.format(loop, tostring(fill), N, N))
  fh:close()
  local ours = fields(run(exe .. " " .. script))
  os.remove(script)
  local pscript = os.tmpname()
  fh = assert(io.open(pscript, "w"))
  fh:write(string.format(peer_loop, ss.num_threads(), N, fill and "True" or "False", N))
  fh:close()
  local peer = fields(run(python .. " " .. pscript))
  os.remove(pscript)
  bench.emit { bench = "memory", case = string.format("loop_%d_empty%s_16x3x64x64", N, fill and "_fill0" or ""),
    exe = exe, threads = ss.num_threads(), us_per_tensor = ours.us, peak_rss_mb = ours.hwm_kb and ours.hwm_kb / 1024,
    system_allocs = ours.system_allocs, reused = ours.reused, peer = peer.us and "torch" or "none",
    peer_us_per_tensor = peer.us, peer_peak_rss_mb = peer.hwm_kb and peer.hwm_kb / 1024, loadavg = load_average() }
end

-- start-up: wall time of the whole command (a shell's fork+exec included, as for the
-- baseline `true`) and the peak resident memory from /usr/bin/time
local function startup(cmd)
  local t = bench.times(function() os.execute(cmd .. " >/dev/null 2>&1") end, 21, 2)
  local p = io.popen("/usr/bin/time -f 'rss_kb=%M' " .. cmd .. " 2>&1 >/dev/null")
  local rss = tonumber(p:read("*a"):match("rss_kb=(%d+)"))
  p:close()
  return t, rss
end
local base = startup("true")
local exe_cuda = run(exe .. [[ -e 'io.write(tostring(require("scalespace").has_cuda()))']]) == "true"
for _, c in ipairs { { "scalespace_print1", exe .. " -e 'print(1)'", exe_cuda }, { "luajit_print1", "luajit -e 'print(1)'" } } do
  local t, rss = startup(c[2])
  bench.emit { bench = "memory", case = c[1], exe = c[1] == "scalespace_print1" and exe or "luajit", cuda_build = c[3], median_ms = t.median * 1e3,
    p25_ms = t.p25 * 1e3, p75_ms = t.p75 * 1e3, shell_baseline_ms = base.median * 1e3, peak_rss_mb = rss and rss / 1024,
    goal_ms = c[1] == "scalespace_print1" and 50 or nil, goal_rss_mb = c[1] == "scalespace_print1" and 20 or nil,
    loadavg = load_average() }
end
