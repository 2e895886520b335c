--- nn.UNet — ADM's UNet (IHDM, DDPM, blurring diffusion).
--
--   local net = ss.nn.UNet { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 2,
--                            attn_res = { 7 }, dropout = 0.1, size = 28, seed = 1 }
--   local y = net:forward(x, t)          -- x (N,C,H,W), t a number, a Lua list or an (N) tensor
--   net:zero_grad(); net:backward(x, dy) -- gradients of every parameter accumulate (+=)
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local Group = require "scalespace.nn.Group"
local Conv2d = require "scalespace.nn.Conv2d"
local Linear = require "scalespace.nn.Linear"
local GroupNorm = require "scalespace.nn.GroupNorm"
local SiLU = require "scalespace.nn.SiLU"
local ResBlock = require "scalespace.nn.ResBlock"
local AttnBlock = require "scalespace.nn.AttnBlock"
local Downsample = require "scalespace.nn.Downsample"
local UpsampleConv = require "scalespace.nn.UpsampleConv"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local UNet = base.class("UNet")

local unet_defaults = { in_ch = 1, out_ch = false, ch = 64, mult = { 1, 2, 2 }, num_res_blocks = 2, attn_res = { 7 },
  dropout = 0.1, size = 28, heads = 1, groups = 32, seed = 0, rng = false, zero_init = true }

