--- nn.SiLU — x·sigmoid(x).
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local SiLU = base.class("SiLU")
function SiLU.new() return base.new(SiLU) end

function SiLU:forward(x)
  base.expect_tensor(x, "nn.SiLU:forward")
  local out = self:buffer_like("out", x)
  check(C.ss_silu_forward(out.p, x.p))
  return out
end

function SiLU:backward(x, gout)
  local gin = self:buffer_like("gin", x)
  check(C.ss_silu_backward(gin.p, gout.p, x.p))
  return gin
end

return SiLU
