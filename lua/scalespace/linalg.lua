--- scalespace.linalg — Krylov solvers and matrix functions on operators.
-- Every routine works matrix-free on an `ss.op` operator (built-in, composite or
-- written in Lua) whose input and output sizes agree; vectors are tensors
-- (..., h, w), the whole tensor being one vector. Runs in C (runtime/solvers).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local op = require "scalespace.op"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

local function expect_op(A, fname)
  if not op.is_op(A) then arg_error(fname, 1, "an operator (ss.op)", A) end
end

local function info_table(info, rc)
  return { iterations = info.iterations, converged = info.converged == 1, restarts = info.restarts,
    residual = info.residual, initial_residual = info.initial_residual,
    message = rc == C.SS_ERR_NOTCONV and lib.last_error() or nil }
end

--- Shared by bicgstab and cg: x, info; an unconverged solve returns converged =
-- false and the C message in info.message (never a silent success); any other
-- failure raises.
local function solve(fname, fn, A, b, opts)
  expect_op(A, fname)
  tensor.expect_tensor(b, fname, 2)
  opts = opts or {}
  if type(opts) == "table" and opts.x0 ~= nil then tensor.expect_tensor(opts.x0, fname .. ": opts.x0", 3) end
  local x
  if type(opts) == "table" and opts.x0 then
    tensor.expect_tensor(opts.x0, fname, 3)
    x = opts.x0:clone()
  else
    x = b:empty_like()
  end
  if type(opts) ~= "table" then arg_error(fname, 3, "an options table {tol =, maxiter =, x0 =}", opts) end
  local tol = lib.check_number(opts.tol or (opts.abs_tol and 0 or 1e-6), fname, "tol", 0)
  local abs_tol = lib.check_number(opts.abs_tol or 0, fname, "abs_tol", 0)
  local maxiter = lib.check_int(opts.maxiter or 1000, fname, "maxiter", 0)
  local o = ffi.new("ss_solve_opts", { tol, abs_tol, maxiter, opts.x0 and 1 or 0 })
  local info = ffi.new("ss_solve_info")
  local rc = fn(x.p, A.c, b.p, o, info)
  if rc < 0 and rc ~= C.SS_ERR_NOTCONV then check(rc) end
  return x, info_table(info, rc)
end

op.interpreted(solve)

--- Solves A x = b by BiCGSTAB (unpreconditioned, restarts on near breakdown).
-- opts: x0 (warm start), tol (relative, default 1e-6), abs_tol (‖r‖₂ bound),
-- maxiter (1000). Returns x, info{iterations, converged, restarts, residual, message}.
function M.bicgstab(A, b, opts) return solve("linalg.bicgstab", C.ss_bicgstab_solve, A, b, opts) end

--- Conjugate gradients for symmetric positive definite A; as bicgstab.
function M.cg(A, b, opts) return solve("linalg.cg", C.ss_cg_solve, A, b, opts) end

local fns = { sqrt = C.SS_LANCZOS_SQRT, invsqrt = C.SS_LANCZOS_INVSQRT, exp = C.SS_LANCZOS_EXP }

--- f(A) v for symmetric A by k Lanczos steps (opts.k = 40; opts.reorth = true for
-- full re-orthogonalisation). f is "sqrt", "invsqrt", "exp" or a Lua function of
-- one eigenvalue. Returns f(A) v and the number of steps taken.
function M.lanczos(A, v, f, opts)
  expect_op(A, "linalg.lanczos")
  tensor.expect_tensor(v, "linalg.lanczos", 2)
  opts = opts or {}
  local out = v:empty_like()
  local steps = ffi.new("int32_t[1]")
  local kind, cb, cb_err = fns[f], nil, nil
  if kind == nil then
    if type(f) ~= "function" then
      raise('linalg.lanczos: f must be "sqrt", "invsqrt", "exp" or a function, got ' .. tostring(f))
    end
    kind = C.SS_LANCZOS_CUSTOM
    cb = ffi.cast("double (*)(void *, double)", function(_, lambda)
      local ok, y = pcall(f, lambda)
      if ok and type(y) == "number" then return y end
      cb_err = cb_err or (ok and ("linalg.lanczos: f must return a number, got " .. type(y)) or tostring(y))
      return 0 / 0 -- a non-finite value makes the C side fail
    end)
  end
  local k = lib.check_int(opts.k or 40, "linalg.lanczos", "k (Lanczos steps)", 1)
  local rc = C.ss_lanczos_apply(out.p, A.c, v.p, kind, k, opts.reorth and 1 or 0, cb, nil, steps)
  if cb then cb:free() end
  if rc < 0 then raise(cb_err or lib.last_error()) end
  return out, steps[0]
end

--- λ_max of a symmetric positive semidefinite operator by power iteration
-- (opts.iterations = 100, opts.rng or opts.seed for the start vector). The
-- estimate approaches λ_max from below: Scale Space Diffusion's 20 iterations
-- underestimate λ_max(MᵀM) of a 16→8 resize by 2.7%, enough to make I − ρMᵀM
-- indefinite, hence the larger default.
function M.power_iteration(A, opts)
  expect_op(A, "linalg.power_iteration")
  opts = opts or {}
  local seed = tensor.seed_from(opts)
  local lam = ffi.new("double[1]")
  local iterations = lib.check_int(opts.iterations or 100, "linalg.power_iteration", "iterations", 1)
  check(C.ss_power_iteration(lam, A.c, iterations, seed))
  return lam[0]
end

-- these call C that may call a Lua-written operator back
op.interpreted(M.lanczos)
op.interpreted(M.power_iteration)

return M
