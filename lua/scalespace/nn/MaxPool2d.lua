--- nn.MaxPool2d — max pooling over ss_maxpool2d_forward/backward.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local MaxPool2d = base.class("MaxPool2d")

--- MaxPool2d(k, {stride=k, padding=0}): the largest value of each k window (torch's
-- max_pool2d, floor mode); k, stride and padding are numbers or pairs {h, w}, padding at
-- most half the kernel. Inception-v3: MaxPool2d(3, {stride = 2}) and MaxPool2d(3,
-- {stride = 1, padding = 1}).
function MaxPool2d.new(k, opts)
  opts = opts or {}
  local self = base.new(MaxPool2d)
  self.kernel = base.pair(k, 1, "nn.MaxPool2d", "k", 1)
  self.stride = base.pair(opts.stride or self.kernel, 1, "nn.MaxPool2d", "stride")
  self.padding = base.pair(opts.padding or 0, 0, "nn.MaxPool2d", "padding")
  return self
end

function MaxPool2d:forward(x)
  base.expect_input(x, "nn.MaxPool2d:forward", 4, "an (N,C,H,W) tensor")
  local k, s, p = self.kernel, self.stride, self.padding
  local out = self:buffer("out", base.window_shape("nn.MaxPool2d:forward", x, base.size(x, 2), k, s, p))
  check(C.ss_maxpool2d_forward(out.p, x.p, k[1], k[2], s[1], s[2], p[1], p[2]))
  return out
end

function MaxPool2d:backward(x, gout)
  local k, s, p = self.kernel, self.stride, self.padding
  local gin = self:buffer_like("gin", x)
  check(C.ss_maxpool2d_backward(gin.p, gout.p, x.p, k[1], k[2], s[1], s[2], p[1], p[2]))
  return gin
end

return MaxPool2d
