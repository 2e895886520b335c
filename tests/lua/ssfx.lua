-- ssfx.lua — reads the SSFX reference fixtures (tests/reference/ssfx.py writes them)
-- for the Lua specs: load(path) -> {name = tensor}. Little-endian hosts.
local ss = require "scalespace"
local ffi = require "ffi"

return function(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  local buf = ffi.cast("const uint8_t *", data)
  local pos = 0
  local function take(ct, n)
    local p = ffi.cast(ct .. " *", buf + pos)
    pos = pos + ffi.sizeof(ct) * (n or 1)
    return p
  end
  assert(data:sub(1, 4) == "SSFX", path .. ": not an SSFX file")
  pos = 4
  local out = {}
  for _ = 1, take("uint32_t")[0] do
    local len = take("uint32_t")[0]
    local name = data:sub(pos + 1, pos + len)
    pos = pos + len
    local ndim = take("uint32_t")[0]
    local dims, n = take("int64_t", ndim), 1
    local shape = {}
    for d = 0, ndim - 1 do shape[d + 1] = tonumber(dims[d]); n = n * shape[d + 1] end
    local vals = take("float", n)
    local t = ss.empty(shape)
    ffi.copy(t.p.data, vals, 4 * n)
    out[name] = t
  end
  assert(pos == #data, path .. ": trailing bytes")
  return out
end
