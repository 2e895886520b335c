-- bench/solvers.lua — one implicit osmosis step on 128x128 with tau = 10 against
-- scipy.sparse.linalg.bicgstab on the assembled CSR matrix (same data, same rule
-- ||r|| <= eps*n, same warm start), and Lanczos sqrt (k = 40) of Scale Space
-- Diffusion's posterior noise operator I - rho M^T M for a 64->32 resize on a
-- 16x3x64x64 batch. usage: scalespace bench/solvers.lua
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"

local here = (arg and arg[0] or "bench/solvers.lua"):match("^(.*)/") or "."
local H, W, tau, eps = 128, 128, 10, 1e-6
local g = ss.rng(0)

-- the photograph (grey) and a noise guidance, both offset by 1 as osmosis does
local f = ss.data.photo("camera", { size = H, channels = 1 }):reshape { H, W } + 1
local v = ss.osmosis.noise_guidance(f - 1, { rng = g }) + 1
local d1, d2 = ss.osmosis.drift(v)
local info = ffi.new("ss_solve_info")
local out = ss.empty(f)
local function step()
  ss.check(ss.C.ss_osmosis_implicit_step(out.p, f.p, d1.p, d2.p, 1, tau, eps, 1000, info))
end
local ms = bench.median(step, 7, 1) * 1e3

local dump = bench.dump_raw
local fu, fv = dump(f), dump(v)
local rows = bench.python(here .. "/peers/solvers.py", { fu, fv, H, W, tau, eps }) or {}
os.remove(fu)
os.remove(fv)
local peer = rows[1]
bench.emit { bench = "solvers", case = string.format("osmosis_step_%dx%d", H, W), tau = tau, eps = eps,
  threads = ss.num_threads(), median_ms = ms, iterations = info.iterations, residual = info.residual,
  peer = peer and peer.peer or "none", peer_median_ms = peer and peer.median_ms,
  peer_iterations = peer and peer.iterations, peer_residual = peer and peer.residual,
  speedup = peer and peer.median_ms / ms, goal_speedup = 5 }

-- Scale Space Diffusion: z = (I - rho M^T M)^(1/2) e, M = resize 64 -> 32
local M = ss.op.resize { from = { 64, 64 }, to = { 32, 32 } }
local MtM = M:T() * M
local rho = (1 - 1e-3) / ss.linalg.power_iteration(MtM, { rng = g, iterations = 300 })
local S = ss.op.identity { size = 64 } - rho * MtM
local e = g:normal { 16, 3, 64, 64 }
local steps
local lz = bench.median(function() _, steps = ss.linalg.lanczos(S, e, "sqrt", { k = 40 }) end, 7, 1) * 1e3
bench.emit { bench = "solvers", case = "lanczos_sqrt_ssd_64to32_16x3x64x64", k = 40, steps = steps,
  threads = ss.num_threads(), median_ms = lz, peer = "none" }
