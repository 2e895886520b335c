--- scalespace.metrics.features — images through a feature network, in batches: the
-- features themselves (for KID) or their running statistics (for FD/FID), with clean-fid's
-- preprocessing, a progress bar, and a cache of statistics files.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local config = require "scalespace.config"
local progress = require "scalespace.progress"
local clean = require "scalespace.metrics.clean"
local source = require "scalespace.metrics.source"
local stats = require "scalespace.metrics.stats"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

local modes = { clean = true }

--- The directory of caches (.cache in the source tree; $SS_CACHE_DIR, else
-- $XDG_CACHE_HOME/scalespace or ~/.cache/scalespace once installed).
function M.cache_dir()
  local env = os.getenv("SS_CACHE_DIR")
  if env and env ~= "" then return env end
  if config.root and config.root ~= "" then return config.root .. "/.cache" end
  local xdg = os.getenv("XDG_CACHE_HOME")
  return (xdg and xdg ~= "" and xdg or (os.getenv("HOME") or ".") .. "/.cache") .. "/scalespace"
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then arg_error(fname, 2, "an options table {network =, batch =}", opts) end
  opts = opts or {}
  local mode = opts.mode or "clean"
  if not modes[mode] then
    raise(string.format('%s: mode %q is not implemented (clean-fid\'s "clean" is)', fname, tostring(mode)))
  end
  local batch = opts.batch
  if batch ~= nil and (type(batch) ~= "number" or batch < 1 or batch ~= math.floor(batch)) then
    raise(fname .. ": option batch must be a whole number >= 1, got " .. tostring(batch))
  end
  return opts, mode
end

-- Runs every batch of src through net; calls each(features (B, D)) per batch.
local function stream(src, net, opts, fname, each)
  local lo, hi = clean.range(src.range, fname)
  local bar = opts.progress ~= false and src.n and src.n >= (opts.progress_min or 1)
      and progress.new { total = src.n, desc = opts.desc or (net.name .. " features") } or nil
  local done = 0
  for x in src.batches(opts.batch or net.batch) do
    local f = net:features(clean.prepare(x, net.input, { lo, hi }))
    each(f)
    done = done + #x
    if bar then bar:update(done) end
  end
  if bar then bar:close() end
  if done == 0 then raise(fname .. ": " .. src.name .. " gave no images") end
  return done
end

--- The features (N, D) of images (anything ss.metrics.statistics takes but a statistics
-- file) through opts.network (a network object from ss.metrics.network; required).
function M.features(images, opts)
  local fname = "metrics.features"
  opts = check_opts(opts, fname)
  local net = opts.network
  if type(net) ~= "table" or type(net.features) ~= "function" then
    arg_error(fname, 2, "options with network = a feature network (ss.metrics.network)", net)
  end
  local src = source.new(images, opts, fname)
  local parts = {}
  stream(src, net, opts, fname, function(f) parts[#parts + 1] = f:clone() end)
  return #parts == 1 and parts[1] or tensor.cat(parts, 1)
end

--- The cache file for a source's statistics (nil when the source has no content key).
local function cache_path(src, net, mode)
  if not src.key_of then return nil end
  local key = source.combine(table.concat({ src.key_of(), mode, net.name, net.weights }, "|"))
  return M.cache_dir() .. "/metrics/" .. key .. ".safetensors", key
end

--- Statistics of images through opts.network, streamed batch by batch (never all the
-- features at once). opts: network (required), mode ("clean"), range ({0, 1}; {-1, 1}
-- for model outputs in [−1, 1]), batch (the network's default), progress (false: no
-- bar), desc (the bar's label), cache (true: read and write the statistics under
-- cache_dir()/metrics/ keyed by a hash of the images, mode and weights; default true for
-- folders and data sets, false for tensors and generators), keep_features (also return
-- the (N, D) features, for KID).
function M.statistics(images, opts)
  local fname = "metrics.statistics"
  local mode
  opts, mode = check_opts(opts, fname)
  local net = opts.network
  if type(net) ~= "table" or type(net.features) ~= "function" then
    arg_error(fname, 2, "options with network = a feature network (ss.metrics.network)", net)
  end
  local src = source.new(images, opts, fname)
  local use_cache = opts.cache
  if use_cache == nil then use_cache = src.named and not opts.keep_features end
  local path, key
  if use_cache then path, key = cache_path(src, net, mode) end
  if path and lib.file_exists(path) then
    local ok, s = pcall(stats.load, path)
    if ok then return s end
    io.stderr:write("warning: metrics: ignoring the unreadable cache file ", path, ": ", tostring(s), "\n")
  end
  local s = stats.new(net.dim, { mode = mode, network = net.name, metric = net.metric, weights = net.weights,
    source = src.name })
  local kept = opts.keep_features and {} or nil
  stream(src, net, opts, fname, function(f)
    s:add(f)
    if kept then kept[#kept + 1] = f:clone() end
  end)
  if path then
    lib.mkdir_p(M.cache_dir() .. "/metrics", fname)
    s:save(path, { key = key })
  end
  if kept then return s, (#kept == 1 and kept[1] or tensor.cat(kept, 1)) end
  return s
end

return M
