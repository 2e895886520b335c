--- nn.Downsample(ch) — ADM's down-sampling block: a 3x3 convolution with stride 2.
local Conv2d = require "scalespace.nn.Conv2d"

return function(ch, opts)
  return Conv2d.new(ch, ch, 3, { stride = 2, padding = 1, rng = opts and opts.rng })
end
