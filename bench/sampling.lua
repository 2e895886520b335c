-- bench/sampling.lua — sampling time per image with the examples' network (UNet/Flexi-UNet,
-- ch 32, mult (1,2,2), 1 res block, attention at 7x7; random weights, which cost the same
-- as trained ones): IHDM (K = 100 levels, 28x28) against the same sampler in PyTorch eager
-- (bench/peers/sampling.py), and Scale Space Diffusion (28 → 14 → 7, T = 1000, every step)
-- with the share of its time spent in Lanczos (the non-isotropic noise of the two
-- resolution changes; the paper calls it negligible: goal < 5%).
-- usage: scalespace bench/sampling.lua [--batch N] [--reps N]
local ss = require "scalespace"
local bench = require "scalespace.bench"
local o = ss.train.options(arg, { out = "", batch = 16, reps = 3 })
local threads = ss.num_threads()
local here = (arg and arg[0] or "bench/sampling.lua"):match("^(.*)/") or "."

local cfg = { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 7 }, dropout = 0.1,
  size = 28, seed = 0, zero_init = false }
local data = ss.rng(1):uniform { 64, 1, 28, 28 }

local peer_ms
local peers, why = bench.python(here .. "/peers/sampling.py", { threads, o.batch, 100 })
if peers then peer_ms = peers[1].median_ms else io.stderr:write("bench/sampling: no peer (python3-torch?): ", why, "\n") end

local ihdm = ss.process.ihdm { size = 28, K = 100, sigma_max = 20 }
local unet = ss.nn.UNet(cfg)
local s = bench.median(function() ss.sample.run(ihdm, unet, { n = o.batch, seed = 1, data = data }) end, o.reps, 1)
bench.emit { bench = "sampling", case = "ihdm_k100_28x28", batch = o.batch, threads = threads,
  median_ms = 1e3 * s, ms_per_image = 1e3 * s / o.batch, peer = peer_ms and "torch" or nil,
  peer_median_ms = peer_ms, ratio_to_peer = peer_ms and 1e3 * s / peer_ms or nil }

-- SSD: Lanczos timed by wrapping the solver the process calls.
local ssd = ss.process.ssd { size = 28, levels = { 28, 14, 7 }, T = 1000 }
local flexi = ss.nn.FlexiUNet(cfg)
local lanczos, in_lanczos, calls = ss.linalg.lanczos, 0, 0
ss.linalg.lanczos = function(...)
  local t0 = bench.now()
  local a, b = lanczos(...)
  in_lanczos, calls = in_lanczos + bench.now() - t0, calls + 1
  return a, b
end
ss.sample.run(ssd, flexi, { n = o.batch, seed = 1, steps = 20 }) -- warm-up (λ_max estimates are cached)
local total, lz, runs = {}, {}, 0
s = bench.median(function()
  in_lanczos, calls = 0, 0
  local t0 = bench.now()
  ss.sample.run(ssd, flexi, { n = o.batch, seed = 1 })
  runs = runs + 1
  total[runs], lz[runs] = bench.now() - t0, in_lanczos
end, o.reps, 0)
ss.linalg.lanczos = lanczos
local share = 0
for i = 1, runs do share = share + lz[i] / total[i] end
bench.emit { bench = "sampling", case = "ssd_t1000_28_14_7", batch = o.batch, threads = threads, median_ms = 1e3 * s,
  ms_per_image = 1e3 * s / o.batch, lanczos_calls = calls, lanczos_share = share / runs, goal_lanczos_share = 0.05 }
