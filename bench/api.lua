-- bench/api.lua — the public Lua API as a script calls it, allocating its outputs
-- (and with `out =` where the API has it), against the peer a user of the other
-- library would call, timed in the same run: R:adjoint(y) of the antialiased bilinear
-- resize against PyTorch's autograd VJP, the heat blur H(x) against scipy.fft, and
-- one implicit osmosis step through ss.osmosis.evolve against scipy's BiCGSTAB on the
-- assembled matrix (the peer's assembly is not timed; our drift is).
-- usage: scalespace bench/api.lua
local ss = require "scalespace"
local bench = require "scalespace.bench"

local here = (arg and arg[0] or "bench/api.lua"):match("^(.*)/") or "."
local threads = ss.num_threads()
-- The peers twice: with the environment as found, and with the wait policy libscalespace
-- sets for itself (OMP_WAIT_POLICY=PASSIVE): PyTorch's libgomp spins as ours did.
local peers, why = bench.python(here .. "/peers/api.py", { threads })
local passive = bench.python(here .. "/peers/api.py", { threads, "passive" })
local peer_rows, passive_rows = {}, {}
for _, row in ipairs(peers or {}) do peer_rows[row.case] = row end
for _, row in ipairs(passive or {}) do passive_rows[row.case] = row end
if not peers then io.stderr:write("bench/api: no peer timings (python3-scipy/python3-torch?): ", why or "", "\n") end

local function load_average()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("*l") or ""
  if f then f:close() end
  return tonumber(s:match("^(%S+)"))
end

-- `speedup` is against the faster of the two peer runs; peer_* is the run as found.
local function emit(case, t, peer, goal, extra, fair)
  local ms = t.median * 1e3
  local best = peer and math.min(peer.median_ms, fair and fair.median_ms or math.huge)
  local rec = { bench = "api", case = case, threads = threads, median_ms = ms, p25_ms = t.p25 * 1e3,
    p75_ms = t.p75 * 1e3, peer = peer and peer.peer or "none", peer_median_ms = peer and peer.median_ms,
    peer_p25_ms = peer and peer.p25_ms, peer_p75_ms = peer and peer.p75_ms,
    peer_passive_median_ms = fair and fair.median_ms, speedup = best and best / ms, goal_speedup = goal,
    loadavg = load_average() }
  for k, v in pairs(extra or {}) do rec[k] = v end
  bench.emit(rec)
end

local g = ss.rng(0)

-- resize adjoint 16x3x32x32 -> 64x64: a new output per call, then a reused one
local R = ss.op.resize { from = { 64, 64 }, to = { 32, 32 } }
local y = g:normal { 16, 3, 32, 32 }
local case = "resize_adjoint_16x3x32x32_to_64x64"
emit(case, bench.times(function() return R:adjoint(y) end, 101, 5), peer_rows[case], 3, nil, passive_rows[case])
local x = ss.empty { 16, 3, 64, 64 }
emit(case .. "_out", bench.times(function() return R:adjoint(y, { out = x }) end, 101, 5), peer_rows[case], 3, nil,
  passive_rows[case])

-- heat at t = 2 on 16x3x128x128
local H = ss.op.heat { size = 128, t = 2 }
local img = g:normal { 16, 3, 128, 128 }
case = "heat_16x3x128x128"
emit(case, bench.times(function() return H(img) end, 21, 3), peer_rows[case], 2, nil, passive_rows[case])
local blurred = ss.empty { 16, 3, 128, 128 }
emit(case .. "_out", bench.times(function() return H:apply(img, { out = blurred }) end, 21, 3), peer_rows[case], 2, nil,
  passive_rows[case])

-- one implicit osmosis step, 128x128, tau = 10, ||r|| <= eps*n with eps = 1e-6 (1e-9 is
-- below what float32 A·x can resolve: the solver reports stagnation, as it should)
local f = ss.data.photo("camera", { size = 128, channels = 1 }):reshape { 128, 128 }
local v = ss.osmosis.noise_guidance(f, { rng = g })
local dump = bench.dump_raw
-- the peer works on the offset images, as evolve does inside
local fu, fv = dump(f + 1), dump(v + 1)
for _, eps in ipairs { 1e-6 } do
  local reports
  local t = bench.times(function()
    local _
    _, reports = ss.osmosis.evolve(f, v, { tau = 10, steps = 1, eps = eps, last_only = true })
  end, 11, 2)
  local rows = bench.python(here .. "/peers/solvers.py", { fu, fv, 128, 128, 10, eps }) or {}
  emit(string.format("osmosis_step_128x128_tau10_eps%g", eps), t, rows[1], 5,
    { iterations = reports[1].iterations, residual = reports[1].residual, peer_iterations = rows[1] and rows[1].iterations,
      peer_residual = rows[1] and rows[1].residual })
end
os.remove(fu)
os.remove(fv)
