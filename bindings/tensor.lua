--- scalespace.tensor — the tensor and RNG metatypes over the C runtime.
-- A Lua tensor is a one-field struct `ss_ref { ss_tensor *p; }` owned by the
-- garbage collector (ffi.gc frees the C tensor). A wrapper, not the bare pointer,
-- because LuaJIT does pointer arithmetic for `ptr + 1` before any metamethod and
-- struct fields would shadow methods such as t:shape(). `t:free()` frees at once
-- (GPU memory is not seen by the collector) and is idempotent; t.p is the
-- ss_tensor* to pass to C. Indices are 1-based in Lua.
local lib = require "scalespace.ffi"
local ffi, C, check, check_ptr, arg_error, raise = lib.ffi, lib.C, lib.check, lib.check_ptr, lib.arg_error, lib.raise

local M = {}
local T = {}   -- tensor methods
local G = {}   -- rng methods

ffi.cdef "typedef struct ss_ref { ss_tensor *p; } ss_ref;"
local ref_ct = ffi.typeof("ss_ref")
local devices = { cpu = C.SS_CPU, cuda = C.SS_CUDA }
local device_names = { [C.SS_CPU] = "cpu", [C.SS_CUDA] = "cuda" }

local function is_tensor(v) return ffi.istype(ref_ct, v) end
M.is_tensor = is_tensor

local function finalize(r) C.ss_tensor_free(r.p) end
local pace = require("scalespace.memory").pace

--- Takes ownership of a tensor pointer from C (NULL raises the C error); the
-- collector is paced by tensor bytes (scalespace.memory).
local function own(p)
  check_ptr(p)
  pace()
  return ffi.gc(ref_ct(p), finalize)
end
M.own = own

--- A tensor over a pointer that C owns (no finalizer): for FFI callbacks.
local tensor_ptr = ffi.typeof("ss_tensor*")
function M.borrow(p)
  return ref_ct(ffi.cast(tensor_ptr, p))
end

local function expect_tensor(v, fname, i)
  if not is_tensor(v) then arg_error(fname, i, "a tensor", v) end
  return v
end
M.expect_tensor = expect_tensor

--- A shape given as {d1,...} or as a tensor (its shape) into (n, int64_t[4]).
local function to_shape(shape, fname, i)
  if is_tensor(shape) then
    local dims = ffi.new("int64_t[4]")
    for d = 0, shape.p.ndim - 1 do dims[d] = shape.p.shape[d] end
    return shape.p.ndim, dims
  end
  if type(shape) ~= "table" then arg_error(fname, i, "a shape table such as {N,C,H,W}", shape) end
  local n = #shape
  if n < 1 or n > 4 then
    raise(string.format("%s: argument %d: a shape has 1 to 4 sizes, got %d", fname, i, n))
  end
  local dims = ffi.new("int64_t[4]")
  for d = 1, n do
    local s = shape[d]
    if type(s) ~= "number" or s < 1 or s ~= math.floor(s) then
      raise(string.format("%s: argument %d: size %d must be a positive integer, got %s", fname, i, d, tostring(s)))
    end
    dims[d - 1] = s
  end
  return n, dims
end
M.to_shape = to_shape

local function to_device(dev, fname, i)
  if dev == nil then return C.SS_CPU end
  local d = devices[dev]
  if not d then
    raise(string.format('%s: argument %d: device must be "cpu" or "cuda", got %s', fname, i, tostring(dev)))
  end
  return d
end

--- Constructors. `shape` is a table; a device name may follow.
function M.empty(shape, device)
  local n, dims = to_shape(shape, "empty", 1)
  return own(C.ss_tensor_empty(n, dims, to_device(device, "empty", 2)))
end

function M.zeros(shape, device)
  local n, dims = to_shape(shape, "zeros", 1)
  return own(C.ss_tensor_zeros(n, dims, to_device(device, "zeros", 2)))
end

function M.full(shape, value, device)
  local n, dims = to_shape(shape, "full", 1)
  if type(value) ~= "number" then arg_error("full", 2, "a number", value) end
  return own(C.ss_tensor_full(n, dims, value, to_device(device, "full", 3)))
