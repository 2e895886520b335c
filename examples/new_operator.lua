-- examples/new_operator.lua — a new degradation in a few lines of Lua:
-- blur, then 2x down-sample, then attenuate towards the border (a vignette,
-- written in Lua). Checks the adjoint and writes the degraded photograph, its
-- adjoint image, and a strip of the three.
-- usage: scalespace examples/new_operator.lua [outdir]
local ss = require "scalespace"

local outdir = arg[1] or "out"
os.execute("mkdir -p " .. outdir)
local n = 128
local x = ss.data.photo("astronaut", { size = n }) -- (3,128,128) in [0,1]

-- attenuation by a fixed mask: diagonal, so the adjoint is the same product
local h = n / 2
local mask = ss.empty { h, h }
for i = 1, h do
  for j = 1, h do
    local r = math.sqrt(((i - 0.5) / h - 0.5) ^ 2 + ((j - 0.5) / h - 0.5) ^ 2)
    mask:set(math.max(0, 1 - 1.6 * r * r), i, j)
  end
end
local vignette = ss.op.new {
  name = "vignette", in_shape = { h, h }, out_shape = { h, h },
  apply = function(v) return v * mask end, adjoint = function(v) return v * mask end,
}

local M = vignette * ss.op.resize { from = { n, n }, to = { h, h } } * ss.op.blur { size = n, sigma = 1.5 }
print(M)
print(string.format("adjoint check: relative error %.2e", ss.op.check(M, { rng = ss.rng(1) })))

local y = M(x)                           -- (3,64,64)
local back = M:adjoint(y)                -- (3,128,128)
ss.image.save(outdir .. "/new_operator_y.png", y)
ss.image.save(outdir .. "/new_operator_adjoint.png", back / back:max())
local up = ss.op.resize({ from = { h, h }, to = { n, n }, mode = "nearest" })(y)
local strip = ss.cat({ x:reshape { 1, 3, n, n }, up:reshape { 1, 3, n, n }, back:reshape { 1, 3, n, n } / back:max() }, 1)
print("wrote " .. ss.image.save_grid(outdir .. "/new_operator.png", strip, { nrow = 3 }))
