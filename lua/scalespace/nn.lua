--- scalespace.nn — network layers as modules over the C forward/backward pairs
-- (runtime/nn/), in the manner of torch/nn, and the two architectures of the papers:
-- the ADM-style UNet (IHDM, DDPM, blurring diffusion) and Scale Space Diffusion's
-- Flexi-UNet.
--
--   local net = ss.nn.UNet { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 2,
--                            attn_res = { 7 }, dropout = 0.1, image_size = 28, seed = 1 }
--   local y = net:forward(x, t)          -- x (N,C,H,W), t a number, a Lua list or an (N) tensor
--   net:zero_grad(); net:backward(x, dy) -- gradients of every parameter accumulate (+=)
--   local params, grads = net:parameters()
--
-- Conventions. m:forward(x) returns the module's output buffer, which the next forward
-- overwrites (clone it to keep it). m:backward(x, gradOut) refers to the forward just
-- made with the same x; it returns ∂L/∂x and adds to the parameter gradients. Buffers
-- are owned by the modules and reused while shapes stay the same, so steady-state
-- training allocates nothing. Parameters start as PyTorch initialises them by default
-- (uniform ±1/√fan_in for weights and biases), and the convolutions that close a
-- residual branch start at zero as in ADM (`zero_init = false` turns that off).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

-- One im2col workspace for every convolution of this Lua state (calls are sequential).
local workspace
local function ws()
  if not workspace then workspace = ffi.gc(lib.check_ptr(C.ss_nn_workspace_new()), C.ss_nn_workspace_free) end
  return workspace
end

local function size(t, d) return tonumber(t.p.shape[d - 1]) end

-- The buffer `key` of module m with `shape` on m's device, reused while the shape stays
-- (zeros when created with `zeroed`). Flexi-UNet calls alternate between a few
-- resolutions, so each shape keeps its own buffer.
local function buffer(m, key, shape, zeroed)
  local sig = key .. table.concat(shape, "x")
  local t = m._buf[sig]
  if not t then
    t = zeroed and tensor.zeros(shape, m.device) or tensor.empty(shape, m.device)
    m._buf[sig] = t
  end
  return t
end

local function buffer_like(m, key, x) return buffer(m, key, x:shape()) end

----------------------------------------------------------------- Module

local Module = {}
Module.__index = Module
M.Module = Module

--- A new module class; instances get their methods from it, then from its parent;
-- calling the class, cls(...), is cls.new(...).
function M.class(name, parent)
  local cls = setmetatable({}, { __index = parent or Module, __call = function(c, ...) return c.new(...) end })
  cls.__index = cls
  cls.__name = name
  cls.__tostring = function(m) return "nn." .. name end
  return cls
end

--- An instance of cls with empty registries.
function M.new(cls)
  return setmetatable({ train = true, device = "cpu", _buf = {}, _children = {}, _params = {} }, cls)
end

