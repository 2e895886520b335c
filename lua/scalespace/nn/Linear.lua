--- nn.Linear — a fully connected layer over ss_linear_forward/backward.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local Linear = base.class("Linear")

--- Linear(fin, fout, {bias=true, rng=}): out = x·weightᵀ + bias, weight (fout,fin).
function Linear.new(fin, fout, opts)
  base.expect_count(fin, "nn.Linear", 1, "an input feature count")
  base.expect_count(fout, "nn.Linear", 2, "an output feature count")
  opts = opts or {}
  local self = base.new(Linear)
  self.fin, self.fout = fin, fout
  local g = base.init_rng(opts)
  base.init_uniform(self:add_param("weight", "gradWeight", tensor.empty { fout, fin }), fin, g)
  if opts.bias ~= false then base.init_uniform(self:add_param("bias", "gradBias", tensor.empty { fout }), fin, g) end
  return self
end

function Linear:forward(x)
  base.expect_tensor(x, "nn.Linear:forward")
  local shape = x:shape()
  shape[#shape] = self.fout
  local out = self:buffer("out", shape)
  check(C.ss_linear_forward(out.p, x.p, self.weight.p, self.bias and self.bias.p))
  return out
end

function Linear:backward(x, gout)
  local gin = not self.no_input_grad and self:buffer_like("gin", x) or nil
  check(C.ss_linear_backward(gin and gin.p, self.gradWeight.p, self.bias and self.gradBias.p, gout.p, x.p,
    self.weight.p))
  return gin
end

return Linear
