--- scalespace.image — PNG load/save and image grids (libpng in C).
-- Images are (C,H,W) tensors in [0,1]; batches are (N,C,H,W).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local C, check, arg_error = lib.C, lib.check, lib.arg_error

local M = {}

local function expect_path(p, fname)
  if type(p) ~= "string" then arg_error(fname, 1, "a file path", p) end
end

--- Loads a PNG as (C,H,W) in [0,1] with the file's channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA).
function M.load(path)
  expect_path(path, "image.load")
  return tensor.own(C.ss_image_load(path))
end

--- A (C,H,W) view of an image given as (H,W), (C,H,W) or (1,C,H,W).
local function as_chw(t, fname)
  tensor.expect_tensor(t, fname, 2, 3)
  local s = t:shape()
  if #s == 2 then return t:reshape { 1, s[1], s[2] } end
  if #s == 4 and s[1] == 1 then return t:reshape { s[2], s[3], s[4] } end
  return t
end

--- Saves an image (values clamped to [0,1], rounded to 8 bits) atomically.
function M.save(path, img)
  expect_path(path, "image.save")
  check(C.ss_image_save(path, as_chw(img, "image.save").p))
  return path
end

--- Saves a batch (N,C,H,W) as a grid, atomically: opts.nrow (images per row; default
-- ⌈√N⌉), opts.range ({lo, hi} of the values, mapped to [0, 1]; default {0, 1}; values
-- outside are clamped), opts.padding (2 pixels), opts.pad_value (1). Returns path.
function M.save_grid(path, batch, opts)
  expect_path(path, "image.save_grid")
  tensor.expect_tensor(batch, "image.save_grid", 2)
  if opts ~= nil and type(opts) ~= "table" then arg_error("image.save_grid", 3, "an options table {nrow =, range =}", opts) end
  opts = opts or {}
  if batch:dim() ~= 4 then
    lib.raise("image.save_grid: argument 2: expected an (N,C,H,W) batch, got " .. tensor.shape_string(batch:shape()))
  end
  local range = opts.range
  if range ~= nil and (type(range) ~= "table" or type(range[1]) ~= "number" or type(range[2]) ~= "number"
      or not (range[1] < range[2])) then
    lib.raise("image.save_grid: range must be {lo, hi} with lo < hi, e.g. {-1, 1}")
  end
  if range and (range[1] ~= 0 or range[2] ~= 1) then
    batch = (batch - range[1]):mul_(1 / (range[2] - range[1]))
  end
  local nrow = opts.nrow or math.ceil(math.sqrt(batch:shape()[1]))
  check(C.ss_image_save_grid(path, batch.p, nrow, opts.padding or 2, opts.pad_value or 1))
  return path
end

--- images (N,c,H,W) with `channels` channels (grey <-> RGB, alpha dropped).
function M.convert_channels(images, channels)
  local s = images:shape()
  if s[2] == channels then return images end
  local out = tensor.empty { s[1], channels, s[3], s[4] }
  check(C.ss_image_convert_channels(out.p, images.p))
  return out
end

return M
