--- nn.Dropout — inverted dropout with a Philox mask.
local lib = require "scalespace.ffi"
local base = require "scalespace.nn.module"
local C, check, raise, arg_error = lib.C, lib.check, lib.raise, lib.arg_error

local Dropout = base.class("Dropout")

--- Dropout(p, {rng=}): in training, zeroes each value with probability p and scales the
-- rest by 1/(1 − p), with a Philox mask from rng; the identity when evaluating or p = 0.
function Dropout.new(p, opts)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then arg_error("nn.Dropout", 1, "a probability in [0, 1)", p) end
  local self = base.new(Dropout)
  self.p, self.rng = p, base.init_rng(opts)
  return self
end

-- x holds rows part.first + 1 .. of a batch of part.total rows (Module:set_batch_part):
-- its rows of the mask one process would draw for the whole batch. Value i of a Philox
-- draw comes from block offset + ⌊i/4⌋, so the rows before ours are skipped by moving
-- the offset; when they end inside a block, the draw starts at that block and drops
-- the values before our first. The generator ends where the whole batch's draw would.
local function forward_part(self, x, part)
  local g, n, numel = self.rng, base.size(x, 1), x:numel()
  if part.first + n > part.total then
    raise(string.format("nn.Dropout:forward: rows %d..%d of a batch of %d (set_batch_part)", part.first + 1,
      part.first + n, part.total))
  end
  local per = numel / n
  local skip, offset = part.first * per, g.offset
  local lead = skip % 4
  g.offset = offset + (skip - lead) / 4
  local out
  if lead == 0 then
    out = self:buffer_like("out", x)
    self.mask = self:buffer_like("mask", x)
    check(C.ss_dropout_forward(out.p, self.mask.p, x.p, self.p, g))
  else
    local padded = self:buffer("part_in", { lead + numel }, true) -- the lead stays 0
    padded:narrow(1, lead + 1, numel):copy(x:reshape { numel })
    local pout, pmask = self:buffer("part_out", { lead + numel }), self:buffer("part_mask", { lead + numel })
    check(C.ss_dropout_forward(pout.p, pmask.p, padded.p, self.p, g))
    out = pout:narrow(1, lead + 1, numel):reshape(x:shape())
    self.mask = pmask:narrow(1, lead + 1, numel):reshape(x:shape())
  end
  g.offset = offset + math.ceil(part.total * per / 4)
  return out
end

function Dropout:forward(x)
  base.expect_tensor(x, "nn.Dropout:forward")
  self.active = self.train and self.p > 0
  if not self.active then return x end
  if self.batch_part then return forward_part(self, x, self.batch_part) end
  local out = self:buffer_like("out", x)
  self.mask = self:buffer_like("mask", x)
  check(C.ss_dropout_forward(out.p, self.mask.p, x.p, self.p, self.rng))
  return out
end

function Dropout:backward(x, gout)
  if not self.active then return gout end
  local gin = self:buffer_like("gin", x)
  check(C.ss_dropout_backward(gin.p, gout.p, self.mask.p))
  return gin
end

return Dropout
