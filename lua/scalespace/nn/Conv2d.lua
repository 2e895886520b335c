--- nn.Conv2d — 2-D convolution over ss_conv2d_forward/backward.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local C, check, arg_error = lib.C, lib.check, lib.arg_error

local Conv2d = base.class("Conv2d")

-- {h, w} from a number n (both n) or a list {h, w} of whole numbers >= lo; else an error
-- naming option `what` of nn.Conv2d.
local function pair(v, lo, what, i)
  local t = type(v) == "number" and { v, v } or v
  local ok = type(t) == "table" and #t == 2
  for k = 1, 2 do ok = ok and type(t[k]) == "number" and t[k] >= lo and t[k] == math.floor(t[k]) end
  if not ok then
    local want = lo == 0 and "a whole number >= 0" or "a whole number >= 1"
    if i then arg_error("nn.Conv2d", i, want .. " or a pair {h, w} of them", v) end
    lib.raise(string.format("nn.Conv2d: option %s must be %s or a pair {h, w} of them, got %s", what, want,
      type(v) == "table" and "a table" or tostring(v)))
  end
  return { t[1], t[2] }
end

--- Conv2d(cin, cout, k, {stride=1, padding=⌊k/2⌋, bias=true, rng=}): weight (cout,cin,kh,kw).
-- k, stride and padding are numbers (both axes) or pairs {h, w}: Conv2d(192, 160, {1, 7},
-- {padding = {0, 3}}) is Inception's 1x7 convolution. The default padding keeps the size
-- for odd kernels at stride 1 (⌊kh/2⌋, ⌊kw/2⌋).
function Conv2d.new(cin, cout, k, opts)
  base.expect_count(cin, "nn.Conv2d", 1, "an input channel count")
  base.expect_count(cout, "nn.Conv2d", 2, "an output channel count")
  local ks = pair(k, 1, "k", 3)
  opts = opts or {}
  local self = base.new(Conv2d)
  self.cin, self.cout, self.kh, self.kw = cin, cout, ks[1], ks[2]
  self.stride = pair(opts.stride or 1, 1, "stride")
  self.padding = pair(opts.padding or { math.floor(ks[1] / 2), math.floor(ks[2] / 2) }, 0, "padding")
  local g, fan_in = base.init_rng(opts), cin * ks[1] * ks[2]
  base.init_uniform(self:add_param("weight", "gradWeight", tensor.empty { cout, cin, ks[1], ks[2] }), fan_in, g)
  if opts.bias ~= false then base.init_uniform(self:add_param("bias", "gradBias", tensor.empty { cout }), fan_in, g) end
  return self
end

local function conv_out_size(n, k, s, p) return math.floor((n + 2 * p - k) / s) + 1 end

function Conv2d:forward(x)
  base.expect_input(x, "nn.Conv2d:forward", 4, "an (N,C,H,W) tensor")
  local s, p = self.stride, self.padding
  local out = self:buffer("out", { base.size(x, 1), self.cout,
    conv_out_size(base.size(x, 3), self.kh, s[1], p[1]), conv_out_size(base.size(x, 4), self.kw, s[2], p[2]) })
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

return Conv2d
