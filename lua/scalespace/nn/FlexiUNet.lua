--- nn.FlexiUNet — Scale Space Diffusion's Flexi-UNet: one parameter set for every level
-- of the resolution pyramid size, size/2, ... (one level per entry of mult).
-- forward(x, t, {out_size=}) enters the encoder at the level of x's resolution through a
-- 1x1 adapter (after the shared input convolution), runs only the blocks from there down
-- and back up, and leaves the decoder at out_size (x's size, or twice it for a
-- resolution-changing step, whose extra up-sampling level gets zero-filled skips)
-- through a 1x1 adapter to the output head. At full resolution it is exactly the UNet
-- with the same parameters.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local UNet = require "scalespace.nn.UNet"
local Group = require "scalespace.nn.Group"
local Conv2d = require "scalespace.nn.Conv2d"
local raise = lib.raise

local FlexiUNet = base.class("FlexiUNet", UNet)

--- FlexiUNet{same keys as UNet}.
function FlexiUNet.new(cfg)
  return UNet.build(UNet.check_config(cfg, "nn.FlexiUNet"), FlexiUNet)
end

-- Entering at level l stands in for level l−1's down-sampling output; leaving at level l
-- maps its channels to those the output head expects (level 1's).
function FlexiUNet:build_extra(c, o)
  local ain, aout = self:add("adapt_in", Group.new()), self:add("adapt_out", Group.new())
  for l = 2, #c.mult do
    ain:add(l, Conv2d.new(c.ch, c.ch * c.mult[l - 1], 1, o))
    aout:add(l, Conv2d.new(c.ch * c.mult[l], c.ch * c.mult[1], 1, o))
  end
end

--- The entry level is x's resolution; the exit level out_size's (x's size or twice it).
function FlexiUNet:route(x, opts)
  local h, w = base.size(x, 3), base.size(x, 4)
  local li
  for l = 1, self.levels do
    if self.sizes[l] == h and w == h then li = l end
  end
  if not li then
    raise(string.format("FlexiUNet:forward: a %dx%d input is at no level of the pyramid (%s)", h, w,
      table.concat(self.sizes, ", ")))
  end
  local out_size = opts and opts.out_size or h
  if out_size == h then return li, li end
  if out_size == 2 * h and li > 1 then return li, li - 1 end
  raise(string.format("FlexiUNet:forward: out_size %s for a %dx%d input: the same size or the next finer level",
    tostring(out_size), h, w))
end

return FlexiUNet
