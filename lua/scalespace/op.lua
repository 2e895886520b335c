--- scalespace.op — linear operators with exact adjoints, and their algebra.
-- Every operator maps images (..., in_h, in_w) to (..., out_h, out_w); leading
-- dimensions are a batch. Built-ins run in C; `ss.op.new` turns Lua functions
-- into an operator usable everywhere, C solvers included (through one shared
-- pair of FFI callbacks). `M * N` composes (N first), `a * M` scales, `M + N`
-- adds, `M:T()` transposes, `M(x)` applies, and `ss.op.check(M)` runs the
-- dot-product test <Mx, y> = <x, Mᵀy>.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check, check_ptr, raise, arg_error = lib.ffi, lib.C, lib.check, lib.check_ptr, lib.raise, lib.arg_error

local M = {}
local Op = {}
Op.__index = Op

----------------------------------------------------------------- Lua-written operators

-- Lua operators registered by id; C holds the id as its ctx pointer. An entry
-- lives as long as the Lua object of its operator, and composites keep their
-- children's Lua objects alive, so C never calls into a collected function.
local registry, next_id = {}, 0
local callback_error -- the Lua error of the last failed callback, re-raised by run()

local function make_callback(field)
  return ffi.cast("ss_linop_fn", function(ctx, out, inp)
    local entry = registry[tonumber(ffi.cast("intptr_t", ctx))]
    if not entry then
      callback_error = "operator callback: its Lua operator was garbage collected"
      return C.SS_ERR_ARG
    end
    local ok, err = pcall(function()
      local y = entry[field](tensor.borrow(inp))
      if not tensor.is_tensor(y) then
        error(string.format("%s: %s must return a tensor, got %s", entry.name, field, lib.typename(y)), 0)
      end
      check(C.ss_tensor_copy(out, y.p))
    end)
    if ok then return 0 end
    callback_error = tostring(err)
    return C.SS_ERR_ARG
  end)
end
-- Created once and never freed: FFI callback slots are a limited resource.
local apply_cb, adjoint_cb = make_callback("apply"), make_callback("adjoint")

----------------------------------------------------------------- wrapping

local function own(p, children, entry_id)
  check_ptr(p)
  local op = setmetatable({ c = ffi.gc(p, C.ss_linop_free), children = children, id = entry_id }, Op)
  local size = ffi.new("int64_t[4]")
  check(C.ss_linop_size(p, size))
  op.in_shape = { tonumber(size[0]), tonumber(size[1]) }
  op.out_shape = { tonumber(size[2]), tonumber(size[3]) }
  op.name = ffi.string(C.ss_linop_name(p))
  if entry_id then
    -- the registry entry goes when this object does
    op.anchor = ffi.gc(ffi.new("char[1]"), function() registry[entry_id] = nil end)
  end
  return op
end

--- Wraps an ss_linop* that C built (a new reference) as an operator object;
-- `keep` lists Lua values it must keep alive.
M.wrap = function(p, keep) return own(p, keep) end

local function is_op(v) return getmetatable(v) == Op end
M.is_op = is_op

local function expect_op(v, fname, i)
  if not is_op(v) then arg_error(fname, i, "an operator", v) end
  return v
end

local function positive(v, fname, key)
  if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
    raise(string.format("%s: %s must be a positive integer, got %s", fname, key, tostring(v)))
  end
  return v
end

-- (h, w) from a size given as n or {h, w}.
local function size_hw(v, fname, key)
  if type(v) == "number" then v = { v, v } end
  if type(v) ~= "table" or #v ~= 2 then
    raise(string.format("%s: %s must be a size n or {h, w}, got %s", fname, key,
      type(v) == "string" and string.format("%q", v) or lib.typename(v)))
  end
  return positive(v[1], fname, key .. "[1]"), positive(v[2], fname, key .. "[2]")
end
M.size_hw = size_hw

-- The image size of an operator's options table: {size = n | {h, w}, ...}.
local function hw(opts, fname)
  if type(opts) ~= "table" then arg_error(fname, 1, "an options table {size = n | {h, w}, …}", opts) end
  if opts.size == nil and (opts.h ~= nil or opts.w ~= nil) then
    raise(fname .. ": the image size is size = n or size = {h, w} (h and w are not keys)")
  end
  return size_hw(opts.size, fname, "size")
