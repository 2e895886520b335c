--- scalespace.memory — host memory figures, the block cache, and the collector's pace.
-- LuaJIT's collector counts Lua's own bytes only: a tensor is a small cdata to it
-- however large its storage, so dead tensors would pile up between collections. As
-- Torch7 did, the runtime counts tensor bytes (`tensor_made` in ss_memory, any device)
-- and every tensor constructor calls `pace()`, which finishes a collection cycle once
-- the tensors made since the last one pass a threshold that follows the live heap:
-- the larger of 16 MiB and the bytes of the tensors alive after that collection. The
-- C library never calls Lua (a callback entered from a compiled trace panics LuaJIT);
-- Lua asks C for the count instead.
local lib = require "scalespace.ffi"
local ffi, C = lib.ffi, lib.C

local M = {}

local stats = ffi.new("ss_memory_stats")
local MIN_STEP = 16 * 2 ^ 20
C.ss_memory(stats) -- also resolves the symbol now: a trace through pace() never stops at its lookup
local next_at = tonumber(stats.tensor_made) + MIN_STEP

--- Runs the collector to the end of a cycle (finalizers included) and sets the next
-- threshold from the tensors still alive.
function M.collect()
  collectgarbage("step", 2 ^ 30) -- as if 1 TiB were allocated: the cycle runs to its end
  C.ss_memory(stats)
  next_at = tonumber(stats.tensor_made) + math.max(MIN_STEP, tonumber(stats.tensor_live))
end

--- Called by every tensor constructor: collects when enough tensor bytes were made.
function M.pace()
  C.ss_memory(stats)
  if stats.tensor_made >= next_at then M.collect() end
end

--- Host memory in bytes: in_use (live blocks: tensors and scratch), cached (freed
-- blocks kept for reuse), peak (highest in_use), cache_limit (SS_HOST_CACHE_MB),
-- system_allocs and reused (blocks from the system, blocks from the cache), and the
-- tensors' own figures on any device: tensor_live, tensor_made.
function M.stats()
  local s = ffi.new("ss_memory_stats")
  lib.check(C.ss_memory(s))
  return { in_use = tonumber(s.in_use), cached = tonumber(s.cached), peak = tonumber(s.peak),
    cache_limit = tonumber(s.cache_limit), system_allocs = tonumber(s.system_allocs), reused = tonumber(s.reused),
    tensor_live = tonumber(s.tensor_live), tensor_made = tonumber(s.tensor_made) }
end

--- Gives the cached host blocks back to the system.
function M.empty_cache() lib.check(C.ss_empty_cache()) end

--- Sets the peak to what is in use now.
function M.reset_peak() lib.check(C.ss_memory_reset_peak()) end

return M
