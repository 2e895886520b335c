--- nn.ReLU — max(x, 0), keeping NaN as torch.relu does.
local C = require("scalespace.ffi").C
return require("scalespace.nn.module").pointwise("ReLU", C.ss_relu_forward, C.ss_relu_backward)
