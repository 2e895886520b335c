-- examples/new_process.lua — a new degradation, written in this script, becomes a trained
-- generative model with no change to the library.
--
-- The degradation works in three stages along a 200-step noise schedule: a streak (heat
-- along the rows only — an anisotropic blur, a per-frequency scale in the DCT basis) at
-- step 50, a 2x down-sampling at step 100, a vignette (a border fall-off written in Lua)
-- at step 150, with DDPM noise throughout. ss.process.linear turns these steps into a
-- process with marginals, the posterior of Scale Space Diffusion (Lanczos noise on the
-- operator steps) and a training objective; ss.train trains a Flexi-UNet on Fashion-MNIST
-- for it, ss.sample samples, and `scalespace examples/sample.lua <outdir>` samples again
-- from the checkpoint, finding the process's definition in this file.
-- usage: scalespace examples/new_process.lua [outdir] [--steps 2000] [--batch 32]
local ss = require "scalespace"

-- exp(−t(πl/n)²) for column frequency l, the same for every row frequency: heat along rows.
local function row_heat(n, t)
  local decay = ((ss.arange(n) * (math.pi / n)) ^ 2 * -t):exp():reshape { 1, n }
  return ss.op.diag_dct { scale = decay * ss.ones { n, 1 } }
end

-- 1 inside, falling smoothly to 0 at the borders: ones, padded with a zero margin, blurred.
local function vignette(n, margin)
  local inner = ss.ones { 1, 1, n - 2 * margin, n - 2 * margin }
  local mask = ss.op.blur { size = n, sigma = margin / 2 }(inner:pad { margin, margin, margin, margin })
  mask = mask:reshape { n, n }
  return ss.op.new { name = "vignette", in_shape = { n, n }, out_shape = { n, n },
    apply = function(x) return x * mask end, adjoint = function(y) return y * mask end }
end

ss.process.register("streak", function(o)
  local n, T, t_blur = o.size or 28, o.T or 200, o.row_heat or 4
  local beta = ss.schedule.linear_beta(T, 1e-4, 0.02)
  local abar = ss.schedule.alphas_cumprod(beta)
  local stages = {
    [T / 4] = row_heat(n, t_blur),
    [T / 2] = ss.op.resize { from = { n, n }, to = { n / 2, n / 2 }, mode = "area" },
    [3 * T / 4] = vignette(n / 2, 2),
  }
  return ss.process.linear { name = "streak", size = n, T = T, predictions = { "mean", "x0", "eps" }, min_snr = 5,
    step_op = function(t)
      local c = math.sqrt(1 - beta[t])
      return stages[t] and c * stages[t] or c
    end,
    std = function(t) return math.sqrt(1 - abar[t]) end,
    step_scale = function(t) return math.sqrt(1 - beta[t]) end }
end)
-- examples/sample.lua runs this file for the definition above only
if ss.process.loading then return end

local o = ss.train.options(arg, { out = "out/new_process", steps = 2000, batch = 32, seed = 0 })
local P = ss.process.streak { size = 28 }
print(string.format("streak process: adjoint error of A_T %.2g", ss.op.check(P:mean_op(P.T), { rng = ss.rng(0) })))

-- what the degradation does: one image per row, times 0, 50, 100, 150, 200
local x = ss.data.fashion_mnist { split = "test", limit = 4, range = { -1, 1 } }.images
local times = { 0, 50, 100, 150, 200 }
local path = P:trajectory(x, times, ss.rng(1))
local tiles = {}
for i = 1, 4 do
  for j = 1, #times do
    local u = path[j]:narrow(1, i, 1)
    local s = u:shape()
    if s[3] ~= 28 then u = ss.op.resize { from = { s[3], s[4] }, to = { 28, 28 }, mode = "nearest" }(u) end
    tiles[#tiles + 1] = u
  end
end
ss.mkdir(o.out)
print("forward process: " .. ss.image.save_grid(o.out .. "/forward.png", ss.cat(tiles, 1),
  { range = { -1, 1 }, nrow = #times }))

-- learn it
local data = ss.data.fashion_mnist { split = "train", range = { -1, 1 } }
local net = ss.nn.FlexiUNet { in_ch = 1, ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = {}, groups = 8,
  size = 28, dropout = 0, seed = o.seed }
local r = ss.train.run(P, net, data, { steps = o.steps, batch = o.batch, lr = 2e-4, warmup = 100, seed = o.seed,
  out = o.out, data_range = { -1, 1 }, sample_steps = 50, checkpoint_every = 500, log_every = 20 })
print(string.format("trained %d steps in %.0f s (last loss %.4g)", r.step, r.seconds, r.losses[r.step] or 0 / 0))

-- sample it with the EMA weights: a grid and the trajectories from x_T to x_0
ss.checkpoint.load_weights(r.checkpoint, net)
local a, b = ss.sample.pictures(P, net, o.out, { n = 16, seed = 1, steps = 50, range = { -1, 1 } })
print("wrote " .. a .. ", " .. b)
