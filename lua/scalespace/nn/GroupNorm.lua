--- nn.GroupNorm — group normalisation over ss_groupnorm_forward/backward.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local C, check, raise = lib.C, lib.check, lib.raise

local GroupNorm = base.class("GroupNorm")

--- GroupNorm(groups, ch, {eps=1e-5}): weight 1 and bias 0 to start, as PyTorch.
function GroupNorm.new(groups, ch, opts)
  base.expect_count(groups, "nn.GroupNorm", 1, "a group count")
  base.expect_count(ch, "nn.GroupNorm", 2, "a channel count")
  if ch % groups ~= 0 then raise(string.format("nn.GroupNorm: %d channels do not split into %d groups", ch, groups)) end
  local self = base.new(GroupNorm)
  self.groups, self.ch, self.eps = groups, ch, (opts and opts.eps) or 1e-5
  self:add_param("weight", "gradWeight", tensor.ones { ch })
  self:add_param("bias", "gradBias", tensor.zeros { ch })
  return self
end

function GroupNorm:forward(x)
  base.expect_tensor(x, "nn.GroupNorm:forward")
  local out = self:buffer_like("out", x)
  self.stats = self:buffer("stats", { 2 * base.size(x, 1) * self.groups })
  check(C.ss_groupnorm_forward(out.p, self.stats.p, x.p, self.weight.p, self.bias.p, self.groups, self.eps))
  return out
end

function GroupNorm:backward(x, gout)
  local gin = self:buffer_like("gin", x)
  check(C.ss_groupnorm_backward(gin.p, self.gradWeight.p, self.gradBias.p, gout.p, x.p, self.weight.p, self.stats.p,
    self.groups))
  return gin
end

return GroupNorm
