--- nn.AvgPool2d — average pooling over ss_avgpool2d_forward/backward.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local AvgPool2d = base.class("AvgPool2d")

--- AvgPool2d(k, {stride=k, padding=0, count_include_pad=true}): the mean of each k window
-- (torch's avg_pool2d, floor mode); k, stride and padding are numbers or pairs {h, w},
-- padding at most half the kernel. count_include_pad = false divides by the input
-- positions a window covers instead of its size. AvgPool2d(2) is the UNet's 2x2 pooling;
-- AvgPool2d(3, {stride = 1, padding = 1, count_include_pad = false}) Inception-v3's.
function AvgPool2d.new(k, opts)
  opts = opts or {}
  local self = base.new(AvgPool2d)
  self.kernel = base.pair(k, 1, "nn.AvgPool2d", "k", 1)
  self.stride = base.pair(opts.stride or self.kernel, 1, "nn.AvgPool2d", "stride")
  self.padding = base.pair(opts.padding or 0, 0, "nn.AvgPool2d", "padding")
  if opts.count_include_pad ~= nil and type(opts.count_include_pad) ~= "boolean" then
    lib.raise("nn.AvgPool2d: option count_include_pad must be a boolean, got " .. lib.typename(opts.count_include_pad))
  end
  self.include_pad = opts.count_include_pad ~= false and 1 or 0
  return self
end

function AvgPool2d:forward(x)
  base.expect_input(x, "nn.AvgPool2d:forward", 4, "an (N,C,H,W) tensor")
  local k, s, p = self.kernel, self.stride, self.padding
  local out = self:buffer("out", base.window_shape("nn.AvgPool2d:forward", x, base.size(x, 2), k, s, p))
  check(C.ss_avgpool2d_forward(out.p, x.p, k[1], k[2], s[1], s[2], p[1], p[2], self.include_pad))
  return out
end

function AvgPool2d:backward(x, gout)
  local k, s, p = self.kernel, self.stride, self.padding
  local gin = self:buffer_like("gin", x)
  check(C.ss_avgpool2d_backward(gin.p, gout.p, k[1], k[2], s[1], s[2], p[1], p[2], self.include_pad))
  return gin
end

return AvgPool2d
