-- tools/kernel_logo.lua — the Jupyter kernel's logos, drawn with scalespace itself: a disc
-- and a ring that dissolve into scale-space from left to right (the heat equation's blur
-- blended in column by column). The build runs it; writes logo-32x32.png and logo-64x64.png.
-- usage: scalespace tools/kernel_logo.lua OUTDIR
local ss = require "scalespace"

local outdir = assert(arg[1], "usage: scalespace tools/kernel_logo.lua OUTDIR")

local function logo(n)
  local sharp = ss.zeros { 3, n, n }
  local colour = { { 0.10, 0.45, 0.85 }, { 0.95, 0.55, 0.10 } } -- disc, ring
  for i = 1, n do
    for j = 1, n do
      local x, y = (j - 0.5) / n - 0.5, (i - 0.5) / n - 0.5
      local r = math.sqrt(x * x + y * y)
      local c = r < 0.22 and colour[1] or (r > 0.32 and r < 0.44) and colour[2] or nil
      for k = 1, 3 do sharp:set(c and c[k] or 1, k, i, j) end
    end
  end
  local blurred = ss.op.blur { size = n, sigma = n / 10 }(sharp)
  local out = ss.empty { 3, n, n }
  for i = 1, n do
    for j = 1, n do
      local w = ((j - 1) / (n - 1)) ^ 1.5
      for k = 1, 3 do out:set((1 - w) * sharp:get(k, i, j) + w * blurred:get(k, i, j), k, i, j) end
    end
  end
  return out
end

for _, n in ipairs { 32, 64 } do
  ss.image.save(string.format("%s/logo-%dx%d.png", outdir, n, n), logo(n))
end
