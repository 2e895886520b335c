--- scalespace.nn.module — the base of every layer: nn.Module (parameters, children,
-- buffers, devices, modes) and the helpers a layer is written with. A layer in a
-- user's script is written the same way as the built-in ones:
--
--   local base = require "scalespace.nn.module"
--   local Scale = base.class("Scale")
--   function Scale.new(c) local m = base.new(Scale); m:add_param("w", "gradW", ss.ones { 1, c, 1, 1 }); return m end
--   function Scale:forward(x) local y = self:buffer_like("out", x); return y:copy(x):mul_(self.w) end
--   …
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check, arg_error = lib.ffi, lib.C, lib.check, lib.arg_error

local M = {}

-- One im2col workspace for every convolution of this Lua state (calls are sequential).
local workspace
function M.workspace()
  if not workspace then workspace = ffi.gc(lib.check_ptr(C.ss_nn_workspace_new()), C.ss_nn_workspace_free) end
  return workspace
end

--- Size d (1-based) of tensor t.
function M.size(t, d) return tonumber(t.p.shape[d - 1]) end

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

--- Makes every parameter gradient a view of one flat buffer (zeros, on the module's
-- device), end to end in the order of parameters(), and returns the buffer: ss.dist
-- then all-reduces the gradients where they lie, without packing them. The layers
-- find their gradients by name at each backward, so only objects made before (an
-- optimiser) still hold the old tensors: make them after, as after `to`.
function Module:flatten_grads()
  local named = self:named_parameters()
  local total = 0
  for _, e in ipairs(named) do total = total + e.grad:numel() end
  local flat = tensor.zeros({ math.max(total, 1) }, self.device)
  local views, off = {}, 1
  for i, e in ipairs(named) do
    local n = e.grad:numel()
    views[i] = flat:narrow(1, off, n):reshape(e.grad:shape())
    off = off + n
  end
  -- the registries hold (module, name) pairs: walk them in the same order as named_parameters
  local i = 0
  local function assign(m)
    for _, p in ipairs(m._params) do
      i = i + 1
      m[p.grad_name] = views[i]
    end
    for _, c in ipairs(m._children) do assign(c.module) end
  end
  assign(self)
  return flat
end