--- Registers child module `m` as self[name] (names make the parameter names).
function Module:add(name, m)
  self[name] = m
  self._children[#self._children + 1] = { name = tostring(name), module = m }
  return m
end

--- Registers a parameter self[name] with its gradient self[grad_name] (zeros).
function Module:add_param(name, grad_name, value)
  self[name], self[grad_name] = value, value:zeros_like()
  self._params[#self._params + 1] = { name = name, grad_name = grad_name }
  return value
end

--- {name=, param=, grad=} for every parameter, in registration order, with dotted
-- names such as "down.1.res.2.conv1.weight".
function Module:named_parameters(prefix, out)
  prefix, out = prefix or "", out or {}
  for _, p in ipairs(self._params) do
    out[#out + 1] = { name = prefix .. p.name, param = self[p.name], grad = self[p.grad_name] }
  end
  for _, c in ipairs(self._children) do c.module:named_parameters(prefix .. c.name .. ".", out) end
  return out
end

--- Two parallel lists: the parameters and their gradients.
function Module:parameters()
  local params, grads = {}, {}
  for i, e in ipairs(self:named_parameters()) do params[i], grads[i] = e.param, e.grad end
  return params, grads
end

--- name -> parameter tensor (for ss.checkpoint.save / load_into).
function Module:state_dict(prefix)
  local t = {}
  for _, e in ipairs(self:named_parameters(prefix)) do t[e.name] = e.param end
  return t
end

--- The number of parameter values.
function Module:num_parameters()
  local n = 0
  for _, e in ipairs(self:named_parameters()) do n = n + e.param:numel() end
  return n
end

--- Moves the parameters, gradients and buffers of m and its children to `device`
-- ("cpu" or "cuda") and returns m. Parameters are new tensors: make the optimiser and
-- the EMA after moving (as with PyTorch). The initial values do not depend on the device.
function Module:to(device)
  for _, p in ipairs(self._params) do
    self[p.name], self[p.grad_name] = self[p.name]:to(device), self[p.grad_name]:to(device)
  end
  self.device, self._buf = device, {}
  for _, c in ipairs(self._children) do c.module:to(device) end
  return self
end

function Module:zero_grad()
  for _, e in ipairs(self:named_parameters()) do e.grad:fill(0) end
  return self
end

local function set_mode(m, train)
  m.train = train
  for _, c in ipairs(m._children) do set_mode(c.module, train) end
end
--- Training mode (dropout active), the default; evaluate() turns it off.
function Module:training() set_mode(self, true); return self end
function Module:evaluate() set_mode(self, false); return self end

----------------------------------------------------------------- initialisation

local default_rng
local function init_rng(opts)
  if opts and opts.rng then return opts.rng end
  default_rng = default_rng or tensor.rng(0)
  return default_rng
end

-- PyTorch's default for Conv2d and Linear: kaiming_uniform(a = √5) on the weight and
-- U(±1/√fan_in) on the bias, both U(±1/√fan_in).
local function init_uniform(t, fan_in, g)
  local b = 1 / math.sqrt(fan_in)
  check(C.ss_rng_uniform(g, t.p, -b, b))
end

local function zero_params(m)
  for _, p in ipairs(m._params) do m[p.name]:fill(0) end
end

local function expect_count(v, fname, i, what)
  if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then arg_error(fname, i, what, v) end
end

----------------------------------------------------------------- layers

local Conv2d = M.class("Conv2d")
M.Conv2d = Conv2d

--- Conv2d(cin, cout, k, {stride=1, padding=⌊k/2⌋, bias=true, rng=}). Weight (cout,cin,k,k).
function Conv2d.new(cin, cout, k, opts)
  expect_count(cin, "nn.Conv2d", 1, "an input channel count")
  expect_count(cout, "nn.Conv2d", 2, "an output channel count")
  expect_count(k, "nn.Conv2d", 3, "a kernel size")
  opts = opts or {}
  local self = M.new(Conv2d)
  self.cin, self.cout, self.k = cin, cout, k
  self.stride, self.padding = opts.stride or 1, opts.padding or math.floor(k / 2)
  local g, fan_in = init_rng(opts), cin * k * k
  init_uniform(self:add_param("weight", "gradWeight", tensor.empty { cout, cin, k, k }), fan_in, g)
  if opts.bias ~= false then init_uniform(self:add_param("bias", "gradBias", tensor.empty { cout }), fan_in, g) end
  return self
end

local function conv_out_size(n, k, s, p) return math.floor((n + 2 * p - k) / s) + 1 end

function Conv2d:forward(x)
  if x.p.ndim ~= 4 then raise("nn.Conv2d: expected an (N,C,H,W) input, got " .. tensor.shape_string(x:shape())) end
  local out = buffer(self, "out", { size(x, 1), self.cout, conv_out_size(size(x, 3), self.k, self.stride, self.padding),
    conv_out_size(size(x, 4), self.k, self.stride, self.padding) })
  check(C.ss_conv2d_forward(out.p, x.p, self.weight.p, self.bias and self.bias.p, self.stride, self.padding, ws()))
  return out
end

function Conv2d:backward(x, gout)
  local gin = not self.no_input_grad and buffer_like(self, "gin", x) or nil
  check(C.ss_conv2d_backward(gin and gin.p, self.gradWeight.p, self.bias and self.gradBias.p, gout.p, x.p,
    self.weight.p, self.stride, self.padding, ws()))
  return gin
end

local Linear = M.class("Linear")
M.Linear = Linear

--- Linear(fin, fout, {bias=true, rng=}): out = x·weightᵀ + bias, weight (fout,fin).
function Linear.new(fin, fout, opts)
  expect_count(fin, "nn.Linear", 1, "an input feature count")
  expect_count(fout, "nn.Linear", 2, "an output feature count")
  opts = opts or {}
  local self = M.new(Linear)
  self.fin, self.fout = fin, fout
  local g = init_rng(opts)
  init_uniform(self:add_param("weight", "gradWeight", tensor.empty { fout, fin }), fin, g)
  if opts.bias ~= false then init_uniform(self:add_param("bias", "gradBias", tensor.empty { fout }), fin, g) end
  return self
end

function Linear:forward(x)
  local shape = x:shape()
  shape[#shape] = self.fout
  local out = buffer(self, "out", shape)
  check(C.ss_linear_forward(out.p, x.p, self.weight.p, self.bias and self.bias.p))
  return out
end

function Linear:backward(x, gout)
  local gin = not self.no_input_grad and buffer_like(self, "gin", x) or nil
  check(C.ss_linear_backward(gin and gin.p, self.gradWeight.p, self.bias and self.gradBias.p, gout.p, x.p,
    self.weight.p))
  return gin
end

local GroupNorm = M.class("GroupNorm")
M.GroupNorm = GroupNorm

--- GroupNorm(groups, ch, {eps=1e-5}): weight 1 and bias 0 to start, as PyTorch.
function GroupNorm.new(groups, ch, opts)
  expect_count(groups, "nn.GroupNorm", 1, "a group count")
  expect_count(ch, "nn.GroupNorm", 2, "a channel count")
  if ch % groups ~= 0 then raise(string.format("nn.GroupNorm: %d channels do not split into %d groups", ch, groups)) end
  local self = M.new(GroupNorm)
  self.groups, self.ch, self.eps = groups, ch, (opts and opts.eps) or 1e-5
  self:add_param("weight", "gradWeight", tensor.ones { ch })
  self:add_param("bias", "gradBias", tensor.zeros { ch })
  return self
end

function GroupNorm:forward(x)
  local out = buffer_like(self, "out", x)
  self.stats = buffer(self, "stats", { 2 * size(x, 1) * self.groups })
  check(C.ss_groupnorm_forward(out.p, self.stats.p, x.p, self.weight.p, self.bias.p, self.groups, self.eps))
  return out
end

function GroupNorm:backward(x, gout)
  local gin = buffer_like(self, "gin", x)
  check(C.ss_groupnorm_backward(gin.p, self.gradWeight.p, self.gradBias.p, gout.p, x.p, self.weight.p, self.stats.p,
    self.groups))
  return gin
end

local SiLU = M.class("SiLU")
M.SiLU = SiLU
function SiLU.new() return M.new(SiLU) end

function SiLU:forward(x)
  local out = buffer_like(self, "out", x)
  check(C.ss_silu_forward(out.p, x.p))
  return out
end

function SiLU:backward(x, gout)
  local gin = buffer_like(self, "gin", x)
  check(C.ss_silu_backward(gin.p, gout.p, x.p))
  return gin
end

-- A parameter-free 2x resampling module over a C forward/backward pair; size(n) is an
-- output height or width from an input one.
local function resampler(name, what, size_of, forward, backward)
  local cls = M.class(name)
  cls.new = function(f)
    if f ~= nil and f ~= 2 then raise(string.format("nn.%s: only %s is implemented, got %s", name, what, tostring(f))) end
    return M.new(cls)
  end
  function cls:forward(x)
    local out = buffer(self, "out", { size(x, 1), size(x, 2), size_of(size(x, 3)), size_of(size(x, 4)) })
    check(forward(out.p, x.p))
    return out
  end
  function cls:backward(x, gout)
    local gin = buffer_like(self, "gin", x)
    check(backward(gin.p, gout.p))
    return gin
  end
  return cls
end

--- AvgPool2d(2): 2x2 average pooling with stride 2 (the only size the kernels have).
M.AvgPool2d = resampler("AvgPool2d", "2x2 pooling", function(n) return math.floor(n / 2) end, C.ss_avgpool2_forward,
  C.ss_avgpool2_backward)
--- Upsample(2): nearest-neighbour up-sampling by 2.
local Upsample = resampler("Upsample", "a factor of 2", function(n) return 2 * n end, C.ss_upsample2_forward,
  C.ss_upsample2_backward)
M.Upsample = Upsample

local Dropout = M.class("Dropout")
M.Dropout = Dropout

--- Dropout(p, {rng=}): in training, zeroes each value with probability p and scales the
-- rest by 1/(1 − p), with a Philox mask from rng; the identity when evaluating or p = 0.
function Dropout.new(p, opts)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then arg_error("nn.Dropout", 1, "a probability in [0, 1)", p) end
  local self = M.new(Dropout)
  self.p, self.rng = p, init_rng(opts)
  return self
end

function Dropout:forward(x)
  self.active = self.train and self.p > 0
  if not self.active then return x end
  local out = buffer_like(self, "out", x)
  self.mask = buffer_like(self, "mask", x)
  check(C.ss_dropout_forward(out.p, self.mask.p, x.p, self.p, self.rng))
  return out
end

function Dropout:backward(x, gout)
  if not self.active then return gout end
  local gin = buffer_like(self, "gin", x)
  check(C.ss_dropout_backward(gin.p, gout.p, self.mask.p))
  return gin
end

local Attention = M.class("Attention")
M.Attention = Attention

--- Attention(ch, heads, {rng=, zero_init=false}): multi-head self-attention over the H·W
-- positions: a 1x1 convolution to q, k, v (children qkv), the C kernel, and a 1x1
-- output projection (proj; zero at the start with zero_init, as ADM).
function Attention.new(ch, heads, opts)
  expect_count(ch, "nn.Attention", 1, "a channel count")
  heads = heads or 1
  expect_count(heads, "nn.Attention", 2, "a head count")
  if ch % heads ~= 0 then raise(string.format("nn.Attention: %d channels do not split into %d heads", ch, heads)) end
  opts = opts or {}
  local self = M.new(Attention)
  self.heads = heads
  self:add("qkv", Conv2d.new(ch, 3 * ch, 1, opts))
  self:add("proj", Conv2d.new(ch, ch, 1, opts))
  if opts.zero_init then zero_params(self.proj) end
  return self
end

function Attention:forward(x)
  self.q = self.qkv:forward(x)
  local n, t = size(x, 1), size(x, 3) * size(x, 4)
  self.a = buffer_like(self, "a", x)
  self.weights = buffer(self, "weights", { n * self.heads, t, t })
  check(C.ss_attention_forward(self.a.p, self.weights.p, self.q.p, self.heads))
  return self.proj:forward(self.a)
end

function Attention:backward(x, gout)
  local ga = self.proj:backward(self.a, gout)
  local gqkv = buffer_like(self, "gqkv", self.q)
  check(C.ss_attention_backward(gqkv.p, ga.p, self.q.p, self.weights.p, self.heads))
  return self.qkv:backward(x, gqkv)
end

----------------------------------------------------------------- containers

local Sequential = M.class("Sequential")
M.Sequential = Sequential

--- Sequential(m1, m2, ...): children named 1, 2, ...
function Sequential.new(...)
  local self = M.new(Sequential)
  for i, m in ipairs { ... } do self:add(i, m) end
  return self
end

function Sequential:forward(x)
  self.inputs = self.inputs or {}
  for i, c in ipairs(self._children) do
    self.inputs[i] = x
    x = c.module:forward(x)
  end
  return x
end

function Sequential:backward(_, gout)
  for i = #self._children, 1, -1 do gout = self._children[i].module:backward(self.inputs[i], gout) end
  return gout
end

-- out = a + b into m's buffer `key` (b broadcasts).
local function add_into(m, key, a, b)
  local out = buffer_like(m, key, a)
  check(C.ss_add(out.p, a.p, b.p))
  return out
end

local ResBlock = M.class("ResBlock")
M.ResBlock = ResBlock

--- ResBlock(cin, cout, emb_dim, {dropout=0, groups=32, rng=, zero_init=true}): ADM's
-- residual block: h = conv1(SiLU(GN(x))) + Linear(SiLU(emb)) per channel;
-- out = skip(x) + conv2(Dropout(SiLU(GN(h)))), skip a 1x1 convolution when cin ≠ cout.
-- forward(x, emb) with emb (N, emb_dim); backward(x, gradOut) returns ∂L/∂x, ∂L/∂emb.
function ResBlock.new(cin, cout, emb_dim, opts)
  opts = opts or {}
  local groups = opts.groups or 32
  local self = M.new(ResBlock)
  self:add("norm1", GroupNorm.new(groups, cin))
  self:add("act1", SiLU.new())
  self:add("conv1", Conv2d.new(cin, cout, 3, opts))
  self:add("emb_act", SiLU.new())
  self:add("emb", Linear.new(emb_dim, cout, opts))
  self:add("norm2", GroupNorm.new(groups, cout))
  self:add("act2", SiLU.new())
  self:add("drop", Dropout.new(opts.dropout or 0, opts))
  self:add("conv2", Conv2d.new(cout, cout, 3, opts))
  if opts.zero_init ~= false then zero_params(self.conv2) end
  if cin ~= cout then self:add("skip", Conv2d.new(cin, cout, 1, opts)) end
  return self
end

function ResBlock:forward(x, emb)
  local n, c = size(x, 1), self.conv1.cout
  self.emb_in = emb
  local s = self.state or {}
  self.state = s
  s.h1 = self.norm1:forward(x)
  s.a1 = self.act1:forward(s.h1)
  local c1 = self.conv1:forward(s.a1)
  s.e0 = self.emb_act:forward(emb)
  local e = self.emb:forward(s.e0)
  s.h = add_into(self, "h", c1, e:reshape { n, c, 1, 1 })
  s.n2 = self.norm2:forward(s.h)
  s.a2 = self.act2:forward(s.n2)
  s.d = self.drop:forward(s.a2)
  local c2 = self.conv2:forward(s.d)
  return add_into(self, "out", c2, self.skip and self.skip:forward(x) or x)
end

function ResBlock:backward(x, gout)
  local s = self.state
  local g = self.conv2:backward(s.d, gout)
  g = self.drop:backward(s.a2, g)
  g = self.act2:backward(s.n2, g)
  local gh = self.norm2:backward(s.h, g)
  -- the embedding was added to every position: its gradient sums over H·W.
  local n, c = size(x, 1), self.conv1.cout
  local ge = buffer(self, "ge", { n, c })
  check(C.ss_reduce_per_sample(ge:reshape { n * c }.p, gh:reshape { n * c, size(gh, 3) * size(gh, 4) }.p,
    C.SS_RED_SUM))
  local gemb = self.emb_act:backward(self.emb_in, self.emb:backward(s.e0, ge))
  g = self.conv1:backward(s.a1, gh)
  g = self.act1:backward(s.h1, g)
  local gx = self.norm1:backward(x, g)
  local gskip = self.skip and self.skip:backward(x, gout) or gout
  check(C.ss_add(gx.p, gx.p, gskip.p))
  return gx, gemb
end

local AttnBlock = M.class("AttnBlock")
M.AttnBlock = AttnBlock

--- AttnBlock(ch, {heads=1, groups=32, rng=, zero_init=true}): out = x + Attention(GN(x)).
function AttnBlock.new(ch, opts)
  opts = opts or {}
  local self = M.new(AttnBlock)
  self:add("norm", GroupNorm.new(opts.groups or 32, ch))
  self:add("attn", Attention.new(ch, opts.heads or 1,
    { rng = opts.rng, zero_init = opts.zero_init ~= false }))
  return self
end

function AttnBlock:forward(x)
  self.h = self.norm:forward(x)
  return add_into(self, "out", x, self.attn:forward(self.h))
end

function AttnBlock:backward(x, gout)
  local g = self.norm:backward(x, self.attn:backward(self.h, gout))
  local gx = buffer_like(self, "gx", x)
  check(C.ss_add(gx.p, g.p, gout.p))
  return gx
end

--- Down-sampling block: a 3x3 convolution with stride 2 (ADM's conv_resample).
function M.Downsample(ch, opts)
  return Conv2d.new(ch, ch, 3, { stride = 2, padding = 1, rng = opts and opts.rng })
end

local UpsampleConv = M.class("UpsampleConv", Sequential)
M.UpsampleConv = UpsampleConv

--- Up-sampling block: nearest 2x, then a 3x3 convolution (children up, conv).
function UpsampleConv.new(ch, opts)
  local self = M.new(UpsampleConv)
  self:add("up", Upsample.new(2))
  self:add("conv", Conv2d.new(ch, ch, 3, { rng = opts and opts.rng }))
  return self
end

-- A module that only names its children (levels and lists of blocks).
local Group = M.class("Group")
local function group() return M.new(Group) end

----------------------------------------------------------------- loss

local function mse_args(pred, target, opts, fname)
  tensor.expect_tensor(pred, fname, 1)
  tensor.expect_tensor(target, fname, 2)
  opts = opts or {}
  return opts.weight and opts.weight.p, opts.sum_pixels and 1 or 0
end

--- Mean-squared error (1/N) Σ_n w_n r_n, r_n the mean over sample n of (pred − target)²,
-- or its sum with opts.sum_pixels (IHDM's loss); opts.weight an (N) tensor (min-SNR weights).
function M.mse(pred, target, opts)
  local w, sum = mse_args(pred, target, opts, "nn.mse")
  local out = ffi.new("double[1]")
  check(C.ss_mse_forward(out, pred.p, target.p, w, sum))
  return out[0]
end

--- ∂(scale·mse)/∂pred into opts.out (or a new tensor); scale defaults to 1.
function M.mse_backward(pred, target, opts, scale)
  local w, sum = mse_args(pred, target, opts, "nn.mse_backward")
  local g = opts and opts.out or pred:empty_like()
  check(C.ss_mse_backward(g.p, pred.p, target.p, w, sum, scale or 1))
  return g
end

----------------------------------------------------------------- UNet and Flexi-UNet

local UNet = M.class("UNet")
M.UNet = UNet

local unet_defaults = { in_ch = 1, out_ch = false, ch = 64, mult = { 1, 2, 2 }, num_res_blocks = 2, attn_res = { 7 },
  dropout = 0.1, image_size = 28, heads = 1, groups = 32, seed = 0, rng = false, zero_init = true }

local function unet_config(cfg, fname)
  if type(cfg) ~= "table" then arg_error(fname, 1, "a config table", cfg) end
  local c = {}
  for k, v in pairs(cfg) do
    local d = unet_defaults[k]
    if d == nil then raise(string.format("%s: unknown config key '%s'", fname, tostring(k))) end
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
  if c.image_size % 2 ^ (levels - 1) ~= 0 then
    raise(string.format("%s: image_size %d does not halve %d times", fname, c.image_size, levels - 1))
  end
  if c.dropout < 0 or c.dropout >= 1 then raise(fname .. ": dropout must be in [0, 1), got " .. c.dropout) end
  return c
end

--- UNet{in_ch=1, out_ch=in_ch, ch=64, mult={1,2,2}, num_res_blocks=2, attn_res={7},
-- dropout=0.1, image_size=28, heads=1, groups=32, seed=0 (or rng=), zero_init=true}:
-- ADM's UNet. Level l (1..#mult) works at image_size/2^(l−1) with ch·mult[l] channels;
-- attention follows the res blocks of the levels whose resolution is in attn_res, and
-- the middle block always has it; the time embedding (sinusoidal, width ch, then two
-- Linear layers to 4·ch) enters every res block. forward(x, t) predicts whatever the
-- caller trains it for (ε, x₀, or IHDM's residual f with μ = x + f(x, k)).
function UNet.new(cfg)
  return UNet.build(unet_config(cfg, "nn.UNet"), UNet)
end

function UNet.build(c, cls)
  local self = M.new(cls)
  self.config = c
  local g = c.rng or tensor.rng(c.seed)
  self.rng = g
  local o = { rng = g, groups = c.groups, dropout = c.dropout, heads = c.heads, zero_init = c.zero_init }
  local ch, mult, L, emb_dim = c.ch, c.mult, #c.mult, 4 * c.ch
  self.levels, self.sizes, self.attn_at = L, {}, {}
  local attn_res = {}
  for _, r in ipairs(c.attn_res) do attn_res[r] = true end
  for l = 1, L do
    self.sizes[l] = c.image_size / 2 ^ (l - 1)
    self.attn_at[l] = attn_res[self.sizes[l]] or false
  end
  self:add("temb1", Linear.new(ch, emb_dim, o)).no_input_grad = true
  self:add("temb_act", SiLU.new())
  self:add("temb2", Linear.new(emb_dim, emb_dim, o))
  self:add("conv_in", Conv2d.new(c.in_ch, ch, 3, o)).no_input_grad = true
  local chans, cur = { ch }, ch
  local down = self:add("down", group())
  for l = 1, L do
    local lev = down:add(l, group())
    local res, attn = lev:add("res", group()), lev:add("attn", group())
    for i = 1, c.num_res_blocks do
      res:add(i, ResBlock.new(cur, ch * mult[l], emb_dim, o))
      cur = ch * mult[l]
      if self.attn_at[l] then attn:add(i, AttnBlock.new(cur, o)) end
      chans[#chans + 1] = cur
    end
    if l < L then
      lev:add("down", M.Downsample(cur, o))
      chans[#chans + 1] = cur
    end
  end
  local mid = self:add("mid", group())
  mid:add("res1", ResBlock.new(cur, cur, emb_dim, o))
  mid:add("attn", AttnBlock.new(cur, o))
  mid:add("res2", ResBlock.new(cur, cur, emb_dim, o))
  local up = self:add("up", group())
  for l = L, 1, -1 do
    local lev = up:add(l, group())
    local res, attn = lev:add("res", group()), lev:add("attn", group())
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
  if c.zero_init then zero_params(self.conv_out) end
  if cls == M.FlexiUNet then
    -- Entering at level l stands in for level l−1's down-sampling output; leaving at
    -- level l maps its channels to those the output head expects (level 1's).
    local ain, aout = self:add("adapt_in", group()), self:add("adapt_out", group())
    for l = 2, L do
      ain:add(l, Conv2d.new(ch, ch * mult[l - 1], 1, o))
      aout:add(l, Conv2d.new(ch * mult[l], ch * mult[1], 1, o))
    end
  end
  return self
end

-- t as an (N) tensor on the network's device: a number for every sample, a Lua list,
-- or a tensor.
local function time_tensor(self, t, n)
  local tt = buffer(self, "t", { n })
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

--- forward(x, t [, {out_size=}]) -> output (the network's buffer). Flexi-UNet: x may be at
-- any level's resolution, out_size that resolution (default) or twice it.
function UNet:forward(x, t, opts)
  local c = self.config
  if x.p.ndim ~= 4 or size(x, 2) ~= c.in_ch then
    raise(string.format("%s:forward: expected an (N,%d,H,W) input, got %s", self.__name, c.in_ch,
      tensor.shape_string(x:shape())))
  end
  local n, hgt = size(x, 1), size(x, 3)
  local li, lo = 1, 1
  if self.__name == "FlexiUNet" then
    li = nil
    for l = 1, self.levels do
      if self.sizes[l] == hgt and size(x, 4) == hgt then li = l end
    end
    if not li then
      raise(string.format("FlexiUNet:forward: a %dx%d input is at no level of the pyramid (%s)", hgt, size(x, 4),
        table.concat(self.sizes, ", ")))
    end
    local out_size = opts and opts.out_size or hgt
    if out_size == hgt then
      lo = li
    elseif out_size == 2 * hgt and li > 1 then
      lo = li - 1
    else
      raise(string.format("FlexiUNet:forward: out_size %s for a %dx%d input: the same size or the next finer level",
        tostring(out_size), hgt, hgt))
    end
  else
    local f = 2 ^ (self.levels - 1)
    if hgt % f ~= 0 or size(x, 4) % f ~= 0 then
      raise(string.format("UNet:forward: H and W must be multiples of %d, got %dx%d", f, hgt, size(x, 4)))
    end
    if opts and opts.out_size and opts.out_size ~= hgt then raise("UNet:forward: out_size must be the input size") end
  end
  self.emb0 = buffer(self, "emb0", { n, c.ch })
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
        skip = buffer(self, "zero", { n, block.norm1.ch - size(h, 2), size(h, 3), size(h, 4) }, true) -- never written
      end
      local cat = buffer(self, "cat" .. l .. "." .. i, { n, block.norm1.ch, size(h, 3), size(h, 4) })
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
  local gemb = buffer_like(self, "gemb", self.emb)
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
      local gh = buffer_like(self, "gh" .. k, e.h)
      local gs = buffer_like(self, "gs" .. k, e.skip)
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

local FlexiUNet = M.class("FlexiUNet", UNet)
M.FlexiUNet = FlexiUNet

--- FlexiUNet{same keys as UNet}: one parameter set for every level of the resolution
-- pyramid image_size, image_size/2, ... (one level per entry of mult). forward(x, t,
-- {out_size=}) enters the encoder at the level of x's resolution through a 1x1 adapter
-- (after the shared input convolution), runs only the blocks from there down and back
-- up, and leaves the decoder at out_size (x's size, or twice it for a resolution-changing
-- step, whose extra up-sampling level gets zero-filled skips) through a 1x1 adapter to
-- the output head. At full resolution it is exactly the UNet with the same parameters.
function FlexiUNet.new(cfg)
  return UNet.build(unet_config(cfg, "nn.FlexiUNet"), FlexiUNet)
end

return M
