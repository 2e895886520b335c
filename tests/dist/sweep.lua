-- ranks: 2
-- tests/dist/sweep.lua — ctest dist_sweep (label dist): ss.sweep split across 2 ranks.
-- Rank 0 first runs the sweep alone (dist = false) for the reference CSV; then both ranks
-- run it together: the points are dealt out (each rank measures some, none twice), rank 0
-- alone writes, and the CSV is byte for byte the 1-rank one, with the same rows returned
-- on both ranks. Then a CSV holding the first 4 rows is resumed by both ranks: only the
-- missing points are measured and the file again equals the reference. The measure is a
-- deterministic function of the point (a Philox draw seeded by it), NaN included.
-- Without MPI, or started without the launcher, it says so and exits 77.
local ss = require "scalespace"
local dist = ss.dist

if not dist.available then
  print("SKIP dist_sweep: libscalespace was built without MPI (-DSS_MPI=ON with libopenmpi-dev)")
  os.exit(77)
end
dist.init { timeout = 120 }
if dist.size() ~= 2 then
  print("SKIP dist_sweep: needs 2 ranks, has " .. dist.size() .. " (run it under mpirun -np 2)")
  os.exit(77)
end
local rank = dist.rank()

local failures, checks = 0, 0
local function check(ok, what)
  checks = checks + 1
  if not ok then
    failures = failures + 1
    print(string.format("FAIL rank %d: %s", rank, what))
  end
end
local function read(path)
  local f = io.open(path, "rb")
  local s = f and f:read("*a")
  if f then f:close() end
  return s
end

-- One directory for both ranks (one machine), named by rank 0.
local dir = dist.broadcast_string(rank == 0 and os.tmpname() .. "_sweep" or nil)
if rank == 0 then ss.mkdir(dir) end
dist.barrier()

local points = {}
for _, proc in ipairs { "heat", "ddpm", "osmosis" } do
  for _, t in ipairs { 0.5, 2, 8, 32 } do points[#points + 1] = { process = proc, time = t } end
end
points[#points + 1] = { process = "blurring", time = 1 / 3 } -- a time "%.9g" rounds
local measured = {}
local function measure(p)
  measured[#measured + 1] = p.process .. "@" .. p.time
  local seed = #p.process * 1000 + math.floor(p.time * 64)
  local x = ss.rng(seed):normal { 64 }
  return { mean = x:mean(), std = x:std(), nan = p.process == "osmosis" and p.time == 8 and 0 / 0 or 1,
    label = p.process:upper() }
end

local one, two = dir .. "/one.csv", dir .. "/two.csv"
if rank == 0 then ss.sweep.run(points, measure, { csv = one, dist = false, progress = false }) end
measured = {}
local rows = ss.sweep.run(points, measure, { csv = two, progress = false })
local counts = dist.gather(tostring(#measured), 0)
local texts = dist.gather(require("scalespace.json").encode(rows), 0)
if rank == 0 then
  check(read(one) ~= nil and read(one) == read(two), "the 2-rank CSV equals the 1-rank CSV byte for byte")
  local a, b = tonumber(counts[1]), tonumber(counts[2])
  print(string.format("dist_sweep: %d points, rank 0 measured %d, rank 1 %d", #points, a, b))
  check(a + b == #points and a > 0 and b > 0, "each rank measured some points, none twice")
  check(texts[1] == texts[2], "both ranks return the same rows")
  check(#rows == #points and rows[9].process == "osmosis" and rows[11].nan ~= rows[11].nan,
    "rows in the points' order, NaN kept")
end

-- resume: a file with the first 4 rows
local partial = dir .. "/partial.csv"
if rank == 0 then
  local lines = {}
  for line in read(one):gmatch("[^\n]+") do lines[#lines + 1] = line end
  local f = io.open(partial, "wb")
  f:write(table.concat(lines, "\n", 1, 5) .. "\n")
  f:close()
end
dist.barrier()
measured = {}
local _, info = ss.sweep.run(points, measure, { csv = partial, progress = false })
counts = dist.gather(tostring(#measured), 0)
if rank == 0 then
  local total = tonumber(counts[1]) + tonumber(counts[2])
  print(string.format("dist_sweep: resumed: %d points measured (rank 0 %s, rank 1 %s), %d skipped", total, counts[1],
    counts[2], info.skipped))
  check(total == #points - 4 and info.skipped == 4, "the resumed sweep measured only the missing points")
  check(read(partial) == read(one), "the resumed CSV equals the 1-rank CSV")
  os.execute("rm -rf '" .. dir .. "'")
end

local verdicts = dist.gather(string.format("%d %d", checks, failures), 0)
if rank == 0 then
  local passed, failed = 0, 0
  for r, v in ipairs(verdicts) do
    local c, f = v:match("(%d+) (%d+)")
    passed, failed = passed + c - f, failed + f
    print(string.format("  rank %d: %d checks, %d failed", r - 1, c, f))
  end
  print(string.format("%d passed, %d failed", passed, failed))
end
dist.finalize()
os.exit(failures == 0 and 0 or 1)
