--- scalespace.metrics — how far apart two sets of images are, as clean-fid measures it:
-- FID (the Fréchet distance of Inception-v3 pool3 statistics), KID, and the same distance
-- in the features of a Fashion-MNIST classifier trained here ("FD (Fashion-MNIST
-- classifier)", never FID), with clean-fid's preprocessing ("clean" mode).
--
--   local m = ss.metrics
--   local net = m.network("fashion")                       -- or "inception" (m.inception{weights =})
--   local s1 = m.statistics("fashion-mnist:test", { network = net })   -- cached
--   local s2 = m.statistics(samples, { network = net, range = {-1, 1} })
--   local fd, info = m.frechet_distance(s1, s2)
--   local kid, kid_std = m.kid(m.features(a, { network = net }), m.features(b, { network = net }))
--   local r = m.compare(a, b, { network = "fashion", kid = true })  -- {fd=, kid=, n1=, n2=, metric=, …}
--   s1:save("ref.safetensors"); m.load_stats("ref.safetensors")
--
-- Feature networks are registered by name (m.register(name, constructor), constructor(opts)
-- returning {name=, metric=, dim=, batch=, weights= (a hash), input = {size=, channels=,
-- shift=, scale=}, features = function(self, x) -> (B, dim)}); "inception" and "fashion"
-- are built in (metrics/inception.lua, metrics/fashion.lua).
local lib = require "scalespace.ffi"
local stats = require "scalespace.metrics.stats"
local distance = require "scalespace.metrics.distance"
local features = require "scalespace.metrics.features"
local clean = require "scalespace.metrics.clean"
local json = require "scalespace.json"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

M.statistics = features.statistics
M.cache_dir = features.cache_dir
M.frechet_distance = distance.frechet_distance
M.kid = distance.kid
M.load_stats = stats.load
M.new_stats = stats.new
M.is_stats = stats.is_stats
M.is_stats_file = stats.is_file
M.quantize = clean.quantize
M.prepare = clean.prepare

local registry = {
  inception = function(opts) return require("scalespace.metrics.inception").network(opts) end,
  fashion = function(opts) return require("scalespace.metrics.fashion").network(opts) end,
}

--- Registers a feature network constructor under name (replacing one of that name).
function M.register(name, constructor)
  if type(name) ~= "string" then arg_error("metrics.register", 1, "a name", name) end
  if type(constructor) ~= "function" then arg_error("metrics.register", 2, "a constructor function(opts)", constructor) end
  registry[name] = constructor
end

--- The registered names, sorted.
function M.networks()
  local names = {}
  for k in pairs(registry) do names[#names + 1] = k end
  table.sort(names)
  return names
end

local loaded = {}
--- The feature network `name` (opts go to its constructor: weights =, device =); made
-- once per name and options, then reused. A network object passes through.
function M.network(name, opts)
  if type(name) == "table" and type(name.features) == "function" then return name end
  if type(name) ~= "string" then arg_error("metrics.network", 1, "a network name (" .. table.concat(M.networks(), ", ") .. ")", name) end
  local make = registry[name]
  if not make then
    raise(string.format("metrics.network: no feature network %q (there are %s)", name, table.concat(M.networks(), ", ")))
  end
  local key = name .. "|" .. json.encode(opts or {})
  loaded[key] = loaded[key] or make(opts or {})
  return loaded[key]
end

--- The FID Inception-v3 network (opts.weights: a file; else the weights search).
function M.inception(opts) return M.network("inception", opts) end

-- opts with network resolved to a network object.
local function with_network(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then arg_error(fname, 2, "an options table {network =, batch =}", opts) end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.network = M.network(o.network or "inception", { weights = o.weights, device = o.device, width = o.width })
  return o
end

--- The features (N, D) of images through opts.network (a name or a network; default
-- "inception"), with clean-fid's preprocessing; opts as ss.metrics.statistics.
function M.features(images, opts)
  return features.features(images, with_network(opts, "metrics.features"))
end

local statistics = M.statistics
--- Statistics of images (a tensor, data set, folder, data set name, generator, or a
-- statistics file, which is read); opts.network is a name or a network (default
-- "inception"); the other options as in metrics/features.lua.
function M.statistics(images, opts)
  if type(images) == "string" and stats.is_file(images) then return stats.load(images) end
  return statistics(images, with_network(opts, "metrics.statistics"))
end

--- Compares two image sets a and b (anything M.statistics takes): returns {fd=, metric=
-- ("FID" or "FD (Fashion-MNIST classifier)"), network=, n1=, n2=, dim=, warnings=,
-- clamped=} and, with opts.kid (features of both sets are then kept; statistics files
-- cannot give them), kid= and kid_std= (opts.subsets, opts.subset_size, opts.seed).
-- opts.range1 / opts.range2 give each side's value range.
function M.compare(a, b, opts)
  local o = with_network(opts, "metrics.compare")
  local sides = {}
  for i, x in ipairs { a, b } do
    local oi = {}
    for k, v in pairs(o) do oi[k] = v end
    oi.range = o["range" .. i] or o.range
    oi.keep_features = o.kid
    if o.kid and type(x) == "string" and stats.is_file(x) then
      raise("metrics.compare: KID needs the images; " .. x .. " is a statistics file (FID only)")
    end
    if type(x) == "string" and stats.is_file(x) then
      sides[i] = { stats = stats.load(x) }
    else
      local s, f = statistics(x, oi)
      sides[i] = { stats = s, features = f }
    end
  end
  local fd, info = distance.frechet_distance(sides[1].stats, sides[2].stats, { quiet = o.quiet })
  local net = o.network
  local r = { fd = fd, metric = sides[1].stats.info.metric or net.metric, network = net.name, n1 = sides[1].stats.n,
    n2 = sides[2].stats.n, dim = sides[1].stats.dim, clamped = info.clamped, warnings = info.warnings }
  if o.kid then
    r.kid, r.kid_std = distance.kid(sides[1].features, sides[2].features,
      { subsets = o.subsets, subset_size = o.subset_size, seed = o.seed })
  end
  return r
end

return M
