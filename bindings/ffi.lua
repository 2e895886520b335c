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
  local tried, errs = { os.getenv("SCALESPACE_LIB") or "", config.lib, "scalespace" }, {}
  for _, path in ipairs(tried) do
    if path ~= "" then
      local ok, lib = pcall(ffi.load, path)
      if ok then
        -- One more dlopen reference: at exit LuaJIT may unload the library before
        -- the finalizers of the last tensors call into it.
        ffi.cdef "void *dlopen(const char *file, int mode);"
        ffi.C.dlopen(path:find("/", 1, true) and path or ("lib" .. path .. ".so"), 2)
        return lib
      end
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

--- Raises `msg` at the first stack frame outside the library's Lua tree
-- (…/lua/scalespace/…), so errors point at the user's line however deep, and
-- through however many tail calls, the library raised them.
function M.raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info then
      level = 1
      break
    end
    if info.what ~= "C" and not info.source:find("lua/scalespace/", 1, true) then break end
    level = level + 1
  end
  error(msg, level)
end

--- Raises the C error when `rc` is a failure status; returns rc otherwise.
function M.check(rc)
  if rc < 0 then M.raise(M.last_error()) end
  return rc
end

--- Raises the C error when a constructor returned NULL; else returns p.
function M.check_ptr(p)
  if p == nil then M.raise(M.last_error()) end
  return p
end

--- Describes a value's type for argument errors ("tensor", "nil", "number"...).
function M.typename(v)
  if type(v) == "cdata" then
    if ffi.istype("ss_ref", v) then return "tensor" end
    return tostring(ffi.typeof(v))
  end
  return type(v)
end

--- A value as an error message shows it: a number as itself, a string quoted (cut at 40
-- characters), a tensor with its shape, anything else by its type.
function M.describe(v)
  local t = type(v)
  if t == "number" then return string.format("%.10g", v) end
  if t == "string" then return string.format("string %q", #v > 40 and (v:sub(1, 37) .. "...") or v) end
  if t == "cdata" and ffi.istype("ss_ref", v) then
    local s = {}
    for d = 0, v.p.ndim - 1 do s[d + 1] = tostring(tonumber(v.p.shape[d])) end
    return "a tensor (" .. table.concat(s, ",") .. ")"
  end
  return M.typename(v)
end

--- Raises "<fname>: argument i: expected <what>, got <the value>".
function M.arg_error(fname, i, what, v)
  M.raise(string.format("%s: argument %d: expected %s, got %s", fname, i, what, M.describe(v)))
end

pcall(ffi.cdef, [[
int mkdir(const char *path, unsigned int mode);
char *strerror(int errnum);
void *opendir(const char *name);
int closedir(void *dir);
]])
local EEXIST = 17

--- Creates directory `path` and its parents (mode 0777 before the umask), with a real
-- check: a part that cannot be made, or that exists but is not a directory, raises
-- "<fname>: cannot create <path>: <reason>". No shell is involved.
function M.mkdir_p(path, fname)
  if type(path) ~= "string" or path == "" then M.arg_error(fname or "mkdir_p", 1, "a directory path", path) end
  local acc = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    acc = acc .. part
    if C.mkdir(acc, 511) ~= 0 then
      local e = ffi.errno()
      if e ~= EEXIST then
        M.raise(string.format("%s: cannot create %s: %s", fname or "mkdir_p", path, ffi.string(C.strerror(e))))
      end
    end
    acc = acc .. "/"
  end
  local d = C.opendir(path)
  if d == nil then
    M.raise(string.format("%s: cannot create %s: %s", fname or "mkdir_p", path, ffi.string(C.strerror(ffi.errno()))))
  end
  C.closedir(d)
  return path
end

--- v when it is a whole number in [lo, hi] (hi defaults to the largest C int), else raises
-- "<fname>: <what> must be a whole number in [lo, hi], got <v>": numbers that C takes as
-- int are range-checked here, before a conversion could wrap them.
function M.check_int(v, fname, what, lo, hi)
  hi = hi or 2147483647
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo or v > hi then
    M.raise(string.format("%s: %s must be a whole number in [%d, %d], got %s", fname, what, lo, hi, M.describe(v)))
  end
  return v
end

--- v when it is a finite number >= lo (and <= hi when given), else raises naming `what`.
function M.check_number(v, fname, what, lo, hi)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge or (lo and v < lo) or (hi and v > hi) then
    local range = lo and hi and string.format(" in [%g, %g]", lo, hi) or lo and string.format(" >= %g", lo) or ""
    M.raise(string.format("%s: %s must be a finite number%s, got %s", fname, what, range, M.describe(v)))
  end
  return v
end

--- Whether a file can be opened for reading.
function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

return M
