--- `scalespace fid` — FID (or FD in the Fashion-MNIST classifier's features) and KID between
-- two image sets, as one JSON line; or the statistics of one set, saved for later.
-- The executable runs this file for `scalespace fid …` (runtime/cli/main.c: a word that is
-- not a file and names lua/scalespace/cli/<word>.lua).
local ss = require "scalespace"
local json = require "scalespace.json"

local USAGE = [[
usage: scalespace fid A B [--kid] [--network inception|fashion] [--mode clean] [--batch N]
                          [--weights FILE] [--range LO,HI] [--no-cache] [--subsets N]
                          [--subset-size N] [--seed N]
       scalespace fid --save-stats A OUT.safetensors [--network …] [--batch N] [--weights FILE]
A and B are folders of PNG files, statistics files (from --save-stats), or built-in data
sets (fashion-mnist:test, fashion-mnist:train, mnist). Prints one JSON line:
  {"a":…,"b":…,"fd":…,"metric":"FID","network":"inception","n1":…,"n2":…, …}
--network inception (default) is clean-fid's FID Inception-v3: its weights are searched for
  in $SS_INCEPTION, /tmp/inception-2015-12-05.pt (clean-fid), and torch hub's cache
  (~/.cache/torch/hub/checkpoints/: pytorch-fid's and torch-fidelity's files); nothing is
  downloaded. --network fashion is a Fashion-MNIST classifier trained here
  (examples/fashion_classifier.lua): its distance is "FD (Fashion-MNIST classifier)".
--kid adds the Kernel Inception Distance (mean and std over --subsets subsets of
  --subset-size images, drawn with --seed); it needs the images, not statistics files.
Statistics of folders and data sets are cached (--no-cache: recomputed, not written).]]

local function fail(msg, code)
  io.stderr:write("scalespace fid: ", msg, "\n")
  os.exit(code or 1)
end

local function whole(v, name)
  local n = tonumber(v)
  if not n or n < 1 or n ~= math.floor(n) then fail(name .. " needs a whole number >= 1, got " .. tostring(v), 2) end
  return n
end

local opts, pos = { network = "inception" }, {}
local i = 1
while arg[i] do
  local a = arg[i]
  local function value()
    i = i + 1
    if arg[i] == nil then fail(a .. " needs a value (scalespace fid --help)", 2) end
    return arg[i]
  end
  if a == "-h" or a == "--help" then
    print(USAGE)
    os.exit(0)
  elseif a == "--kid" then opts.kid = true
  elseif a == "--no-cache" then opts.cache = false
  elseif a == "--save-stats" then opts.save = true
  elseif a == "--network" then opts.network = value()
  elseif a == "--mode" then opts.mode = value()
  elseif a == "--weights" then opts.weights = value()
  elseif a == "--batch" then opts.batch = whole(value(), "--batch")
  elseif a == "--subsets" then opts.subsets = whole(value(), "--subsets")
  elseif a == "--subset-size" then opts.subset_size = whole(value(), "--subset-size")
  elseif a == "--seed" then opts.seed = tonumber(value()) or fail("--seed needs a number", 2)
  elseif a == "--range" then
    local lo, hi = value():match("^([^,]+),([^,]+)$")
    lo, hi = tonumber(lo), tonumber(hi)
    if not (lo and hi and lo < hi) then fail("--range needs LO,HI with LO < HI, e.g. --range -1,1", 2) end
    opts.range = { lo, hi }
  elseif a:sub(1, 2) == "--" then fail("unknown option " .. a .. " (scalespace fid --help)", 2)
  else pos[#pos + 1] = a end
  i = i + 1
end
if #pos ~= 2 then
  fail((opts.save and "--save-stats needs A and OUT.safetensors" or "needs two image sets A and B")
    .. string.format(", got %d argument%s (scalespace fid --help)", #pos, #pos == 1 and "" or "s"), 2)
end

local t0 = ss.progress.clock()
local ok, err = xpcall(function()
  local m = ss.metrics
  local common = { network = opts.network, weights = opts.weights, mode = opts.mode, batch = opts.batch,
    range = opts.range, cache = opts.cache }
  if opts.save then
    local s = m.statistics(pos[1], common)
    s:save(pos[2])
    print(json.encode({ saved = pos[2], source = pos[1], n = s.n, dim = s.dim, network = s.info.network,
      metric = s.info.metric, mode = s.info.mode, seconds = ss.progress.clock() - t0 }, { digits = 10 }))
    return
  end
  common.kid, common.subsets, common.subset_size, common.seed = opts.kid, opts.subsets, opts.subset_size, opts.seed
  local r = m.compare(pos[1], pos[2], common)
  local out = { a = pos[1], b = pos[2], fd = r.fd, metric = r.metric, network = r.network, mode = opts.mode or "clean",
    n1 = r.n1, n2 = r.n2, dim = r.dim, seconds = ss.progress.clock() - t0 }
  if r.kid then out.kid, out.kid_std = r.kid, r.kid_std end
  if #r.warnings > 0 then out.warnings = r.warnings end
  print(json.encode(out, { digits = 10 }))
end, function(e) return tostring(e) end)
if not ok then fail((tostring(err):gsub("^[^:]*%.lua:%d+: ", ""))) end
