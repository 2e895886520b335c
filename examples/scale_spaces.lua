-- examples/scale_spaces.lua — `make run`: Peter's comparison of five scale-spaces
-- (Generalised Diffusion Probabilistic Scale-Spaces, Sect. 6.3) on Fashion-MNIST and
-- on natural photographs: DDPM (α = sqrt(1 − β²), β = 0.1 per unit time), inverse heat
-- dissipation (β = 0.01), homogeneous diffusion, blurring diffusion (β = 0.1) and
-- probabilistic osmosis (guidance noise σ = 0.1), all on one time axis (heat and osmosis
-- time with pixel spacing 1; DDPM takes round(t) steps). Data in [0, 1].
-- Writes, per data set, a Fig. 3-style trajectory figure (one row per process) and the
-- Fig. 4a image variance over time (mean over images and channels of the pixel variance)
-- as CSV and a log-log plot; and for Fashion-MNIST Fig. 4b: the distance of each process'
-- distribution to probabilistic osmosis' at every other time, as clean-fid measures it
-- (images quantised to 8 bits — DDPM's leave [0, 1] and are clipped, as saving them would)
-- in the features of Inception-v3 when its weights are found (FID), else of the
-- Fashion-MNIST classifier (FD; it ships with scalespace, and is trained first only when
-- SS_FASHION_CLASSIFIER names a file that is missing).
-- usage: scalespace examples/scale_spaces.lua [outdir] [--limit N] [--photos N] [--times K]
--          [--fd-network auto|inception|fashion|none] [--fd-images N] [--fd-every N]
local ss = require "scalespace"

local outdir, limit, nphotos, K = "out", nil, nil, 20
local fd_network, fd_images, fd_every = "auto", nil, 2
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--limit" then limit, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--photos" then nphotos, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--times" then K, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--fd-network" then fd_network, i = arg[i + 1], i + 1
  elseif a == "--fd-images" then fd_images, i = tonumber(arg[i + 1]), i + 1
  elseif a == "--fd-every" then fd_every, i = tonumber(arg[i + 1]), i + 1
  elseif a:sub(1, 2) == "--" then
    error("unknown option " .. a .. " (--limit N, --photos N, --times K, --fd-network auto|inception|fashion|none, "
      .. "--fd-images N, --fd-every N)")
  else outdir = a end
  i = i + 1
end
os.execute("mkdir -p " .. outdir)

local names = { "ddpm", "ihdm", "heat", "blurring", "osmosis" }
local labels = { ddpm = "DDPM (beta 0.1)", ihdm = "inverse heat dissipation (0.01)", heat = "homogeneous diffusion",
  blurring = "blurring diffusion (0.1)", osmosis = "probabilistic osmosis (sigma 0.1)" }

-- Times 0 and K log-spaced ones from 0.25 to t_max.
local function time_grid(t_max)
  local grid = {}
  for k = 1, K do grid[k] = 0.25 * (t_max / 0.25) ^ ((k - 1) / (K - 1)) end
  return grid
end

local function processes(size, grid)
  return {
    ddpm = ss.process.ddpm { T = math.floor(grid[#grid] + 0.5), sigma = 0.1 },
    ihdm = ss.process.ihdm { size = size, times = grid, sigma = 0.01 },
    heat = ss.process.heat { size = size, times = grid },
    blurring = ss.process.blurring { size = size, form = "peter", beta = 0.1, times = grid },
    osmosis = ss.process.osmosis { times = grid, sigma = 0.1, substeps = 4, tau = 256 },
  }
end

-- The process's own time index for grid index k (DDPM counts steps).
local function index(name, grid, k)
  if k == 0 then return 0 end
  return name == "ddpm" and math.floor(grid[k] + 0.5) or k
end

-- Sum over images of the pixel variance (each channel's, averaged over channels:
-- a flat colour image has variance 0).
local function image_variance(x)
  local s = x:shape()
  return x:reshape { s[1] * s[2], s[3] * s[4] }:per_sample("var"):sum() / s[2]
end

--- Fig. 4a: variance over time for all processes, over the images in chunks; with fd =
-- {network =, times = {k…}, n =}, Fig. 4b's feature statistics of the first fd.n images
-- at grid indices fd.times, from the same marginals (fd.stats[name][k]).
local function variance_curves(images, size, grid, g, bar_label, fd)
  local P = processes(size, grid)
  local n = images:shape()[1]
  local chunk = 1000
  local sums = {}
  for _, name in ipairs(names) do
    sums[name] = { [0] = 0 }
    for k = 1, K do sums[name][k] = 0 end
  end
  local fd_at = {}
  if fd then
    fd.stats = {}
    for _, name in ipairs(names) do
      fd.stats[name] = {}
      for _, k in ipairs(fd.times) do
        fd_at[k] = true
        fd.stats[name][k] = ss.metrics.new_stats(fd.network.dim, { network = fd.network.name, mode = "clean",
          metric = fd.network.metric, weights = fd.network.weights })
      end
    end
  end
  local function observe(name, k, first, u)
    sums[name][k] = sums[name][k] + image_variance(u)
    if fd and fd_at[k] and first <= fd.n then
      local m = math.min(#u, fd.n - first + 1)
      local x = m < #u and u:narrow(1, 1, m) or u
      fd.stats[name][k]:add(fd.network:features(ss.metrics.prepare(x, fd.network.input)))
    end
  end
  local bar = ss.progress.new { total = math.ceil(n / chunk) * #names, desc = bar_label, every_plain = 5 }
  local ks = {}
  for k = 1, K do ks[k] = k end
  for first = 1, n, chunk do
    local x = images:narrow(1, first, math.min(chunk, n - first + 1))
    local v0 = image_variance(x)
    for _, name in ipairs(names) do
      sums[name][0] = sums[name][0] + v0
      if name == "osmosis" then
        for k, u in ipairs((P.osmosis:trajectory(x, ks, g))) do observe(name, k, first, u) end
      else
        for k = 1, K do observe(name, k, first, P[name]:marginal(x, index(name, grid, k), g)) end
      end
      bar:step(1, { process = name })
    end
  end
  bar:close()
  local rows = {}
  for k = 0, K do
    local row = { k == 0 and 0 or grid[k] }
    for _, name in ipairs(names) do row[#row + 1] = sums[name][k] / n end
    rows[#rows + 1] = row
  end
  return rows
end

--- Fig. 3: one path per process from image x (1, C, H, W) at the given grid indices.
local function trajectory_figure(path, x, size, grid, cols, g)
  local P = processes(size, grid)
  local tiles = {}
  for _, name in ipairs(names) do
    local idx = {}
    for j, k in ipairs(cols) do idx[j] = index(name, grid, k) end
    for _, u in ipairs((P[name]:trajectory(x, idx, g))) do
      if name == "ddpm" then -- DDPM leaves [0, 1]: map each image affinely onto it, as Peter does
        local lo, hi = u:min(), u:max()
        u = (u - lo) / math.max(hi - lo, 1e-12)
      end
      tiles[#tiles + 1] = u
    end
  end
  return ss.image.save_grid(path, ss.cat(tiles, 1), { nrow = #cols })
end

--- The feature network of Fig. 4b: Inception-v3 when its weights are found ("auto"), else
-- the Fashion-MNIST classifier, trained here first when its weights are missing.
local function fd_setup(n)
  if fd_network == "none" then return nil end
  local inception = require "scalespace.metrics.inception"
  local use_inception = fd_network == "inception" or (fd_network == "auto" and inception.find_weights() ~= nil)
  local net
  if use_inception then
    net = ss.metrics.network("inception")
    print(string.format("Fig. 4b: FID with Inception-v3 (%s); on 2 CPU cores it computes ~15 images/s, so "
      .. "--fd-images (default 500, as Peter's 500 BSDS images) bounds the time; --fd-network fashion is fast", net.source))
  else
    local fashion = require "scalespace.metrics.fashion"
    if not require("scalespace.ffi").file_exists(fashion.default_path()) then
      print("Fig. 4b: training the Fashion-MNIST classifier first (its weights go to " .. fashion.default_path() .. ")")
      local _, info = fashion.train { out = fashion.default_path() }
      print(string.format("Fig. 4b: classifier trained in %.0f s, test accuracy %.2f %%", info.seconds, 100 * info.accuracy))
    end
    net = ss.metrics.network("fashion")
  end
  local times = {}
  for k = fd_every, K, fd_every do times[#times + 1] = k end
  return { network = net, times = times, n = math.min(n, fd_images or (use_inception and 500 or n)) }
end

--- Fig. 4b: the distance of each process' statistics to osmosis' at the same time.
local function fd_figure(tag, fd, grid)
  local others = { "ddpm", "ihdm", "heat", "blurring" }
  local rows, series = {}, {}
  for j, name in ipairs(others) do series[j] = { x = {}, y = {}, title = labels[name] } end
  for _, k in ipairs(fd.times) do
    local row = { grid[k] }
    for j, name in ipairs(others) do
      local d = ss.metrics.frechet_distance(fd.stats[name][k], fd.stats.osmosis[k], { quiet = true })
      row[#row + 1] = d
      series[j].x[#series[j].x + 1], series[j].y[#series[j].y + 1] = grid[k], d
    end
    rows[#rows + 1] = row
  end
  local what = fd.network.metric .. (fd.network.name == "inception" and " (Inception-v3)" or "")
  local columns = { "time" }
  for _, name in ipairs(others) do columns[#columns + 1] = name end
  local csv = ss.plot.write_csv(outdir .. "/" .. tag .. "_fd_osmosis.csv", columns, rows)
  local parts = {}
  for j, name in ipairs(others) do parts[j] = string.format("%s %.4g", name, rows[#rows][j + 1]) end
  print(string.format("Fig. 4b: %s to osmosis at t = %g: %s", what, grid[fd.times[#fd.times]], table.concat(parts, ", ")))
  if ss.plot.available() then
    local png = ss.plot.lines(outdir .. "/" .. tag .. "_fd_osmosis.png", {
      series = series, logx = true, logy = true, key = "bottom left", xlabel = "time t (heat/osmosis time; DDPM steps)",
      ylabel = what .. " to osmosis", title = "Distance to probabilistic osmosis over time: " .. tag,
      note = string.format("%s; %d images per process and time, 8-bit as clean-fid", what, fd.n) })
    print("wrote " .. csv .. " and " .. png)
  else
    print("wrote " .. csv .. " (no gnuplot: plot skipped)")
  end
end

local function run(tag, images, size, t_max, seed, with_fd)
  local grid = time_grid(t_max)
  local g = ss.rng(seed)
  local n = images:shape()[1]
  print(string.format("%s: %d images of %dx%d, %d times from %.3g to %g", tag, n, size, size, K, grid[1], t_max))
  local cols = { 0 }
  for _, k in ipairs { 3, 6, 9, 12, 15, K } do
    if k <= K and k > cols[#cols] then cols[#cols + 1] = k end
  end
  local fig = trajectory_figure(outdir .. "/" .. tag .. "_trajectories.png", images:narrow(1, 1, 1), size, grid, cols, g)
  local times = {}
  for j, k in ipairs(cols) do times[j] = k == 0 and "0" or string.format("%.3g", grid[k]) end
  print("wrote " .. fig .. " (rows: " .. table.concat(names, ", ") .. "; times " .. table.concat(times, ", ") .. ")")

  local fd = with_fd and fd_setup(n) or nil
  local t0 = ss.progress.clock()
  local rows = variance_curves(images, size, grid, g, tag .. " variance", fd)
  local secs = ss.progress.clock() - t0
  print(string.format("%s: Fig. 4a over %d images, %d processes at %d times in %.1f s%s", tag, n, #names, K + 1, secs,
    fd and string.format(" (with Fig. 4b's features of %d images at %d times)", fd.n, #fd.times) or ""))
  local columns = { "time" }
  for _, name in ipairs(names) do columns[#columns + 1] = name end
  local csv = ss.plot.write_csv(outdir .. "/" .. tag .. "_variance.csv", columns, rows)
  local last = rows[#rows]
  local parts = {}
  for j, name in ipairs(names) do parts[j] = string.format("%s %.4g", name, last[j + 1]) end
  print("variance at t = " .. string.format("%g", t_max) .. ": " .. table.concat(parts, ", "))
  if ss.plot.available() then
    local series = {}
    for j, name in ipairs(names) do
      local xs, ys = {}, {}
      for r = 2, #rows do xs[r - 1], ys[r - 1] = rows[r][1], rows[r][j + 1] end
      series[j] = { x = xs, y = ys, title = labels[name] }
    end
    local png = ss.plot.lines(outdir .. "/" .. tag .. "_variance.png", {
      series = series, logx = true, logy = true, key = "bottom left", xlabel = "time t (heat/osmosis time; DDPM steps)",
      ylabel = "image variance (mean over images)", title = "Image variance over time: " .. tag,
      note = string.format("data scaled to [0,1]; %d images, %dx%d", n, size, size) })
    print("wrote " .. csv .. " and " .. png)
  else
    print("wrote " .. csv .. " (no gnuplot: plot skipped)")
  end
  if fd then fd_figure(tag, fd, grid) end
  return rows
end

-- Fashion-MNIST test split: 28x28 grey.
local fm = ss.data.fashion_mnist { split = "test" }.images
if limit then fm = fm:narrow(1, 1, math.min(limit, fm:shape()[1])) end
run("fashion", fm, 28, 400, 1, true)

-- Natural photographs (offline: python3-skimage's), 128x128 colour.
local photos = { "chelsea", "astronaut", "coffee", "motorcycle_left", "motorcycle_right", "camera", "moon", "coins",
  "grass", "gravel", "brick", "horse", "ihc", "cell" }
local list = {}
for j = 1, math.min(nphotos or #photos, #photos) do
  local p = ss.data.photo(photos[j], { size = 128, channels = 3 })
  local s = p:shape()
  list[j] = p:reshape { 1, s[1], s[2], s[3] }
end
run("photos", ss.cat(list, 1), 128, 16384, 2)
