--- scalespace.metrics.clean — clean-fid's "clean" preprocessing (Parmar et al., GaParmar/
-- clean-fid: fid.py, resize.py), from images to a feature network's input:
--   1. 8-bit quantisation: values in `range` (default {0, 1}; {-1, 1} for model outputs in
--      [−1, 1]) map to 0..255 and are rounded, as saving a PNG does (stylegan2-ada's
--      (x·127.5 + 128).clamp(0, 255) to uint8 for [−1, 1]); values outside are clamped.
--   2. The network's channels: grey is replicated to RGB (as clean-fid's convert("RGB")),
--      RGB becomes grey (ss.image.convert_channels), alpha is dropped.
--   3. Each channel resized on its own with Pillow's float bicubic (ss.op.resize's
--      "bicubic": Image.fromarray(ch, mode="F").resize(size, BICUBIC)); an image already at
--      the size is not filtered (Pillow copies it). Non-square images are resized to the
--      square, as clean-fid does.
--   4. Clipped to [0, 255] (not re-quantised), then (x − shift)/scale: Inception's
--      (x − 128)/128.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local image = require "scalespace.image"
local C, check, raise = lib.C, lib.check, lib.raise

local M = {}

--- Checks a range option ({lo, hi}, lo < hi); returns lo, hi.
function M.range(range, fname)
  range = range or { 0, 1 }
  if type(range) ~= "table" or type(range[1]) ~= "number" or type(range[2]) ~= "number" or not (range[1] < range[2]) then
    raise(fname .. ": option range must be {lo, hi} with lo < hi ({0, 1} or {-1, 1}), got "
      .. (type(range) == "table" and "a table" or tostring(range)))
  end
  return range[1], range[2]
end

--- The 8-bit values (as floats 0..255) of images (N,C,H,W) whose values span range.
function M.quantize(images, range)
  local lo, hi = M.range(range, "metrics.quantize")
  local q = images:empty_like()
  check(C.ss_affine(q.p, images.p, 255 / (hi - lo), -lo * 255 / (hi - lo)))
  return q:clamp_(0, 255):add_(0.5):floor_()
end

--- The network input for images (N,C,H,W) in `range`: input = {size=, channels=, shift=,
-- scale=} (the network's). Returns a new (N, channels, size, size) tensor.
function M.prepare(images, input, range)
  tensor.expect_tensor(images, "metrics.prepare", 1)
  if images:dim() ~= 4 then
    raise("metrics: images must be (N,C,H,W), got " .. tensor.shape_string(images:shape()))
  end
  local s = images:shape()
  if s[2] ~= 1 and s[2] ~= 3 and s[2] ~= 4 then
    raise(string.format("metrics: images must have 1, 3 or 4 channels (grey, RGB, RGBA), got %d", s[2]))
  end
  local x = M.quantize(images, range)
  -- grey to RGB after the resize (the same values, a third of the work); RGB(A) to the
  -- network's channels before it
  local replicate = s[2] == 1 and input.channels == 3
  if not replicate then x = image.convert_channels(x, input.channels) end
  if s[3] ~= input.size or s[4] ~= input.size then
    local out = tensor.empty({ s[1], replicate and 1 or input.channels, input.size, input.size }, x:device_name())
    check(C.ss_resize_forward(out.p, x.p, C.SS_RESIZE_BICUBIC))
    x = out:clamp_(0, 255)
  end
  if replicate then x = image.convert_channels(x, 3) end
  check(C.ss_affine(x.p, x.p, 1 / input.scale, -input.shift / input.scale))
  return x
end

return M
