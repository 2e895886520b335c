--- nn.AttnBlock — ADM's attention block: out = x + Attention(GroupNorm(x)).
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local GroupNorm = require "scalespace.nn.GroupNorm"
local Attention = require "scalespace.nn.Attention"
local C, check = lib.C, lib.check

local AttnBlock = base.class("AttnBlock")

--- AttnBlock(ch, {heads=1, groups=32, rng=, zero_init=true}): out = x + Attention(GN(x)).
function AttnBlock.new(ch, opts)
  opts = opts or {}
  local self = base.new(AttnBlock)
  self:add("norm", GroupNorm.new(opts.groups or 32, ch))
  self:add("attn", Attention.new(ch, opts.heads or 1,
    { rng = opts.rng, zero_init = opts.zero_init ~= false }))
  return self
end

function AttnBlock:forward(x)
  self.h = self.norm:forward(x)
  return self:add_into("out", x, self.attn:forward(self.h))
end

function AttnBlock:backward(x, gout)
  local g = self.norm:backward(x, self.attn:backward(self.h, gout))
  local gx = self:buffer_like("gx", x)
  check(C.ss_add(gx.p, g.p, gout.p))
  return gx
end

return AttnBlock
