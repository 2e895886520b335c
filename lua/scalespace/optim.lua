--- scalespace.optim — Adam/AdamW (fused C steps), gradient clipping, learning-rate
-- warm-up and an EMA of parameters with IHDM's warm-up decay min(d, (1+n)/(10+n)).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

local function expect_list(list, fname, i, what)
  if type(list) ~= "table" or #list == 0 then arg_error(fname, i, "a non-empty list of " .. what, list) end
  for k, t in ipairs(list) do
    if not tensor.is_tensor(t) then raise(string.format("%s: %s[%d] is not a tensor", fname, what, k)) end
  end
end

local Adam = {}
Adam.__index = Adam

--- Adam over params with grads (parallel lists of tensors). opts: lr (1e-3), betas
-- ({0.9, 0.999}), eps (1e-8), weight_decay (0), decoupled (false; true = AdamW),
-- warmup (steps of linear learning-rate warm-up, 0), clip (global gradient-norm limit).
function M.Adam(params, grads, opts)
  expect_list(params, "optim.Adam", 1, "parameters")
  expect_list(grads, "optim.Adam", 2, "gradients")
  if #params ~= #grads then raise("optim.Adam: " .. #params .. " parameters but " .. #grads .. " gradients") end
  opts = opts or {}
  local self = setmetatable({ params = params, grads = grads, m = {}, v = {}, step_count = 0, lr = opts.lr or 1e-3,
    betas = opts.betas or { 0.9, 0.999 }, eps = opts.eps or 1e-8, weight_decay = opts.weight_decay or 0,
    decoupled = opts.decoupled and 1 or 0, warmup = opts.warmup or 0, clip = opts.clip }, Adam)
  for i, p in ipairs(params) do
    self.m[i], self.v[i] = p:zeros_like(), p:zeros_like()
  end
  self.grad_array = ffi.new("ss_tensor *[?]", #grads)
  for i, g in ipairs(grads) do self.grad_array[i - 1] = g.p end
  return self
end

--- AdamW: Adam with decoupled weight decay (default 0.01).
function M.AdamW(params, grads, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.decoupled = true
  if o.weight_decay == nil then o.weight_decay = 0.01 end
  return M.Adam(params, grads, o)
end

--- The learning rate of the next step (after warm-up scaling).
function Adam:current_lr()
  local n = self.step_count + 1
  if self.warmup > 0 and n < self.warmup then return self.lr * n / self.warmup end
  return self.lr
end

--- Clips (when opts.clip is set) and applies one step; returns the gradient norm
-- before clipping (nil without clipping).
function Adam:step()
  local norm
  if self.clip then
    local out = ffi.new("double[1]")
    check(C.ss_clip_grad_norm(out, self.grad_array, #self.grads, self.clip))
    norm = out[0]
  end
  local lr = self:current_lr()
  self.step_count = self.step_count + 1
  for i, p in ipairs(self.params) do
    check(C.ss_adam_step(p.p, self.m[i].p, self.v[i].p, self.grads[i].p, lr, self.betas[1], self.betas[2], self.eps,
      self.weight_decay, self.decoupled, self.step_count))
  end
  return norm
end

--- The global 2-norm of the gradients.
function Adam:grad_norm()
  local out = ffi.new("double[1]")
  check(C.ss_grad_norm(out, ffi.cast("const ss_tensor *const *", self.grad_array), #self.grads))
  return out[0]
end

--- The state to checkpoint: moments as named tensors and the step count.
function Adam:state(prefix)
  prefix = prefix or "optim."
  local t = {}
  for i = 1, #self.params do
    t[prefix .. "m." .. i], t[prefix .. "v." .. i] = self.m[i], self.v[i]
  end
  return t, { [prefix .. "step"] = self.step_count }
end

local EMA = {}
EMA.__index = EMA

--- An exponential moving average of params (copies). opts.warmup (default true):
-- the decay at update n is min(decay, (1 + n)/(10 + n)), as IHDM's code does.
function M.EMA(params, decay, opts)
  expect_list(params, "optim.EMA", 1, "parameters")
  if type(decay) ~= "number" or decay < 0 or decay > 1 then arg_error("optim.EMA", 2, "a decay in [0, 1]", decay) end
  local self = setmetatable({ params = params, decay = decay, shadow = {}, updates = 0,
    warmup = not (opts and opts.warmup == false) }, EMA)
  for i, p in ipairs(params) do self.shadow[i] = p:clone() end
  return self
end

function EMA:current_decay()
  local n = self.updates
  return self.warmup and math.min(self.decay, (1 + n) / (10 + n)) or self.decay
end

function EMA:update()
  local d = self:current_decay()
  for i, p in ipairs(self.params) do check(C.ss_ema_update(self.shadow[i].p, p.p, d)) end
  self.updates = self.updates + 1
  return d
end

--- Copies the averaged values into the live parameters (e.g. for sampling).
function EMA:copy_to(params)
  for i, p in ipairs(params or self.params) do p:copy(self.shadow[i]) end
end

return M
