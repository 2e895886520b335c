-- bench/threads.lua — does a second thread help what users run? `make run`'s Fig. 4a
-- (examples/scale_spaces.lua: Fashion-MNIST, 5 processes, 21 times) with
-- SS_NUM_THREADS=1 and 2, each run a fresh process, the two interleaved and repeated
-- so both see the same load. The environment is left as it is; the OpenBLAS kernel
-- in use, OPENBLAS_CORETYPE and the load average are printed with the figures.
-- usage: scalespace bench/threads.lua [--limit N (default 2000 images)] [--reps R (3)]
--        [--exe PATH: run the figure with another build's scalespace, e.g. a baseline]
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"

local limit, reps, exe = 2000, 3, arg and arg[-1] or "scalespace"
local i = 1
while arg and arg[i] do
  if arg[i] == "--limit" then limit, i = tonumber(arg[i + 1]), i + 1
  elseif arg[i] == "--reps" then reps, i = tonumber(arg[i + 1]), i + 1
  elseif arg[i] == "--exe" then exe, i = arg[i + 1], i + 1
  else error("unknown option " .. arg[i] .. " (--limit N, --reps R, --exe PATH)") end
  i = i + 1
end

pcall(ffi.cdef, "char *openblas_get_corename(void); char *openblas_get_config(void);")
local function c_string(fn)
  local ok, s = pcall(function() return ffi.string(ss.C[fn]()) end)
  return ok and s or "unknown"
end
local corename, config = c_string("openblas_get_corename"), c_string("openblas_get_config")

local function load_average()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("*l") or ""
  if f then f:close() end
  return tonumber(s:match("^(%S+)"))
end

-- Fig. 4a's own time (the variance curves), and the whole process's wall time
local function fig4a(threads)
  local out = os.tmpname()
  os.remove(out)
  local t0 = bench.now()
  local p = io.popen(string.format("SS_NUM_THREADS=%d %s examples/scale_spaces.lua %s --limit %d --photos 1 2>&1",
    threads, exe, out, limit))
  local text = p:read("*a")
  p:close()
  local wall = bench.now() - t0
  os.execute("rm -rf " .. out)
  local secs = tonumber(text:match("fashion: Fig%. 4a over %d+ images, %d+ processes at %d+ times in ([%d%.]+) s"))
  if not secs then error("bench/threads: Fig. 4a did not finish:\n" .. text) end
  return secs, wall
end

local runs = { [1] = {}, [2] = {} }
local load0 = load_average()
for r = 1, reps do
  for _, threads in ipairs(r % 2 == 1 and { 1, 2 } or { 2, 1 }) do
    local secs, wall = fig4a(threads)
    runs[threads][#runs[threads] + 1] = { secs = secs, wall = wall }
  end
end
local function median(list, key)
  local v = {}
  for k, x in ipairs(list) do v[k] = x[key] end
  table.sort(v)
  return v[math.floor((#v + 1) / 2)], v[1], v[#v]
end
local one, one_min, one_max = median(runs[1], "secs")
local two, two_min, two_max = median(runs[2], "secs")
bench.emit { bench = "threads", case = string.format("fig4a_fashion_%d_images", limit), reps = reps,
  threads1_median_s = one, threads1_min_s = one_min, threads1_max_s = one_max, threads1_wall_s = median(runs[1], "wall"),
  threads2_median_s = two, threads2_min_s = two_min, threads2_max_s = two_max, threads2_wall_s = median(runs[2], "wall"),
  speedup_2_over_1 = one / two, openblas_corename = corename, openblas_config = config, exe = exe,
  openblas_coretype_env = os.getenv("OPENBLAS_CORETYPE") or "unset", omp_wait_policy = os.getenv("OMP_WAIT_POLICY"),
  loadavg_before = load0, loadavg_after = load_average() }
