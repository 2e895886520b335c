--- nn.GlobalAvgPool — the mean of each channel's plane: (N,C,H,W) → (N,C).
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check = lib.C, lib.check

local GlobalAvgPool = base.class("GlobalAvgPool")

--- GlobalAvgPool(): forward(x) gives (N,C), ready for nn.Linear (Inception-v3's pool3
-- features, a classifier's penultimate layer); reshape to (N,C,1,1) for a 4-D layer.
function GlobalAvgPool.new() return base.new(GlobalAvgPool) end

function GlobalAvgPool:forward(x)
  base.expect_input(x, "nn.GlobalAvgPool:forward", 4, "an (N,C,H,W) tensor")
  local out = self:buffer("out", { base.size(x, 1), base.size(x, 2) })
  check(C.ss_global_avgpool_forward(out.p, x.p))
  return out
end

function GlobalAvgPool:backward(x, gout)
  local gin = self:buffer_like("gin", x)
  check(C.ss_global_avgpool_backward(gin.p, gout.p))
  return gin
end

return GlobalAvgPool
