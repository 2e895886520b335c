-- examples/sample.lua — samples from any training run of the examples: the process and
-- the network are rebuilt from the checkpoint alone (its saved config), the EMA weights
-- loaded; writes <rundir>/sample_samples.png and <rundir>/sample_trajectory.png.
-- usage: scalespace examples/sample.lua <rundir> [--n 16] [--seed N] [--steps N]
--        [--method ancestral|ddim] [--isotropic] [--snapshots N] [--data fashion|mnist]
local ss = require "scalespace"
local o = ss.train.options(arg, { out = "out/ihdm", n = 16, seed = 1, steps = 0, method = "ancestral",
  isotropic = false, snapshots = 10, data = "fashion" })

local path = o.out .. "/checkpoint.safetensors"
local cfg = ss.checkpoint.config(path)
if not cfg or not cfg.process then error(path .. " holds no training config (was it written by ss.train?)", 0) end
local P = ss.process[cfg.process.name](cfg.process.options)
local Net = cfg.process.name == "ssd" and ss.nn.FlexiUNet or ss.nn.UNet
local net = ss.checkpoint.load_weights(path, Net(cfg.net))
local range = cfg.train.data_range
local opts = { n = o.n, seed = o.seed, snapshots = o.snapshots, range = range, name = "sample_",
  shape = { cfg.net.in_ch, cfg.net.image_size, cfg.net.image_size } }
local kind = cfg.process.name
if kind == "ihdm" then
  local ds = o.data == "mnist" and ss.data.mnist { range = range } or ss.data.fashion_mnist { range = range }
  opts.data = ds
else
  opts.steps = o.steps > 0 and o.steps or nil
end
if kind == "ddpm" then opts.method, opts.prediction = o.method, cfg.train.prediction end
if kind == "ssd" then opts.isotropic = o.isotropic end
local t0 = ss.progress.clock()
local a, b = ss.sample.pictures(P, net, o.out, opts)
print(string.format("%s, step %s: %d samples in %.1f s; wrote %s, %s", kind, ss.checkpoint.meta(path).step, o.n,
  ss.progress.clock() - t0, a, b))
