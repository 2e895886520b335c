--- nn.ResBlock — ADM's residual block with a time embedding.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local GroupNorm = require "scalespace.nn.GroupNorm"
local SiLU = require "scalespace.nn.SiLU"
local Conv2d = require "scalespace.nn.Conv2d"
local Linear = require "scalespace.nn.Linear"
local Dropout = require "scalespace.nn.Dropout"
local C, check = lib.C, lib.check

local ResBlock = base.class("ResBlock")

--- ResBlock(cin, cout, emb_dim, {dropout=0, groups=32, rng=, zero_init=true}): ADM's
-- residual block: h = conv1(SiLU(GN(x))) + Linear(SiLU(emb)) per channel;
-- out = skip(x) + conv2(Dropout(SiLU(GN(h)))), skip a 1x1 convolution when cin ≠ cout.
-- forward(x, emb) with emb (N, emb_dim); backward(x, gradOut) returns ∂L/∂x, ∂L/∂emb.
function ResBlock.new(cin, cout, emb_dim, opts)
  opts = opts or {}
  local groups = opts.groups or 32
  local self = base.new(ResBlock)
  self:add("norm1", GroupNorm.new(groups, cin))
  self:add("act1", SiLU.new())
  self:add("conv1", Conv2d.new(cin, cout, 3, opts))
  self:add("emb_act", SiLU.new())
  self:add("emb", Linear.new(emb_dim, cout, opts))
  self:add("norm2", GroupNorm.new(groups, cout))
  self:add("act2", SiLU.new())
  self:add("drop", Dropout.new(opts.dropout or 0, opts))
  self:add("conv2", Conv2d.new(cout, cout, 3, opts))
  if opts.zero_init ~= false then base.zero_params(self.conv2) end
  if cin ~= cout then self:add("skip", Conv2d.new(cin, cout, 1, opts)) end
  return self
end

function ResBlock:forward(x, emb)
  local n, c = base.size(x, 1), self.conv1.cout
  self.emb_in = emb
  local s = self.state or {}
  self.state = s
  s.h1 = self.norm1:forward(x)
  s.a1 = self.act1:forward(s.h1)
  local c1 = self.conv1:forward(s.a1)
  s.e0 = self.emb_act:forward(emb)
  local e = self.emb:forward(s.e0)
  s.h = self:add_into("h", c1, e:reshape { n, c, 1, 1 })
  s.n2 = self.norm2:forward(s.h)
  s.a2 = self.act2:forward(s.n2)
  s.d = self.drop:forward(s.a2)
  local c2 = self.conv2:forward(s.d)
  return self:add_into("out", c2, self.skip and self.skip:forward(x) or x)
end

function ResBlock:backward(x, gout)
  local s = self.state
  local g = self.conv2:backward(s.d, gout)
  g = self.drop:backward(s.a2, g)
  g = self.act2:backward(s.n2, g)
  local gh = self.norm2:backward(s.h, g)
  -- the embedding was added to every position: its gradient sums over H·W.
  local n, c = base.size(x, 1), self.conv1.cout
  local ge = self:buffer("ge", { n, c })
  check(C.ss_reduce_per_sample(ge:reshape { n * c }.p, gh:reshape { n * c, base.size(gh, 3) * base.size(gh, 4) }.p,
    C.SS_RED_SUM))
  local gemb = self.emb_act:backward(self.emb_in, self.emb:backward(s.e0, ge))
  g = self.conv1:backward(s.a1, gh)
  g = self.act1:backward(s.h1, g)
  local gx = self.norm1:backward(x, g)
  local gskip = self.skip and self.skip:backward(x, gout) or gout
  check(C.ss_add(gx.p, gx.p, gskip.p))
  return gx, gemb
end

return ResBlock
