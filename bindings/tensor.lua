--- scalespace.tensor — the tensor and RNG metatypes over the C runtime.
-- A Lua tensor is a one-field struct `ss_ref { ss_tensor *p; }` owned by the
-- garbage collector (ffi.gc frees the C tensor). A wrapper, not the bare pointer,
-- because LuaJIT does pointer arithmetic for `ptr + 1` before any metamethod and
-- struct fields would shadow methods such as t:shape(). `t:free()` frees at once
-- (GPU memory is not seen by the collector) and is idempotent; t.p is the
-- ss_tensor* to pass to C. Indices are 1-based in Lua.
local bit = require "bit"
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
  local total = 1
  for d = 1, n do
    local s = shape[d]
    if type(s) ~= "number" or s < 1 or s ~= math.floor(s) then
      raise(string.format("%s: argument %d: size %d must be a positive integer, got %s", fname, i, d, lib.describe(s)))
    end
    dims[d - 1] = s
    total = total * s
  end
  -- float32 elements addressed by int64 bytes: refuse what no machine can hold, in the caller's terms
  if total > 2 ^ 50 then
    raise(string.format("%s: argument %d: shape %s holds %.3g values, more than any machine's memory", fname, i,
      M.shape_string(shape), total))
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

--- A tensor from a (nested) table of numbers on `device` ("cpu" by default); `shape`
-- defaults to the nesting.
function M.from_table(values, shape, device)
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
  local t = M.empty(shape, device)
  if t:numel() ~= #flat then
    raise(string.format("from_table: %d values do not fill shape %s", #flat, M.shape_string(shape)))
  end
  local buf = ffi.new("float[?]", #flat, flat)
  check(C.ss_tensor_write(t.p, buf))
  return t
end

--- The numbers first, first + step, … below stop (numpy's arange) as a 1-D tensor on
-- `device`: arange(n) is 0..n−1, arange(a, b) is a..b−1, arange(a, b, step).
function M.arange(a, b, step, device)
  if type(a) ~= "number" then arg_error("arange", 1, "a number", a) end
  if b == nil then a, b = 0, a end
  if type(b) ~= "number" then arg_error("arange", 2, "a number", b) end
  step = step or 1
  if type(step) ~= "number" or step == 0 or step ~= step then arg_error("arange", 3, "a nonzero step", step) end
  local n = math.ceil((b - a) / step)
  if n < 1 then raise(string.format("arange: no numbers from %s below %s in steps of %s", a, b, step)) end
  if n > 2 ^ 31 then raise(string.format("arange: %s numbers are too many", n)) end
  local v = {}
  for i = 1, n do v[i] = a + (i - 1) * step end
  return M.from_table(v, { n }, device)
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

--- numpy broadcast of two shape tables (right-aligned; sizes equal or 1).
local function broadcast_shapes(sa, sb, fname)
  local n = math.max(#sa, #sb)
  local s = {}
  for k = 1, n do
    local x, y = sa[#sa - n + k] or 1, sb[#sb - n + k] or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      raise(string.format("%s: shapes %s and %s do not broadcast", fname, M.shape_string(sa), M.shape_string(sb)))
    end
    s[k] = math.max(x, y)
  end
  return s
end

local function broadcast_shape(a, b, fname) return broadcast_shapes(T.shape(a), T.shape(b), fname) end

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
T.norm = reducer(C.SS_RED_NORM)
-- t:sum(), t:mean(), t:min(), t:max() (all elements, a number) and their forms over
-- one dimension (shape ops, below).

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

----------------------------------------------------------------- matrix products

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

----------------------------------------------------------------- shape ops
-- Dimensions are 1-based and may count from the end (-1 is the last); row numbers
-- are 1-based, and where noted may count from the end too. Every argument and
-- shape is checked here, in these terms, before an output is allocated; the C
-- calls (runtime/core/shape.c) run on the tensor's device.

local function is_int(v)
  return type(v) == "number" and v == math.floor(v) and v > -math.huge and v < math.huge
end

--- v as an integer, or "<fname>: <what> must be an integer, got <v>".
local function int_arg(v, fname, what)
  if not is_int(v) then raise(string.format("%s: %s must be an integer, got %s", fname, what, tostring(v))) end
  return v
end

--- Dimension d of t (1..n or -n..-1) as C's 0-based number.
local function dim_arg(t, d, fname)
  local n = t.p.ndim
  int_arg(d, fname, "a dimension")
  if d == 0 or d < -n or d > n then
    raise(string.format("%s: dimension %d is outside 1..%d (or -%d..-1)", fname, d, n, n))
  end
  return d < 0 and n + d or d - 1
end

--- Row i (1..size or -size..-1) of a dimension of `size` as a 1-based row.
local function row_arg(i, size, fname, what, dim)
  int_arg(i, fname, what)
  if i == 0 or i < -size or i > size then
    raise(string.format("%s: %s %d is outside 1..%d (or -%d..-1) of dimension %d", fname, what, i, size, size, dim))
  end
  return i < 0 and size + i + 1 or i
end

local function device_of(t) return device_names[t.p.device] end

--- n rows from row f (1-based) of dimension d (0-based): a view when every size before d
-- is 1 (the rows are one block of storage), else a copy.
local function narrow(t, d, f, n)
  local shape = T.shape(t)
  local size, lead = shape[d + 1], 1
  for k = 1, d do lead = lead * shape[k] end
  shape[d + 1] = n
  if lead == 1 then
    local rows = d == 0 and t or T.reshape(t, { size, T.numel(t) / size })
    local v = own(C.ss_tensor_narrow(rows.p, f - 1, n))
    return d == 0 and v or T.reshape(v, shape)
  end
  local out = M.empty(shape, device_of(t))
  check(C.ss_narrow(out.p, t.p, d, f - 1))
  return out
end

--- Rows first .. first+n-1 of dimension dim (torch.narrow; first may count from the end).
-- A view sharing t's storage when dim is 1, or every size before dim is 1; a copy
-- otherwise (tensors are contiguous).
function T.narrow(t, dim, first, n)
  if n == nil then
    raise("narrow: takes (dim, first, n); what used to be narrow(first, count) is narrow(1, first, count)")
  end
  local d = dim_arg(t, dim, "narrow")
  local size = tonumber(t.p.shape[d])
  local f = row_arg(first, size, "narrow", "first row", d + 1)
  int_arg(n, "narrow", "n")
  if n < 1 then raise(string.format("narrow: n must be at least 1, got %d", n)) end
  if f + n - 1 > size then
    raise(string.format("narrow: rows %d..%d of dimension %d are outside 1..%d", f, f + n - 1, d + 1, size))
  end
  return narrow(t, d, f, n)
end

--- Row i of dimension dim, without that dimension (torch.select; i may count from the
-- end); a 1-D t gives a tensor of shape (1). A view where narrow gives one.
function T.select(t, dim, i)
  local d = dim_arg(t, dim, "select")
  local r = narrow(t, d, row_arg(i, tonumber(t.p.shape[d]), "select", "index", d + 1), 1)
  local shape = T.shape(r)
  table.remove(shape, d + 1)
  return T.reshape(r, #shape > 0 and shape or { 1 })
end

--- Rows idx (a list of row numbers, 1-based or from the end) of dimension 1, as a new tensor.
function T.index(t, idx)
  if type(idx) ~= "table" or #idx == 0 then arg_error("index", 1, "a non-empty list of row numbers", idx) end
  local size = tonumber(t.p.shape[0])
  local buf = ffi.new("int64_t[?]", #idx)
  for k, i in ipairs(idx) do
    if not is_int(i) or i == 0 or i < -size or i > size then
      raise(string.format("index: row %s is outside 1..%d", tostring(i), size))
    end
    buf[k - 1] = (i < 0 and size + i + 1 or i) - 1
  end
  local shape = T.shape(t)
  shape[1] = #idx
  local out = M.empty(shape, device_of(t))
  check(C.ss_index_select(out.p, t.p, buf, #idx))
  return out
end

--- The dimensions reordered: dimension k of the result is dimension perm[k] of t
-- (torch.permute), given as a list or as arguments. A copy.
function T.permute(t, perm, ...)
  if type(perm) == "number" then perm = { perm, ... } end
  if type(perm) ~= "table" then arg_error("permute", 1, "a list of dimensions", perm) end
  local n = t.p.ndim
  if #perm ~= n then
    raise(string.format("permute: %d dimensions given for a %d-dimensional tensor", #perm, n))
  end
  local cperm, seen, shape = ffi.new("int[4]"), {}, {}
  for k = 1, n do
    local d = dim_arg(t, perm[k], "permute")
    if seen[d] then raise(string.format("permute: dimension %d appears twice", d + 1)) end
    seen[d], cperm[k - 1], shape[k] = true, d, tonumber(t.p.shape[d])
  end
  local out = M.empty(shape, device_of(t))
  check(C.ss_permute(out.p, t.p, cperm))
  return out
end

--- Dimensions d1 and d2 swapped (a copy).
function T.transpose(t, d1, d2)
  local a, b = dim_arg(t, d1, "transpose"), dim_arg(t, d2, "transpose")
  local perm = {}
  for k = 1, t.p.ndim do perm[k] = k end
  perm[a + 1], perm[b + 1] = b + 1, a + 1
  return T.permute(t, perm)
end

--- Reversed along dimension dims, or along each dimension of a list (torch.flip). A copy.
function T.flip(t, dims)
  if type(dims) == "number" then dims = { dims } end
  if type(dims) ~= "table" or #dims == 0 then arg_error("flip", 1, "a dimension or a list of them", dims) end
  local mask = 0
  for _, dim in ipairs(dims) do
    local d = dim_arg(t, dim, "flip")
    if bit.band(mask, bit.lshift(1, d)) ~= 0 then raise(string.format("flip: dimension %d appears twice", d + 1)) end
    mask = bit.bor(mask, bit.lshift(1, d))
  end
  local out = M.empty(T.shape(t), device_of(t))
  check(C.ss_flip(out.p, t.p, mask))
  return out
end

--- numpy.roll: elements shifted by `shift` along dimension dim, those pushed off the
-- end coming back at the start. shift and dim may be lists (each shift along its
-- dimension; a repeated dimension adds its shifts, as numpy's); one shift with a list
-- of dims shifts each; without dim t is rolled as one flat list. A copy.
function T.roll(t, shift, dim)
  if dim == nil then
    int_arg(shift, "roll", "shift")
    local flat = T.reshape(t, { T.numel(t) })
    return T.reshape(T.roll(flat, shift, 1), T.shape(t))
  end
  local dims = type(dim) == "table" and dim or { dim }
  local shifts = type(shift) == "table" and shift or {}
  if type(shift) ~= "table" then
    for k = 1, #dims do shifts[k] = shift end
  end
  if #shifts ~= #dims then
    raise(string.format("roll: %d shifts for %d dimensions", #shifts, #dims))
  end
  local cshift = ffi.new("int64_t[4]")
  for k = 1, #dims do
    local d = dim_arg(t, dims[k], "roll")
    cshift[d] = cshift[d] + int_arg(shifts[k], "roll", "shift")
  end
  local out = M.empty(T.shape(t), device_of(t))
  check(C.ss_roll(out.p, t.p, cshift))
  return out
end

local pad_modes = { zero = C.SS_PAD_CONSTANT, constant = C.SS_PAD_CONSTANT, reflect = C.SS_PAD_REFLECT,
  replicate = C.SS_PAD_REPLICATE }

--- Pads the last dimension, or the last two: p = {left, right} or {left, right, top,
-- bottom} as torch.nn.functional.pad, each >= 0. opts.mode: "zero" (the default; fills
-- with opts.value, default 0; "constant" is the same), "reflect" (mirrors about the
-- edge without repeating it, PyTorch's "reflect"; each pad smaller than its size) or
-- "replicate" (repeats the edge). A new tensor.
function T.pad(t, p, opts)
  if type(p) ~= "table" or (#p ~= 2 and #p ~= 4) then
    arg_error("pad", 1, "pads {left, right} or {left, right, top, bottom}", p)
  end
  opts = opts or {}
  if type(opts) ~= "table" then arg_error("pad", 2, "an options table {mode=, value=}", opts) end
  local mode = pad_modes[opts.mode or "zero"]
  if not mode then
    raise(string.format('pad: mode must be "zero", "reflect" or "replicate", got %s', tostring(opts.mode)))
  end
  local value = opts.value or 0
  if type(value) ~= "number" then arg_error("pad", 2, "a number as value", value) end
  if opts.value ~= nil and mode ~= C.SS_PAD_CONSTANT then
    raise('pad: value is for mode "zero" only')
  end
  local names = { "left", "right", "top", "bottom" }
  for k = 1, #p do
    int_arg(p[k], "pad", names[k] .. " pad")
    if p[k] < 0 then raise(string.format("pad: pads must be >= 0 (crop cuts), got %d on the %s", p[k], names[k])) end
  end
  local shape = T.shape(t)
  local n = #shape
  if #p == 4 and n < 2 then raise("pad: {left, right, top, bottom} needs a tensor with at least 2 dimensions") end
  local H, W = #p == 4 and shape[n - 1] or 1, shape[n]
  local left, right, top, bottom = p[1], p[2], p[3] or 0, p[4] or 0
  if mode == C.SS_PAD_REFLECT then
    for k, size in ipairs { W, W, H, H } do
      if k <= #p and p[k] >= size then
        raise(string.format("pad: reflect needs each pad smaller than its size: %s %d >= %s %d", names[k], p[k],
          k <= 2 and "width" or "height", size))
      end
    end
  end
  local x = n >= 2 and t or T.reshape(t, { 1, W })
  local oshape = T.shape(x)
  oshape[#oshape - 1], oshape[#oshape] = oshape[#oshape - 1] + top + bottom, W + left + right
  local out = M.empty(oshape, device_of(t))
  check(C.ss_pad(out.p, x.p, top, left, mode, value))
  if n >= 2 then return out end
  return T.reshape(out, { W + left + right })
end

--- The h x w window of the last two dimensions whose first pixel is (top, left)
-- (1-based). A copy.
function T.crop(t, top, left, h, w)
  local n = t.p.ndim
  if n < 2 then raise("crop: needs a tensor with at least 2 dimensions (..., H, W)") end
  local H, W = tonumber(t.p.shape[n - 2]), tonumber(t.p.shape[n - 1])
  for _, a in ipairs { { top, "top" }, { left, "left" }, { h, "h" }, { w, "w" } } do int_arg(a[1], "crop", a[2]) end
  if h < 1 or w < 1 then raise(string.format("crop: the window must be at least 1x1, got %dx%d", h, w)) end
  if top < 1 or top + h - 1 > H then
    raise(string.format("crop: rows %d..%d are outside 1..%d", top, top + h - 1, H))
  end
  if left < 1 or left + w - 1 > W then
    raise(string.format("crop: columns %d..%d are outside 1..%d", left, left + w - 1, W))
  end
  local shape = T.shape(t)
  shape[n - 1], shape[n] = h, w
  local out = M.empty(shape, device_of(t))
  check(C.ss_crop(out.p, t.p, top - 1, left - 1))
  return out
end

--- Concatenation of a list of tensors along dimension dim (default 1; any dimension).
function M.cat(list, dim)
  if type(list) ~= "table" or #list == 0 then arg_error("cat", 1, "a non-empty list of tensors", list) end
  local first = list[1]
  if not is_tensor(first) then raise("cat: element 1 is not a tensor") end
  local d = dim_arg(first, dim or 1, "cat")
  local shape = T.shape(first)
  local ptrs = ffi.new("const ss_tensor*[?]", #list)
  local total = 0
  for i, t in ipairs(list) do
    if not is_tensor(t) then raise(string.format("cat: element %d is not a tensor", i)) end
    if t.p.device ~= first.p.device then
      raise(string.format("cat: tensor %d is on %s, tensor 1 on %s", i, device_of(t), device_of(first)))
    end
    local s = T.shape(t)
    local ok = #s == #shape
    for k = 1, #shape do ok = ok and (k == d + 1 or s[k] == shape[k]) end
    if not ok then
      raise(string.format("cat: tensor %d has shape %s, which does not match tensor 1's %s outside dimension %d", i,
        M.shape_string(s), M.shape_string(shape), d + 1))
    end
    total = total + s[d + 1]
    ptrs[i - 1] = t.p
  end
  shape[d + 1] = total
  local out = M.empty(shape, device_of(first))
  check(C.ss_cat(out.p, ptrs, #list, d))
  return out
end

--- Pieces of t along dimension dim (default 1), as a list of new tensors (copies):
-- sizes a list of piece sizes adding up to that dimension's size, or a number n for
-- pieces of n rows (the last one smaller when n does not divide the size), as torch.split.
function T.split(t, sizes, dim)
  local d = dim_arg(t, dim or 1, "split")
  local size = tonumber(t.p.shape[d])
  if type(sizes) == "number" then
    int_arg(sizes, "split", "the piece size")
    if sizes < 1 then raise(string.format("split: the piece size must be at least 1, got %d", sizes)) end
    local n = sizes
    sizes = {}
    for at = 1, size, n do sizes[#sizes + 1] = math.min(n, size - at + 1) end
  elseif type(sizes) ~= "table" or #sizes == 0 then
    arg_error("split", 1, "a piece size or a list of sizes", sizes)
  end
  local total = 0
  for k, n in ipairs(sizes) do
    int_arg(n, "split", "size " .. k)
    if n < 1 then raise(string.format("split: size %d must be at least 1, got %d", k, n)) end
    total = total + n
  end
  if total ~= size then
    raise(string.format("split: sizes add up to %d, dimension %d has %d", total, d + 1, size))
  end
  local parts, ptrs, shape = {}, ffi.new("ss_tensor*[?]", #sizes), T.shape(t)
  for k, n in ipairs(sizes) do
    shape[d + 1] = n
    parts[k] = M.empty(shape, device_of(t))
    ptrs[k - 1] = parts[k].p
  end
  check(C.ss_split(ptrs, #sizes, t.p, d))
  return parts
end

--- t:sum(), t:mean(), t:min(), t:max(): over all elements, a number (accumulated in
-- double). With a dimension, t:sum(dim[, keepdim]) reduces only that one (in double, in
-- index order): the result drops it, or keeps it with size 1 when keepdim is true (a
-- 1-D t gives shape (1)). max and min give the values only, NaN when one is NaN.
local function dim_reducer(name, op)
  return function(t, dim, keepdim)
    if dim == nil then
      check(C.ss_reduce(result, t.p, op))
      return result[0]
    end
    local d = dim_arg(t, dim, name)
    if keepdim ~= nil and type(keepdim) ~= "boolean" then arg_error(name, 2, "keepdim true or false", keepdim) end
    local shape = T.shape(t)
    if keepdim then shape[d + 1] = 1 else table.remove(shape, d + 1) end
    local out = M.empty(#shape > 0 and shape or { 1 }, device_of(t))
    check(C.ss_reduce_dim(out.p, t.p, d, op))
    return out
  end
end
T.sum = dim_reducer("sum", C.SS_RED_SUM)
T.mean = dim_reducer("mean", C.SS_RED_MEAN)
T.min = dim_reducer("min", C.SS_RED_MIN)
T.max = dim_reducer("max", C.SS_RED_MAX)

--- A number as a (1) tensor on `dev`, or the tensor itself on that device.
local function operand(v, fname, i, what, dev)
  if type(v) == "number" then return M.full({ 1 }, v, dev) end
  if not is_tensor(v) then arg_error(fname, i, "a tensor or a number", v) end
  if device_of(v) ~= dev then raise(string.format("%s: %s is on %s, the mask on %s", fname, what, device_of(v), dev)) end
  return v
end

--- mask ~= 0 ? a : b elementwise (numpy.where with a float mask); a and b are tensors
-- or numbers; mask, a and b broadcast numpy-style. A NaN in the mask gives NaN there.
function M.where(mask, a, b)
  expect_tensor(mask, "where", 1)
  local dev = device_of(mask)
  local ta, tb = operand(a, "where", 2, "a", dev), operand(b, "where", 3, "b", dev)
  local shape = broadcast_shapes(broadcast_shapes(T.shape(mask), T.shape(ta), "where"), T.shape(tb), "where")
  local out = M.empty(shape, dev)
  check(C.ss_where(out.p, mask.p, ta.p, tb.p))
  return out
end

--- The value v where mask ~= 0 (broadcast to t's shape), t elsewhere: a new tensor
-- (masked_fill) or t itself (masked_fill_). A product t * mask zeroes instead.
local function masked_fill(fname, out, t, mask, v)
  expect_tensor(mask, fname, 1)
  if type(v) ~= "number" then arg_error(fname, 2, "a number", v) end
  if mask.p.device ~= t.p.device then
    raise(string.format("%s: the mask is on %s, the tensor on %s", fname, device_of(mask), device_of(t)))
  end
  local ts, ms = T.shape(t), T.shape(mask)
  local s = broadcast_shapes(ts, ms, fname)
  if #s ~= #ts or M.shape_string(s) ~= M.shape_string(ts) then
    raise(string.format("%s: mask %s does not broadcast to the tensor's shape %s", fname, M.shape_string(ms),
      M.shape_string(ts)))
  end
  out = out or M.empty(ts, device_of(t))
  check(C.ss_where(out.p, mask.p, operand(v, fname, 2, "value", device_of(mask)).p, t.p))
  return out
end
function T.masked_fill(t, mask, v) return masked_fill("masked_fill", nil, t, mask, v) end
function T.masked_fill_(t, mask, v) return masked_fill("masked_fill_", t, t, mask, v) end

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

-- The tensor to fill: the one given (a device, if named, must be its own), or a new
-- one of `shape` on `device` (default cpu), which is argument `argi` of the draw.
local function fill_or_new(fname, shape_or_t, device, argi)
  local dev = to_device(device, fname, argi)
  if is_tensor(shape_or_t) then
    if device ~= nil and shape_or_t.p.device ~= dev then
      raise(string.format("%s: argument %d: the tensor to fill is on %s, not %s", fname, argi,
        device_names[shape_or_t.p.device], device))
    end
    return shape_or_t
  end
  local n, dims = to_shape(shape_or_t, fname, 1)
  return own(C.ss_tensor_empty(n, dims, dev))
end

--- Draws make a new tensor of `shape` on `device` ("cpu", the default, or "cuda"), or
-- fill a given tensor; the stream is the same on either device.
-- N(mean, std^2) samples (default N(0, 1)).
function G.normal(g, shape, mean, std, device)
  mean = lib.check_number(mean or 0, "normal", "mean (argument 2)")
  std = lib.check_number(std or 1, "normal", "std (argument 3)", 0)
  local t = fill_or_new("normal", shape, device, 4)
  check(C.ss_rng_normal(g, t.p, mean, std))
  return t
end

--- U[lo, hi) samples (default [0,1)).
function G.uniform(g, shape, lo, hi, device)
  lo = lib.check_number(lo or 0, "uniform", "lo (argument 2)")
  hi = lib.check_number(hi or 1, "uniform", "hi (argument 3)")
  if not (lo <= hi) then raise(string.format("uniform: needs lo <= hi, got lo = %g, hi = %g", lo, hi)) end
  local t = fill_or_new("uniform", shape, device, 4)
  check(C.ss_rng_uniform(g, t.p, lo, hi))
  return t
end

--- 1 with probability p, else 0.
function G.bernoulli(g, shape, p, device)
  if type(p) ~= "number" then arg_error("bernoulli", 2, "a probability", p) end
  local t = fill_or_new("bernoulli", shape, device, 3)
  check(C.ss_rng_bernoulli(g, t.p, p))
  return t
end

--- A random permutation of 1..n as a Lua array.
function G.perm(g, n)
  lib.check_int(n, "perm", "n (argument 1)", 1, 2 ^ 31)
  local buf = ffi.new("int64_t[?]", n)
  check(C.ss_rng_perm(g, buf, n))
  local out = {}
  for i = 0, n - 1 do out[i + 1] = tonumber(buf[i]) + 1 end
  return out
end

--- n integers uniform in [lo, hi] (inclusive) as a Lua array.
function G.randint(g, n, lo, hi)
  lib.check_int(n, "randint", "n (argument 1)", 1, 2 ^ 31)
  lib.check_int(lo, "randint", "lo (argument 2)", -2 ^ 53, 2 ^ 53)
  lib.check_int(hi, "randint", "hi (argument 3)", -2 ^ 53, 2 ^ 53)
  if lo > hi then raise(string.format("randint: needs lo <= hi (the range is inclusive), got lo = %d, hi = %d", lo, hi)) end
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
