-- bench/unet_train.lua — one training step (forward, MSE, backward, Adam) of the UNet of
-- issue 6 (28x28, ch 32, mult (1,2,2), 2 res blocks, attention at 7x7, dropout 0.1, batch
-- 32), through the public Lua API as a training script calls it, against PyTorch 1.13 on
-- the same threads (bench/peers/unet_train.py, the same architecture). Rounds alternate
-- the peer's run and ours, so both see the same load from other processes; the medians
-- over rounds of wall time and of process CPU time are reported with their spread and the
-- load average. Beside them: the GFLOP/s of 3x3 convolutions (forward + backward) for
-- both, of OpenBLAS's sgemm, and the OpenBLAS kernel and convolution path in use; then the
-- Flexi-UNet's forward + backward cost per level relative to a full pass.
-- usage: scalespace bench/unet_train.lua [--rounds 5] [--reps 3] [--threads N]
-- The environment is used as found (OPENBLAS_CORETYPE is never set here). On an AVX-512
-- CPU whose OpenBLAS kernel is set to another one, the step is also timed in a child
-- process with OPENBLAS_CORETYPE=SkylakeX (--step-only: the child's mode).
local ss = require "scalespace"
local bench = require "scalespace.bench"
local here = (arg and arg[0] or "bench/unet_train.lua"):match("^(.*)/") or "."
local common = dofile(here .. "/common.lua")

local o = ss.train.options(arg, { rounds = 5, reps = 3, threads = 0, step_only = false })
if o.threads > 0 then ss.set_num_threads(o.threads) end
local threads = ss.num_threads()
local core, conv_path = common.kernels()

local cfg = { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 2, attn_res = { 7 }, dropout = 0.1,
  size = 28, seed = 0 }
local g = ss.rng(0)
local net = ss.nn.UNet(cfg)
local params, grads = net:parameters()
local opt = ss.optim.Adam(params, grads, { lr = 2e-4 })
local x, target = g:normal { 32, 1, 28, 28 }, g:normal { 32, 1, 28, 28 }
local t = {}
for i = 1, 32 do t[i] = g:randint(1, 1, 999)[1] end
local gy = ss.empty { 32, 1, 28, 28 }

local function step()
  net:zero_grad()
  local y = net:forward(x, t)
  ss.nn.mse(y, target)
  net:backward(x, ss.nn.mse_backward(y, target, { out = gy }))
  opt:step()
end

if o.step_only then
  print(string.format("median_ms=%.6f", (common.medians(step, 7, 2))))
  return
end

local warm = 2
local mine, peers, loads = common.interleave(o.rounds, function()
  return common.peer_rows(here .. "/peers/unet_train.py", { threads, o.reps, 1 }, "bench/unet_train")
end, function()
  local w, c = common.medians(step, o.reps, warm)
  warm = 0
  return w, c
end)

local function emit_step(case, wall, cpu, core_name)
  local ms, lo, hi = common.stats(wall)
  local cpu_ms = cpu and common.stats(cpu)
  local peer = peers.unet_step
  local pms, plo, phi = peer and common.stats(peer.wall)
  local pcpu = peer and common.stats(peer.cpu)
  local l0, lmin, lmax = common.stats(loads)
  bench.emit { bench = "unet_train", case = case, threads = threads, rounds = #wall, median_ms = ms, min_ms = lo,
    max_ms = hi, cpu_ms = cpu_ms, openblas_core = core_name, conv_path = conv_path,
    parameters = net:num_parameters(), peer = peer and "torch" or "none", peer_median_ms = pms, peer_min_ms = plo,
    peer_max_ms = phi, peer_cpu_ms = pcpu, ratio_to_peer = pms and ms / pms, cpu_ratio_to_peer = pcpu and cpu_ms / pcpu,
    goal_ratio = 0.8, load_avg = l0, load_min = lmin, load_max = lmax }
end
emit_step("unet_step_b32_28x28_ch32", mine.wall, mine.cpu, core)

local cpuinfo = io.open("/proc/cpuinfo")
local flags = cpuinfo and cpuinfo:read("*a") or ""
if cpuinfo then cpuinfo:close() end
if core ~= "SkylakeX" and flags:find(" avx512f ") and flags:find(" avx512bw ") and flags:find(" avx512vl ") then
  local exe = arg[-1] or "scalespace"
  local p = io.popen("OPENBLAS_CORETYPE=SkylakeX " .. exe .. " " .. arg[0] .. " --step-only")
  local child = tonumber((p:read("*a") or ""):match("median_ms=(%S+)"))
  p:close()
  if child then emit_step("unet_step_b32_28x28_ch32", { child }, nil, "SkylakeX") end
end

-- 3x3 convolutions as in levels 1 and 2: 3·2·N·C²·9·H·W flops for forward + backward
for _, c in ipairs { { 64, 14 }, { 32, 28 } } do
  local gf, ms = common.conv_rate(g, c[1], c[2])
  local peer = peers[string.format("conv_%dx%dx%dx%d", c[1], c[1], c[2], c[2])]
  local pms = peer and common.stats(peer.wall)
  local flops = 3 * 2 * 32 * c[1] * c[1] * 9 * c[2] * c[2]
  bench.emit { bench = "unet_train", case = string.format("conv3x3_%dx%dx%dx%d_fwd_bwd", c[1], c[1], c[2], c[2]),
    threads = threads, median_ms = ms, gflops = gf, conv_path = conv_path, peer = peer and "torch" or "none",
    peer_median_ms = pms, peer_gflops = pms and flops / pms * 1e-6 }
end
local sg, sms = common.sgemm_rate(g)
bench.emit { bench = "unet_train", case = "sgemm_1024", threads = threads, median_ms = sms, gflops = sg,
  openblas_core = core }

-- Flexi-UNet: forward + backward at each level, and the resolution-changing calls
local flexi = ss.nn.FlexiUNet(cfg)
local full
for _, case in ipairs { { 28, 28 }, { 14, 14 }, { 7, 7 }, { 14, 28 }, { 7, 14 } } do
  local xin = g:normal { 32, 1, case[1], case[1] }
  local gout = g:normal { 32, 1, case[2], case[2] }
  local fms = bench.median(function()
    flexi:forward(xin, t, { out_size = case[2] })
    flexi:backward(xin, gout)
  end, 5, 1) * 1e3
  full = full or fms
  bench.emit { bench = "unet_train", case = string.format("flexi_%d_to_%d_fwd_bwd", case[1], case[2]),
    threads = threads, median_ms = fms, fraction_of_full = fms / full }
end
