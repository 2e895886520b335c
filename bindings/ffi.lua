--- scalespace.ffi — the C library through LuaJIT's FFI.
-- Declarations come from the generated `scalespace.cdef` (made from
-- runtime/include/scalespace.h at build time); this module loads them once,
-- finds the library and turns C statuses into Lua errors at the caller's line.
local ffi = require "ffi"
local config = require "scalespace.config"

local M = {}

ffi.cdef(require "scalespace.cdef")

--- The library: the host executable's own symbols when running under
-- `scalespace`, else the shared library named by SCALESPACE_LIB or the build.
local function load_library()
  local host = package.loaded["scalespace.host"]
  if host and host.has_lib and pcall(function() return ffi.C.ss_version end) then
    return ffi.C
  end
  local tried, errs = { os.getenv("SCALESPACE_LIB"), config.lib, "scalespace" }, {}
  for _, path in ipairs(tried) do
    if path and path ~= "" then
      local ok, lib = pcall(ffi.load, path)
      if ok then return lib end
      errs[#errs + 1] = tostring(lib)
    end
  end
  error("scalespace: cannot load libscalespace (set SCALESPACE_LIB): " .. table.concat(errs, "; "), 0)
end

M.C = load_library()
M.ffi = ffi
local C = M.C

--- The last C error message on this thread.
function M.last_error()
  return ffi.string(C.ss_last_error())
end

--- Raises the C error when `rc` is a failure status.
-- `level` counts like error()'s, from the function that calls check:
-- 1 (default) blames that function's caller — the user's line.
function M.check(rc, level)
  if rc < 0 then error(M.last_error(), (level or 1) + 2) end
  return rc
end

--- Raises the C error when a constructor returned NULL; else returns p.
function M.check_ptr(p, level)
  if p == nil then error(M.last_error(), (level or 1) + 2) end
  return p
end

--- Describes a value's type for argument errors ("tensor", "nil", "number"...).
function M.typename(v)
  if type(v) == "cdata" then
    if ffi.istype("ss_tensor*", v) then return "tensor" end
    return tostring(ffi.typeof(v))
  end
  return type(v)
end

--- Error "<fname>: argument i: expected <what>, got <type>" at the user's line.
function M.arg_error(fname, i, what, v, level)
  error(string.format("%s: argument %d: expected %s, got %s", fname, i, what, M.typename(v)), (level or 1) + 2)
end

return M
