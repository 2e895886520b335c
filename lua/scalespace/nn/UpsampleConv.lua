--- nn.UpsampleConv(ch) — ADM's up-sampling block: nearest 2x, then a 3x3 convolution
-- (children up, conv).
local base = require "scalespace.nn.module"
local Sequential = require "scalespace.nn.Sequential"
local Upsample = require "scalespace.nn.Upsample"
local Conv2d = require "scalespace.nn.Conv2d"

local UpsampleConv = base.class("UpsampleConv", Sequential)

function UpsampleConv.new(ch, opts)
  local self = base.new(UpsampleConv)
  self:add("up", Upsample.new(2))
  self:add("conv", Conv2d.new(ch, ch, 3, { rng = opts and opts.rng }))
  return self
end

return UpsampleConv
