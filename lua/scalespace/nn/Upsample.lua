--- nn.Upsample(2) — nearest-neighbour up-sampling by 2.
local C = require("scalespace.ffi").C
local base = require "scalespace.nn.module"

return base.resampler("Upsample", "a factor of 2", function(n) return 2 * n end, C.ss_upsample2_forward,
  C.ss_upsample2_backward)
