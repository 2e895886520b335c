--- nn.Dropout — inverted dropout with a Philox mask.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check, arg_error = lib.C, lib.check, lib.arg_error

local Dropout = base.class("Dropout")

--- Dropout(p, {rng=}): in training, zeroes each value with probability p and scales the
-- rest by 1/(1 − p), with a Philox mask from rng; the identity when evaluating or p = 0.
function Dropout.new(p, opts)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then arg_error("nn.Dropout", 1, "a probability in [0, 1)", p) end
  local self = base.new(Dropout)
  self.p, self.rng = p, base.init_rng(opts)
  return self
end

function Dropout:forward(x)
  base.expect_tensor(x, "nn.Dropout:forward")
  self.active = self.train and self.p > 0
  if not self.active then return x end
  local out = self:buffer_like("out", x)
  self.mask = self:buffer_like("mask", x)
  check(C.ss_dropout_forward(out.p, self.mask.p, x.p, self.p, self.rng))
  return out
end

function Dropout:backward(x, gout)
  if not self.active then return gout end
  local gin = self:buffer_like("gin", x)
  check(C.ss_dropout_backward(gin.p, gout.p, self.mask.p))
  return gin
end

return Dropout
