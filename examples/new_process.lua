-- examples/new_process.lua — a new forward process from a new operator, in a few lines.
-- The operator: blur along rows only (heat in x, a per-frequency scale in the DCT
-- basis). The process: 40 steps of that blur with noise growing to σ = 0.3, halving
-- the resolution at step 20. ss.process.linear supplies marginals, steps (with the
-- non-isotropic step noise drawn by Lanczos), trajectories and the posterior.
-- usage: scalespace examples/new_process.lua [outdir]
local ss = require "scalespace"

local outdir = arg[1] or "out"
os.execute("mkdir -p " .. outdir)

-- The new operator: exp(t ∂xx) with reflecting boundaries, on n×n images.
local function row_blur(n, t)
  local scale = ss.empty { n, n }
  for k = 1, n do
    for l = 1, n do scale:set(math.exp(-t * (math.pi * (l - 1) / n) ^ 2), k, l) end
  end
  return ss.op.diag_dct { scale = scale }
end

-- The new process.
local blur28, blur14 = row_blur(28, 0.5), row_blur(14, 0.5)
local P = ss.process.linear { name = "streak", size = 28, T = 40,
  step_op = function(t)
    if t == 20 then return ss.op.resize { from = { 28, 28 }, to = { 14, 14 }, mode = "area" } end
    return t < 20 and blur28 or blur14
  end,
  std = function(t) return 0.3 * t / 40 end }

-- Use it: the mean operator is exact (adjoint test), paths and the posterior work.
local g = ss.rng(0)
print(string.format("streak process: adjoint error of A_40 %.2g", ss.op.check(P:mean_op(40), { rng = g })))
local x = ss.data.fashion_mnist { split = "test", limit = 4 }.images
local times = { 0, 5, 10, 19, 20, 30, 40 }
local up = ss.op.resize { from = { 14, 14 }, to = { 28, 28 }, mode = "nearest" }
local tiles = {}
for _, u in ipairs(P:trajectory(x, times, g)) do
  tiles[#tiles + 1] = u:shape()[3] == 14 and up(u) or u
end
-- tiles[j] holds the 4 images at times[j]; lay them out one image per row
local rows = {}
for b = 1, 4 do
  for j = 1, #times do rows[#rows + 1] = tiles[j]:narrow(1, b, 1) end
end
local path = ss.image.save_grid(outdir .. "/new_process.png", ss.cat(rows, 1), { nrow = #times })
local xt = P:marginal(x, 40, g)
local sample = P:posterior(xt, x, 40, g)
print(string.format("x_40 is %dx%d with std %.3f; a posterior sample of x_39 is %dx%d", xt:shape()[3], xt:shape()[4],
  (xt - P:mean(x, 40)):std(), sample:shape()[3], sample:shape()[4]))
print("wrote " .. path)
