--- nn.ReLU — max(x, 0).
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local ReLU = base.class("ReLU")
function ReLU.new() return base.new(ReLU) end

function ReLU:forward(x)
  base.expect_tensor(x, "nn.ReLU:forward")
  local out = self:buffer_like("out", x)
  check(C.ss_relu_forward(out.p, x.p))
  return out
end

function ReLU:backward(x, gout)
  local gin = self:buffer_like("gin", x)
  check(C.ss_relu_backward(gin.p, gout.p, x.p))
  return gin
end

return ReLU
