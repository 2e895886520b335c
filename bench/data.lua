-- bench/data.lua — loading Fashion-MNIST's 60 000 training images as a script does
-- (ss.data.fashion_mnist), next to Python's gzip + numpy decoding the same file in the
-- same run. The timing used to be an assertion in test_idx; a busy machine made it flaky.
-- usage: scalespace bench/data.lua
local ss = require "scalespace"
local bench = require "scalespace.bench"

local dir = os.getenv("SS_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
local path = dir .. "/train-images-idx3-ubyte.gz"
if not require("scalespace.ffi").file_exists(path) then
  bench.emit { bench = "data", skipped = path .. " not found (Debian package dataset-fashion-mnist)" }
  return
end

local t = bench.median(function() ss.data.fashion_mnist { split = "train" } end, 5, 1)
local rec = { bench = "data", case = "fashion_mnist_train", images = 60000, threads = ss.num_threads(),
  median_ms = t * 1e3 }
local rows = bench.python("bench/peers/data.py", { path })
if rows then
  rec.peer, rec.peer_median_ms = rows[1].peer, rows[1].median_ms
  rec.speedup = rows[1].median_ms / (t * 1e3)
end
bench.emit(rec)
