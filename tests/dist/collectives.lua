-- ranks: 2
-- tests/dist/collectives.lua — ctest dist_collectives (label dist), run by ctest as
-- `mpirun --allow-run-as-root --oversubscribe -np 2` with one thread per rank. Each rank
-- draws its tensors from a Philox stream seeded by its rank, so every rank can compute
-- the other's values and the exact expected results: broadcast makes the ranks equal;
-- all-reduce sum and mean of tensors of odd sizes equal fl32(a + b) and fl32(a + b) / 2
-- bit for bit, through the packed bucket and through views of one flat buffer;
-- compare finds a one-bit difference on one rank; gather brings strings of different
-- lengths to either root. Without MPI, or started without the launcher, it says so and
-- exits 77.
local ss = require "scalespace"
local ffi = require "ffi"
local dist = ss.dist

if not dist.available then
  print("SKIP dist_collectives: libscalespace was built without MPI (-DSS_MPI=ON with libopenmpi-dev)")
  os.exit(77)
end
dist.init { timeout = 120 }
if dist.size() ~= 2 then
  print("SKIP dist_collectives: needs 2 ranks, has " .. dist.size() .. " (run it under mpirun -np 2)")
  os.exit(77)
end
local rank = dist.rank()
local seed = tonumber(os.getenv("SS_TEST_SEED") or "") or 11
if rank == 0 then print("dist_collectives: seed " .. seed .. " (SS_TEST_SEED=<n> to change), 2 ranks") end

local failures, checks = 0, 0
local function check(ok, what)
  checks = checks + 1
  if not ok then
    failures = failures + 1
    print(string.format("FAIL rank %d: %s", rank, what))
  end
end
local function fails(f, pattern, what)
  local ok, err = pcall(f)
  check(not ok and tostring(err):find(pattern, 1, true) ~= nil, what .. " (got: " .. tostring(err) .. ")")
end

local shapes = { { 3 }, { 5, 7 }, { 2, 3, 5, 7 }, { 1, 1, 1, 13 }, { 1 } }
-- Rank r's tensors: normal values, so sums round.
local function draw(r)
  local g = ss.rng(seed + 1000 * r)
  local ts = {}
  for i, s in ipairs(shapes) do ts[i] = g:normal(s, 0, 1 + i) end
  return ts
end
local f32 = ffi.new("float[1]")
local function fl32(x)
  f32[0] = x
  return f32[0]
end
-- Largest |got − want| over the lists (0 means bit for bit, as floats compare here).
local function max_diff(got, want)
  local m = 0
  for i = 1, #got do
    local a, b = got[i]:values(), want[i]
    for k = 1, #a do m = math.max(m, math.abs(a[k] - b[k])) end
  end
  return m
end

-- ranks and machines
check(dist.initialized() and dist.local_size() == 2, "both ranks on this machine")
check(dist.local_rank() == rank, "local rank equals rank on one machine")

-- broadcast from rank 1 (packed) and from rank 0 (views of one flat tensor, in place)
local mine, theirs = draw(rank), draw(1 - rank)
local want = {}
for i, t in ipairs(rank == 1 and mine or theirs) do want[i] = t:values() end
dist.broadcast(mine, 1)
check(max_diff(mine, want) == 0, "broadcast from rank 1 gives every rank rank 1's values")
local total = 0
for _, s in ipairs(shapes) do total = total + ss.empty(s):numel() end
local flat = ss.rng(seed + 7 + rank):normal { total }
local flat0 = ss.rng(seed + 7):normal { total }
local views, off = {}, 1
for i, s in ipairs(shapes) do
  local n = ss.empty(s):numel()
  views[i] = flat:narrow(1, off, n):reshape(s)
  off = off + n
end
dist.broadcast(views, 0)
check(max_diff({ flat }, { flat0:values() }) == 0, "broadcast of views of one flat tensor (in place)")

