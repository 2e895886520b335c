-- bench/fid.lua — what FID costs: Inception-v3 feature extraction in images/s against
-- PyTorch 1.13 CPU (bench/peers/fid.py: the same full-width FID network with the same
-- random weights, loaded here from the peer's pytorch-fid state_dict, the same threads,
-- timed in the same run), and the Fréchet distance of two 2048-d statistics (ours: two
-- symmetric eigendecompositions; the peer: clean-fid's scipy.linalg.sqrtm route) with
-- the relative difference of the two values. JSON lines.
-- usage: scalespace bench/fid.lua [--batch N]
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"
local inception = require "scalespace.metrics.inception"

local batch = 8
if arg[1] == "--batch" then batch = tonumber(arg[2]) end
local threads = ss.num_threads()
local here = (arg and arg[0] or "bench/fid.lua"):match("^(.*)/") or "."
local dir = os.tmpname() .. "_fid"
ss.mkdir(dir)
local peers, why = bench.python(here .. "/peers/fid.py", { threads, dir, batch })
local peer = {}
for _, row in ipairs(peers or {}) do peer[row.case] = row end
if not peer.inception_features then
  io.stderr:write("bench/fid: the peer (python3-torch, python3-scipy) did not run: ", why or "", "\n")
  os.exit(1)
end

-- Inception features of `batch` images; the CPU convolution path, where the library says it
local ok, conv_path = pcall(function() return ffi.string(ss.C.ss_conv2d_cpu_path()) end)
if not ok then conv_path = nil end
local net = inception.load(dir .. "/inception.pt")
local x = ss.rng(0):normal { batch, 3, 299, 299 }
local ms = bench.median(function() net:forward(x) end, 5, 1) * 1e3
local ips, peer_ips = batch / ms * 1e3, batch / peer.inception_features.median_ms * 1e3
bench.emit { bench = "fid", case = string.format("inception_features_b%d", batch), threads = threads, median_ms = ms,
  images_per_s = ips, peer = "torch", peer_median_ms = peer.inception_features.median_ms, peer_images_per_s = peer_ips,
  speedup = ips / peer_ips, goal_speedup = 1.25, conv_path = conv_path }

-- the Fréchet distance of two 2048-d statistics
local d = 2048
local function read(name, n)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local bytes = f:read("*a")
  f:close()
  assert(#bytes == 8 * n, name .. ": " .. #bytes .. " bytes")
  local a = ffi.new("double[?]", n)
  ffi.copy(a, bytes, 8 * n)
  return a
end
local mu1, s1, mu2, s2 = read("mu1.f64", d), read("sigma1.f64", d * d), read("mu2.f64", d), read("sigma2.f64", d * d)
local out = ffi.new("double[1]")
local fd_ms = bench.median(function() ss.check(ss.C.ss_frechet_distance(out, nil, mu1, s1, mu2, s2, d)) end, 3, 0) * 1e3
local pf = peer.frechet_distance
bench.emit { bench = "fid", case = "frechet_distance_2048", threads = threads, median_ms = fd_ms, fd = out[0],
  peer = "scipy.linalg.sqrtm", peer_median_ms = pf.median_ms, peer_fd = pf.fd,
  rel_diff = math.abs(out[0] - pf.fd) / math.abs(pf.fd), speedup = pf.median_ms / fd_ms }
os.execute("rm -rf '" .. dir .. "'")
