-- bench/ops.lua — heat blur against scipy.fft (dctn/idctn, 2 workers) and the
-- antialiased bilinear resize and its adjoint against PyTorch's forward and
-- autograd VJP, each peer timed in the same run (bench/peers/ops.py).
-- usage: scalespace bench/ops.lua
local ss = require "scalespace"
local bench = require "scalespace.bench"

local here = (arg and arg[0] or "bench/ops.lua"):match("^(.*)/") or "."
local peers, why = bench.python(here .. "/peers/ops.py")
local peer_ms = {}
for _, row in ipairs(peers or {}) do peer_ms[row.case] = row end
if not peers then io.stderr:write("bench/ops: no peer timings (python3-scipy/python3-torch?): ", why or "", "\n") end

local g = ss.rng(0)
local function case(name, fn, goal)
  local ms = bench.median(fn, 11, 2) * 1e3
  local peer = peer_ms[name]
  bench.emit { bench = "ops", case = name, threads = ss.num_threads(), median_ms = ms,
    peer = peer and peer.peer or "none", peer_median_ms = peer and peer.median_ms,
    speedup = peer and peer.median_ms / ms, goal_speedup = goal }
end

for _, shape in ipairs { { 64, 1, 28, 28 }, { 16, 3, 128, 128 } } do
  local x = g:normal(shape)
  local H = ss.op.heat { size = { shape[3], shape[4] }, t = 2 }
  local out = ss.empty(shape)
  case(string.format("heat_%dx%dx%dx%d", unpack(shape)), function() ss.check(ss.C.ss_linop_apply(H.c, out.p, x.p)) end, 2)
end

local x, y = g:normal { 16, 3, 64, 64 }, g:normal { 16, 3, 32, 32 }
local R = ss.op.resize { from = { 64, 64 }, to = { 32, 32 } }
local small, big = ss.empty { 16, 3, 32, 32 }, ss.empty { 16, 3, 64, 64 }
case("resize_16x3x64x64_to_32x32_forward", function() ss.check(ss.C.ss_linop_apply(R.c, small.p, x.p)) end)
case("resize_16x3x64x64_to_32x32_adjoint", function() ss.check(ss.C.ss_linop_adjoint(R.c, big.p, y.p)) end, 3)
