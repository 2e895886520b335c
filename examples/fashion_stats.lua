-- examples/fashion_stats.lua — Fashion-MNIST statistics and a grid of 64 images.
-- usage: scalespace examples/fashion_stats.lua [outdir]
local ss = require "scalespace"

local outdir = arg[1] or "out"
os.execute("mkdir -p " .. outdir)

for _, split in ipairs { "train", "test" } do
  local ds = ss.data.fashion_mnist { split = split }
  local s = ds:stats()
  print(string.format("fashion-mnist %-5s  n=%-6d mean=%.4f std=%.4f min=%.1f max=%.1f",
    split, s.n, s.mean, s.std, s.min, s.max))
end

local train = ss.data.fashion_mnist { split = "train" }
local first = train:batches { size = 64, shuffle = true, rng = ss.rng(0) }()
local path = ss.image.save_grid(outdir .. "/fashion_grid.png", first, { nrow = 8 })
print("wrote " .. path)
