-- gen_cdef.lua — turns runtime/include/scalespace.h into a Lua module holding the
-- declarations for ffi.cdef: preprocessor lines and the C++ guard are dropped,
-- everything else is kept verbatim (the header promises plain declarations).
-- usage: luajit gen_cdef.lua scalespace.h out.lua
local src, dst = arg[1], arg[2]
assert(src and dst, "usage: luajit gen_cdef.lua scalespace.h out.lua")
local lines, depth = {}, 0
for line in io.lines(src) do
  if line:match("^%s*#") then
    -- the `extern "C" {` / `}` pair sits inside #ifdef __cplusplus blocks
    if line:match("^%s*#%s*ifdef%s+__cplusplus") then depth = 1
    elseif depth == 1 and line:match("^%s*#%s*endif") then depth = 0 end
  elseif depth == 0 then
    lines[#lines + 1] = line
  end
end
local body = table.concat(lines, "\n")
assert(not body:find("]==]", 1, true), "header contains the long-string terminator")
local tmp = dst .. ".tmp"
local f = assert(io.open(tmp, "w"))
f:write("-- Generated from scalespace.h by bindings/gen_cdef.lua; do not edit.\nreturn [==[\n", body, "\n]==]\n")
f:close()
assert(os.rename(tmp, dst))
