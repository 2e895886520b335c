-- examples/osmosis.lua — osmosis filtering on photographs (Weickert et al. 2013;
-- Peter, Sect. 6): (1) probabilistic osmosis, a photograph evolving towards a noise
-- image of its own mean; (2) image blending, one photograph evolving towards the
-- drift of another. Writes PNG strips of both trajectories.
-- usage: scalespace examples/osmosis.lua [outdir] [size]
local ss = require "scalespace"

local outdir = arg[1] or "out"
local size = tonumber(arg[2]) or 96
os.execute("mkdir -p " .. outdir)

local function strip(name, traj)
  local frames = {}
  for i, s in ipairs(traj) do
    local f = s.u:clamp(0, 1)
    frames[i] = f:reshape { 1, unpack(f:shape()) }
  end
  return ss.image.save_grid(outdir .. "/" .. name, ss.cat(frames, 1), { nrow = #frames, padding = 2 })
end

local times = { 0, 1, 10, 100, 1000, 10000 }
local g = ss.rng(0)

-- (1) probabilistic osmosis: guidance = noise with the image's mean, sigma 0.1, in [1e-6, 1]
local f = ss.data.photo("astronaut", { size = size })
local traj, v, reports = ss.osmosis.probabilistic(f, { rng = g, tau = 10, times = times })
-- the steady state of each channel c: (mu(f_c + 1) / mu(v_c + 1)) (v_c + 1) - 1
local n = f:shape()[1]
local ratio = (f + 1):reshape({ n, -1 }):per_sample("mean") / (v + 1):reshape({ n, -1 }):per_sample("mean")
local steady = (v + 1) * ratio:reshape { n, 1, 1 } - 1
local iters = 0
for _, r in ipairs(reports) do iters = iters + r.iterations end
print(string.format("probabilistic osmosis: %d implicit steps, %d BiCGSTAB iterations in all", #reports, iters))
for _, s in ipairs(traj) do
  print(string.format("  t = %-6g mean %.6f (initial %.6f)  max distance to the steady state %.4f", s.t, s.u:mean(),
    f:mean(), (s.u - steady):abs():max()))
end
print("wrote " .. strip("osmosis_noise.png", traj))

-- (2) blending: the coffee photograph evolving under the drift of the cat photograph
local a = ss.data.photo("coffee", { size = size })
local b = ss.data.photo("chelsea", { size = size })
local blend = ss.osmosis.evolve(a, b, { tau = 10, times = times })
print("wrote " .. strip("osmosis_blend.png", blend))
