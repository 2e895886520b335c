--- scalespace.json — the one JSON codec of the Lua side (checkpoint configs, benchmark
-- lines, notebook messages): deterministic output (object keys sorted, so equal tables
-- give equal text), exact numbers, and a decoder for what it writes and for plain JSON.
local lib = require "scalespace.ffi"
local ffi, raise = lib.ffi, lib.raise

local M = {}

local int64_ct, uint64_ct = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

--- The JSON text of v: tables whose keys are 1..n as arrays, other tables as objects with
-- sorted keys; integers exactly, other numbers with 17 significant digits (tonumber gives
-- the same double back) or opts.digits; NaN and infinities as null; int64/uint64 cdata
-- as exact integers; anything else (a function, an rng) as the string of its type name.
function M.encode(v, opts)
  local fmt = "%." .. (opts and opts.digits or 17) .. "g"
  local function enc(x)
    local t = type(x)
    if t == "table" then
      local n, keys = #x, {}
      for k in pairs(x) do keys[#keys + 1] = k end
      if #keys == n then
        local parts = {}
        for i = 1, n do parts[i] = enc(x[i]) end
        return "[" .. table.concat(parts, ",") .. "]"
      end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      local parts = {}
      for _, k in ipairs(keys) do parts[#parts + 1] = quote(tostring(k)) .. ":" .. enc(x[k]) end
      return "{" .. table.concat(parts, ",") .. "}"
    elseif t == "number" then
      if x ~= x or x == math.huge or x == -math.huge then return "null" end
      if x == math.floor(x) and math.abs(x) < 2 ^ 63 then return string.format("%.0f", x) end
      return string.format(fmt, x)
    elseif t == "boolean" then
      return tostring(x)
    elseif t == "string" then
      return quote(x)
    elseif t == "cdata" and (ffi.istype(int64_ct, x) or ffi.istype(uint64_ct, x)) then
      return (tostring(x):gsub("U?LL$", ""))
    end
    return quote(lib.typename(x))
  end
  return enc(v)
end

--- The value of a JSON text (objects, arrays, strings, numbers, true, false, null → nil);
-- malformed text raises "<what>: not valid JSON (<reason> at character <i>)".
function M.decode(text, what)
  if type(text) ~= "string" then lib.arg_error("json.decode", 1, "a string", text) end
  what = what or "json.decode"
  local pos = 1
  local function fail(reason)
    raise(string.format("%s: not valid JSON (%s at character %d)", what, reason, pos))
  end
  local function skip() pos = text:find("[^ \t\r\n]", pos) or #text + 1 end
  local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", n = "\n", t = "\t", r = "\r", b = "\b", f = "\f" }
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = text:sub(pos, pos)
      if c == "" then fail("an unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = text:sub(pos + 1, pos + 1)
        if simple[e] then
          out[#out + 1], pos = simple[e], pos + 2
        elseif e == "u" and text:sub(pos + 2, pos + 5):match("^%x%x%x%x$") then
          local code = tonumber(text:sub(pos + 2, pos + 5), 16)
          -- UTF-8 of the code point (surrogate pairs are not joined)
          if code < 0x80 then out[#out + 1] = string.char(code)
          elseif code < 0x800 then out[#out + 1] = string.char(0xC0 + math.floor(code / 64), 0x80 + code % 64)
          else
            out[#out + 1] = string.char(0xE0 + math.floor(code / 4096), 0x80 + math.floor(code / 64) % 64,
              0x80 + code % 64)
          end
          pos = pos + 6
        else
          fail("a bad escape")
        end
      else
        out[#out + 1], pos = c, pos + 1
      end
    end
  end
  local depth = 0
  local function value()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" or c == "[" then
      depth = depth + 1
      if depth > 200 then fail("nesting deeper than 200") end
      local obj, close = {}, c == "{" and "}" or "]"
      pos = pos + 1
      skip()
      if text:sub(pos, pos) == close then
        pos, depth = pos + 1, depth - 1
        return obj
      end
      while true do
        skip()
        if close == "}" then
          if text:sub(pos, pos) ~= '"' then fail("a key expected") end
          local k = str()
          skip()
          if text:sub(pos, pos) ~= ":" then fail("':' expected") end
          pos = pos + 1
          obj[k] = value()
        else
          obj[#obj + 1] = value()
        end
        skip()
        local d = text:sub(pos, pos)
        pos = pos + 1
        if d == close then
          depth = depth - 1
          return obj
        end
        if d ~= "," then fail("',' or '" .. close .. "' expected") end
      end
    elseif c == '"' then
      return str()
    elseif text:sub(pos, pos + 3) == "true" then
      pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then
      pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then
      pos = pos + 4; return nil
    end
    local num = text:match("^-?%d+%.?%d*[eE]?[+-]?%d*", pos)
    if not num or not tonumber(num) then fail("a value expected") end
    pos = pos + #num
    return tonumber(num)
  end
  local v = value()
  skip()
  if pos <= #text then fail("text after the value") end
  return v
end

return M
