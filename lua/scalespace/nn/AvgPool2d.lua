--- nn.AvgPool2d(2) — 2x2 average pooling with stride 2 (the only size the kernels have).
local C = require("scalespace.ffi").C
local base = require "scalespace.nn.module"

return base.resampler("AvgPool2d", "2x2 pooling", function(n) return math.floor(n / 2) end, C.ss_avgpool2_forward,
  C.ss_avgpool2_backward)
