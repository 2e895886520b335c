--- scalespace.nn — network layers as modules over the C forward/backward pairs
-- (runtime/nn/), in the manner of torch/nn: one file per layer under nn/, named after its
-- class (nn/Conv2d.lua is the whole story of Conv2d), loaded when first used; the base
-- (nn.Module, buffers, initialisation) is nn/module.lua. The two architectures of the
-- papers are nn.UNet (ADM's; IHDM, DDPM, blurring diffusion) and nn.FlexiUNet (Scale Space
-- Diffusion's).
--
-- Conventions. m:forward(x) returns the module's output buffer, which the next forward
-- overwrites (clone it to keep it). m:backward(x, gradOut) refers to the forward just
-- made with the same x; it returns ∂L/∂x and adds to the parameter gradients. Buffers
-- are owned by the modules and reused while shapes stay the same, so steady-state
-- training allocates nothing. Parameters start as PyTorch initialises them by default
-- (uniform ±1/√fan_in for weights and biases), and the convolutions that close a
-- residual branch start at zero as in ADM (`zero_init = false` turns that off).
-- A new layer is a new file nn/<Name>.lua returning its class (or a script's own class
-- made with ss.nn.class, see nn/module.lua).
local base = require "scalespace.nn.module"
local loss = require "scalespace.nn.loss"

local M = { Module = base.Module, class = base.class, new = base.new, mse = loss.mse, mse_backward = loss.mse_backward,
  cross_entropy = loss.cross_entropy, cross_entropy_backward = loss.cross_entropy_backward }

setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= "string" or not k:match("^%u[%w_]*$") then return nil end
    local name = "scalespace.nn." .. k
    if not package.searchpath(name, package.path) then return nil end
    local cls = require(name)
    rawset(t, k, cls)
    return cls
  end,
})

return M
