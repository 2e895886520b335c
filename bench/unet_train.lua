-- bench/unet_train.lua — one training step (forward, MSE, backward, Adam) of the UNet of
-- issue 6 (28x28, ch 32, mult (1,2,2), 2 res blocks, attention at 7x7, dropout 0.1, batch
-- 32) against PyTorch 1.13 on the same threads (bench/peers/unet_train.py, the same
-- architecture); the GFLOP/s of a 3x3 convolution (forward + backward) and of OpenBLAS's
-- sgemm; and the Flexi-UNet's forward + backward cost per level relative to a full pass.
-- usage: scalespace bench/unet_train.lua
-- The scalespace launcher picks OpenBLAS's AVX-512 kernels on AVX-512 CPUs unless
-- OPENBLAS_CORETYPE is set; when it is set to other kernels on such a CPU, the step is
-- also timed in a child process with OPENBLAS_CORETYPE=SkylakeX, and both lines printed.
-- usage: scalespace bench/unet_train.lua        (--step-only: the child's mode)
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"
local C = ss.C

ffi.cdef "char *openblas_get_corename(void);"
local core = ffi.string(C.openblas_get_corename())
local step_only = arg and arg[1] == "--step-only"
local threads = ss.num_threads()
local here = (arg and arg[0] or "bench/unet_train.lua"):match("^(.*)/") or "."
local peer_ms = {}
if not step_only then
  local peers, why = bench.python(here .. "/peers/unet_train.py", { threads })
  for _, row in ipairs(peers or {}) do peer_ms[row.case] = row.median_ms end
  if not peers then io.stderr:write("bench/unet_train: no peer timings (python3-torch?): ", why or "", "\n") end
end

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
local ms = bench.median(step, 7, 2) * 1e3
if step_only then
  print(string.format("median_ms=%.6f", ms))
  return
end

local function emit_step(step_ms, core_name)
  local peer = peer_ms.unet_step
  bench.emit { bench = "unet_train", case = "unet_step_b32_28x28_ch32", threads = threads, median_ms = step_ms,
    openblas_core = core_name, parameters = net:num_parameters(), peer = peer and "torch" or "none",
    peer_median_ms = peer, ratio_to_peer = peer and step_ms / peer, goal_ratio = 0.8 }
end
emit_step(ms, core)
local cpuinfo = io.open("/proc/cpuinfo")
local flags = cpuinfo and cpuinfo:read("*a") or ""
if cpuinfo then cpuinfo:close() end
if core ~= "SkylakeX" and flags:find(" avx512f ") and flags:find(" avx512bw ") and flags:find(" avx512vl ") then
  local exe = arg[-1] or "scalespace"
  local p = io.popen("OPENBLAS_CORETYPE=SkylakeX " .. exe .. " " .. arg[0] .. " --step-only")
  local child = tonumber((p:read("*a") or ""):match("median_ms=(%S+)"))
  p:close()
  if child then emit_step(child, "SkylakeX") end
end

-- a 3x3 convolution as in level 2: 2·N·Cout·Cin·9·H·W flops forward, twice that backward
local xc, gc = g:normal { 32, 64, 14, 14 }, g:normal { 32, 64, 14, 14 }
local conv = ss.nn.Conv2d(64, 64, 3, { rng = g })
local conv_ms = bench.median(function()
  conv:backward(xc, gc, conv:forward(xc))
end, 11, 2) * 1e3
local flops = 3 * 2 * 32 * 64 * 64 * 9 * 14 * 14
peer = peer_ms.conv_64x64x14x14
bench.emit { bench = "unet_train", case = "conv3x3_64x64x14x14_fwd_bwd", threads = threads, median_ms = conv_ms,
  gflops = flops / conv_ms * 1e-6, openblas_core = core, peer = peer and "torch" or "none", peer_median_ms = peer,
  peer_gflops = peer and flops / peer * 1e-6 }

local n = 1024
local a, b, c = g:normal { n, n }, g:normal { n, n }, ss.empty { n, n }
local sgemm_ms = bench.median(function() ss.check(C.ss_bmm(c.p, a.p, b.p, 0, 0, 1, 0)) end, 11, 2) * 1e3
bench.emit { bench = "unet_train", case = "sgemm_1024", threads = threads, median_ms = sgemm_ms,
  gflops = 2 * n ^ 3 / sgemm_ms * 1e-6, openblas_core = core }

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
