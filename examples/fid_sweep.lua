-- examples/fid_sweep.lua — how good is a model, by checkpoint and by sampler: a short DDPM
-- run on Fashion-MNIST (a small UNet, checkpoints kept at a few steps), then a resumable
-- sweep (ss.sweep) over checkpoint × sampler (DDPM's ancestral, DDIM) × sampling steps
-- (10/20/50/100), each point the distance between its samples and the Fashion-MNIST test
-- split: "FD (Fashion-MNIST classifier)" by default (no download), FID with
-- --network inception when its weights are found. Writes DIR/sweep.csv and DIR/sweep.png
-- (one line per sampler and checkpoint). Run it again to resume: finished training stages
-- and measured points are skipped.
-- usage: scalespace examples/fid_sweep.lua [DIR] [--quick] [--network fashion|inception]
--          [--n N] [--stages S1,S2,…] [--ch N]
--   --quick: 2 checkpoints of a tiny network (20 and 40 steps), 64 samples per point,
--   10 and 20 sampling steps (under a minute; the examples spec runs it).
local ss = require "scalespace"

local dir, quick, network = "out/fid_sweep", false, "fashion"
local n, stages, ch, sampler_steps = 500, { 500, 1000, 2000 }, 16, { 10, 20, 50, 100 }
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--quick" then quick = true
  elseif a == "--network" then network, i = arg[i + 1], i + 1
  elseif a == "--n" then n, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--ch" then ch, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--stages" then
    stages, i = {}, i + 1
    for s in arg[i]:gmatch("[^,]+") do stages[#stages + 1] = tonumber(s) end
  elseif a:sub(1, 2) == "--" then error("unknown option " .. a .. " (--quick, --network, --n, --stages, --ch)")
  else dir = a end
  i = i + 1
end
if quick then n, stages, ch, sampler_steps = 64, { 20, 40 }, 8, { 10, 20 } end
ss.mkdir(dir)

-- 1. Training, in stages: train.run resumes the run and continues to the next stage; each
-- stage's checkpoint is kept under its step.
local P = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
local data = ss.data.fashion_mnist { split = "train", range = { -1, 1 } }
local function make_net()
  return ss.nn.UNet { ch = ch, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 7 }, dropout = 0.1, size = 28,
    groups = math.min(32, ch), seed = 0 }
end
local run_dir = dir .. "/run"
local checkpoints = {}
for _, steps in ipairs(stages) do
  local keep = string.format("%s/checkpoint_%06d.safetensors", dir, steps)
  if not require("scalespace.ffi").file_exists(keep) then
    local r = ss.train.run(P, make_net(), data, { steps = steps, batch = 32, lr = 2e-4,
      warmup = math.min(1000, math.floor(stages[#stages] / 4)), ema = 0.999, seed = 0, out = run_dir,
      data_range = { -1, 1 }, sample_steps = 20, log_every = 10 })
    if r.interrupted then return end
    local src = io.open(r.checkpoint, "rb")
    local bytes = src:read("*a")
    src:close()
    assert(ss.C.ss_file_write_atomic(keep, bytes, #bytes) == 0, ss.ffi.string(ss.C.ss_last_error()))
  end
  checkpoints[#checkpoints + 1] = { step = steps, path = keep }
end

-- 2. The reference: statistics of the test split (computed once, then cached).
local net = ss.metrics.network(network)
local ref = ss.metrics.statistics("fashion-mnist:test", { network = net })
print(string.format("reference: %s of %d test images (%s)", net.metric, ref.n, net.source))

-- 3. The sweep: one point per checkpoint, sampler and step count.
local points = {}
for _, c in ipairs(checkpoints) do
  for _, method in ipairs { "ancestral", "ddim" } do
    for _, steps in ipairs(sampler_steps) do
      points[#points + 1] = { checkpoint = c.step, sampler = method, steps = steps,
        curve = string.format("%s, step %d", method, c.step) }
    end
  end
end
local models = {}
local rows = ss.sweep.run(points, function(p)
  local model = models[p.checkpoint]
  if not model then
    model = ss.checkpoint.load_weights(string.format("%s/checkpoint_%06d.safetensors", dir, p.checkpoint), make_net())
    models[p.checkpoint] = model
  end
  local x = ss.sample.run(P, model, { n = n, seed = 1, steps = p.steps, method = p.sampler, shape = { 1, 28, 28 } })
  local s = ss.metrics.statistics(x, { network = net, range = { -1, 1 }, progress = false })
  return { fd = ss.metrics.frechet_distance(s, ref, { quiet = true }), n = n }
end, { csv = dir .. "/sweep.csv", desc = "fid sweep",
  plot = { path = dir .. "/sweep.png", x = "steps", y = "fd", series = "curve", logx = true,
    ylabel = net.metric .. " to the test split", title = "DDPM on Fashion-MNIST: samplers and checkpoints" } })

for _, r in ipairs(rows) do
  print(string.format("checkpoint %6d  %-9s %3d steps  %s %.4g", r.checkpoint, r.sampler, r.steps, net.metric, r.fd))
end
print("wrote " .. dir .. "/sweep.csv" .. (ss.plot.available() and (" and " .. dir .. "/sweep.png") or ""))
