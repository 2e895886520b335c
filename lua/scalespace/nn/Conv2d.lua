--- nn.Conv2d — 2-D convolution over ss_conv2d_forward/backward.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local C, check, raise = lib.C, lib.check, lib.raise

local Conv2d = base.class("Conv2d")

--- Conv2d(cin, cout, k, {stride=1, padding=⌊k/2⌋, bias=true, rng=}): weight (cout,cin,kh,kw).
-- k, stride and padding are numbers (both axes) or pairs {h, w}: Conv2d(192, 160, {1, 7},
-- {padding = {0, 3}}) is Inception's 1x7 convolution. The default padding keeps the size
-- for odd kernels at stride 1 (⌊kh/2⌋, ⌊kw/2⌋).
function Conv2d.new(cin, cout, k, opts)
  base.expect_count(cin, "nn.Conv2d", 1, "an input channel count")
  base.expect_count(cout, "nn.Conv2d", 2, "an output channel count")
  local ks = base.pair(k, 1, "nn.Conv2d", "k", 3)
  opts = opts or {}
  local self = base.new(Conv2d)
  self.cin, self.cout, self.kh, self.kw = cin, cout, ks[1], ks[2]
  self.stride = base.pair(opts.stride or 1, 1, "nn.Conv2d", "stride")
  self.padding = base.pair(opts.padding or { math.floor(ks[1] / 2), math.floor(ks[2] / 2) }, 0, "nn.Conv2d", "padding")
  local g, fan_in = base.init_rng(opts), cin * ks[1] * ks[2]
  base.init_uniform(self:add_param("weight", "gradWeight", tensor.empty { cout, cin, ks[1], ks[2] }), fan_in, g)
  if opts.bias ~= false then base.init_uniform(self:add_param("bias", "gradBias", tensor.empty { cout }), fan_in, g) end
  return self
end

function Conv2d:forward(x)
  base.expect_input(x, "nn.Conv2d:forward", 4, "an (N,C,H,W) tensor")
  local s, p = self.stride, self.padding
  local out = self:buffer("out", base.window_shape("nn.Conv2d:forward", x, self.cout, { self.kh, self.kw }, s, p))
  check(C.ss_conv2d_forward(out.p, x.p, self.weight.p, self.bias and self.bias.p, s[1], s[2], p[1], p[2],
    base.workspace()))
  return out
end

function Conv2d:backward(x, gout)
  local s, p = self.stride, self.padding
  local gin = not self.no_input_grad and self:buffer_like("gin", x) or nil
  check(C.ss_conv2d_backward(gin and gin.p, self.gradWeight.p, self.bias and self.gradBias.p, gout.p, x.p,
    self.weight.p, s[1], s[2], p[1], p[2], base.workspace()))
  return gin
end

--- Folds an inference BatchNorm that follows this convolution into its weight and bias
-- (adding a bias when it has none), in place, on the CPU: bn = {mean=, var=, weight=γ
-- (default 1: TorchScript's Inception has none), bias=β (default 0), eps=1e-3 (Inception's;
-- PyTorch's BatchNorm2d default is 1e-5)}, tensors (cout). Afterwards forward(x) is
-- BatchNorm(conv(x)) in evaluation mode. Returns self.
function Conv2d:fold_batchnorm(bn)
  if type(bn) ~= "table" then lib.arg_error("Conv2d:fold_batchnorm", 1, "a table {mean=, var=, ...}", bn) end
  for _, key in ipairs { "mean", "var" } do
    if not tensor.is_tensor(bn[key]) then raise("Conv2d:fold_batchnorm: " .. key .. " must be a tensor") end
  end
  for _, key in ipairs { "weight", "bias" } do
    if bn[key] ~= nil and not tensor.is_tensor(bn[key]) then
      raise("Conv2d:fold_batchnorm: " .. key .. " must be a tensor or nil")
    end
  end
  if not self.bias then self:add_param("bias", "gradBias", tensor.zeros({ self.cout }, self.device)) end
  check(C.ss_batchnorm_fold(self.weight.p, self.bias.p, bn.weight and bn.weight.p, bn.bias and bn.bias.p, bn.mean.p,
    bn.var.p, bn.eps or 1e-3))
  return self
end

return Conv2d
