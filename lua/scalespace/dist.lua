--- scalespace.dist — data-parallel runs across processes and machines (C: runtime/dist/).
-- MPI (Open MPI) starts the ranks and reduces host tensors; NCCL reduces device tensors
-- when the library was built with it, else they go through host memory. Ranks are MPI's,
-- 0-based, as mpirun and Slurm print them.
--
-- Until `init()`, and always in a build without MPI, the world is this process alone:
-- rank 0 of 1, and every collective leaves its data as it is, so a script written for
-- several ranks runs unchanged as one process.
--
--   local dist = ss.dist
--   if dist.launched() then dist.init() end          -- started by mpirun or srun
--   if ss.cuda.available() then dist.use_local_gpu() end   -- before any CUDA tensor
--   dist.broadcast(params, 0)                        -- rank 0's initial weights everywhere
--   dist.allreduce(grads, "mean")                    -- one bucket, one collective
--   local sums = dist.allreduce_numbers({ loss, 1 }) -- double precision
--   local bad = dist.compare(params)                 -- ranks whose weights differ from rank 0's
--   local rows = dist.gather(line, 0)                -- rank 0: { [r + 1] = rank r's line }
--
-- Every collective must be called by all ranks in the same order with matching arguments.
-- A collective waits at most `timeout()` seconds (SS_DIST_TIMEOUT, 600 by default) for the
-- other ranks, then fails with a message; after a failure every collective fails at once
-- and the process should end (it exits without finalizing MPI, so the launcher stops the
-- others).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

--- true when the library was built with MPI; `nccl`: with NCCL for device tensors.
M.available = C.ss_dist_has_mpi() == 1
M.nccl = C.ss_dist_has_nccl() == 1

--- Whether an MPI launcher (mpirun, mpiexec, srun) started this process as one of
-- several ranks (read from the environment; MPI is not started).
function M.launched() return C.ss_dist_launched() == 1 end

--- Starts MPI (idempotent). Started directly, the process is a world of one (an MPI
-- singleton). opts.timeout: seconds a collective waits for the others (0: forever).
-- Returns the module.
function M.init(opts)
  if opts ~= nil and type(opts) ~= "table" then arg_error("ss.dist.init", 1, "a table of options (or nil)", opts) end
  check(C.ss_dist_init())
  if opts and opts.timeout ~= nil then M.set_timeout(opts.timeout) end
  return M
end

--- Ends MPI (idempotent). A normal exit does it anyway.
function M.finalize() check(C.ss_dist_finalize()) end

function M.initialized() return C.ss_dist_initialized() == 1 end
function M.rank() return C.ss_dist_rank() end
function M.size() return C.ss_dist_size() end
--- This rank's index among the ranks on its machine, and their number.
function M.local_rank() return C.ss_dist_local_rank() end
function M.local_size() return C.ss_dist_local_size() end

function M.timeout() return C.ss_dist_timeout() end
function M.set_timeout(seconds)
  if type(seconds) ~= "number" then arg_error("ss.dist.set_timeout", 1, "a number of seconds", seconds) end
  check(C.ss_dist_set_timeout(seconds))
end

--- Makes GPU `local_rank()` this process's "cuda" device (one rank per GPU); call it
-- before making any CUDA tensor. Returns the GPU's index.
function M.use_local_gpu()
  local dev = ffi.new("int[1]")
  check(C.ss_dist_use_local_gpu(dev))
  return dev[0]
end

--- Returns when every rank has called it.
function M.barrier() check(C.ss_dist_barrier()) end

-- A tensor or a list of tensors as (ss_tensor*[n], n).
local function tensor_list(ts, fname)
  if tensor.is_tensor(ts) then ts = { ts } end
  if type(ts) ~= "table" then arg_error(fname, 1, "a tensor or a list of tensors", ts) end
  local n = #ts
  local arr = ffi.new("ss_tensor*[?]", math.max(n, 1))
  for i = 1, n do
    if not tensor.is_tensor(ts[i]) then
      raise(string.format("%s: entry %d of the list: expected a tensor, got %s", fname, i, lib.typename(ts[i])))
    end
    arr[i - 1] = ts[i].p
  end
  return arr, n
end

local function check_root(root, fname, i)
  if root == nil then return 0 end
  local size = C.ss_dist_size()
  if type(root) ~= "number" or root ~= math.floor(root) or root < 0 or root >= size then
    raise(string.format("%s: argument %d: root must be a rank in 0..%d, got %s", fname, i, size - 1, tostring(root)))
  end
  return root
end

local ops = { sum = C.SS_DIST_SUM, mean = C.SS_DIST_MEAN }
local function check_op(op, fname, i)
  if op == nil then return C.SS_DIST_SUM end
  local c = ops[op]
  if not c then raise(string.format('%s: argument %d: op must be "sum" or "mean", got %s', fname, i, tostring(op))) end
  return c
end

--- Root's values into every rank's tensors (same sizes everywhere); root defaults to 0.
-- Returns ts.
function M.broadcast(ts, root)
  local arr, n = tensor_list(ts, "ss.dist.broadcast")
  check(C.ss_dist_broadcast(arr, n, check_root(root, "ss.dist.broadcast", 2)))
  return ts
end

--- Root's generator states (seed and offset, exactly) into every rank's generators: one
-- ss.rng or a list of them (the same number on every rank); root defaults to 0. Returns gens.
function M.broadcast_rng(gens, root)
  local list = ffi.istype("ss_rng", gens) and { gens } or gens
  if type(list) ~= "table" then arg_error("ss.dist.broadcast_rng", 1, "an ss.rng or a list of them", gens) end
  root = check_root(root, "ss.dist.broadcast_rng", 2)
  local n = #list
  local buf = ffi.new("uint64_t[?]", math.max(2 * n, 1))
  for i, g in ipairs(list) do
    if not ffi.istype("ss_rng", g) then
      raise(string.format("ss.dist.broadcast_rng: entry %d of the list: expected an ss.rng, got %s", i, lib.typename(g)))
    end
    buf[2 * i - 2], buf[2 * i - 1] = g.seed, g.offset
  end
  check(C.ss_dist_broadcast_bytes(buf, 16 * n, root))
  for i, g in ipairs(list) do g.seed, g.offset = buf[2 * i - 2], buf[2 * i - 1] end
  return gens
end

--- Each tensor becomes its sum ("sum", the default) or mean ("mean") over the ranks,
-- in place; the list travels as one float32 bucket. Returns ts.
function M.allreduce(ts, op)
  local arr, n = tensor_list(ts, "ss.dist.allreduce")
  check(C.ss_dist_allreduce(arr, n, check_op(op, "ss.dist.allreduce", 2)))
  return ts
end

--- A new list: the sums (or means) over ranks of a list of numbers, in double precision.
function M.allreduce_numbers(values, op)
  if type(values) ~= "table" then arg_error("ss.dist.allreduce_numbers", 1, "a list of numbers", values) end
  local n = #values
  local buf = ffi.new("double[?]", math.max(n, 1))
  for i = 1, n do
    if type(values[i]) ~= "number" then
      raise(string.format("ss.dist.allreduce_numbers: entry %d: expected a number, got %s", i, type(values[i])))
    end
    buf[i - 1] = values[i]
  end
  check(C.ss_dist_allreduce_double(buf, n, check_op(op, "ss.dist.allreduce_numbers", 2)))
  local out = {}
  for i = 1, n do out[i] = buf[i - 1] end
  return out
end

--- The XXH64 hash of the tensors' bytes, in order, as 16 hexadecimal digits.
function M.hash(ts)
  local arr, n = tensor_list(ts, "ss.dist.hash")
  local h = ffi.new("uint64_t[1]")
  check(C.ss_dist_hash(h, ffi.cast("const ss_tensor *const *", arr), n))
  return string.format("%016x", h[0])
end

--- The ranks (0-based, ascending) whose tensors' hash differs from rank 0's; empty when
-- every rank holds the same bytes. Every rank gets the same list.
function M.compare(ts)
  local arr, n = tensor_list(ts, "ss.dist.compare")
  local size = C.ss_dist_size()
  local differ, count = ffi.new("int[?]", size), ffi.new("int[1]")
  check(C.ss_dist_compare(differ, count, ffi.cast("const ss_tensor *const *", arr), n))
  local ranks = {}
  for r = 0, size - 1 do
    if differ[r] ~= 0 then ranks[#ranks + 1] = r end
  end
  return ranks
end

--- Gathers one string from every rank to root (default 0): on root a list whose entry
-- r + 1 is rank r's string, elsewhere nil.
function M.gather(s, root)
  if type(s) ~= "string" then arg_error("ss.dist.gather", 1, "a string", s) end
  root = check_root(root, "ss.dist.gather", 2)
  local size, is_root = C.ss_dist_size(), C.ss_dist_rank() == root
  local sizes = ffi.new("int64_t[?]", size)
  check(C.ss_dist_gather_sizes(sizes, #s, root))
  local total = 0
  if is_root then
    for r = 0, size - 1 do total = total + tonumber(sizes[r]) end
  end
  local out = ffi.new("char[?]", math.max(total, 1))
  check(C.ss_dist_gather_bytes(out, sizes, s, #s, root))
  if not is_root then return nil end
  local list, off = {}, 0
  for r = 0, size - 1 do
    local len = tonumber(sizes[r])
    list[r + 1] = ffi.string(out + off, len)
    off = off + len
  end
  return list
end

--- Root's string (default root 0) on every rank; the others' argument is ignored (nil is fine).
function M.broadcast_string(s, root)
  root = check_root(root, "ss.dist.broadcast_string", 2)
  local is_root = C.ss_dist_rank() == root
  if is_root and type(s) ~= "string" then arg_error("ss.dist.broadcast_string", 1, "a string on the root", s) end
  local len = ffi.new("int64_t[1]", is_root and #s or 0)
  check(C.ss_dist_broadcast_bytes(len, 8, root))
  local buf = ffi.new("char[?]", math.max(tonumber(len[0]), 1))
  if is_root then ffi.copy(buf, s, #s) end
  check(C.ss_dist_broadcast_bytes(buf, len[0], root))
  return ffi.string(buf, tonumber(len[0]))
end

return M
