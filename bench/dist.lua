-- bench/dist.lua — data-parallel training on 1 and 2 ranks of one thread each on this
-- machine, and the all-reduce of one step's gradients.
--
-- Training: ss.train.run of DDPM (T = 1000, ε, min-SNR 5) on the README's small UNet
-- (28x28, ch 32, mult (1,2,2), 2 res blocks, attention at 7x7, dropout 0.1: 1.62 M
-- parameters) with global batch 32 on random images, as `mpirun -np N` runs it: steps/s
-- (the median step, first two steps left out), images/s, and the time each step spends in
-- its all-reduces — the gradients' (in place: they are views of one flat buffer) and the
-- numbers' (loss, interrupt flag) — with its share of the step. The all-reduce time
-- includes waiting for the other rank to finish its half of the step: on this shared
-- 2-core machine the ranks rarely finish together, so it is an upper bound on the
-- transfer. The medians are over the steps of rank 0 and rank 1, then averaged over
-- ranks. Each line carries the load average (other jobs share these cores) and the CPU
-- time of a step on one rank (cpu_ms_per_step, all threads of the process).
--
-- All-reduce alone (ss.dist.allreduce(grads, "mean")): the gradients of the small UNet,
-- of DDPM's CIFAR-10 UNet (ch 128, mult (1,2,2,2), 2 res blocks, attention at 16x16: 35.7 M)
-- and of IHDM's (its configs/cifar10: 4 res blocks, attention at 8x8 and 4x4: 61.1 M, the
-- network of bench/gpu.lua), as the network's own gradient tensors (packed into the bucket)
-- and as views of one flat buffer (reduced in place). Peer in the same run: PyTorch 1.13's
-- torch.distributed all_reduce (gloo, loopback TCP) of the same number of floats in 2
-- processes (bench/peers/dist.py). JSON lines, medians.
--   algbw_gbps = bytes / time; busbw_gbps = algbw · 2(n − 1)/n, the bytes each rank moves
--   in a ring all-reduce (NCCL's convention), comparable across rank counts.
-- usage: scalespace bench/dist.lua [--reps N] [--steps N] [--only train|allreduce]
--   (it starts mpirun itself; --worker MODE is the ranks' mode)
local ss = require "scalespace"
local bench = require "scalespace.bench"
local json = require "scalespace.json"
local dist = ss.dist

local reps, steps, only, worker = 7, 12, nil, nil
for i = 1, #arg do
  if arg[i] == "--reps" then reps = tonumber(arg[i + 1]) end
  if arg[i] == "--steps" then steps = tonumber(arg[i + 1]) end
  if arg[i] == "--only" then only = arg[i + 1] end
  if arg[i] == "--worker" then worker = arg[i + 1] end
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

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return nil end
  local one = tonumber(f:read("*a"):match("^(%S+)"))
  f:close()
  return one
end
-- CPU seconds of this process (all its threads): what a step costs a rank whatever the
-- other jobs on the machine take (though it counts a rank's polling while it waits).
local ffi = require "ffi"
local cpu_ts = ffi.new("ss_timespec")
local function cpu_now()
  ffi.C.clock_gettime(2, cpu_ts) -- CLOCK_PROCESS_CPUTIME_ID
  return tonumber(cpu_ts.tv_sec) + tonumber(cpu_ts.tv_nsec) * 1e-9
end
local function median(list)
  local t = { unpack(list) }
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

-- The ranks of the training bench: each times its steps (between consecutive on_step
-- calls) and the all-reduces within them, timed around the ss.dist functions that
-- ss.train.run calls.
local function train_worker(dir)
  dist.init()
  local n, rank = dist.size(), dist.rank()
  local load0 = loadavg()
  local batch = 32
  local data = ss.rng(1):uniform({ 256, 1, 28, 28 }, -1, 1)
  local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
  local net = ss.nn.UNet(nets[1].cfg)
  local spent = { grads = 0, numbers = 0 }
  local real = { grads = dist.allreduce, numbers = dist.allreduce_numbers }
  dist.allreduce = function(...)
    local t0 = bench.now()
    local r = real.grads(...)
    spent.grads = spent.grads + bench.now() - t0
    return r
  end
  dist.allreduce_numbers = function(...)
    local t0 = bench.now()
    local r = real.numbers(...)
    spent.numbers = spent.numbers + bench.now() - t0
    return r
  end
  local step_s, grads_s, numbers_s, cpu_s, last, last_cpu = {}, {}, {}, {}, nil, nil
  ss.train.run(P, net, data, { steps = steps, batch = batch, lr = 2e-4, warmup = 0, seed = 0, out = dir,
    progress = false, log_every = 1e9, samples = 1, sample_steps = 2, check_every = 0, resume = false,
    on_step = function(step)
      local t, cpu = bench.now(), cpu_now()
      if last and step > 2 then -- the first two steps allocate buffers
        step_s[#step_s + 1], grads_s[#grads_s + 1], numbers_s[#numbers_s + 1] = t - last, spent.grads, spent.numbers
        cpu_s[#cpu_s + 1] = cpu - last_cpu
      end
      last, last_cpu, spent.grads, spent.numbers = t, cpu, 0, 0
    end })
  dist.allreduce, dist.allreduce_numbers = real.grads, real.numbers
  -- each rank's medians, averaged over the ranks
  local m = dist.allreduce_numbers({ median(step_s), median(grads_s), median(numbers_s), median(cpu_s) }, "mean")
  if rank == 0 then
    local step_ms, grads_ms, numbers_ms = 1e3 * m[1], 1e3 * m[2], 1e3 * m[3]
    bench.emit { bench = "dist", case = "train_ddpm_unet_small", ranks = n, threads = ss.num_threads(), batch = batch,
      rank_batch = math.floor(batch / n), steps_timed = #step_s, median_step_ms = step_ms, steps_per_s = 1e3 / step_ms,
      images_per_s = batch * 1e3 / step_ms, allreduce_ms = grads_ms + numbers_ms, allreduce_grads_ms = grads_ms,
      allreduce_numbers_ms = numbers_ms, allreduce_share = (grads_ms + numbers_ms) / step_ms,
      cpu_ms_per_step = 1e3 * m[4], floats = net:num_parameters(), loadavg_start = load0, loadavg_end = loadavg() }
  end
end

local function allreduce_worker()
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
end

if worker then
  if worker == "train" then train_worker(arg[#arg]) else allreduce_worker() end
  return
end

if not dist.available then
  bench.emit { bench = "dist", skipped = "libscalespace was built without MPI" }
  return
end
local mpiexec = os.getenv("SS_MPIEXEC") or "mpiexec"
local flags = os.getenv("SS_MPIEXEC_FLAGS") or "--allow-run-as-root --oversubscribe"
local here = (arg[0] or "bench/dist.lua"):match("^(.*)/") or "."

local function launch(ranks, mode, extra)
  local cmd = string.format("SS_NUM_THREADS=1 OMP_NUM_THREADS=1 %s %s -np %d %s %s --worker %s %s 2>&1", mpiexec, flags,
    ranks, arg[-1], arg[0], mode, extra)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

bench.emit { bench = "dist", case = "loadavg", loadavg = loadavg(), cores = tonumber(io.popen("nproc"):read("*l")) }
if only ~= "allreduce" then
  local dir = io.popen("mktemp -d /tmp/ss_bench_dist_XXXXXX"):read("*l")
  local per = {}
  for _, ranks in ipairs { 1, 2 } do
    local out = launch(ranks, "train", string.format("--steps %d %s/%d", steps, dir, ranks))
    io.write(out)
    local row = out:match('({[^\n]*"case":"train_ddpm_unet_small"[^\n]*})')
    per[ranks] = row and json.decode(row, "bench/dist")
  end
  os.execute("rm -rf " .. dir)
  if per[1] and per[2] then
    bench.emit { bench = "dist", case = "train_ddpm_unet_small_speedup", ranks = 2, threads = 1,
      speedup = per[2].steps_per_s / per[1].steps_per_s, efficiency = per[2].steps_per_s / per[1].steps_per_s / 2,
      -- what the ranks would give with a free core each: the ratio of CPU time per step
      speedup_cpu = per[1].cpu_ms_per_step / per[2].cpu_ms_per_step }
  end
end
if only == "train" then return end

-- The floats of each network, for the peer (the same counts as the workers see).
local counts = {}
for i, net in ipairs(nets) do
  local _, grads = ss.nn.UNet(net.cfg):parameters()
  counts[i] = numel(grads)
end
for _, ranks in ipairs { 1, 2 } do io.write(launch(ranks, "allreduce", "--reps " .. reps)) end
local peers, why = bench.python(here .. "/peers/dist.py", { reps, counts[1], counts[2], counts[3] })
for _, row in ipairs(peers or {}) do
  if row.case then
    bench.emit { bench = "dist", case = "allreduce_mean_" .. row.case .. "_peer", ranks = 2, floats = row.floats,
      threads = 1, peer = "torch.distributed gloo (loopback TCP)", median_ms = row.median_ms,
      algbw_gbps = 4 * row.floats / row.median_ms / 1e6, busbw_gbps = 4 * row.floats / row.median_ms / 1e6 }
  end
end
if not peers then io.stderr:write("bench/dist: no peer timings (python3-torch?): ", why or "", "\n") end
