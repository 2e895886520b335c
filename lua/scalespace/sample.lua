--- scalespace.sample — the learned reverse processes, through the process protocol
-- (ss.process): the process gives the times a sampler visits (P:sampler_times), the
-- prior, the network's output size per step (P:output_size) and the reverse step from
-- the network's prediction (P:reverse_step); this module runs the loop, keeps a
-- trajectory, and draws pictures.
--
--   local x = ss.sample.run(P, net, {n = 16, seed = 1})            -- (16,C,H,W)
--   local x, path = ss.sample.run(P, net, {n = 8, trajectory = 10}) -- and 10 snapshots
--
-- The network sees x_t and the integer time t and predicts what the process was trained
-- for (opts.prediction, default the process's first: IHDM's residual, DDPM's and blurring
-- diffusion's ε, Scale Space Diffusion's unscaled mean). opts.steps respaces where the
-- process allows it; opts.method picks a sampler the process offers ("ancestral", "ddim").
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local progress = require "scalespace.progress"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

--- The times a sampler visits, T first and 0 last (P:sampler_times).
function M.times(P, steps, opts)
  return P:sampler_times(steps, opts)
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

local option_types = { n = "number", seed = "number", rng = "cdata", steps = "number", method = "string",
  prediction = "string", data = "cdata|table", delta = "number", prior = "cdata", noise = "function",
  isotropic = "boolean", shape = "table", trajectory = "number", progress = "boolean", desc = "string" }

-- Is v one of list?
local function member(v, list)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

local function check_options(P, opts, fname)
  if type(opts) ~= "table" then arg_error(fname, 3, "an options table", opts) end
  for k, v in pairs(opts) do
    local want = option_types[k]
    if not want then raise(string.format("%s: unknown option '%s'", fname, tostring(k))) end
    if not want:find(type(v), 1, true) then
      raise(string.format("%s: option '%s' must be a %s, got %s", fname, k, want, lib.typename(v)))
    end
  end
  local caps = P:capabilities()
  if #caps.predictions == 0 then
    raise(string.format("%s: no learned reverse process for '%s' (it defines no training_example and "
      .. "reverse_step; see README \"Extending scalespace\")", fname, P.name))
  end
  if opts.method and not member(opts.method, caps.methods) then
    raise(string.format('%s: method "%s" is not one %s offers (%s)', fname, opts.method, P.name,
      table.concat(caps.methods, ", ")))
  end
  if opts.prediction and not member(opts.prediction, caps.predictions) then
    raise(string.format('%s: prediction "%s" is not one %s learns (%s)', fname, opts.prediction, P.name,
      table.concat(caps.predictions, ", ")))
  end
  return opts.prediction or caps.predictions[1]
end

--- Samples with the network: returns x_0 (N,C,H,W) and, with opts.trajectory = m, a list
-- of m + 1 snapshots from x_T to x_0 (evenly spaced over the steps; each a tensor at
-- its own resolution). opts: n (16), seed or rng, steps (respacing, where the process
-- allows it), method (a sampler the process offers: "ancestral", "ddim"), prediction
-- (what the network predicts; the process's default), data (training images, for a
-- prior that needs them: IHDM's), delta (IHDM's sampling noise), shape ({C, H, W} of the
-- data, for a process built without one), prior (x_T given), noise (a function(shape,
-- device) -> the noise of a step, e.g. sample.interpolated_noise), isotropic (Scale Space
-- Diffusion's ablation), progress (a bar on stderr), desc.
function M.run(P, net, opts)
  local fname = "sample.run"
  if type(P) ~= "table" or type(P.capabilities) ~= "function" then
    arg_error(fname, 1, "a process (ss.process.*)", P)
  end
  if type(net) ~= "table" or type(net.forward) ~= "function" then arg_error(fname, 2, "a network", net) end
  opts = opts or {}
  local prediction = check_options(P, opts, fname)
  local n = opts.prior and opts.prior:shape()[1] or opts.n or 16
  local g = opts.rng or tensor.rng(opts.seed or 0)
  local noise = opts.noise or function(shape, device) return g:normal(shape, 0, 1, device) end
  local times = P:sampler_times(opts.steps, { prediction = prediction })
  if net.evaluate then net:evaluate() end
  local x = opts.prior and opts.prior:clone() or P:prior(n, g, { shape = opts.shape, data = opts.data })
  local nsteps = #times - 1
  local keep = {}
  if opts.trajectory then
    local m = math.max(1, math.min(opts.trajectory, nsteps))
    for j = 0, m do keep[math.floor(j * nsteps / m + 0.5)] = true end
  end
  local path = keep[0] and { x:clone() } or nil
  local bar = opts.progress and progress.new { total = nsteps, desc = opts.desc or ("sample " .. P.name) }
  local step_opts = { prediction = prediction, method = opts.method, delta = opts.delta, isotropic = opts.isotropic }
  for i = 1, nsteps do
    local t, s = times[i], times[i + 1]
    local out_size = P:output_size(t, s, prediction)
    local pred = net:forward(x, t, out_size and { out_size = out_size } or nil)
    x = P:reverse_step(x, pred, t, s, noise, step_opts)
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
  local image = require "scalespace.image"
  return image.save_grid(prefix .. "samples.png", x, { range = opts.range }),
    image.save_grid(prefix .. "trajectory.png", M.strip(path), { range = opts.range, nrow = #path })
end

return M