end

function M.ones(shape, device)
  local n, dims = to_shape(shape, "ones", 1)
  return own(C.ss_tensor_full(n, dims, 1, to_device(device, "ones", 2)))
end

--- A tensor from a (nested) table of numbers; `shape` defaults to the nesting.
function M.from_table(values, shape)
  if type(values) ~= "table" then arg_error("from_table", 1, "a table of numbers", values) end
  local flat, inferred = {}, {}
  local function walk(v, depth)
    if type(v) == "table" then
      if inferred[depth] == nil then inferred[depth] = #v
      elseif inferred[depth] ~= #v then
        raise("from_table: ragged nested table at depth " .. depth)
      end
      for k = 1, #v do walk(v[k], depth + 1) end
    elseif type(v) == "number" then
      flat[#flat + 1] = v
    else
      raise("from_table: expected numbers, got " .. type(v))
    end
  end
  walk(values, 1)
  shape = shape or inferred
  local t = M.empty(shape)
  if t:numel() ~= #flat then
    raise(string.format("from_table: %d values do not fill shape %s", #flat, M.shape_string(shape)))
  end
  local buf = ffi.new("float[?]", #flat, flat)
  check(C.ss_tensor_write(t.p, buf))
  return t
end

function M.shape_string(shape)
  return "(" .. table.concat(shape, ",") .. ")"
end

----------------------------------------------------------------- methods

function T.shape(t)
  local s = {}
  for d = 0, t.p.ndim - 1 do s[d + 1] = tonumber(t.p.shape[d]) end
  return s
end

function T.size(t, d)
  if d == nil then return T.shape(t) end
  if d < 1 or d > t.p.ndim then raise("size: dimension " .. tostring(d) .. " is outside 1.." .. t.p.ndim) end
  return tonumber(t.p.shape[d - 1])
end

function T.dim(t) return t.p.ndim end
function T.numel(t) return tonumber(C.ss_tensor_numel(t.p)) end
function T.device_name(t) return device_names[t.p.device] end

function T.clone(t) return own(C.ss_tensor_clone(t.p)) end

function T.copy(t, src)
  expect_tensor(src, "copy", 1)
  check(C.ss_tensor_copy(t.p, src.p))
  return t
end

function T.fill(t, v)
  if type(v) ~= "number" then arg_error("fill", 1, "a number", v) end
  check(C.ss_tensor_fill(t.p, v))
  return t
end

--- A view with a new shape (same storage); one size may be -1 (inferred).
function T.reshape(t, shape)
  if type(shape) == "table" then
    local known, free = 1, nil
    for d = 1, #shape do
      if shape[d] == -1 then free = d else known = known * shape[d] end
    end
    if free then
      shape = { unpack(shape) }
      shape[free] = math.floor(T.numel(t) / known)
    end
  end
  local n, dims = to_shape(shape, "reshape", 1)
  return own(C.ss_tensor_reshape(t.p, n, dims))
end
T.view = T.reshape

--- A view of `count` rows of dimension 1, starting at row `first` (1-based).
function T.narrow(t, first, count)
  if type(first) ~= "number" then arg_error("narrow", 1, "a row number", first) end
  count = count or 1
  return own(C.ss_tensor_narrow(t.p, first - 1, count))
end

--- A new uninitialised (or zero) tensor on t's device, of t's shape or `shape`.
function T.empty_like(t, shape) return M.empty(shape or T.shape(t), device_names[t.p.device]) end
function T.zeros_like(t, shape) return M.zeros(shape or T.shape(t), device_names[t.p.device]) end

function T.to(t, device)
  return own(C.ss_tensor_to(t.p, to_device(device, "to", 1)))
end

--- Releases the storage now (the small header goes with the collector); any
-- later use of t is an error, never a crash. Idempotent.
function T.free(t)
  C.ss_tensor_release(t.p)
end

function T.is_freed(t) return t.p.storage == nil end

----------------------------------------------------------------- elementwise

local binops = { add = C.ss_add, sub = C.ss_sub, mul = C.ss_mul, div = C.ss_div, pow = C.ss_pow,
  maximum = C.ss_maximum, minimum = C.ss_minimum }

--- numpy broadcast shape of two tensors (right-aligned; sizes equal or 1).
local function broadcast_shape(a, b, fname)
  local n = math.max(a.p.ndim, b.p.ndim)
  local s = {}
  for k = 1, n do
    local da = a.p.ndim - n + k - 1
    local db = b.p.ndim - n + k - 1
    local x = da >= 0 and tonumber(a.p.shape[da]) or 1
    local y = db >= 0 and tonumber(b.p.shape[db]) or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      raise(string.format("%s: shapes %s and %s do not broadcast", fname, M.shape_string(T.shape(a)),
        M.shape_string(T.shape(b))))
    end
    s[k] = math.max(x, y)
  end
  return s
end

local function affine(x, a, b)
  local out = M.empty(x)
  check(C.ss_affine(out.p, x.p, a, b), 3)
  return out
end

--- A new tensor = a <op> b; a, b tensors or numbers (one of them a tensor).
local function binary(name, a, b)
  local ta, tb = is_tensor(a), is_tensor(b)
  if ta and tb then
    local out = M.empty(broadcast_shape(a, b, name))
    check(binops[name](out.p, a.p, b.p), 3)
    return out
  end
  local x, s = ta and a or b, ta and b or a
  if type(s) ~= "number" then arg_error(name, ta and 2 or 1, "a tensor or a number", s) end
  if name == "add" then return affine(x, 1, s)
  elseif name == "mul" then return affine(x, s, 0)
  elseif name == "sub" then return ta and affine(x, 1, -s) or affine(x, -1, s)
  elseif name == "div" then
    if ta then return affine(x, 1 / s, 0) end
    local out = M.empty(x)
    check(C.ss_rdiv_scalar(out.p, s, x.p), 2)
    return out
  elseif name == "pow" and ta then
    local out = M.empty(x)
    check(C.ss_pow_scalar(out.p, x.p, s), 2)
    return out
  end
  local st = M.full({ 1 }, s)
  return binary(name, ta and a or st, ta and st or b)
end

for name in pairs(binops) do
  T[name] = function(a, b) return binary(name, a, b) end
end

local unary_ops = { exp = C.SS_EXP, log = C.SS_LOG, sqrt = C.SS_SQRT, abs = C.SS_ABS, neg = C.SS_NEG,
  square = C.SS_SQUARE, sin = C.SS_SIN, cos = C.SS_COS, tanh = C.SS_TANH, sigmoid = C.SS_SIGMOID,
  floor = C.SS_FLOOR, round = C.SS_ROUND }
for name, op in pairs(unary_ops) do
  T[name] = function(t)
    local out = M.empty(t)
    check(C.ss_unary(out.p, t.p, op))
    return out
  end
  T[name .. "_"] = function(t)
    check(C.ss_unary(t.p, t.p, op))
    return t
  end
end

function T.clamp(t, lo, hi)
  local out = M.empty(t)
  check(C.ss_clamp(out.p, t.p, lo or -math.huge, hi or math.huge))
  return out
end

function T.clamp_(t, lo, hi)
  check(C.ss_clamp(t.p, t.p, lo or -math.huge, hi or math.huge))
  return t
end

--- In place: t = t + alpha*u (u a tensor broadcast to t, or a number).
function T.add_(t, u, alpha)
  alpha = alpha or 1
  if type(u) == "number" then
    check(C.ss_affine(t.p, t.p, 1, alpha * u))
  elseif is_tensor(u) and alpha == 1 then
    check(C.ss_add(t.p, t.p, u.p))
  elseif is_tensor(u) and C.ss_tensor_same_shape(t.p, u.p) == 1 then
    check(C.ss_axpby(t.p, 1, t.p, alpha, u.p))
  elseif is_tensor(u) then
    check(C.ss_add(t.p, t.p, (u * alpha).p))
  else
    arg_error("add_", 1, "a tensor or a number", u)
  end
  return t
end

function T.sub_(t, u) return T.add_(t, u, -1) end

--- In place: t = t * s (s a number or a tensor broadcast to t).
function T.mul_(t, s)
  if type(s) == "number" then check(C.ss_affine(t.p, t.p, s, 0))
  elseif is_tensor(s) then check(C.ss_mul(t.p, t.p, s.p))
  else arg_error("mul_", 1, "a tensor or a number", s) end
  return t
end

function T.div_(t, s)
  if type(s) == "number" then check(C.ss_affine(t.p, t.p, 1 / s, 0))
  elseif is_tensor(s) then check(C.ss_div(t.p, t.p, s.p))
  else arg_error("div_", 1, "a tensor or a number", s) end
  return t
end

--- In place: t = a*t + b*y.
function T.axpby_(t, a, b, y)
  expect_tensor(y, "axpby_", 3)
  check(C.ss_axpby(t.p, a, t.p, b, y.p))
  return t
end

--- Raises "<what> contains NaN at flat index i" when t is not finite.
function T.check_finite(t, what)
  check(C.ss_tensor_check_finite(t.p, what or "tensor"))
  return t
end

----------------------------------------------------------------- reductions

local result = ffi.new("double[1]")
local function reducer(op)
  return function(t)
    check(C.ss_reduce(result, t.p, op))
    return result[0]
  end
end
T.sum = reducer(C.SS_RED_SUM)
T.mean = reducer(C.SS_RED_MEAN)
T.min = reducer(C.SS_RED_MIN)
T.max = reducer(C.SS_RED_MAX)
T.norm = reducer(C.SS_RED_NORM)

--- Population variance (divide by n); `unbiased = true` divides by n-1.
function T.var(t, unbiased)
  check(C.ss_reduce(result, t.p, unbiased and C.SS_RED_VAR_UNBIASED or C.SS_RED_VAR))
  return result[0]
end

function T.std(t, unbiased) return math.sqrt(T.var(t, unbiased)) end

local per_sample_ops = { sum = C.SS_RED_SUM, mean = C.SS_RED_MEAN, var = C.SS_RED_VAR, min = C.SS_RED_MIN,
  max = C.SS_RED_MAX, norm = C.SS_RED_NORM, sumsq = C.SS_RED_SUMSQ }

--- One value per sample (dimension 1): t:per_sample("mean") -> tensor (N).
function T.per_sample(t, what)
  local op = per_sample_ops[what or "sum"]
  if not op then raise("per_sample: unknown reduction " .. tostring(what)) end
  local out = M.empty({ tonumber(t.p.shape[0]) }, device_names[t.p.device])
  check(C.ss_reduce_per_sample(out.p, t.p, op))
  return out
end

function M.dot(a, b)
  expect_tensor(a, "dot", 1)
  expect_tensor(b, "dot", 2)
  check(C.ss_dot(result, a.p, b.p))
  return result[0]
end

----------------------------------------------------------------- element access

local function offset(t, fname, ...)
  local n = select("#", ...)
  if n ~= t.p.ndim then
    raise(string.format("%s: %d indices for a %d-dimensional tensor", fname, n, t.p.ndim))
  end
  if t.p.device ~= C.SS_CPU then raise(fname .. ": element access needs a cpu tensor; use :to('cpu')") end
  if t.p.storage == nil then raise(fname .. ": tensor was freed") end
  local off = 0
  for d = 1, n do
    local i = select(d, ...)
    local size = tonumber(t.p.shape[d - 1])
    if type(i) ~= "number" or i < 1 or i > size or i ~= math.floor(i) then
      raise(string.format("%s: index %d is %s, outside 1..%d", fname, d, tostring(i), size))
    end
    off = off * size + (i - 1)
  end
  return off
end

function T.get(t, ...) return t.p.data[offset(t, "get", ...)] end

function T.set(t, v, ...)
  if type(v) ~= "number" then arg_error("set", 1, "a number", v) end
  t.p.data[offset(t, "set", ...)] = v
  return t
end

--- The values as a flat Lua array (host copy; works for any device).
function T.values(t)
  local n = T.numel(t)
  local buf = ffi.new("float[?]", n)
  check(C.ss_tensor_read(buf, t.p))
  local out = {}
  for i = 0, n - 1 do out[i + 1] = buf[i] end
  return out
end

--- Nested Lua tables, one level per dimension.
function T.totable(t)
  local flat, shape = T.values(t), T.shape(t)
  local pos = 0
  local function build(d)
    local out = {}
    for i = 1, shape[d] do
      if d == #shape then
        pos = pos + 1
        out[i] = flat[pos]
      else
        out[i] = build(d + 1)
      end
    end
    return out
  end
  return build(1)
end

local function fmt(v) return string.format("%.4g", v) end

function T.__tostring(t)
  if t.p.storage == nil then return "tensor (freed)" end
  local head = "tensor" .. M.shape_string(T.shape(t)) .. " " .. (device_names[t.p.device] or "?")
  local n = T.numel(t)
  if n > 1e8 then return head end
  local v = T.values(t)
  local parts = {}
  if n <= 12 then
    for i = 1, n do parts[i] = fmt(v[i]) end
  else
    for i = 1, 6 do parts[#parts + 1] = fmt(v[i]) end
    parts[#parts + 1] = "..."
    for i = n - 1, n do parts[#parts + 1] = fmt(v[i]) end
  end
  local s = head .. " [" .. table.concat(parts, ", ") .. "]"
  if n > 12 then
    s = s .. string.format(" mean=%s std=%s min=%s max=%s", fmt(T.mean(t)), fmt(T.std(t)), fmt(T.min(t)),
      fmt(T.max(t)))
  end
  return s
end

----------------------------------------------------------------- shape ops

--- Concatenation along dimension `dim` (1 or 2) of a list of tensors.
function M.cat(list, dim)
  dim = dim or 1
  if type(list) ~= "table" or #list == 0 then arg_error("cat", 1, "a non-empty list of tensors", list) end
  if dim ~= 1 and dim ~= 2 then raise("cat: dimension must be 1 or 2, got " .. tostring(dim)) end
  local ptrs = ffi.new("const ss_tensor*[?]", #list)
  local shape = T.shape(expect_tensor(list[1], "cat", 1))
  shape[dim] = 0
  for i, t in ipairs(list) do
    if not is_tensor(t) then raise(string.format("cat: element %d is not a tensor", i)) end
    if t.p.ndim < dim then raise(string.format("cat: element %d has %d dimensions, needs %d", i, t.p.ndim, dim)) end
    ptrs[i - 1] = t.p
    shape[dim] = shape[dim] + tonumber(t.p.shape[dim - 1])
  end
  local out = M.empty(shape, device_names[list[1].p.device])
  check(C.ss_cat(out.p, ptrs, #list, dim - 1))
  return out
end

--- out = op(a) * op(b) over the last two dimensions, batched over the others.
function M.bmm(a, b, opts)
  expect_tensor(a, "bmm", 1)
  expect_tensor(b, "bmm", 2)
  opts = opts or {}
  if a.p.ndim < 2 or b.p.ndim < 2 then raise("bmm: both operands need at least 2 dimensions") end
  local sa, sb = T.shape(a), T.shape(b)
  local m = opts.trans_a and sa[#sa] or sa[#sa - 1]
  local n = opts.trans_b and sb[#sb - 1] or sb[#sb]
  local shape = #sa >= #sb and sa or sb
  if T.numel(a) / (sa[#sa] * sa[#sa - 1]) == 1 then shape = sb end
  shape = { unpack(shape) }
  shape[#shape - 1], shape[#shape] = m, n
  local out = M.empty(shape, device_names[a.p.device])
  check(C.ss_bmm(out.p, a.p, b.p, opts.trans_a and 1 or 0, opts.trans_b and 1 or 0, opts.alpha or 1, 0))
  return out
end

--- Rows idx (a Lua array of 1-based row numbers) of dimension 1, as a new tensor.
function T.index(t, idx)
  local n = #idx
  local buf = ffi.new("int64_t[?]", n)
  for i = 1, n do buf[i - 1] = idx[i] - 1 end
  local shape = T.shape(t)
  shape[1] = n
  local out = M.empty(shape, device_names[t.p.device])
  check(C.ss_index_select(out.p, t.p, buf, n))
  return out
end

T.__add = function(a, b) return binary("add", a, b) end
T.__sub = function(a, b) return binary("sub", a, b) end
T.__mul = function(a, b) return binary("mul", a, b) end
T.__div = function(a, b) return binary("div", a, b) end
T.__pow = function(a, b) return binary("pow", a, b) end
T.__unm = function(a) return T.neg(a) end
T.__len = function(t) return tonumber(t.p.shape[0]) end
T.__index = T

----------------------------------------------------------------- RNG

--- A Philox4x32-10 generator; streams are identical for any thread count.
function M.rng(seed)
  seed = seed or 0
  if type(seed) ~= "number" and not (type(seed) == "cdata") then arg_error("rng", 1, "a seed number", seed) end
  local g = ffi.new("ss_rng")
  check(C.ss_rng_init(g, seed))
  return g
end

-- The tensor to fill: the one given, or a new one of `shape` on `device` (default cpu).
local function fill_or_new(fname, shape_or_t, device)
  if is_tensor(shape_or_t) then return shape_or_t end
  local n, dims = to_shape(shape_or_t, fname, 1)
  return own(C.ss_tensor_empty(n, dims, to_device(device, fname, 5)))
end

--- N(mean, std^2) samples: a new tensor of `shape` (on `device`, default "cpu"), or
-- filling a given tensor. The stream is the same on either device.
function G.normal(g, shape, mean, std, device)
  local t = fill_or_new("normal", shape, device)
  check(C.ss_rng_normal(g, t.p, mean or 0, std or 1))
  return t
end

--- U[lo, hi) samples (default [0,1)).
function G.uniform(g, shape, lo, hi)
  local t = fill_or_new("uniform", shape)
  check(C.ss_rng_uniform(g, t.p, lo or 0, hi or 1))
  return t
end

--- 1 with probability p, else 0.
function G.bernoulli(g, shape, p)
  local t = fill_or_new("bernoulli", shape)
  check(C.ss_rng_bernoulli(g, t.p, p))
  return t
end

--- A random permutation of 1..n as a Lua array.
function G.perm(g, n)
  local buf = ffi.new("int64_t[?]", n)
  check(C.ss_rng_perm(g, buf, n))
  local out = {}
  for i = 0, n - 1 do out[i + 1] = tonumber(buf[i]) + 1 end
  return out
end

--- n integers uniform in [lo, hi] (inclusive) as a Lua array.
function G.randint(g, n, lo, hi)
  local buf = ffi.new("int64_t[?]", n)
  check(C.ss_rng_randint(g, buf, n, lo, hi))
  local out = {}
  for i = 0, n - 1 do out[i + 1] = tonumber(buf[i]) end
  return out
end

--- A seed for a C routine from options: opts.seed, else one drawn from opts.rng, else 0.
function M.seed_from(opts)
  return opts.seed or (opts.rng and opts.rng:randint(1, 0, 2 ^ 31)[1]) or 0
end

--- The state as a plain table {seed=, offset=} (numbers; exact below 2^53).
function G.state(g)
  return { seed = tonumber(g.seed), offset = tonumber(g.offset) }
end

function G.set_state(g, s)
  if type(s) ~= "table" and type(s) ~= "cdata" then arg_error("set_state", 1, "a state from g:state()", s) end
  g.seed, g.offset = s.seed, s.offset
  return g
end

function G.clone(g)
  local c = ffi.new("ss_rng")
  c.seed, c.offset = g.seed, g.offset
  return c
end

G.__index = G
G.__tostring = function(g)
  return string.format("rng(seed=%s, offset=%s)", tostring(g.seed):gsub("ULL$", ""),
    (tostring(g.offset):gsub("ULL$", "")))
end

M.tensor_methods = T
M.rng_methods = G
ffi.metatype("ss_ref", T)
ffi.metatype("ss_rng", G)

return M