end

-- A finite number option >= 0.
local function nonneg(v, fname, key)
  if type(v) ~= "number" or not (v >= 0) or v == math.huge then
    raise(string.format("%s: %s must be a finite number >= 0, got %s", fname, key,
      type(v) == "string" and string.format("%q", v) or tostring(v)))
  end
  return v
end

--- Runs a C apply/adjoint, re-raising a Lua callback's own error message.
local function run(rc)
  if rc < 0 then
    local msg = callback_error or lib.last_error()
    callback_error = nil
    raise(msg)
  end
end

----------------------------------------------------------------- constructors

--- The identity on images of size n or {h, w}: ss.op.identity{size = 28}.
function M.identity(opts)
  local h, w = hw(opts, "op.identity")
  return own(C.ss_linop_identity(h, w))
end

--- Orthonormal 2-D DCT-II (scipy's dctn(norm="ortho")); its adjoint is the inverse.
function M.dct2(opts)
  local h, w = hw(opts, "op.dct2")
  return own(C.ss_linop_dct2(h, w))
end

--- The heat semigroup exp(tΔ) with Neumann boundaries.
function M.heat(opts)
  local h, w = hw(opts, "op.heat")
  return own(C.ss_linop_heat(h, w, nonneg(opts.t, "op.heat", "t")))
end

--- Gaussian blur by sigma (heat at t = sigma^2/2).
function M.blur(opts)
  local h, w = hw(opts, "op.blur")
  return own(C.ss_linop_blur(h, w, nonneg(opts.sigma, "op.blur", "sigma")))
end

--- The 5-point Laplacian with reflecting boundaries.
function M.laplace(opts)
  local h, w = hw(opts, "op.laplace")
  return own(C.ss_linop_laplace(h, w))
end

--- A per-frequency multiplier in the DCT basis: opts.scale is (h,w) or (N,1,h,w).
function M.diag_dct(opts)
  if type(opts) ~= "table" or not tensor.is_tensor(opts.scale) then
    arg_error("op.diag_dct", 1, "{scale = tensor}", opts and opts.scale)
  end
  local s = opts.scale:shape()
  return own(C.ss_linop_diag_dct(s[#s - 1], s[#s], opts.scale.p))
end

local modes = { bilinear = C.SS_RESIZE_BILINEAR_AA, bilinear_aa = C.SS_RESIZE_BILINEAR_AA,
  bicubic = C.SS_RESIZE_BICUBIC, area = C.SS_RESIZE_AREA, nearest = C.SS_RESIZE_NEAREST }

--- Resize from a size (n or {h, w}) to another: mode "bilinear" (antialiased, PyTorch's), "bicubic"
-- (Pillow's), "area" or "nearest".
function M.resize(opts)
  if type(opts) ~= "table" then arg_error("op.resize", 1, "{from = n | {h, w}, to = n | {h, w}, mode = …}", opts) end
  local mode = modes[opts.mode or "bilinear"]
  if not mode then
    raise('op.resize: mode must be "bilinear", "bicubic", "area" or "nearest", got ' .. string.format("%q",
      tostring(opts.mode)))
  end
  local h0, w0 = size_hw(opts.from, "op.resize", "from")
  local h1, w1 = size_hw(opts.to, "op.resize", "to")
  return own(C.ss_linop_resize(h0, w0, h1, w1, mode))
end

--- An operator written in Lua: opts.apply(x) and opts.adjoint(y) return new tensors;
-- opts.in_shape and opts.out_shape end in {h, w}; opts.name labels errors.
function M.new(opts)
  if type(opts) ~= "table" or type(opts.apply) ~= "function" or type(opts.adjoint) ~= "function" then
    arg_error("op.new", 1, "{apply = function, adjoint = function, in_shape =, out_shape =}", opts)
  end
  local ins, outs = opts.in_shape, opts.out_shape
  if type(ins) ~= "table" or #ins < 2 or type(outs) ~= "table" or #outs < 2 then
    raise("op.new: in_shape and out_shape must be tables ending in {h, w}")
  end
  next_id = next_id + 1
  local name = opts.name or ("lua#" .. next_id)
  registry[next_id] = { apply = opts.apply, adjoint = opts.adjoint, name = name }
  local p = C.ss_linop_new(apply_cb, adjoint_cb, ffi.cast("void*", next_id), ins[#ins - 1], ins[#ins],
    outs[#outs - 1], outs[#outs], name)
  if p == nil then registry[next_id] = nil end
  return own(p, nil, next_id)
end

----------------------------------------------------------------- application

--- The output for x: opts.out when given (C checks its shape), else a new tensor with
-- the leading dimensions of x and the operator's image size, on x's device. x's image
-- size is checked against `want` first, so a wrong input allocates nothing.
local function out_for(self, x, want, shape, opts, fname)
  if opts ~= nil then
    if type(opts) ~= "table" then arg_error(fname, 2, "an options table {out = tensor}", opts) end
    if opts.out ~= nil then
      if not tensor.is_tensor(opts.out) then raise(fname .. ": out must be a tensor, got " .. lib.typename(opts.out)) end
      return opts.out
    end
  end
  local s = x:shape()
  if #s < 2 or s[#s - 1] ~= want[1] or s[#s] ~= want[2] then
    raise(string.format("%s: operator '%s' takes (…,%d,%d), got %s", fname, self.name, want[1], want[2],
      tensor.shape_string(s)))
  end
  s[#s - 1], s[#s] = shape[1], shape[2]
  return x:empty_like(s)
end

--- y = M x for x (..., in_h, in_w); `opts.out` (optional) receives y, so a loop can
-- reuse one output instead of making a tensor per call.
function Op:apply(x, opts)
  tensor.expect_tensor(x, "apply", 1)
  local y = out_for(self, x, self.in_shape, self.out_shape, opts, "apply")
  run(C.ss_linop_apply(self.c, y.p, x.p))
  return y
end

--- x = Mᵀ y for y (..., out_h, out_w); `opts.out` (optional) receives x.
function Op:adjoint(y, opts)
  tensor.expect_tensor(y, "adjoint", 1)
  local x = out_for(self, y, self.out_shape, self.in_shape, opts, "adjoint")
  run(C.ss_linop_adjoint(self.c, x.p, y.p))
  return x
end

Op.__call = function(self, x) return self:apply(x) end

--- The transpose as an operator.
function Op:T()
  return own(C.ss_linop_transpose(self.c), { self })
end

Op.__mul = function(a, b)
  if is_op(a) and is_op(b) then return own(C.ss_linop_compose(a.c, b.c), { a, b }) end
  if type(a) == "number" and is_op(b) then return own(C.ss_linop_scale(a, b.c), { b }) end
  if is_op(a) and type(b) == "number" then return own(C.ss_linop_scale(b, a.c), { a }) end
  if is_op(a) and tensor.is_tensor(b) then return a:apply(b) end
  raise("operator *: expected operator * operator, number * operator or operator * tensor")
end

Op.__add = function(a, b)
  expect_op(a, "operator +", 1)
  expect_op(b, "operator +", 2)
  return own(C.ss_linop_sum(a.c, b.c), { a, b })
end

Op.__sub = function(a, b)
  expect_op(a, "operator -", 1)
  expect_op(b, "operator -", 2)
  return a + (-1) * b
end

Op.__unm = function(a) return (-1) * a end

Op.__tostring = function(self)
  return string.format("operator %s: %dx%d -> %dx%d", self.name, self.in_shape[1], self.in_shape[2],
    self.out_shape[1], self.out_shape[2])
end

--- Dot-product test: the relative error of <Mx, y> = <x, Mᵀy> on random x, y
-- (opts.rng for the seed, opts.batch images, default 2), accumulated in double.
function M.check(op, opts)
  expect_op(op, "op.check", 1)
  opts = opts or {}
  local seed = tensor.seed_from(opts)
  local err = ffi.new("double[1]")
  run(C.ss_linop_dot_test(err, op.c, opts.batch or 2, seed))
  return err[0]
end

--- Marks `fn`, a Lua function that calls C which may call a Lua operator back,
-- as never compiled. LuaJIT cannot enter a callback from a C call made by
-- compiled code ("bad callback", an unrecoverable panic); a trace that reaches
-- a function marked so ends there, and the C call runs in the interpreter.
function M.interpreted(fn)
  jit.off(fn)
  return fn
end
M.interpreted(Op.apply)
M.interpreted(Op.adjoint)
M.interpreted(M.check)

return M
