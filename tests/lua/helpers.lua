-- helpers.lua — small pieces the specs share: `local h = dofile("tests/lua/helpers.lua")`.
local ffi = require "ffi"
local H = {}

--- A string quoted for the shell.
function H.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- A whole file's bytes.
function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

--- Writes bytes to a file (replacing it).
function H.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

--- A command's standard output.
function H.shell(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

--- A new directory /tmp/<prefix>_XXXXXX and a function that removes it.
function H.tmpdir(prefix)
  local dir = H.shell("mktemp -d /tmp/" .. prefix .. "_XXXXXX"):gsub("%s+$", "")
  return dir, function()
    if dir:match("^/tmp/" .. prefix .. "_") then os.execute("rm -rf " .. H.quote(dir)) end
  end
end

--- The raw bytes of a CPU tensor: equal strings mean bit-identical values (NaN payloads, -0).
function H.bits(t)
  return ffi.string(t.p.data, 4 * t:numel())
end

H.exists = require("scalespace.ffi").file_exists

return H
