-- examples/sample.lua — samples from any training run: the process and the network are
-- rebuilt from the checkpoint alone (its saved config: the process's registered name and
-- options — a script's own process is loaded from the file that registered it — and the
-- network's class and config), the EMA weights loaded; writes
-- <rundir>/sample_samples.png and <rundir>/sample_trajectory.png. With --fd N, N more
-- samples are measured against the Fashion-MNIST test split: "FD (Fashion-MNIST
-- classifier)", the classifier that ships with scalespace.
-- usage: scalespace examples/sample.lua <rundir> [--n 16] [--seed N] [--steps N]
--        [--method ancestral|ddim] [--isotropic] [--snapshots N] [--data fashion|mnist] [--fd N]
local ss = require "scalespace"
local o = ss.train.options(arg, { out = "out/ihdm", n = 16, seed = 1, steps = 0, method = "", isotropic = false,
  snapshots = 10, data = "fashion", fd = 0 })
if o.fd > 0 and o.data ~= "fashion" then error("--fd measures against Fashion-MNIST's test split; this run's data is " .. o.data, 0) end

local path = o.out .. "/checkpoint.safetensors"
local cfg = ss.checkpoint.config(path)
if not cfg or not cfg.process or not cfg.net then
  error(path .. " holds no training config (was it written by ss.train?)", 0)
end
local P = ss.process.rebuild(cfg.process)
local Net = ss.nn[cfg.net.class]
if type(Net) ~= "table" then error(path .. ": unknown network class '" .. tostring(cfg.net.class) .. "'", 0) end
local net = ss.checkpoint.load_weights(path, Net(cfg.net.config))
local range = cfg.train.data_range
-- the data, for a prior that starts from training images (IHDM's)
local ds = o.data == "mnist" and ss.data.mnist { range = range } or ss.data.fashion_mnist { range = range }
local opts = { n = o.n, seed = o.seed, snapshots = o.snapshots, range = range, name = "sample_", data = ds,
  shape = { cfg.net.config.in_ch, cfg.net.config.size, cfg.net.config.size },
  prediction = cfg.train.prediction, steps = o.steps > 0 and o.steps or nil,
  method = o.method ~= "" and o.method or nil, isotropic = o.isotropic or nil }
local t0 = ss.progress.clock()
local a, b = ss.sample.pictures(P, net, o.out, opts)
print(string.format("%s, step %s: %d samples in %.1f s; wrote %s, %s", P.name, ss.checkpoint.meta(path).step, o.n,
  ss.progress.clock() - t0, a, b))

if o.fd > 0 then
  local features = ss.metrics.network("fashion")
  local ref = ss.metrics.statistics("fashion-mnist:test", { network = features })
  local run = { seed = o.seed + 1 }
  for k, v in pairs(opts) do
    if k ~= "range" and k ~= "name" and k ~= "snapshots" and k ~= "seed" then run[k] = v end
  end
  local stats = ss.metrics.new_stats(features.dim)
  t0 = ss.progress.clock()
  for first = 1, o.fd, 250 do -- in batches, so memory stays bounded for any N
    run.n, run.seed = math.min(250, o.fd - first + 1), run.seed + 1
    local x = ss.sample.run(P, net, run)
    stats:add(features:features(ss.metrics.prepare(x, features.input, range)))
  end
  local fd = ss.metrics.frechet_distance(stats, ref)
  print(string.format("%s of %d samples against the %d test images: %.4g (%.0f s)", features.metric, o.fd, ref.n, fd,
    ss.progress.clock() - t0))
end
