-- examples/blurring_fashion.lua — blurring diffusion (Hoogeboom & Salimans) on
-- Fashion-MNIST in [-1, 1]: T = 1000, σ_blur,max = 20, min scale 0.001, log-SNR from 10 to
-- −10, ε-prediction; the reverse step works per DCT frequency. Grids use the sampler
-- respaced to --sample-steps. Run it again to resume; Ctrl-C stops after the current step.
-- usage: scalespace examples/blurring_fashion.lua [outdir] [--steps N] [--batch N] [--ch N]
--        [--sample-steps N] [--lr X] [--warmup N] [--every N] [--limit N]
local ss = require "scalespace"
local o = ss.train.options(arg, { out = "out/blurring", steps = 20000, batch = 32, ch = 32, blocks = 1,
  sample_steps = 100, lr = 2e-4, warmup = 1000, every = 1000, limit = 0, seed = 0 })

local ds = ss.data.fashion_mnist { range = { -1, 1 }, limit = o.limit > 0 and o.limit or nil }
local P = ss.process.blurring { size = 28, T = 1000, sigma_blur_max = 20 }
local net = ss.nn.UNet { ch = o.ch, mult = { 1, 2, 2 }, num_res_blocks = o.blocks, attn_res = { 7 }, dropout = 0.1,
  size = 28, seed = o.seed }
print(string.format("blurring diffusion on %s: %d images, UNet with %d parameters", ds.name, #ds.images,
  net:num_parameters()))

local r = ss.train.run(P, net, ds, { steps = o.steps, batch = o.batch, lr = o.lr, warmup = o.warmup, clip = 1,
  ema = 0.999, seed = o.seed, out = o.out, sample_every = o.every, checkpoint_every = o.every,
  sample_steps = o.sample_steps, data_range = { -1, 1 } })
if r.interrupted then return end
print(string.format("step %d, last loss %.5g, %.1f s", r.step, r.losses[r.step] or 0 / 0, r.seconds))

ss.checkpoint.load_weights(r.checkpoint, net)
print("wrote " .. table.concat({ ss.sample.pictures(P, net, o.out, { n = 16, seed = 1, shape = { 1, 28, 28 },
  steps = o.sample_steps, range = { -1, 1 } }) }, ", "))
