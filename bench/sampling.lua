-- bench/sampling.lua — sampling time per image with the examples' network (UNet/Flexi-UNet,
-- ch 32, mult (1,2,2), 1 res block, attention at 7x7; random weights, which cost the same
-- as trained ones), through ss.sample.run as a script calls it: IHDM (K = 100 levels,
-- 28x28) against the same sampler in PyTorch eager (bench/peers/sampling.py), in rounds
-- that alternate the peer's run and ours (medians of wall and process CPU time over the
-- rounds, their spread, the load average), with the 3x3 convolution and sgemm GFLOP/s
-- and the kernels in use beside; and Scale Space Diffusion (28 → 14 → 7, T = 1000, every
-- step) with the share of its time spent in Lanczos (the non-isotropic noise of the two
-- resolution changes; the paper calls it negligible: goal < 5%).
-- usage: scalespace bench/sampling.lua [--batch N] [--reps N] [--rounds N] [--threads N]
local ss = require "scalespace"
local bench = require "scalespace.bench"
local here = (arg and arg[0] or "bench/sampling.lua"):match("^(.*)/") or "."
local common = dofile(here .. "/common.lua")
local o = ss.train.options(arg, { out = "", batch = 16, reps = 1, rounds = 3, threads = 0 })
if o.threads > 0 then ss.set_num_threads(o.threads) end
local threads = ss.num_threads()
local core, conv_path = common.kernels()

local cfg = { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 7 }, dropout = 0.1,
  size = 28, seed = 0, zero_init = false }
local data = ss.rng(1):uniform { 64, 1, 28, 28 }

local ihdm = ss.process.ihdm { size = 28, K = 100, sigma_max = 20 }
local unet = ss.nn.UNet(cfg)
local warm = 1
local mine, peers, loads = common.interleave(o.rounds, function()
  return common.peer_rows(here .. "/peers/sampling.py", { threads, o.batch, 100, o.reps }, "bench/sampling")
end, function()
  local w, c = common.medians(function() ss.sample.run(ihdm, unet, { n = o.batch, seed = 1, data = data }) end, o.reps,
    warm)
  warm = 0
  return w, c
end)
local ms, lo, hi = common.stats(mine.wall)
local cpu_ms = common.stats(mine.cpu)
local peer = peers.ihdm_sampling
local pms, plo, phi = peer and common.stats(peer.wall)
local pcpu = peer and common.stats(peer.cpu)
local g = ss.rng(0)
local conv_gf = common.conv_rate(g, 64, 14)
local sgemm_gf = common.sgemm_rate(g)
local l0, lmin, lmax = common.stats(loads)
bench.emit { bench = "sampling", case = "ihdm_k100_28x28", batch = o.batch, threads = threads, rounds = o.rounds,
  median_ms = ms, min_ms = lo, max_ms = hi, cpu_ms = cpu_ms, ms_per_image = ms / o.batch,
  peer = peer and "torch" or nil, peer_median_ms = pms, peer_min_ms = plo, peer_max_ms = phi, peer_cpu_ms = pcpu,
  ratio_to_peer = pms and ms / pms, cpu_ratio_to_peer = pcpu and cpu_ms / pcpu, goal_ratio = 0.8,
  conv3x3_64x64x14x14_gflops = conv_gf, sgemm_1024_gflops = sgemm_gf, openblas_core = core, conv_path = conv_path,
  load_avg = l0, load_min = lmin, load_max = lmax }

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
local s = bench.median(function()
  in_lanczos, calls = 0, 0
  local t0 = bench.now()
  ss.sample.run(ssd, flexi, { n = o.batch, seed = 1 })
  runs = runs + 1
  total[runs], lz[runs] = bench.now() - t0, in_lanczos
end, math.max(o.reps, 3), 0)
ss.linalg.lanczos = lanczos
local share = 0
for i = 1, runs do share = share + lz[i] / total[i] end
bench.emit { bench = "sampling", case = "ssd_t1000_28_14_7", batch = o.batch, threads = threads, median_ms = 1e3 * s,
  ms_per_image = 1e3 * s / o.batch, lanczos_calls = calls, lanczos_share = share / runs, goal_lanczos_share = 0.05 }
