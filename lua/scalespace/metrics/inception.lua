--- scalespace.metrics.inception — the FID Inception-v3 (pytorch-fid's FID variant, the
-- network of clean-fid's NVlabs TorchScript inception-2015-12-05.pt): Conv2d_1a … Mixed_7c,
-- average pools that exclude the padding, a max pool in the last block, pool3 (2048-d)
-- as the features; every convolution is conv (no bias) → BatchNorm (inference, eps 1e-3)
-- → ReLU, with the BatchNorm folded into the convolution when the weights load.
--
-- Weights are read, never downloaded, from the first of: opts.weights; $SS_INCEPTION;
-- clean-fid's /tmp/inception-2015-12-05.pt (NVlabs TorchScript); torch hub's checkpoints
-- ($TORCH_HOME/hub/checkpoints, else ~/.cache/torch/hub/checkpoints):
-- pt_inception-2015-12-05-6726825d.pth (pytorch-fid) and
-- weights-inception-2015-12-05-6726825d.pth (torch-fidelity); <cache>/inception-2015-12-05.safetensors.
-- Two naming schemes map onto one layer table, checked by shape: torchvision's
-- (Conv2d_1a_3x3.conv.weight, .bn.weight/bias/running_mean/running_var; the pytorch-fid and
-- torch-fidelity state_dicts, zip or legacy torch.save) and the NVlabs attribute tree
-- (layers.conv.weight, .beta, .mean, .var: no gamma, i.e. 1).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local base = require "scalespace.nn.module"
local nn = require "scalespace.nn"
local checkpoint = require "scalespace.checkpoint"
local C, check, raise = lib.C, lib.check, lib.raise

local M = {}
M.METRIC = "FID"

----------------------------------------------------------------- the layer table

-- conv{fid name, NVlabs name, cin, cout, {kh, kw}, stride, {ph, pw}} for the stem, and per
-- block kind the convolutions with names relative to the block (channel counts of the
-- full network; the `width` option scales them all, for reduced test networks).
local function conv(fid, nv, cin, cout, k, stride, pad)
  return { fid = fid, nv = nv, cin = cin, cout = cout, k = k, stride = stride or 1, pad = pad or { 0, 0 } }
end

local STEM = {
  conv("Conv2d_1a_3x3", "conv", 3, 32, { 3, 3 }, 2),
  conv("Conv2d_2a_3x3", "conv_1", 32, 32, { 3, 3 }),
  conv("Conv2d_2b_3x3", "conv_2", 32, 64, { 3, 3 }, 1, { 1, 1 }),
  conv("Conv2d_3b_1x1", "conv_3", 64, 80, { 1, 1 }),
  conv("Conv2d_4a_3x3", "conv_4", 80, 192, { 3, 3 }),
}

local KINDS = {}
-- A (Mixed_5b/c/d): 1x1 64 | 1x1 48 → 5x5 64 | 1x1 64 → 3x3 96 → 3x3 96 | avg → 1x1 pool
KINDS.A = function(cin, pool)
  return {
    conv("branch1x1", "conv", cin, 64, { 1, 1 }),
    conv("branch5x5_1", "tower.conv", cin, 48, { 1, 1 }),
    conv("branch5x5_2", "tower.conv_1", 48, 64, { 5, 5 }, 1, { 2, 2 }),
    conv("branch3x3dbl_1", "tower_1.conv", cin, 64, { 1, 1 }),
    conv("branch3x3dbl_2", "tower_1.conv_1", 64, 96, { 3, 3 }, 1, { 1, 1 }),
    conv("branch3x3dbl_3", "tower_1.conv_2", 96, 96, { 3, 3 }, 1, { 1, 1 }),
    conv("branch_pool", "tower_2.conv", cin, pool, { 1, 1 }),
  }
end
-- B (Mixed_6a): 3x3 s2 384 | 1x1 64 → 3x3 96 → 3x3 s2 96 | max 3x3 s2
KINDS.B = function(cin)
  return {
    conv("branch3x3", "conv", cin, 384, { 3, 3 }, 2),
    conv("branch3x3dbl_1", "tower.conv", cin, 64, { 1, 1 }),
    conv("branch3x3dbl_2", "tower.conv_1", 64, 96, { 3, 3 }, 1, { 1, 1 }),
    conv("branch3x3dbl_3", "tower.conv_2", 96, 96, { 3, 3 }, 2),
  }
end
-- C (Mixed_6b–e): 1x1 192 | 1x1 c7 → 1x7 → 7x1 192 | 1x1 c7 → 7x1 → 1x7 → 7x1 → 1x7 192 | avg → 1x1 192
KINDS.C = function(cin, c7)
  local r, c = { 7, 1 }, { 1, 7 }
  local pr, pc = { 3, 0 }, { 0, 3 }
  return {
    conv("branch1x1", "conv", cin, 192, { 1, 1 }),
    conv("branch7x7_1", "tower.conv", cin, c7, { 1, 1 }),
    conv("branch7x7_2", "tower.conv_1", c7, c7, c, 1, pc),
    conv("branch7x7_3", "tower.conv_2", c7, 192, r, 1, pr),
    conv("branch7x7dbl_1", "tower_1.conv", cin, c7, { 1, 1 }),
    conv("branch7x7dbl_2", "tower_1.conv_1", c7, c7, r, 1, pr),
    conv("branch7x7dbl_3", "tower_1.conv_2", c7, c7, c, 1, pc),
    conv("branch7x7dbl_4", "tower_1.conv_3", c7, c7, r, 1, pr),
    conv("branch7x7dbl_5", "tower_1.conv_4", c7, 192, c, 1, pc),
    conv("branch_pool", "tower_2.conv", cin, 192, { 1, 1 }),
  }
end
-- D (Mixed_7a): 1x1 192 → 3x3 s2 320 | 1x1 192 → 1x7 → 7x1 → 3x3 s2 192 | max 3x3 s2
KINDS.D = function(cin)
  return {
    conv("branch3x3_1", "tower.conv", cin, 192, { 1, 1 }),
    conv("branch3x3_2", "tower.conv_1", 192, 320, { 3, 3 }, 2),
    conv("branch7x7x3_1", "tower_1.conv", cin, 192, { 1, 1 }),
    conv("branch7x7x3_2", "tower_1.conv_1", 192, 192, { 1, 7 }, 1, { 0, 3 }),
    conv("branch7x7x3_3", "tower_1.conv_2", 192, 192, { 7, 1 }, 1, { 3, 0 }),
    conv("branch7x7x3_4", "tower_1.conv_3", 192, 192, { 3, 3 }, 2),
  }
end
-- E (Mixed_7b/c): 1x1 320 | 1x1 384 → {1x3, 3x1} 384 | 1x1 448 → 3x3 384 → {1x3, 3x1} 384 | pool → 1x1 192
KINDS.E = function(cin)
  return {
    conv("branch1x1", "conv", cin, 320, { 1, 1 }),
    conv("branch3x3_1", "tower_conv", cin, 384, { 1, 1 }),
    conv("branch3x3_2a", "tower_mixed_conv", 384, 384, { 1, 3 }, 1, { 0, 1 }),
    conv("branch3x3_2b", "tower_mixed_conv_1", 384, 384, { 3, 1 }, 1, { 1, 0 }),
    conv("branch3x3dbl_1", "tower_1_conv", cin, 448, { 1, 1 }),
    conv("branch3x3dbl_2", "tower_1_conv_1", 448, 384, { 3, 3 }, 1, { 1, 1 }),
    conv("branch3x3dbl_3a", "tower_1_mixed_conv", 384, 384, { 1, 3 }, 1, { 0, 1 }),
    conv("branch3x3dbl_3b", "tower_1_mixed_conv_1", 384, 384, { 3, 1 }, 1, { 1, 0 }),
    conv("branch_pool", "tower_2_conv", cin, 192, { 1, 1 }),
  }
end

-- The blocks in order: pytorch-fid name, NVlabs name, kind, arguments.
local BLOCKS = {
  { "Mixed_5b", "mixed", "A", 192, 32 }, { "Mixed_5c", "mixed_1", "A", 256, 64 },
  { "Mixed_5d", "mixed_2", "A", 288, 64 }, { "Mixed_6a", "mixed_3", "B", 288 },
  { "Mixed_6b", "mixed_4", "C", 768, 128 }, { "Mixed_6c", "mixed_5", "C", 768, 160 },
  { "Mixed_6d", "mixed_6", "C", 768, 160 }, { "Mixed_6e", "mixed_7", "C", 768, 192 },
  { "Mixed_7a", "mixed_8", "D", 768 }, { "Mixed_7b", "mixed_9", "E", 1280 }, { "Mixed_7c", "mixed_10", "E", 2048 },
}

--- Every convolution of the network: {fid = full pytorch-fid prefix, nv = full NVlabs
-- prefix, cin, cout, k, stride, pad, block = block index (0 for the stem), name = its name
-- in the block}, channels multiplied by width (default 1).
function M.layer_table(width)
  width = width or 1
  local function scale(c, what)
    if c == 3 then return 3 end
    local v = c * width
    if v ~= math.floor(v) or v < 1 then
      raise(string.format("metrics.inception: width %g does not divide the %d channels of %s", width, c, what))
    end
    return v
  end
  local list = {}
  local function add(c, block, fid_prefix, nv_prefix)
    list[#list + 1] = { fid = fid_prefix .. c.fid, nv = nv_prefix .. c.nv, cin = scale(c.cin, c.fid),
      cout = scale(c.cout, c.fid), k = c.k, stride = c.stride, pad = c.pad, block = block, name = c.fid }
  end
  for _, c in ipairs(STEM) do add(c, 0, "", "layers.") end
  for b, blk in ipairs(BLOCKS) do
    for _, c in ipairs(KINDS[blk[3]](blk[4], blk[5])) do add(c, b, blk[1] .. ".", "layers." .. blk[2] .. ".") end
  end
  return list
end

----------------------------------------------------------------- the network

local Net = base.class("InceptionV3")
M.Net = Net

-- Conv2d + folded BatchNorm + ReLU (in place on the convolution's output).
local Unit = base.class("InceptionConv")
function Unit.new(c)
  local self = base.new(Unit)
  self:add("conv", nn.Conv2d(c.cin, c.cout, c.k, { stride = c.stride, padding = c.pad, bias = false }))
  return self
end
function Unit:forward(x)
  local y = self.conv:forward(x)
  check(C.ss_relu_forward(y.p, y.p))
  return y
end

--- The network with unset weights: opts.width (1; a fraction of the channels, for reduced
-- test networks). Use M.network or M.load to get weights.
function Net.new(opts)
  opts = opts or {}
  local self = base.new(Net)
  self.width = opts.width or 1
  self.table = M.layer_table(self.width)
  self.units = {}
  for _, c in ipairs(self.table) do
    local u = Unit.new(c)
    self:add(c.fid, u)
    self.units[c.fid] = u
  end
  self.pool_s2 = nn.MaxPool2d(3, { stride = 2 })
  self.avg = nn.AvgPool2d(3, { stride = 1, padding = 1, count_include_pad = false })
  self.max_s1 = nn.MaxPool2d(3, { stride = 1, padding = 1 })
  self.gap = nn.GlobalAvgPool()
  self.dim = math.floor(2048 * self.width)
  return self
end

function Net:unit(name) return self.units[name] end

-- Each pool object keeps one output buffer; a block uses it once before it is needed again.
local function run(self, prefix, names, x)
  for _, n in ipairs(names) do x = self.units[prefix .. n]:forward(x) end
  return x
end

local function cat(list) return tensor.cat(list, 2) end

local forward = {}
function forward.A(self, p, x)
  return cat { run(self, p, { "branch1x1" }, x), run(self, p, { "branch5x5_1", "branch5x5_2" }, x),
    run(self, p, { "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3" }, x),
    run(self, p, { "branch_pool" }, self.avg:forward(x)) }
end
function forward.B(self, p, x)
  return cat { run(self, p, { "branch3x3" }, x), run(self, p, { "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3" }, x),
    self.pool_s2:forward(x) }
end
function forward.C(self, p, x)
  return cat { run(self, p, { "branch1x1" }, x), run(self, p, { "branch7x7_1", "branch7x7_2", "branch7x7_3" }, x),
    run(self, p, { "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5" }, x),
    run(self, p, { "branch_pool" }, self.avg:forward(x)) }
end
function forward.D(self, p, x)
  return cat { run(self, p, { "branch3x3_1", "branch3x3_2" }, x),
    run(self, p, { "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4" }, x), self.pool_s2:forward(x) }
end
function forward.E(self, p, x, last)
  local t = run(self, p, { "branch3x3_1" }, x)
  local d = run(self, p, { "branch3x3dbl_1", "branch3x3dbl_2" }, x)
  return cat { run(self, p, { "branch1x1" }, x), run(self, p, { "branch3x3_2a" }, t), run(self, p, { "branch3x3_2b" }, t),
    run(self, p, { "branch3x3dbl_3a" }, d), run(self, p, { "branch3x3dbl_3b" }, d),
    run(self, p, { "branch_pool" }, (last and self.max_s1 or self.avg):forward(x)) }
end

--- pool3 features (N, 2048·width) of x (N,3,299,299), already normalised ((x − 128)/128).
function Net:forward(x)
  base.expect_input(x, "InceptionV3", 4, "an (N,3,299,299) tensor")
  local h = run(self, "", { "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3" }, x)
  h = run(self, "", { "Conv2d_3b_1x1", "Conv2d_4a_3x3" }, self.pool_s2:forward(h))
  h = self.pool_s2:forward(h)
  for b, blk in ipairs(BLOCKS) do h = forward[blk[3]](self, blk[1] .. ".", h, b == #BLOCKS) end
  return self.gap:forward(h)
end

----------------------------------------------------------------- weights

-- The tensors of a conv under each naming scheme: weight, gamma (optional), beta, mean, var.
local SCHEMES = {
  { name = "pytorch-fid (torchvision names)", probe = "Conv2d_1a_3x3.conv.weight", prefix = "fid",
    keys = { weight = ".conv.weight", gamma = ".bn.weight", beta = ".bn.bias", mean = ".bn.running_mean",
      var = ".bn.running_var" } },
  { name = "NVlabs TorchScript (layers.*)", probe = "layers.conv.weight", prefix = "nv",
    keys = { weight = ".weight", gamma = ".gamma", beta = ".beta", mean = ".mean", var = ".var" } },
}
-- Tensors of the files that the features do not use: the classifier and BatchNorm counters.
local function unused(name)
  return name:match("^fc%.") or name:match("^output%.") or name:match("num_batches_tracked$")
end

local function shape_text(s) return "(" .. table.concat(s, ",") .. ")" end

--- Loads weights from tensors (name -> tensor, as read from a file) into net, folding each
-- BatchNorm (eps 1e-3) into its convolution; what = the file, for messages. Every
-- convolution's tensors must be there with the table's shapes; problems are listed
-- together. Returns net and the scheme's name.
function M.load_into(net, tensors, what)
  local scheme
  for _, s in ipairs(SCHEMES) do
    if tensors[s.probe] then scheme = s end
  end
  if not scheme then
    local names = {}
    for k in pairs(tensors) do names[#names + 1] = k end
    table.sort(names)
    raise(string.format("metrics.inception: %s holds no Inception-v3 weights in a known naming (neither %s nor %s; "
      .. "its tensors start %s)", what, SCHEMES[1].probe, SCHEMES[2].probe, table.concat(names, ", ", 1,
        math.min(4, #names))))
  end
  local problems, used = {}, {}
  local folds = {}
  for _, c in ipairs(net.table) do
    local prefix = c[scheme.prefix]
    local want = { weight = { c.cout, c.cin, c.k[1], c.k[2] }, gamma = { c.cout }, beta = { c.cout },
      mean = { c.cout }, var = { c.cout } }
    local got = {}
    for role, suffix in pairs(scheme.keys) do
      local name = prefix .. suffix
      local t = tensors[name]
      used[name] = true
      if t then
        if shape_text(t:shape()) ~= shape_text(want[role]) then
          problems[#problems + 1] = string.format("%s: shape %s, %s expected", name, shape_text(t:shape()),
            shape_text(want[role]))
        end
        got[role] = t
      elseif role ~= "gamma" then
        problems[#problems + 1] = name .. ": missing"
      end
    end
    folds[#folds + 1] = { c = c, t = got }
  end
  if #problems > 0 then
    local shown = { unpack(problems, 1, math.min(8, #problems)) }
    raise(string.format("metrics.inception: %s does not match the FID Inception-v3 (%s naming, width %g): %d "
      .. "problem%s:\n  %s%s", what, scheme.name, net.width, #problems, #problems == 1 and "" or "s",
      table.concat(shown, "\n  "), #problems > 8 and string.format("\n  … and %d more", #problems - 8) or ""))
  end
  local extra = {}
  for k in pairs(tensors) do
    if not used[k] and not unused(k) then extra[#extra + 1] = k end
  end
  if #extra > 0 then
    table.sort(extra)
    io.stderr:write(string.format("warning: metrics.inception: %s: %d tensors not used by the network (%s%s)\n", what,
      #extra, table.concat(extra, ", ", 1, math.min(4, #extra)), #extra > 4 and ", …" or ""))
  end
  for _, f in ipairs(folds) do
    local conv = net.units[f.c.fid].conv
    conv.weight:copy(f.t.weight)
    conv:fold_batchnorm { mean = f.t.mean, var = f.t.var, weight = f.t.gamma, bias = f.t.beta, eps = 1e-3 }
  end
  return net, scheme.name
end

--- The places the weights are looked for, in order (opts.weights first when given).
function M.search_paths(opts)
  local list = {}
  if opts and opts.weights then list[#list + 1] = opts.weights end
  local env = os.getenv("SS_INCEPTION")
  if env and env ~= "" then list[#list + 1] = env end
  list[#list + 1] = "/tmp/inception-2015-12-05.pt"
  local home = os.getenv("HOME") or ""
  local torch_home = os.getenv("TORCH_HOME")
  if not torch_home or torch_home == "" then
    local xdg = os.getenv("XDG_CACHE_HOME")
    torch_home = (xdg and xdg ~= "" and xdg or home .. "/.cache") .. "/torch"
  end
  for _, f in ipairs { "pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth" } do
    list[#list + 1] = torch_home .. "/hub/checkpoints/" .. f
  end
  list[#list + 1] = require("scalespace.metrics.features").cache_dir() .. "/inception-2015-12-05.safetensors"
  return list
end

M.HOW = "clean-fid downloads inception-2015-12-05.pt from https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/"
  .. "pretrained/metrics/inception-2015-12-05.pt to /tmp; pytorch-fid's pt_inception-2015-12-05-6726825d.pth is at "
  .. "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/ (torch hub puts it in "
  .. "~/.cache/torch/hub/checkpoints); download one yourself, or set SS_INCEPTION=<file>. Without them, "
  .. "network = \"fashion\" measures Fashion-MNIST-like images in a classifier trained here"

--- The first weights file that exists (nil and the list of places when none does).
function M.find_weights(opts)
  local places = M.search_paths(opts)
  if opts and opts.weights and not lib.file_exists(opts.weights) then
    raise("metrics.inception: weights " .. opts.weights .. " not found")
  end
  for _, p in ipairs(places) do
    if lib.file_exists(p) then return p end
  end
  return nil, places
end

--- The network with weights from path (a PyTorch file or a safetensors file): opts.width.
function M.load(path, opts)
  local tensors
  if path:match("%.safetensors$") then tensors = checkpoint.load(path) else tensors = checkpoint.load_torch(path) end
  local net, scheme = M.load_into(Net.new(opts), tensors, path)
  return net:evaluate(), scheme
end

--- The feature network of ss.metrics ("inception"): opts.weights, opts.device, opts.width.
-- With no weights found, an error lists the places looked at and how to get the file.
function M.network(opts)
  opts = opts or {}
  local path, places = M.find_weights(opts)
  if not path then
    raise("metrics.inception: no Inception-v3 weights found; looked at:\n  " .. table.concat(places, "\n  ")
      .. "\n" .. M.HOW .. ". Nothing is downloaded.")
  end
  local net, scheme = M.load(path, opts)
  local params = net:parameters()
  local hash = require("scalespace.dist").hash(params) -- of the folded weights: the statistics cache key
  if opts.device then net:to(opts.device) end
  return { name = "inception", metric = M.METRIC, dim = net.dim, batch = 16, module = net, source = path,
    scheme = scheme, weights = hash, input = { size = 299, channels = 3, shift = 128, scale = 128 },
    features = function(self, x) return self.module:forward(x) end }
end

return M