--- The config with defaults, checked (unknown keys, types, sizes), for UNet and its subclasses.
function UNet.check_config(cfg, fname)
  if type(cfg) ~= "table" then arg_error(fname, 1, "a config table", cfg) end
  local c = {}
  for k, v in pairs(cfg) do
    local d = unet_defaults[k]
    if d == nil then
      local known = {}
      for name in pairs(unet_defaults) do known[#known + 1] = name end
      table.sort(known)
      raise(string.format("%s: unknown config key '%s' (known: %s)", fname, tostring(k), table.concat(known, ", ")))
    end
    if d ~= false and type(v) ~= type(d) then
      raise(string.format("%s: config key '%s' must be a %s, got %s", fname, k, type(d), lib.typename(v)))
    end
    c[k] = v
  end
  for k, d in pairs(unet_defaults) do
    if c[k] == nil and d ~= false then c[k] = d end
  end
  c.out_ch = c.out_ch or c.in_ch
  local levels = #c.mult
  if levels < 1 then raise(fname .. ": mult needs at least one level") end
  if c.size % 2 ^ (levels - 1) ~= 0 then
    raise(string.format("%s: size %d does not halve %d times", fname, c.size, levels - 1))
  end
  if c.dropout < 0 or c.dropout >= 1 then raise(fname .. ": dropout must be in [0, 1), got " .. c.dropout) end
  return c
end

--- UNet{in_ch=1, out_ch=in_ch, ch=64, mult={1,2,2}, num_res_blocks=2, attn_res={7},
-- dropout=0.1, size=28, heads=1, groups=32, seed=0 (or rng=), zero_init=true}:
-- ADM's UNet. Level l (1..#mult) works at size/2^(l−1) with ch·mult[l] channels;
-- attention follows the res blocks of the levels whose resolution is in attn_res, and
-- the middle block always has it; the time embedding (sinusoidal, width ch, then two
-- Linear layers to 4·ch) enters every res block. forward(x, t) predicts whatever the
-- caller trains it for (ε, x₀, or IHDM's residual f with μ = x + f(x, k)).
function UNet.new(cfg)
  return UNet.build(UNet.check_config(cfg, "nn.UNet"), UNet)
end

function UNet.build(c, cls)
  local self = base.new(cls)
  self.config = c
  local g = c.rng or tensor.rng(c.seed)
  self.rng = g
  local o = { rng = g, groups = c.groups, dropout = c.dropout, heads = c.heads, zero_init = c.zero_init }
  local ch, mult, L, emb_dim = c.ch, c.mult, #c.mult, 4 * c.ch
  self.levels, self.sizes, self.attn_at = L, {}, {}
  local attn_res = {}
  for _, r in ipairs(c.attn_res) do attn_res[r] = true end
  for l = 1, L do
    self.sizes[l] = c.size / 2 ^ (l - 1)
    self.attn_at[l] = attn_res[self.sizes[l]] or false
  end
  self:add("temb1", Linear.new(ch, emb_dim, o)).no_input_grad = true
  self:add("temb_act", SiLU.new())
  self:add("temb2", Linear.new(emb_dim, emb_dim, o))
  self:add("conv_in", Conv2d.new(c.in_ch, ch, 3, o)).no_input_grad = true
  local chans, cur = { ch }, ch
  local down = self:add("down", Group.new())
  for l = 1, L do
    local lev = down:add(l, Group.new())
    local res, attn = lev:add("res", Group.new()), lev:add("attn", Group.new())
    for i = 1, c.num_res_blocks do
      res:add(i, ResBlock.new(cur, ch * mult[l], emb_dim, o))
      cur = ch * mult[l]
      if self.attn_at[l] then attn:add(i, AttnBlock.new(cur, o)) end
      chans[#chans + 1] = cur
    end
    if l < L then
      lev:add("down", Downsample(cur, o))
      chans[#chans + 1] = cur
    end
  end
  local mid = self:add("mid", Group.new())
  mid:add("res1", ResBlock.new(cur, cur, emb_dim, o))
  mid:add("attn", AttnBlock.new(cur, o))
  mid:add("res2", ResBlock.new(cur, cur, emb_dim, o))
  local up = self:add("up", Group.new())
  for l = L, 1, -1 do
    local lev = up:add(l, Group.new())
    local res, attn = lev:add("res", Group.new()), lev:add("attn", Group.new())
    for i = 1, c.num_res_blocks + 1 do
      res:add(i, ResBlock.new(cur + table.remove(chans), ch * mult[l], emb_dim, o))
      cur = ch * mult[l]
      if self.attn_at[l] then attn:add(i, AttnBlock.new(cur, o)) end
    end
    if l > 1 then lev:add("up", UpsampleConv.new(cur, o)) end
  end
  self:add("norm_out", GroupNorm.new(c.groups, cur))
  self:add("act_out", SiLU.new())
  self:add("conv_out", Conv2d.new(cur, c.out_ch, 3, o))
  if c.zero_init then base.zero_params(self.conv_out) end
  self:build_extra(c, o)
  return self
end

-- t as an (N) tensor on the network's device: a number for every sample, a Lua list,
-- or a tensor.
local function time_tensor(self, t, n)
  local tt = self:buffer("t", { n })
  if tensor.is_tensor(t) then
    if t:numel() ~= n then raise(string.format("forward: %d time values for a batch of %d", t:numel(), n)) end
    if t:device_name() == self.device then return t end
    tt:copy(t:to(self.device))
  elseif type(t) == "number" then
    tt:fill(t)
  elseif type(t) == "table" and #t == n then
    check(C.ss_tensor_write(tt.p, ffi.new("float[?]", n, t)))
  else
    arg_error("forward", 2, "a number, a list of " .. n .. " numbers or an (N) tensor of times", t)
  end
  return tt
end

-- Runs module m on x and records it for the backward.
local function run(tape, m, x, emb)
  tape[#tape + 1] = { m = m, x = x, emb = emb }
  return m:forward(x, emb)
end

-- Nothing beyond the UNet itself (FlexiUNet adds its adapters here).
function UNet:build_extra() end

--- The levels where a forward enters the encoder and leaves the decoder (1 and 1: the
-- UNet runs whole; FlexiUNet chooses by resolution). H and W must halve #mult − 1 times.
function UNet:route(x, opts)
  local f, h, w = 2 ^ (self.levels - 1), base.size(x, 3), base.size(x, 4)
  if h % f ~= 0 or w % f ~= 0 then
    raise(string.format("UNet:forward: H and W must be multiples of %d, got %dx%d", f, h, w))
  end
  if opts and opts.out_size and opts.out_size ~= h then
    raise(string.format("UNet:forward: out_size %s for a %dx%d input: a UNet keeps the size (a process that changes "
      .. "it trains an ss.nn.FlexiUNet)", tostring(opts.out_size), h, w))
  end
  return 1, 1
end

--- forward(x, t [, {out_size=}]) -> output (the network's buffer). t: a number, a list
-- of N numbers or an (N) tensor.
function UNet:forward(x, t, opts)
  local c = self.config
  if not tensor.is_tensor(x) or x.p.ndim ~= 4 or base.size(x, 2) ~= c.in_ch then
    raise(string.format("%s:forward: argument 1: expected an (N,%d,H,W) tensor, got %s", self.__name, c.in_ch,
      tensor.is_tensor(x) and tensor.shape_string(x:shape()) or lib.typename(x)))
  end
  local n = base.size(x, 1)
  local li, lo = self:route(x, opts)
  self.emb0 = self:buffer("emb0", { n, c.ch })
  check(C.ss_timestep_embedding(self.emb0.p, time_tensor(self, t, n).p, 10000))
  local e1 = self.temb1:forward(self.emb0)
  local ea = self.temb_act:forward(e1)
  local emb = self.temb2:forward(ea)
  self.e1, self.ea, self.emb = e1, ea, emb

  local tape, stack = {}, {}
  self.tape, self.stack_top = tape, 0
  local function push(h)
    stack[#stack + 1] = h
    tape[#tape + 1] = { push = #stack }
  end
  local h = run(tape, self.conv_in, x)
  if li > 1 then h = run(tape, self.adapt_in[li], h) end
  push(h)
  for l = li, self.levels do
    local lev = self.down[l]
    for i = 1, c.num_res_blocks do
      h = run(tape, lev.res[i], h, emb)
      if lev.attn[i] then h = run(tape, lev.attn[i], h) end
      push(h)
    end
    if lev.down then
      h = run(tape, lev.down, h)
      push(h)
    end
  end
  h = run(tape, self.mid.res1, h, emb)
  h = run(tape, self.mid.attn, h)
  h = run(tape, self.mid.res2, h, emb)
  for l = self.levels, lo, -1 do
    local lev = self.up[l]
    for i = 1, c.num_res_blocks + 1 do
      local block = lev.res[i]
      local j = #stack
      local skip
      if j > 0 then
        skip = stack[j]
        stack[j] = nil
      else -- a resolution change: the bypassed encoder level's skips are zeros
        skip = self:buffer("zero", { n, block.norm1.ch - base.size(h, 2), base.size(h, 3), base.size(h, 4) }, true) -- never written
      end
      local cat = self:buffer("cat" .. l .. "." .. i, { n, block.norm1.ch, base.size(h, 3), base.size(h, 4) })
      check(C.ss_cat(cat.p, ffi.new("const ss_tensor*[2]", h.p, skip.p), 2, 1))
      tape[#tape + 1] = { cat = cat, h = h, skip = skip, j = j > 0 and j or nil }
      h = run(tape, block, cat, emb)
      if lev.attn[i] then h = run(tape, lev.attn[i], h) end
    end
    if l > lo then h = run(tape, lev.up, h) end
  end
  if lo > 1 then h = run(tape, self.adapt_out[lo], h) end
  h = run(tape, self.norm_out, h)
  h = run(tape, self.act_out, h)
  return run(tape, self.conv_out, h)
end

--- backward(x, gradOut): adds every parameter's gradient for the last forward (x is
-- that forward's input; the network computes no gradient for it and returns nil).
function UNet:backward(x, gout)
  local tape = self.tape
  if not tape or tape[1].x.p ~= x.p then raise(self.__name .. ":backward: call forward with the same input first") end
  local gemb = self:buffer_like("gemb", self.emb)
  gemb:fill(0)
  local skip_grad = {}
  local g = gout
  for k = #tape, 1, -1 do
    local e = tape[k]
    if e.push then
      local sg = skip_grad[e.push]
      if sg then
        check(C.ss_add(sg.p, sg.p, g.p))
        g = sg
      end
    elseif e.cat then
      local gh = self:buffer_like("gh" .. k, e.h)
      local gs = self:buffer_like("gs" .. k, e.skip)
      check(C.ss_split(ffi.new("ss_tensor*[2]", gh.p, gs.p), 2, g.p, 1))
      if e.j then skip_grad[e.j] = gs end
      g = gh
    elseif e.emb then
      local ge
      g, ge = e.m:backward(e.x, g)
      check(C.ss_add(gemb.p, gemb.p, ge.p))
    else
      g = e.m:backward(e.x, g)
    end
  end
  g = self.temb2:backward(self.ea, gemb)
  g = self.temb_act:backward(self.e1, g)
  self.temb1:backward(self.emb0, g)
  return nil
end

return UNet
