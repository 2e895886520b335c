-- tests/gpu/train_step.lua — ctest gpu_train_step (label gpu): a UNet and a Flexi-UNet
-- training step (forward, MSE, backward, Adam with weight decay and clipping) on the CPU
-- and on CUDA from the same weights and batch, then short ss.train.run runs of three
-- processes (DDPM, IHDM, SSD) with device = "cuda" against the same runs on the CPU.
-- CMake runs it with SS_CUDA_TF32=0 (exact FP32 convolutions), so the stated tolerances
-- are float-rounding ones. Without a GPU it says what it skipped and exits 77 (ctest:
-- "Skipped").
local ss = require "scalespace"
local seed = tonumber(os.getenv("SS_TEST_SEED") or "") or 7
print("gpu_train_step: seed " .. seed .. " (SS_TEST_SEED=<n> to change)")
if not ss.cuda.available() then
  print("SKIP gpu_train_step: " .. (ss.has_cuda() and "no CUDA device (no GPU or no driver)" or "built without CUDA")
    .. " — the UNet/Flexi-UNet step and train.run (ddpm, ihdm, ssd) CPU-vs-CUDA checks did not run")
  os.exit(77)
end
print("gpu_train_step: on " .. ss.cuda.info())

local failures = 0
-- max |a − b| relative to max |a| (a on the cpu, b on either device), printed and checked.
local function close(label, a, b, tol)
  if b:device_name() ~= "cpu" then b = b:to("cpu") end
  local scale = math.max(a:abs():max(), 1e-30)
  local r = (a - b):abs():max() / scale
  print(string.format("  %-56s max|diff|/max|cpu| = %.3g (tol %.1g)", label, r, tol))
  if not (r <= tol) then failures = failures + 1 end
  return r
end

-- One step of net on (x, t) towards target; returns the loss, output and gradient norm.
local function step(net, opt, x, t, target, fwd_opts)
  net:zero_grad()
  local y = net:forward(x, t, fwd_opts)
  local loss = ss.nn.mse(y, target)
  net:backward(x, ss.nn.mse_backward(y, target))
  return loss, y, opt:step()
end

local cases = {
  { name = "UNet 16x16", class = ss.nn.UNet, size = 16, out = 16,
    cfg = { in_ch = 3, ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 8 }, heads = 2, dropout = 0.1,
      size = 16, seed = seed, zero_init = false } },
  { name = "FlexiUNet 8x8 -> 16x16", class = ss.nn.FlexiUNet, size = 8, out = 16,
    cfg = { in_ch = 1, ch = 32, mult = { 1, 2, 2 }, num_res_blocks = 1, attn_res = { 4 }, dropout = 0.1,
      size = 16, seed = seed, zero_init = false } },
}
for _, c in ipairs(cases) do
  print(c.name)
  local cpu, gpu = c.class(c.cfg), c.class(c.cfg):to("cuda")
  local pc, gc = cpu:parameters()
  local pg, gg = gpu:parameters()
  local adam = { lr = 1e-3, weight_decay = 0.01, clip = 0.5 }
  local oc, og = ss.optim.Adam(pc, gc, adam), ss.optim.Adam(pg, gg, adam)
  local g = ss.rng(seed)
  local n, ch = 4, c.cfg.in_ch
  local x, target = g:normal { n, ch, c.size, c.size }, g:normal { n, ch, c.out, c.out }
  local t = { 3, 250, 500, 999 }
  local fwd = c.out ~= c.size and { out_size = c.out } or nil
  local lc, yc, nc = step(cpu, oc, x, t, target, fwd)
  local lg, yg, ng = step(gpu, og, x:to("cuda"), t, target:to("cuda"), fwd)
  close("forward output", yc, yg, 1e-4)
  print(string.format("  loss cpu %.9g cuda %.9g; gradient norm cpu %.9g cuda %.9g", lc, lg, nc, ng))
  if not (math.abs(lc - lg) <= 1e-5 * math.abs(lc) and math.abs(nc - ng) <= 1e-4 * nc) then failures = failures + 1 end
  local worst, where = 0, ""
  for i, e in ipairs(cpu:named_parameters()) do
    if e.grad:abs():max() > 0 then
      local r = (e.grad - gg[i]:to("cpu")):abs():max() / e.grad:abs():max()
      if r > worst then worst, where = r, e.name end
    end
  end
  print(string.format("  %d parameter gradients: worst %.3g relative (%s; tol 1e-3)", #gc, worst, where))
  if not (worst <= 1e-3) then failures = failures + 1 end
  local pworst = 0
  for i = 1, #pc do pworst = math.max(pworst, (pc[i] - pg[i]:to("cpu")):abs():max()) end
  print(string.format("  parameters after the Adam step: max |diff| %.3g (tol 1e-5)", pworst))
  if not (pworst <= 1e-5) then failures = failures + 1 end
end

-- train.run end to end: the same losses on both devices (the noise streams are equal).
local dir = os.tmpname()
os.remove(dir)
local data = ss.rng(seed):uniform { 32, 1, 16, 16 }
local nets = {
  ddpm = function() return ss.nn.UNet { ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 8 }, size = 16,
    seed = seed } end,
  ihdm = function() return ss.nn.UNet { ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 8 }, size = 16,
    seed = seed } end,
  ssd = function() return ss.nn.FlexiUNet { ch = 32, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 8 },
    size = 16, seed = seed } end,
}
local procs = {
  ddpm = function() return ss.process.ddpm { beta = ss.schedule.linear_beta(100) } end,
  ihdm = function() return ss.process.ihdm { size = 16, K = 20 } end,
  ssd = function() return ss.process.ssd { size = 16, levels = { 16, 8 }, T = 100 } end,
}
for _, kind in ipairs { "ddpm", "ihdm", "ssd" } do
  local losses = {}
  for _, device in ipairs { "cpu", "cuda" } do
    local r = ss.train.run(procs[kind](), nets[kind](), data, { steps = 3, batch = 8, seed = seed, device = device,
      out = dir .. "/" .. kind .. "_" .. device, progress = false, samples = 4, sample_steps = kind ~= "ihdm" and 5 or nil, resume = false })
    losses[device] = r.losses
  end
  local worst = 0
  for s = 1, 3 do worst = math.max(worst, math.abs(losses.cpu[s] - losses.cuda[s]) / math.abs(losses.cpu[s])) end
  print(string.format("train.run %s, 3 steps: losses cpu %.6g %.6g %.6g, worst relative difference %.3g (tol 1e-4)",
    kind, losses.cpu[1], losses.cpu[2], losses.cpu[3], worst))
  if not (worst <= 1e-4) then failures = failures + 1 end
end
os.execute("rm -rf '" .. dir .. "'")
print(string.format("gpu_train_step: %d failed", failures))
os.exit(failures == 0 and 0 or 1)
