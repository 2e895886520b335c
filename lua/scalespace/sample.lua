--- scalespace.sample — the learned reverse processes: IHDM (Rissanen et al., Alg. 2),
-- DDPM (ancestral, or DDIM), blurring diffusion (the reverse step in the DCT basis) and
-- Scale Space Diffusion (Eq. 6, Lanczos noise on resolution changes).
--
--   local x = ss.sample.run(P, net, {n = 16, seed = 1})            -- (16,C,H,W)
--   local x, path = ss.sample.run(P, net, {n = 8, trajectory = 10}) -- and 10 snapshots
--
-- The network sees x_t and the integer time t (IHDM: the level k) and predicts what the
-- process was trained for: IHDM the residual (μ = u_k + f), DDPM ε or x_0
-- (opts.prediction), blurring diffusion ε, SSD the unscaled A_{t−1}x_0 / √ᾱ_{t−1} at
-- r(t−1). opts.steps respaces DDPM, blurring and SSD (a subsequence of the times; SSD
-- keeps both ends of every resolution change).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local progress = require "scalespace.progress"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

local kinds = { ihdm = true, ddpm = true, blurring = true, ssd = true }

--- The process's kind for training and sampling, or an error naming what exists.
function M.kind(P, fname)
  if type(P) ~= "table" or type(P.name) ~= "string" then arg_error(fname, 1, "a process (ss.process.*)", P) end
  if not kinds[P.name] then
    raise(string.format("%s: no learned reverse process for '%s' (ihdm, ddpm, blurring and ssd have one)", fname,
      P.name))
  end
  if P.name == "blurring" and P.form ~= "hoogeboom" then
    raise(fname .. ': blurring diffusion is learned in its "hoogeboom" form')
  end
  return P.name
end