-- all-reduce: the exact float sums, computed from both ranks' draws
local a, b = draw(0), draw(1)
local sums, means = {}, {}
for i = 1, #shapes do
  local x, y = a[i]:values(), b[i]:values()
  sums[i], means[i] = {}, {}
  for k = 1, #x do
    sums[i][k] = fl32(x[k] + y[k])
    means[i][k] = fl32(sums[i][k] / 2)
  end
end
local ts = draw(rank)
dist.allreduce(ts, "sum")
local d = max_diff(ts, sums)
check(d == 0, "allreduce sum equals fl32(a + b) (max diff " .. d .. ")")
ts = draw(rank)
dist.allreduce(ts, "mean")
d = max_diff(ts, means)
check(d == 0, "allreduce mean equals fl32(a + b) / 2 (max diff " .. d .. ")")
ts = draw(rank)
dist.allreduce(ts, "mean") -- the kept bucket, a second time
check(max_diff(ts, means) == 0, "allreduce mean again through the kept bucket")
-- the same through views of one flat tensor (no packing)
local function flat_of(r)
  local src = draw(r)
  local t = ss.empty { total }
  local vs, o = {}, 1
  for i, s in ipairs(shapes) do
    local n = src[i]:numel()
    vs[i] = t:narrow(1, o, n):reshape(s)
    vs[i]:copy(src[i])
    o = o + n
  end
  return t, vs
end
local _, vs = flat_of(rank)
dist.allreduce(vs, "mean")
check(max_diff(vs, means) == 0, "allreduce mean of views of one flat tensor (in place)")
local one = ss.full({ 4 }, rank + 1)
dist.allreduce(one)
check(max_diff({ one }, { { 3, 3, 3, 3 } }) == 0, "allreduce with the default op sums")
local nums = dist.allreduce_numbers({ rank + 0.25, 1e-300 * (rank + 1), rank == 0 and 2 or 0 }, "sum")
check(nums[1] == 1.5 and nums[2] == 3e-300 and nums[3] == 2, "allreduce_numbers sums in double precision")
nums = dist.allreduce_numbers({ rank }, "mean")
check(nums[1] == 0.5, "allreduce_numbers mean")

-- compare: equal weights, then one bit flipped on rank 1
local w = draw(0)
check(#dist.compare(w) == 0, "compare: equal tensors on both ranks")
for _, bitpos in ipairs { 0, 31 } do -- the lowest mantissa bit, the sign bit
  local v = draw(0)
  if rank == 1 then
    local p = ffi.cast("uint32_t *", v[3].p.data)
    p[17] = bit.bxor(p[17], bit.lshift(1, bitpos))
  end
  local differ = dist.compare(v)
  check(#differ == 1 and differ[1] == 1, "compare finds bit " .. bitpos .. " flipped on rank 1: " ..
    table.concat(differ, ","))
end

-- gather strings of different lengths (one empty) to rank 0 and to rank 1
local line = rank == 0 and "step,loss\n1,0.25\n" or ""
local rows = dist.gather(line, 0)
if rank == 0 then
  check(rows and #rows == 2 and rows[1] == "step,loss\n1,0.25\n" and rows[2] == "", "gather to rank 0")
else
  check(rows == nil, "gather gives nil off the root")
end
rows = dist.gather(string.rep("r" .. rank, 1000 + rank), 1)
if rank == 1 then
  check(rows and rows[1] == string.rep("r0", 1000) and rows[2] == string.rep("r1", 1001), "gather to rank 1")
end
check(dist.broadcast_string(rank == 1 and "from rank 1" or nil, 1) == "from rank 1", "broadcast_string")

-- argument errors (before any message is sent, on both ranks alike)
fails(function() dist.broadcast(mine, 2) end, "root must be a rank in 0..1, got 2", "root out of range")
fails(function() dist.allreduce(mine, "max") end, 'op must be "sum" or "mean"', "unknown op")
fails(function() dist.gather(3) end, "expected a string", "gather of a number")
dist.barrier()

-- every rank's verdict reaches rank 0
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
