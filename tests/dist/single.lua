-- ranks: 1
-- tests/dist/single.lua — ctest dist_single (label dist): one process started without a
-- launcher, in every build. Loading scalespace leaves MPI alone; before ss.dist.init and
-- in a build without MPI the world is rank 0 of 1 and collectives leave data as it is;
-- with MPI, init makes an MPI singleton of size 1 and finalize ends it for good.
-- ss.dist.hash is XXH64 of the tensors' bytes (tests/dist/xxh64_fixture.txt, made by
-- make_hash_fixture.py with python3-xxhash).
local ss = require "scalespace"
local ffi = require "ffi"
local dist = ss.dist

local failures, checks = 0, 0
local function check(ok, what)
  checks = checks + 1
  if not ok then
    failures = failures + 1
    print("FAIL " .. what)
  end
end
-- f() must fail with a message containing `pattern` (plain text).
local function fails(f, pattern, what)
  local ok, err = pcall(f)
  check(not ok and tostring(err):find(pattern, 1, true) ~= nil, what .. " (got: " .. tostring(err) .. ")")
end
local function same(a, b)
  if a:numel() ~= b:numel() then return false end
  local x, y = a:values(), b:values()
  for i = 1, #x do
    if x[i] ~= y[i] then return false end
  end
  return true
end

print(string.format("dist_single: built with MPI: %s, NCCL: %s", tostring(dist.available), tostring(dist.nccl)))

-- Loading the library and ss.dist starts nothing.
if dist.available then
  ffi.cdef "int MPI_Initialized(int *flag);"
  local flag = ffi.new("int[1]")
  ffi.C.MPI_Initialized(flag)
  check(flag[0] == 0, "MPI is not initialised by require 'scalespace' and ss.dist")
end
check(not dist.launched(), "launched() is false without a launcher")
-- What a launcher leaves in the environment (Open MPI's mpirun, Slurm's srun with 2 tasks).
ffi.cdef "int setenv(const char *name, const char *value, int overwrite); int unsetenv(const char *name);"
for _, var in ipairs { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS" } do
  ffi.C.setenv(var, "2", 1)
  check(dist.launched(), "launched() with " .. var .. "=2")
  if not dist.available then
    fails(function() dist.init() end, "built without MPI", "init refuses a launcher's ranks without MPI")
  end
  ffi.C.setenv(var, "1", 1)
  check(not dist.launched(), "not launched() with " .. var .. "=1")
  ffi.C.unsetenv(var)
end

-- The world of one, before init (and in every build).
local function world_of_one(label)
  check(dist.rank() == 0 and dist.size() == 1, label .. ": rank 0 of 1")
  check(dist.local_rank() == 0 and dist.local_size() == 1, label .. ": local rank 0 of 1")
  local g = ss.rng(3)
  local a, b = g:normal { 3, 5 }, g:normal { 7 }
  local a0, b0 = a:clone(), b:clone()
  dist.allreduce({ a, b }, "mean")
  check(same(a, a0) and same(b, b0), label .. ": allreduce mean over one rank leaves the values")
  dist.allreduce({ a, b })
  check(same(a, a0) and same(b, b0), label .. ": allreduce sum over one rank leaves the values")
  dist.broadcast({ a, b }, 0)
  check(same(a, a0), label .. ": broadcast from rank 0 leaves the values")
  local nums = dist.allreduce_numbers({ 1.25, -3 }, "mean")
  check(nums[1] == 1.25 and nums[2] == -3, label .. ": allreduce_numbers")
  local rows = dist.gather("row of rank 0")
  check(rows and #rows == 1 and rows[1] == "row of rank 0", label .. ": gather gives the root its own row")
  check(dist.broadcast_string("hello", 0) == "hello", label .. ": broadcast_string")
  check(#dist.compare({ a, b }) == 0, label .. ": compare finds no differing rank")
  dist.barrier()
  fails(function() dist.broadcast(a, 1) end, "root must be a rank in 0..0, got 1", label .. ": root out of range")
  fails(function() dist.allreduce(a, "max") end, 'op must be "sum" or "mean", got max', label .. ": unknown op")
  fails(function() dist.allreduce({ a, 3 }) end, "entry 2 of the list: expected a tensor, got number",
    label .. ": a list entry that is not a tensor")
end
world_of_one("before init")
check(not dist.initialized(), "not initialized before init")

-- XXH64 known answers (python3-xxhash), including tensors whose edges fall inside stripes.
local expected = {}
for line in io.lines("tests/dist/xxh64_fixture.txt") do
  local name, hex = line:match("^(%S+) (%x+)$")
  expected[name] = hex
end
local function range(n, f)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = f(i) end
  return ss.from_table(t)
end
local cases = {
  empty = {},
  one = { ss.from_table { 1.5 } },
  nine = { range(9, function(i) return i * 0.25 - 1 end) },
  three = { range(5, function(i) return i end), range(13, function(i) return i * -0.5 end),
    range(40, function(i) return i / 7 end) },
}
for name, ts in pairs(cases) do
  local h = dist.hash(ts)
  print(string.format("  xxh64 %-5s %s (python3-xxhash %s)", name, h, expected[name]))
  check(h == expected[name], "hash of case " .. name)
end

fails(function() dist.set_timeout(-1) end, "must be finite and >= 0", "a negative timeout is refused")
dist.set_timeout(30)
check(dist.timeout() == 30, "set_timeout")

-- init: an MPI singleton with MPI, the world of one without.
dist.init()
check(dist.initialized(), "initialized after init")
dist.init() -- idempotent
world_of_one("after init")
dist.finalize()
check(not dist.initialized(), "not initialized after finalize")
dist.finalize() -- idempotent
if dist.available then
  fails(function() dist.init() end, "cannot start again", "init after finalize is refused")
end

print(string.format("%d passed, %d failed", checks - failures, failures))
os.exit(failures == 0 and 0 or 1)
