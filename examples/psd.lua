-- examples/psd.lua — IHDM's Fig. 4: the radially averaged power spectral density of
-- images along the DDPM and the heat forward processes. The PSD is the squared
-- orthonormal DCT coefficient, averaged over images, channels and the coefficients
-- (k, l) with round(sqrt(k² + l²)) = r. Heat follows IHDM's blur levels (K = 100,
-- σ_B,max = 20); DDPM Ho's linear β (T = 1000). Data: Fashion-MNIST test in [0, 1].
-- Writes out/psd.csv (one row per radius r, one column per process and time) and a
-- log-log plot: heat removes the high frequencies first, DDPM drowns them in white
-- noise (a flat spectrum) first.
-- usage: scalespace examples/psd.lua [outdir] [--limit N]
local ss = require "scalespace"

local outdir, limit = "out", 2000
local i = 1
while arg[i] do
  if arg[i] == "--limit" then limit, i = tonumber(arg[i + 1]), i + 1
  elseif arg[i]:sub(1, 2) == "--" then error("unknown option " .. arg[i] .. " (--limit N)")
  else outdir = arg[i] end
  i = i + 1
end
os.execute("mkdir -p " .. outdir)

local x = ss.data.fashion_mnist { split = "test" }.images
x = x:narrow(1, 1, math.min(limit, x:shape()[1]))
local s = x:shape()
local n, size = s[1] * s[2], s[3]
local D = ss.op.dct2 { size = size }

-- Radial bins of the mean power: r = 0 … size−1 (the corner radii beyond are dropped).
local function radial_psd(u)
  local c = D(u):reshape { 1, n, size * size }
  local power = ss.bmm(ss.full({ 1, 1, n }, 1 / n), c * c):values()
  local sum, count = {}, {}
  for r = 0, size - 1 do sum[r], count[r] = 0, 0 end
  for k = 0, size - 1 do
    for l = 0, size - 1 do
      local r = math.floor(math.sqrt(k * k + l * l) + 0.5)
      if r < size then sum[r], count[r] = sum[r] + power[k * size + l + 1], count[r] + 1 end
    end
  end
  local out = {}
  for r = 0, size - 1 do out[r] = sum[r] / count[r] end
  return out
end

local g = ss.rng(0)
local heat = ss.process.heat { size = size, K = 100, sigma_max = 20 }
local ddpm = ss.process.ddpm { beta = ss.schedule.linear_beta(1000) }
local curves = {}
for _, k in ipairs { 0, 20, 40, 60, 80, 100 } do
  curves[#curves + 1] = { name = string.format("heat_k%d", k), label = string.format("heat sigma_B %.3g",
    heat.sigma_B[k]), psd = radial_psd(heat:marginal(x, k, g)) }
end
for _, t in ipairs { 0, 50, 100, 200, 400, 1000 } do
  curves[#curves + 1] = { name = string.format("ddpm_t%d", t), label = string.format("DDPM t=%d", t),
    psd = radial_psd(ddpm:marginal(x, t, g)) }
end

local columns, rows = { "radius" }, {}
for _, c in ipairs(curves) do columns[#columns + 1] = c.name end
for r = 0, size - 1 do
  local row = { r }
  for _, c in ipairs(curves) do row[#row + 1] = c.psd[r] end
  rows[#rows + 1] = row
end
local csv = ss.plot.write_csv(outdir .. "/psd.csv", columns, rows)
print(string.format("PSD of %d Fashion-MNIST images: heat at r = %d falls from %.3g to %.3g; DDPM at r = %d "
  .. "rises from %.3g to %.3g", s[1], size - 1, curves[1].psd[size - 1], curves[6].psd[size - 1], size - 1,
  curves[7].psd[size - 1], curves[12].psd[size - 1]))
if ss.plot.available() then
  local series = {}
  for j, c in ipairs(curves) do
    local xs, ys = {}, {}
    for r = 1, size - 1 do xs[r], ys[r] = r, c.psd[r] end
    series[j] = { x = xs, y = ys, title = c.label, dash = c.name:find("ddpm") and 2 or 1 }
  end
  local png = ss.plot.lines(outdir .. "/psd.png", { series = series, logx = true, logy = true,
    title = "Radially averaged PSD along the heat and DDPM forward processes", xlabel = "frequency radius r (DCT index)",
    ylabel = "mean power", key = "outside right", width = 1000,
    note = string.format("Fashion-MNIST test, %d images in [0,1]", s[1]) })
  print("wrote " .. csv .. " and " .. png)
else
  print("wrote " .. csv .. " (no gnuplot: plot skipped)")
end
