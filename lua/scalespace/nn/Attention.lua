--- nn.Attention — multi-head self-attention over the positions of a feature map.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check, raise = lib.C, lib.check, lib.raise

local Attention = base.class("Attention")

--- Attention(ch, heads, {rng=, zero_init=false}): multi-head self-attention over the H·W
-- positions: a 1x1 convolution to q, k, v (children qkv), the C kernel, and a 1x1
-- output projection (proj; zero at the start with zero_init, as ADM).
function Attention.new(ch, heads, opts)
  base.expect_count(ch, "nn.Attention", 1, "a channel count")
  heads = heads or 1
  base.expect_count(heads, "nn.Attention", 2, "a head count")
  if ch % heads ~= 0 then raise(string.format("nn.Attention: %d channels do not split into %d heads", ch, heads)) end
  opts = opts or {}
  local self = base.new(Attention)
  self.heads = heads
  self:add("qkv", require("scalespace.nn.Conv2d").new(ch, 3 * ch, 1, opts))
  self:add("proj", require("scalespace.nn.Conv2d").new(ch, ch, 1, opts))
  if opts.zero_init then base.zero_params(self.proj) end
  return self
end

function Attention:forward(x)
  base.expect_input(x, "nn.Attention:forward", 4, "an (N,C,H,W) tensor")
  self.q = self.qkv:forward(x)
  local n, t = base.size(x, 1), base.size(x, 3) * base.size(x, 4)
  self.a = self:buffer_like("a", x)
  self.weights = self:buffer("weights", { n * self.heads, t, t })
  check(C.ss_attention_forward(self.a.p, self.weights.p, self.q.p, self.heads))
  return self.proj:forward(self.a)
end

function Attention:backward(x, gout)
  local ga = self.proj:backward(self.a, gout)
  local gqkv = self:buffer_like("gqkv", self.q)
  check(C.ss_attention_backward(gqkv.p, ga.p, self.q.p, self.weights.p, self.heads))
  return self.qkv:backward(x, gqkv)
end

return Attention
