--- scalespace.nn.loss — the mean-squared error of the diffusion objectives.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check = lib.ffi, lib.C, lib.check

local M = {}

local function mse_args(pred, target, opts, fname)
  tensor.expect_tensor(pred, fname, 1)
  tensor.expect_tensor(target, fname, 2)
  opts = opts or {}
  if opts.weight ~= nil then tensor.expect_tensor(opts.weight, fname .. ": opts.weight", 3) end
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

return M
