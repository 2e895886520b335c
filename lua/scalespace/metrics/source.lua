--- scalespace.metrics.source — where a metric's images come from, as one interface:
-- {name = text, n = count (nil when unknown), range = {lo, hi}, named = true for data sets
-- and folders (their statistics are cached by default), key_of = function() -> a hash of
-- the content (absent for a generator), batches = function(size) -> iterator of (B,C,H,W)
-- tensors}. Sources:
--   an (N,C,H,W) tensor (opts.range, default {0, 1});
--   a data set (ss.data: its .images);
--   "fashion-mnist:test", "fashion-mnist:train", "mnist": the built-in data sets;
--   a folder of PNG files (8-bit; every file, sorted by name; sizes may differ);
--   a function returning a (B,C,H,W) batch per call and nil at the end (a sampler).
-- Statistics files are handled by ss.metrics.statistics before a source is made.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local image = require "scalespace.image"
local data = require "scalespace.data"
local ffi, C, check, raise = lib.ffi, lib.C, lib.check, lib.raise
local bit = require "bit"

local M = {}

--- FNV-1a (64 bits) of a string, as 16 hex digits: combines content hashes and options
-- into one cache key (the content itself is hashed by XXH64 in C, ss.dist.hash).
function M.combine(s)
  local h = 14695981039346656037ULL
  for i = 1, #s do h = bit.bxor(h, s:byte(i)) * 1099511628211ULL end
  return bit.tohex(h, 16)
end

local function hash_tensor(t) return require("scalespace.dist").hash { t } end

local function from_images(images, name, range)
  local n = #images
  return { name = name, n = n, range = range,
    batches = function(size)
      local first = 1
      return function()
        if first > n then return nil end
        local b = images:narrow(1, first, math.min(size, n - first + 1))
        first = first + size
        return b
      end
    end }
end

local builtin = {
  ["fashion-mnist:test"] = function() return data.fashion_mnist { split = "test" } end,
  ["fashion-mnist:train"] = function() return data.fashion_mnist { split = "train" } end,
  mnist = function() return data.mnist {} end,
}
M.builtin_names = { "fashion-mnist:test", "fashion-mnist:train", "mnist" }

-- The PNG files of a folder, sorted by name.
local function png_files(dir)
  local need = ffi.new("size_t[1]")
  local rc = C.ss_dir_list(nil, 0, need, dir, ".png")
  if rc < 0 and need[0] == 0 then check(rc) end
  local buf = ffi.new("char[?]", need[0])
  check(C.ss_dir_list(buf, need[0], need, dir, ".png"))
  local files = {}
  for name in ffi.string(buf):gmatch("[^\n]+") do files[#files + 1] = dir .. "/" .. name end
  if #files == 0 then raise("metrics: no .png files in " .. dir) end
  return files
end

-- Loads files[i] as (1,C,H,W).
local function load_png(path)
  local img = image.load(path)
  local s = img:shape()
  return img:reshape { 1, s[1], s[2], s[3] }
end

-- A folder: batches of consecutive files of one size and channel count; the key hashes
-- every decoded image (one pass over the files, before any feature is computed).
local function from_folder(dir)
  local files = png_files(dir)
  local src = { name = dir, n = #files, range = { 0, 1 } }
  function src.key_of()
    local parts = {}
    for i, f in ipairs(files) do parts[i] = hash_tensor(load_png(f)) end
    return M.combine(table.concat(parts))
  end
  src.batches = function(size)
    local i = 1
    return function()
      if i > #files then return nil end
      local list = { load_png(files[i]) }
      local shape = tensor.shape_string(list[1]:shape())
      i = i + 1
      while #list < size and i <= #files do
        local img = load_png(files[i])
        if tensor.shape_string(img:shape()) ~= shape then break end
        list[#list + 1] = img
        i = i + 1
      end
      return #list == 1 and list[1] or tensor.cat(list, 1)
    end
  end
  return src
end

local function is_dir(path)
  local f = io.open(path .. "/.", "rb")
  if f then f:close() return true end
  return false
end

--- A source from `what` (see the module's comment); opts.range for tensors and generators.
function M.new(what, opts, fname)
  opts = opts or {}
  if tensor.is_tensor(what) then
    if what:dim() ~= 4 then
      raise(string.format("%s: images must be (N,C,H,W), got %s", fname, tensor.shape_string(what:shape())))
    end
    local range = opts.range or { 0, 1 }
    local src = from_images(what, opts.name or "tensor " .. tensor.shape_string(what:shape()), range)
    src.key_of = function() return M.combine(hash_tensor(what) .. table.concat(range, ",")) end
    return src
  elseif type(what) == "table" and tensor.is_tensor(what.images) then
    local src = M.new(what.images, { range = opts.range, name = what.name }, fname)
    src.named = true
    return src
  elseif type(what) == "function" then
    return { name = opts.name or "generator", range = opts.range or { 0, 1 },
      batches = function() return what end }
  elseif type(what) == "string" then
    if builtin[what] then
      local ds = builtin[what]()
      local src = from_images(ds.images, what, { 0, 1 })
      src.named = true
      src.key_of = function() return M.combine(what .. hash_tensor(ds.images)) end
      return src
    end
    if is_dir(what) then
      local src = from_folder(what)
      src.named = true
      return src
    end
    raise(string.format("%s: %s is not a folder of PNGs, a statistics file or a built-in data set (%s)", fname,
      what, table.concat(M.builtin_names, ", ")))
  end
  lib.arg_error(fname, 1, "images: an (N,C,H,W) tensor, a data set, a folder, a data set name, a statistics file "
    .. "or a function returning batches", what)
end

return M