--- The times a sampler visits, T first and 0 last: every time, or `steps` of them evenly
-- spaced (as numpy's linspace rounded); for SSD both ends of every resolution change.
function M.times(P, steps)
  local T = P.T
  local keep = {}
  if not steps or steps >= T then
    for t = 1, T do keep[t] = true end
  else
    if type(steps) ~= "number" or steps < 1 then raise("sample: steps must be a positive number") end
    for i = 0, steps - 1 do
      keep[math.floor(1 + i * (T - 1) / math.max(steps - 1, 1) + 0.5)] = true
    end
  end
  if P.resolution then
    for t = 1, T do
      if P.resolution[t] ~= P.resolution[t - 1] then keep[t], keep[t - 1] = true, true end
    end
  end
  keep[T] = true
  local out = {}
  for t = T, 1, -1 do
    if keep[t] then out[#out + 1] = t end
  end
  out[#out + 1] = 0
  return out
end

-- n weights from 0 to 1.
local function weights(n)
  local w = {}
  for j = 1, n do w[j] = n == 1 and 0 or (j - 1) / (n - 1) end
  return w
end

--- n images interpolating a and b ((1,C,H,W) each) linearly, a first: IHDM's
-- interpolation of two priors (App. D).
function M.lerp(a, b, n)
  local out = {}
  for j, w in ipairs(weights(n)) do out[j] = a * (1 - w) + b * w end
  return tensor.cat(out, 1)
end

--- A noise source for the samplers: noise(shape, device) gives the noise of one step. It draws
-- ν_1 and ν_2 of one image from two generators and returns the batch interpolating them:
-- "slerp" (cos φ ν_1 + sin φ ν_2, φ from 0 to π/2, IHDM's App. D: the norm stays that of
-- a Gaussian) or "linear". With the two seeds equal every image gets the same noise:
-- IHDM's fixed-noise mode (Fig. 7a).
function M.interpolated_noise(seed_a, seed_b, mode)
  mode = mode or "slerp"
  if mode ~= "slerp" and mode ~= "linear" then raise('sample.interpolated_noise: mode must be "slerp" or "linear"') end
  local ga, gb = tensor.rng(seed_a), tensor.rng(seed_b)
  return function(shape, device)
    local one = { 1, unpack(shape, 2) }
    local a, b = ga:normal(one), gb:normal(one)
    local out = {}
    for j, w in ipairs(weights(shape[1])) do
      if mode == "slerp" then
        out[j] = a * math.cos(w * math.pi / 2) + b * math.sin(w * math.pi / 2)
      else
        out[j] = a * (1 - w) + b * w
      end
    end
    local batch = tensor.cat(out, 1)
    return (device or "cpu") == "cpu" and batch or batch:to(device)
  end
end

-- One reverse step t → s of each kind from the network's prediction `pred`.
local steps = {}

function steps.ihdm(P, x, pred, t, s, noise, opts)
  local y = x + pred
  if s > 0 then y:add_(noise(x:shape(), x:device_name()), opts.delta or P.delta) end
  return y
end

function steps.ddpm(P, x, pred, t, s, noise, opts)
  local prediction = opts.prediction or "eps"
  if opts.method == "ddim" then
    local eps = pred
    if prediction == "x0" then eps = (x - pred * P:lam(t)):mul_(1 / math.sqrt(P:gamma2(t))) end
    return P:ddim(x, eps, t, s)
  end
  if prediction == "x0" then return (P:posterior(x, pred, t, noise(x:shape(), x:device_name()), { s = s })) end
  return (P:posterior_eps(x, pred, t, noise(x:shape(), x:device_name()), { s = s }))
end

function steps.blurring(P, x, pred, t, s, noise)
  return (P:posterior_eps(x, pred, t, noise(x:shape(), x:device_name()), { s = s }))
end

function steps.ssd(P, x, pred, t, s, noise, opts)
  local sz = P.sizes[s]
  local mu = pred * math.sqrt(P.alphas_cumprod[s])
  return (P:posterior_mu(x, mu, t, noise({ x:shape()[1], x:shape()[2], sz[1], sz[2] }, x:device_name()),
    { s = s, isotropic = opts.isotropic }))
end

local option_types = { n = "number", seed = "number", rng = "cdata", steps = "number", method = "string",
  prediction = "string", data = "cdata|table", delta = "number", prior = "cdata", noise = "function",
  isotropic = "boolean", shape = "table", trajectory = "number", progress = "boolean", desc = "string" }

local function check_options(opts, fname)
  if type(opts) ~= "table" then arg_error(fname, 3, "an options table", opts) end
  for k, v in pairs(opts) do
    local want = option_types[k]
    if not want then raise(string.format("%s: unknown option '%s'", fname, tostring(k))) end
    if not want:find(type(v), 1, true) then
      raise(string.format("%s: option '%s' must be a %s, got %s", fname, k, want, lib.typename(v)))
    end
  end
  if opts.method and opts.method ~= "ancestral" and opts.method ~= "ddim" then
    raise(fname .. ': method must be "ancestral" or "ddim", got "' .. opts.method .. '"')
  end
  if opts.prediction and opts.prediction ~= "eps" and opts.prediction ~= "x0" then
    raise(fname .. ': prediction must be "eps" or "x0", got "' .. opts.prediction .. '"')
  end
end

--- The prior sample x_T: opts.prior, or the process's prior (IHDM: training images
-- opts.data blurred to level K plus δ-noise).
local function prior(P, kind, n, g, opts)
  if opts.prior then return opts.prior:clone() end
  if kind == "ihdm" then
    local data = opts.data
    if type(data) == "table" then data = data.images end
    if not tensor.is_tensor(data) then raise("sample.run: IHDM's prior needs data = training images (N,C,H,W)") end
    return P:prior(n, g, { data = data })
  end
  return P:prior(n, g, { shape = opts.shape })
end

--- Samples with the network: returns x_0 (N,C,H,W) and, with opts.trajectory = m, a list
-- of m + 1 snapshots from x_T to x_0 (evenly spaced over the steps; each a tensor at
-- its own resolution). opts: n (16), seed or rng, steps (respacing; not IHDM), method
-- ("ancestral" | "ddim", DDPM), prediction ("eps" | "x0", DDPM), data (IHDM's prior),
-- delta (IHDM's sampling noise, default the process's δ), shape ({C, H, W} of the data,
-- for a process built without one), prior (x_T given), noise (a
-- function(shape, device) -> the noise of a step, e.g. sample.interpolated_noise), isotropic
-- (SSD's ablation), progress (a bar on stderr), desc.
function M.run(P, net, opts)
  local fname = "sample.run"
  local kind = M.kind(P, fname)
  if type(net) ~= "table" or type(net.forward) ~= "function" then arg_error(fname, 2, "a network", net) end
  opts = opts or {}
  check_options(opts, fname)
  if kind == "ihdm" and opts.steps and opts.steps < P.T then
    raise("sample.run: IHDM's network maps level k to k − 1; it cannot skip levels (steps must be nil)")
  end
  local n = opts.prior and opts.prior:shape()[1] or opts.n or 16
  local g = opts.rng or tensor.rng(opts.seed or 0)
  local noise = opts.noise or function(shape, device) return g:normal(shape, 0, 1, device) end
  local times = M.times(P, opts.steps)
  if net.evaluate then net:evaluate() end
  local x = prior(P, kind, n, g, opts)
  local nsteps = #times - 1
  local keep = {}
  if opts.trajectory then
    local m = math.max(1, math.min(opts.trajectory, nsteps))
    for j = 0, m do keep[math.floor(j * nsteps / m + 0.5)] = true end
  end
  local path = keep[0] and { x:clone() } or nil
  local bar = opts.progress and progress.new { total = nsteps, desc = opts.desc or ("sample " .. kind) }
  local step = steps[kind]
  for i = 1, nsteps do
    local t, s = times[i], times[i + 1]
    local out_size = kind == "ssd" and P.sizes[s][1] or nil
    local pred = net:forward(x, t, out_size and { out_size = out_size } or nil)
    x = step(P, x, pred, t, s, noise, opts)
    if path and keep[i] then path[#path + 1] = x:clone() end
    if bar then bar:update(i) end
  end
  if bar then bar:close() end
  return x, path
end

--- The trajectory as one strip image per sample: each snapshot resized to the final
-- size (nearest neighbour, so coarse SSD steps show their pixels), rows = samples,
-- columns = time from x_T to x_0. Returns an (n·m, C, H, W) batch for save_grid with
-- nrow = m.
function M.strip(path)
  if type(path) ~= "table" or #path == 0 then arg_error("sample.strip", 1, "a trajectory (list of tensors)", path) end
  local final = path[#path]:shape()
  local n, m = final[1], #path
  local op = require "scalespace.op"
  local cols = {}
  for j, x in ipairs(path) do
    local s = x:shape()
    if s[3] ~= final[3] or s[4] ~= final[4] then
      x = op.resize { from = { s[3], s[4] }, to = { final[3], final[4] }, mode = "nearest" }(x)
    end
    cols[j] = x
  end
  local rows = {}
  for i = 1, n do
    for j = 1, m do rows[#rows + 1] = cols[j]:narrow(1, i, 1) end
  end
  return tensor.cat(rows, 1)
end

--- Saves a batch in the data's range ({lo, hi}, default {0, 1}) as a PNG grid (nrow per
-- row, default √n), mapped to [0, 1] and clamped. Returns path.
function M.save_grid(path, x, range, nrow)
  local image = require "scalespace.image"
  local lo, hi = range and range[1] or 0, range and range[2] or 1
  local y = (x - lo):mul_(1 / (hi - lo)):clamp_(0, 1)
  return image.save_grid(path, y, { nrow = nrow or math.ceil(math.sqrt(x:shape()[1])) })
end

--- The pictures a script ends with: n samples as out/<name>samples.png and their
-- trajectories (m snapshots each, x_T to x_0) as out/<name>trajectory.png. opts: as run,
-- plus range (the data's), name (a file prefix), snapshots (10). Returns both paths.
function M.pictures(P, net, out, opts)
  opts = opts or {}
  local run_opts = {}
  for k, v in pairs(opts) do
    if k ~= "range" and k ~= "name" and k ~= "snapshots" then run_opts[k] = v end
  end
  run_opts.trajectory = opts.snapshots or 10
  local x, path = M.run(P, net, run_opts)
  local prefix = out .. "/" .. (opts.name or "")
  return M.save_grid(prefix .. "samples.png", x, opts.range),
    M.save_grid(prefix .. "trajectory.png", M.strip(path), opts.range, #path)
end

return M
