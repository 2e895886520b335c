--- scalespace — diffusion scale-spaces on a C runtime, driven from LuaJIT.
-- `local ss = require "scalespace"` gives tensors, RNG, images, data sets and
-- (as later modules land) operators, solvers, processes and networks.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local config = require "scalespace.config"

local M = {}

M.version = lib.ffi.string(lib.C.ss_version())
M.config = config
M.C = lib.C
M.ffi = lib.ffi
M.check = lib.check

for _, name in ipairs { "empty", "zeros", "ones", "full", "from_table", "arange", "cat", "where", "dot", "bmm", "rng",
  "is_tensor" } do
  M[name] = tensor[name]
end

--- Creates directory `path` and its parents (an error says why it cannot); returns path.
function M.mkdir(path) return lib.mkdir_p(path, "mkdir") end
local memory = require "scalespace.memory"
--- Host memory figures (a table of bytes and counts; see scalespace.memory), and the
-- cached free blocks back to the system.
M.memory = memory.stats
M.empty_cache = memory.empty_cache

--- OpenMP and OpenBLAS threads (SS_NUM_THREADS at start-up); n <= 0 restores the default.
function M.set_num_threads(n)
  lib.check(lib.C.ss_set_num_threads(n or 0))
end

function M.num_threads() return lib.C.ss_get_num_threads() end

local limits = { image_pixels = lib.C.SS_LIMIT_IMAGE_PIXELS, idx_values = lib.C.SS_LIMIT_IDX_VALUES }

local function limit_id(name, fname)
  local id = limits[name]
  if not id then
    lib.arg_error(fname, 1, 'a limit name ("image_pixels" or "idx_values")', name)
  end
  return id
end

--- Caps on what one input file may make a loader allocate: "image_pixels" (a PNG's
-- width x height, default 2^28) and "idx_values" (the values of an IDX file, default 2^31).
-- n = nil or 0 restores the default. A file over a limit fails, naming it.
function M.set_limit(name, n)
  lib.check(lib.C.ss_set_limit(limit_id(name, "set_limit"), n or 0))
end

function M.limit(name) return tonumber(lib.C.ss_get_limit(limit_id(name, "limit"))) end
function M.has_cuda() return lib.C.ss_has_cuda() == 1 end

--- The GPU: ss.cuda.available() (a usable device: built with CUDA, a driver and a GPU),
-- info() ("NAME (sm_XY, …), driver …"), synchronize() (waits for queued work; a failed
-- kernel is reported here), empty_cache() (the caching allocator's free blocks back to
-- the driver), memory() (bytes held by tensors, bytes cached).
M.cuda = {}
function M.cuda.available() return lib.C.ss_cuda_device_count() > 0 end
function M.cuda.info()
  local buf = lib.ffi.new("char[256]")
  lib.check(lib.C.ss_cuda_device_info(buf, 256))
  return lib.ffi.string(buf)
end
function M.cuda.synchronize() lib.check(lib.C.ss_cuda_synchronize()) end
function M.cuda.empty_cache() lib.check(lib.C.ss_cuda_empty_cache()) end
function M.cuda.memory()
  local used, cached = lib.ffi.new("int64_t[1]"), lib.ffi.new("int64_t[1]")
  lib.check(lib.C.ss_cuda_memory(used, cached))
  return tonumber(used[0]), tonumber(cached[0])
end

-- Submodules load on first use, so `require "scalespace"` stays cheap and a
-- module that is missing only fails when it is asked for.
local submodules = { image = true, data = true, progress = true, op = true, linalg = true, osmosis = true,
  process = true, schedule = true, nn = true, optim = true, train = true, sample = true, checkpoint = true,
  metrics = true, plot = true, dist = true, display = true, sweep = true }
setmetatable(M, {
  __index = function(t, k)
    if submodules[k] then
      local m = require("scalespace." .. k)
      rawset(t, k, m)
      return m
    end
  end,
})

return M
