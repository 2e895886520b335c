-- examples/ssd_fashion.lua — Scale Space Diffusion (Mukhopadhyay et al.) on Fashion-MNIST in
-- [-1, 1]: 28 → 14 → 7 with the convex-decay resolution schedule (γ = 0.5), T = 1000, linear
-- β, one Flexi-UNet for all levels predicting the unscaled A_{t−1}x_0 at r(t−1), weighted
-- by min(SNR, 5), batches of one resolution. Sampling uses the posterior of Eq. 6 with
-- Lanczos noise on the resolution changes (--isotropic: the paper's ablation). The
-- trajectory strip shows the coarse-to-fine generation. Run it again to resume.
-- usage: scalespace examples/ssd_fashion.lua [outdir] [--steps N] [--batch N] [--ch N]
--        [--sample-steps N] [--isotropic] [--lr X] [--warmup N] [--every N] [--limit N]
local ss = require "scalespace"
local o = ss.train.options(arg, { out = "out/ssd", steps = 20000, batch = 32, ch = 32, blocks = 1, sample_steps = 100,
  isotropic = false, lr = 2e-4, warmup = 1000, every = 1000, limit = 0, seed = 0 })

local ds = ss.data.fashion_mnist { range = { -1, 1 }, limit = o.limit > 0 and o.limit or nil }
local P = ss.process.ssd { size = 28, levels = { 28, 14, 7 }, T = 1000 }
local net = ss.nn.FlexiUNet { ch = o.ch, mult = { 1, 2, 2 }, num_res_blocks = o.blocks, attn_res = { 7 },
  dropout = 0.1, size = 28, seed = o.seed }
print(string.format("SSD on %s: %d images, Flexi-UNet with %d parameters", ds.name, #ds.images, net:num_parameters()))

local r = ss.train.run(P, net, ds, { steps = o.steps, batch = o.batch, lr = o.lr, warmup = o.warmup, clip = 1,
  ema = 0.999, seed = o.seed, out = o.out, sample_every = o.every, checkpoint_every = o.every,
  sample_steps = o.sample_steps, data_range = { -1, 1 } })
if r.interrupted then return end
print(string.format("step %d, last loss %.5g, %.1f s", r.step, r.losses[r.step] or 0 / 0, r.seconds))

ss.checkpoint.load_weights(r.checkpoint, net)
print("wrote " .. table.concat({ ss.sample.pictures(P, net, o.out, { n = 16, seed = 1, steps = o.sample_steps,
  isotropic = o.isotropic, range = { -1, 1 } }) }, ", "))
