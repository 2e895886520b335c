-- bench/gpu.lua — the GPU against PyTorch CUDA eager on the same GPU, in the same run
-- (bench/peers/gpu.py builds the same architectures from tests/reference/unet_torch.py):
--   ihdm_cifar10_step  one training step (forward, MSE, backward, Adam) of IHDM's CIFAR-10
--                      UNet: 32x32x3, ch 128, mult (1,2,2,2), 4 res blocks, attention at
--                      8x8 and 4x4, dropout 0.1, batch 128;
--   ssd_flexi64_step   one step of a Scale Space Diffusion Flexi-UNet at 64x64x3 (the
--                      finest level, 64 -> 64): ch 128, mult (1,2,2,2), 2 res blocks,
--                      attention at 16x16, batch 64;
--   ddpm_sampling      sampling throughput (images per second) of the CIFAR-10 UNet: 50
--                      respaced DDPM steps for a batch of 128, forward passes only.
-- Goal: step time <= 1.0x PyTorch's. Both sides run convolutions as their defaults do
-- (TF32 allowed in cuDNN, exact FP32 GEMMs). Each timed call ends with a synchronize.
-- usage: scalespace bench/gpu.lua [--reps N] [--quick] (quick: batch 16, for a smoke run)
local ss = require "scalespace"
local bench = require "scalespace.bench"
local o = ss.train.options(arg, { out = "", reps = 10, quick = false })
local here = (arg and arg[0] or "bench/gpu.lua"):match("^(.*)/") or "."
if not ss.cuda.available() then
  bench.emit { bench = "gpu", skipped = ss.has_cuda() and "no CUDA device" or "built without CUDA" }
  return
end
local device = ss.cuda.info()
local scale = o.quick and 8 or 1

local peer_ms = {}
local peers, why = bench.python(here .. "/peers/gpu.py", { o.reps, scale })
for _, row in ipairs(peers or {}) do
  if row.case then peer_ms[row.case] = row.median_ms end
end
if not next(peer_ms) then io.stderr:write("bench/gpu: no peer timings (PyTorch with CUDA?): ", why or "", "\n") end

local function emit(case, ms, extra)
  local peer = peer_ms[case]
  local row = { bench = "gpu", case = case, device = device, median_ms = ms, peer = peer and "torch-cuda" or "none",
    peer_median_ms = peer, ratio_to_peer = peer and ms / peer or nil, goal_ratio = 1.0 }
  for k, v in pairs(extra or {}) do row[k] = v end
  bench.emit(row)
end

-- The median time of one training step of net on a fixed batch.
local function step_ms(net, batch, ch, size, out_size)
  net:to("cuda")
  local params, grads = net:parameters()
  local opt = ss.optim.Adam(params, grads, { lr = 2e-4, clip = 1.0 })
  local g = ss.rng(0)
  local x = g:normal({ batch, ch, size, size }, 0, 1, "cuda")
  local target = g:normal({ batch, ch, out_size, out_size }, 0, 1, "cuda")
  local t = {}
  for i = 1, batch do t[i] = g:randint(1, 1, 999)[1] end
  local fwd = out_size ~= size and { out_size = out_size } or nil
  local function step()
    net:zero_grad()
    local y = net:forward(x, t, fwd)
    ss.nn.mse(y, target)
    net:backward(x, ss.nn.mse_backward(y, target))
    opt:step()
    ss.cuda.synchronize()
  end
  return 1e3 * bench.median(step, o.reps, 3)
end

local cifar = { in_ch = 3, ch = 128, mult = { 1, 2, 2, 2 }, num_res_blocks = 4, attn_res = { 8, 4 }, dropout = 0.1,
  size = 32, seed = 0 }
local b = math.floor(128 / scale)
local ms = step_ms(ss.nn.UNet(cifar), b, 3, 32, 32)
local used, cached = ss.cuda.memory()
emit("ihdm_cifar10_step", ms, { batch = b, gpu_mib_in_use = used / 2 ^ 20, gpu_mib_cached = cached / 2 ^ 20 })

local flexi = { in_ch = 3, ch = 128, mult = { 1, 2, 2, 2 }, num_res_blocks = 2, attn_res = { 16 }, dropout = 0.1,
  size = 64, seed = 0 }
b = math.floor(64 / scale)
emit("ssd_flexi64_step", step_ms(ss.nn.FlexiUNet(flexi), b, 3, 64, 64), { batch = b })

-- Sampling: 50 respaced DDPM steps from N(0, I); the network's cost dominates.
local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000), shape = { 3, 32, 32 } }:to("cuda")
local net = ss.nn.UNet(cifar):to("cuda")
b = math.floor(128 / scale)
local s = bench.median(function()
  ss.sample.run(P, net, { n = b, seed = 1, steps = 50 })
  ss.cuda.synchronize()
end, math.max(3, math.floor(o.reps / 3)), 1)
local peer = peer_ms.ddpm_sampling
bench.emit { bench = "gpu", case = "ddpm_sampling", device = device, batch = b, steps = 50, median_ms = 1e3 * s,
  images_per_s = b / s, peer = peer and "torch-cuda" or "none", peer_median_ms = peer,
  ratio_to_peer = peer and 1e3 * s / peer or nil, goal_ratio = 1.0 }
