--- scalespace.nn.loss — the mean-squared error of the diffusion objectives, and the softmax
-- cross-entropy of a classifier (the Fashion-MNIST feature network of ss.metrics).
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

local function ce_args(logits, labels, fname)
  tensor.expect_tensor(logits, fname, 1)
  tensor.expect_tensor(labels, fname, 2)
  if logits:dim() ~= 2 then
    lib.raise(string.format("%s: argument 1: expected (N,K) logits, got %s", fname, tensor.shape_string(logits:shape())))
  end
end

--- Softmax cross-entropy (1/N) Σ_n −log softmax(logits_n)[label_n] (torch's F.cross_entropy):
-- logits (N,K), labels (N) holding class indices 0..K−1 (a data set's labels). A number.
function M.cross_entropy(logits, labels)
  ce_args(logits, labels, "nn.cross_entropy")
  local out = ffi.new("double[1]")
  check(C.ss_cross_entropy_forward(out, logits.p, labels.p))
  return out[0]
end

--- ∂(scale·cross_entropy)/∂logits into opts.out (or a new tensor); scale defaults to 1.
function M.cross_entropy_backward(logits, labels, opts, scale)
  ce_args(logits, labels, "nn.cross_entropy_backward")
  local g = opts and opts.out or logits:empty_like()
  check(C.ss_cross_entropy_backward(g.p, logits.p, labels.p, scale or 1))
  return g
end

return M
