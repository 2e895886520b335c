--- nn.SiLU — x·sigmoid(x).
local C = require("scalespace.ffi").C
return require("scalespace.nn.module").pointwise("SiLU", C.ss_silu_forward, C.ss_silu_backward)
