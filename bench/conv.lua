-- bench/conv.lua — the UNet's convolutions one by one (bench/peers/conv_shapes.py: every
-- layer shape of the 28x28, ch 32, mult (1,2,2) UNet at batch 32) through nn.Conv2d,
-- forward and backward (input and weight gradients) on each CPU path this build has
-- (the choice by shape, and SS_CPU_CONV = winograd, onednn, im2col forced), against
-- PyTorch 1.13 (oneDNN) in the same run: GFLOP/s of each, the data behind the choice of
-- path in runtime/nn/conv2d.c (docs/design-notes.md, "Convolutions on the CPU").
-- usage: scalespace bench/conv.lua [--reps 5] [--threads N]
local ss = require "scalespace"
local bench = require "scalespace.bench"
local ffi = require "ffi"
local here = (arg and arg[0] or "bench/conv.lua"):match("^(.*)/") or "."
local common = dofile(here .. "/common.lua")
local o = ss.train.options(arg, { reps = 5, threads = 0 })
if o.threads > 0 then ss.set_num_threads(o.threads) end
local threads = ss.num_threads()
pcall(ffi.cdef, "int setenv(const char *name, const char *value, int overwrite); int unsetenv(const char *name);")

local shapes = {}
for line in io.lines(here .. "/peers/conv_shapes.py") do
  local name, cin, cout, hw, k, s = line:match('%("([%w_]+)", (%d+), (%d+), (%d+), (%d+), (%d+)%)')
  if name then shapes[#shapes + 1] = { name, tonumber(cin), tonumber(cout), tonumber(hw), tonumber(k), tonumber(s) } end
end
local peers = common.peer_rows(here .. "/peers/conv.py", { threads, o.reps }, "bench/conv") or {}
local paths = { "default", "winograd", "onednn", "im2col" }
local load0 = common.load()
local g = ss.rng(0)
for _, sh in ipairs(shapes) do
  local name, cin, cout, hw, k, s = unpack(sh)
  local x = g:normal { 32, cin, hw, hw }
  local conv = ss.nn.Conv2d(cin, cout, k, { rng = g, stride = s })
  local y = conv:forward(x)
  local gy = g:normal(y:shape())
  local flops = 2 * 32 * cout * y:size(3) * y:size(4) * cin * k * k
  local rec = { bench = "conv", case = name, threads = threads, gflop_forward = flops * 1e-9, load_avg = load0 }
  for _, p in ipairs(paths) do
    if p == "default" then ffi.C.unsetenv("SS_CPU_CONV") else ffi.C.setenv("SS_CPU_CONV", p, 1) end
    local ok = pcall(conv.forward, conv, x)
    if ok then
      local f = bench.median(function() conv:forward(x) end, o.reps, 1) * 1e3
      local b = bench.median(function() conv:backward(x, gy) end, o.reps, 1) * 1e3
      rec[p .. "_fwd_gflops"], rec[p .. "_bwd_gflops"] = flops / f * 1e-6, 2 * flops / b * 1e-6
    end
  end
  ffi.C.unsetenv("SS_CPU_CONV")
  local peer = peers[name]
  if peer then
    rec.peer = "torch"
    rec.peer_fwd_gflops, rec.peer_bwd_gflops = flops / peer.fwd_ms * 1e-6, 2 * flops / peer.bwd_ms * 1e-6
  end
  bench.emit(rec)
end