--- Declares that this module's batches are rows first + 1 .. first + n of a batch of
-- `total` rows (a data-parallel rank's share of the global batch); nil clears it. Layers
-- that draw per value (nn.Dropout) then take their rows of the draw one process would
-- make for the whole batch, and leave the generator where that draw would, so every
-- rank's masks are the single process's and the generators stay in step.
function Module:set_batch_part(first, total)
  local part
  if first ~= nil then
    if type(first) ~= "number" or first < 0 or first % 1 ~= 0 then
      arg_error("set_batch_part", 1, "the number of rows before this part (a whole number >= 0)", first)
    end
    if type(total) ~= "number" or total <= first or total % 1 ~= 0 then
      arg_error("set_batch_part", 2, "the rows of the whole batch (a whole number > first)", total)
    end
    part = { first = first, total = total }
  end
  local function set(m)
    m.batch_part = part
    for _, c in ipairs(m._children) do set(c.module) end
  end
  set(self)
  return self
end

local function set_mode(m, train)
  m.train = train
  for _, c in ipairs(m._children) do set_mode(c.module, train) end
end
--- Training mode (dropout active), the default; evaluate() turns it off.
function Module:training() set_mode(self, true); return self end
function Module:evaluate() set_mode(self, false); return self end

--- The buffer `key` of this module with `shape` on its device, reused while the shape
-- stays (zeros when created with `zeroed`). A module alternating between a few shapes
-- (Flexi-UNet's resolutions) keeps one buffer per shape.
function Module:buffer(key, shape, zeroed)
  local sig = key .. table.concat(shape, "x")
  local t = self._buf[sig]
  if not t then
    t = zeroed and tensor.zeros(shape, self.device) or tensor.empty(shape, self.device)
    self._buf[sig] = t
  end
  return t
end

--- The buffer `key` with x's shape.
function Module:buffer_like(key, x) return self:buffer(key, x:shape()) end

--- a + b (b broadcast) into the buffer `key`.
function Module:add_into(key, a, b)
  local out = self:buffer_like(key, a)
  check(C.ss_add(out.p, a.p, b.p))
  return out
end

----------------------------------------------------------------- initialisation

local default_rng
--- The generator a layer initialises from: opts.rng, else one shared default (seed 0).
function M.init_rng(opts)
  if opts and opts.rng then return opts.rng end
  default_rng = default_rng or tensor.rng(0)
  return default_rng
end

--- PyTorch's default for Conv2d and Linear: kaiming_uniform(a = √5) on the weight and
-- U(±1/√fan_in) on the bias, both U(±1/√fan_in).
function M.init_uniform(t, fan_in, g)
  local b = 1 / math.sqrt(fan_in)
  check(C.ss_rng_uniform(g, t.p, -b, b))
end

--- Sets every parameter of m (not its children's) to zero.
function M.zero_params(m)
  for _, p in ipairs(m._params) do m[p.name]:fill(0) end
end

--- Raises "<fname>: argument i: expected <what>" unless v is a whole number >= 1.
function M.expect_count(v, fname, i, what)
  if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then arg_error(fname, i, what, v) end
end

--- Raises "<fname>: argument 1: expected a tensor, got <type>" unless x is a tensor.
function M.expect_tensor(x, fname)
  if not tensor.is_tensor(x) then arg_error(fname, 1, "a tensor", x) end
  return x
end

--- Raises "<fname>: argument 1: expected <what>, got …" unless x is a tensor of ndim dimensions.
function M.expect_input(x, fname, ndim, what)
  if not tensor.is_tensor(x) or x.p.ndim ~= ndim then
    lib.raise(string.format("%s: argument 1: expected %s, got %s", fname, what,
      tensor.is_tensor(x) and ("a tensor " .. tensor.shape_string(x:shape())) or lib.typename(x)))
  end
  return x
end

--- {h, w} from v, a whole number (both axes) or a pair {h, w} of them, each >= lo; else an
-- error in the caller's terms: argument i of fname, or (i nil) option `what`.
function M.pair(v, lo, fname, what, i)
  local t = type(v) == "number" and { v, v } or v
  local ok = type(t) == "table" and #t == 2
  for k = 1, 2 do ok = ok and type(t[k]) == "number" and t[k] >= lo and t[k] == math.floor(t[k]) end
  if ok then return { t[1], t[2] } end
  local want = string.format("a whole number >= %d or a pair {h, w} of them", lo)
  if i then arg_error(fname, i, want, v) end
  lib.raise(string.format("%s: option %s must be %s, got %s", fname, what, want,
    type(v) == "table" and "a table" or tostring(v)))
end

--- The output shape (N, C, Ho, Wo) of a window k = {kh, kw} at strides s and paddings p
-- (pairs) over x (N,C,H,W) with C replaced by c (floor mode, as convolution and pooling);
-- an error naming fname when the window does not fit the padded input.
function M.window_shape(fname, x, c, k, s, p)
  local h, w = M.size(x, 3), M.size(x, 4)
  if h + 2 * p[1] < k[1] or w + 2 * p[2] < k[2] then
    lib.raise(string.format("%s: a %dx%d window with padding {%d, %d} does not fit a %dx%d input", fname, k[1], k[2],
      p[1], p[2], h, w))
  end
  return { M.size(x, 1), c, math.floor((h + 2 * p[1] - k[1]) / s[1]) + 1, math.floor((w + 2 * p[2] - k[2]) / s[2]) + 1 }
end

-- A parameter-free resampling module over a C forward/backward pair (only factor 2);
-- size_of(n) is an output height or width from an input one.
function M.resampler(name, what, size_of, forward, backward)
  local cls = M.class(name)
  cls.new = function(f)
    if f ~= nil and f ~= 2 then
      lib.raise(string.format("nn.%s: only %s is implemented, got %s", name, what, tostring(f)))
    end
    return M.new(cls)
  end
  function cls:forward(x)
    M.expect_input(x, "nn." .. name .. ":forward", 4, "an (N,C,H,W) tensor")
    local out = self:buffer("out", { M.size(x, 1), M.size(x, 2), size_of(M.size(x, 3)), size_of(M.size(x, 4)) })
    check(forward(out.p, x.p))
    return out
  end
  function cls:backward(x, gout)
    local gin = self:buffer_like("gin", x)
    check(backward(gin.p, gout.p))
    return gin
  end
  return cls
end

-- A parameter-free elementwise module over a C pair forward(out, x), backward(gin, gout, x).
function M.pointwise(name, forward, backward)
  local cls = M.class(name)
  cls.new = function() return M.new(cls) end
  function cls:forward(x)
    M.expect_tensor(x, "nn." .. name .. ":forward")
    local out = self:buffer_like("out", x)
    check(forward(out.p, x.p))
    return out
  end
  function cls:backward(x, gout)
    local gin = self:buffer_like("gin", x)
    check(backward(gin.p, gout.p, x.p))
    return gin
  end
  return cls
end

return M
