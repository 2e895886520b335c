-- bench/dist.lua — the all-reduce of one step's gradients (ss.dist.allreduce(grads, "mean"))
-- for 1 and 2 ranks on this machine, one thread each: the gradients of the README's small
-- UNet (28x28, ch 32, mult (1,2,2), 2 res blocks, attention at 7x7: 1.62 M floats), of DDPM's
-- CIFAR-10 UNet (ch 128, mult (1,2,2,2), 2 res blocks, attention at 16x16: 35.7 M) and of
-- IHDM's (its configs/cifar10: 4 res blocks, attention at 8x8 and 4x4: 61.1 M, the network
-- of bench/gpu.lua), as the network's own gradient tensors (packed into the bucket) and
-- as views of one flat buffer (reduced in place). Peer in the same run: PyTorch 1.13's
-- torch.distributed all_reduce (gloo, loopback TCP) of the same number of floats in 2
-- processes (bench/peers/dist.py). JSON lines, medians.
--   algbw_gbps = bytes / time; busbw_gbps = algbw · 2(n − 1)/n, the bytes each rank moves
--   in a ring all-reduce (NCCL's convention), comparable across rank counts.
-- usage: scalespace bench/dist.lua [--reps N]   (it starts mpirun itself; --worker is the ranks' mode)
local ss = require "scalespace"
local bench = require "scalespace.bench"
local dist = ss.dist

local reps = 7
for i = 1, #arg do
  if arg[i] == "--reps" then reps = tonumber(arg[i + 1]) end
end

local nets = {
  { name = "unet_small", cfg = { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 2, attn_res = { 7 },
    dropout = 0.1, size = 28, seed = 0 } },
  { name = "unet_cifar10_ddpm", cfg = { in_ch = 3, ch = 128, mult = { 1, 2, 2, 2 }, num_res_blocks = 2,
    attn_res = { 16 }, dropout = 0.1, size = 32, seed = 0 } },
  { name = "unet_cifar10_ihdm", cfg = { in_ch = 3, ch = 128, mult = { 1, 2, 2, 2 }, num_res_blocks = 4,
    attn_res = { 8, 4 }, dropout = 0.1, size = 32, seed = 0 } },
}

local function numel(list)
  local n = 0
  for _, t in ipairs(list) do n = n + t:numel() end
  return n
end

local worker = false
for i = 1, #arg do worker = worker or arg[i] == "--worker" end
if worker then
  dist.init()
  local n, rank = dist.size(), dist.rank()
  for _, net in ipairs(nets) do
    local _, grads = ss.nn.UNet(net.cfg):parameters()
    local g = ss.rng(rank)
    for _, t in ipairs(grads) do t:copy(g:normal(t:shape())) end
    local floats = numel(grads)
    local flat = g:normal { floats }
    local views, off = {}, 1
    for i, t in ipairs(grads) do
      views[i] = flat:narrow(1, off, t:numel())
      off = off + t:numel()
    end
    for _, case in ipairs { { "packed", grads }, { "in_place", views } } do
      local times = {}
      for r = 1, reps + 2 do -- two warm-up runs
        dist.barrier() -- the ranks start together: the time is the collective's, not a wait for a late rank
        local t0 = bench.now()
        dist.allreduce(case[2], "mean")
        if r > 2 then times[#times + 1] = bench.now() - t0 end
      end
      table.sort(times)
      local s = times[math.floor((#times + 1) / 2)]
      if rank == 0 then
        local bytes = 4 * floats
        bench.emit { bench = "dist", case = "allreduce_mean_" .. net.name .. "_" .. case[1], ranks = n,
          floats = floats, tensors = #grads, threads = ss.num_threads(), median_ms = 1e3 * s,
          algbw_gbps = n > 1 and bytes / s / 1e9 or nil, busbw_gbps = n > 1 and bytes / s / 1e9 * 2 * (n - 1) / n or nil }
      end
    end
  end
  return
end

if not dist.available then
  bench.emit { bench = "dist", skipped = "libscalespace was built without MPI" }
  return
end
local mpiexec = os.getenv("SS_MPIEXEC") or "mpiexec"
local flags = os.getenv("SS_MPIEXEC_FLAGS") or "--allow-run-as-root --oversubscribe"
local here = (arg[0] or "bench/dist.lua"):match("^(.*)/") or "."

-- The floats of each network, for the peer (the same counts as the workers see).
local counts = {}
for i, net in ipairs(nets) do
  local _, grads = ss.nn.UNet(net.cfg):parameters()
  counts[i] = numel(grads)
end
for _, ranks in ipairs { 1, 2 } do
  local cmd = string.format("SS_NUM_THREADS=1 OMP_NUM_THREADS=1 %s %s -np %d %s %s --worker --reps %d 2>&1", mpiexec,
    flags, ranks, arg[-1], arg[0], reps)
  local p = io.popen(cmd)
  io.write(p:read("*a"))
  p:close()
end
local peers, why = bench.python(here .. "/peers/dist.py", { reps, counts[1], counts[2], counts[3] })
for _, row in ipairs(peers or {}) do
  if row.case then
    bench.emit { bench = "dist", case = "allreduce_mean_" .. row.case .. "_peer", ranks = 2, floats = row.floats,
      threads = 1, peer = "torch.distributed gloo (loopback TCP)", median_ms = row.median_ms,
      algbw_gbps = 4 * row.floats / row.median_ms / 1e6, busbw_gbps = 4 * row.floats / row.median_ms / 1e6 }
  end
end
if not peers then io.stderr:write("bench/dist: no peer timings (python3-torch?): ", why or "", "\n") end
