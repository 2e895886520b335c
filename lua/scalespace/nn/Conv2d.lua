--- nn.Conv2d — 2-D convolution over ss_conv2d_forward/backward.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local Conv2d = base.class("Conv2d")

--- Conv2d(cin, cout, k, {stride=1, padding=⌊k/2⌋, bias=true, rng=}). Weight (cout,cin,k,k).
function Conv2d.new(cin, cout, k, opts)
  base.expect_count(cin, "nn.Conv2d", 1, "an input channel count")
  base.expect_count(cout, "nn.Conv2d", 2, "an output channel count")
  base.expect_count(k, "nn.Conv2d", 3, "a kernel size")
  opts = opts or {}
  local self = base.new(Conv2d)
  self.cin, self.cout, self.k = cin, cout, k
  self.stride, self.padding = opts.stride or 1, opts.padding or math.floor(k / 2)
  local g, fan_in = base.init_rng(opts), cin * k * k
  base.init_uniform(self:add_param("weight", "gradWeight", tensor.empty { cout, cin, k, k }), fan_in, g)
  if opts.bias ~= false then base.init_uniform(self:add_param("bias", "gradBias", tensor.empty { cout }), fan_in, g) end
  return self
end

local function conv_out_size(n, k, s, p) return math.floor((n + 2 * p - k) / s) + 1 end

function Conv2d:forward(x)
  base.expect_input(x, "nn.Conv2d:forward", 4, "an (N,C,H,W) tensor")
  local out = self:buffer("out", { base.size(x, 1), self.cout,
    conv_out_size(base.size(x, 3), self.k, self.stride, self.padding),
    conv_out_size(base.size(x, 4), self.k, self.stride, self.padding) })
  check(C.ss_conv2d_forward(out.p, x.p, self.weight.p, self.bias and self.bias.p, self.stride, self.padding,
    base.workspace()))
  return out
end

function Conv2d:backward(x, gout)
  local gin = not self.no_input_grad and self:buffer_like("gin", x) or nil
  check(C.ss_conv2d_backward(gin and gin.p, self.gradWeight.p, self.bias and self.gradBias.p, gout.p, x.p,
    self.weight.p, self.stride, self.padding, base.workspace()))
  return gin
end

return Conv2d
