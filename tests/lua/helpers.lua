-- helpers.lua — small pieces the specs share: `local h = dofile("tests/lua/helpers.lua")`.
local ffi = require "ffi"
local H = {}

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
    if dir:match("^/tmp/" .. prefix .. "_") then os.execute("rm -rf '" .. dir .. "'") end
  end
end

--- The raw bytes of a CPU tensor: equal strings mean bit-identical values (NaN payloads, -0).
function H.bits(t)
  return ffi.string(t.p.data, 4 * t:numel())
end

H.exists = require("scalespace.ffi").file_exists

return H
