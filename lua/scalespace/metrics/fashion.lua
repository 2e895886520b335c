--- scalespace.metrics.fashion — a feature network that needs no download: a small CNN
-- classifier of Fashion-MNIST trained with scalespace itself (examples/fashion_classifier.lua
-- or M.train), whose penultimate layer gives the features. Inception-v3 on 28×28 grey
-- images up-sampled to 299 is a poor instrument, and its weights may be absent; distances
-- in this network's features are called "FD (Fashion-MNIST classifier)", never FID.
--
-- The network: conv 3×3 stride 2 (1 → c1) · SiLU · conv 3×3 stride 2 (c1 → c2) · SiLU ·
-- linear (c2·7·7 → hidden) · SiLU [the features] · linear (hidden → 10). Inputs are 28×28
-- grey images in [0, 1] (the metric pipeline quantises to 8 bits first, as the data are).
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local json = require "scalespace.json"
local base = require "scalespace.nn.module"
local nn = require "scalespace.nn"
local checkpoint = require "scalespace.checkpoint"
local raise = lib.raise

local M = {}
M.FORMAT = "scalespace-fashion-classifier/1"
M.METRIC = "FD (Fashion-MNIST classifier)"
M.defaults = { ch = { 8, 16 }, hidden = 64, epochs = 10, batch = 64, lr = 3e-3, seed = 1 }

local Net = base.class("FashionClassifier")
M.Net = Net

--- The classifier with fresh weights: opts.ch ({c1, c2}), opts.hidden, opts.rng.
function Net.new(opts)
  opts = opts or {}
  local ch, hidden = opts.ch or M.defaults.ch, opts.hidden or M.defaults.hidden
  local self = base.new(Net)
  self.config = { ch = { ch[1], ch[2] }, hidden = hidden }
  local g = base.init_rng(opts)
  self:add("conv1", nn.Conv2d(1, ch[1], 3, { stride = 2, padding = 1, rng = g }))
  self:add("act1", nn.SiLU())
  self:add("conv2", nn.Conv2d(ch[1], ch[2], 3, { stride = 2, padding = 1, rng = g }))
  self:add("act2", nn.SiLU())
  self:add("fc1", nn.Linear(ch[2] * 49, hidden, { rng = g }))
  self:add("act3", nn.SiLU())
  self:add("fc2", nn.Linear(hidden, 10, { rng = g }))
  return self
end

--- The penultimate activations (N, hidden) of images x (N,1,28,28) (the module's buffer).
function Net:penultimate(x)
  base.expect_input(x, "FashionClassifier", 4, "an (N,1,28,28) tensor")
  local s = x:shape()
  if s[2] ~= 1 or s[3] ~= 28 or s[4] ~= 28 then
    raise("FashionClassifier: expected (N,1,28,28) images, got " .. tensor.shape_string(s))
  end
  local t = {}
  t.c1 = self.conv1:forward(x)
  t.a1 = self.act1:forward(t.c1)
  t.c2 = self.conv2:forward(t.a1)
  t.a2 = self.act2:forward(t.c2)
  t.flat = t.a2:reshape { s[1], self.config.ch[2] * 49 }
  t.f1 = self.fc1:forward(t.flat)
  t.a3 = self.act3:forward(t.f1)
  self._t = t
  return t.a3
end

--- The logits (N, 10).
function Net:forward(x) return self.fc2:forward(self:penultimate(x)) end

--- Adds the parameter gradients of the last forward's loss (gout = ∂L/∂logits); the
-- images get none.
function Net:backward(x, gout)
  local t = self._t
  local g = self.fc2:backward(t.a3, gout)
  g = self.fc1:backward(t.flat, self.act3:backward(t.f1, g))
  g = self.act2:backward(t.c2, g:reshape(t.a2:shape()))
  g = self.act1:backward(t.c1, self.conv2:backward(t.a1, g))
  self.conv1.no_input_grad = true
  self.conv1:backward(x, g)
end

----------------------------------------------------------------- weights

--- The weights that ship with scalespace, beside this file: examples/fashion_classifier.lua
-- with its defaults (seed 1, 10 epochs; 90.29 % test accuracy). One network for everybody,
-- so that FDs measured on different machines compare (a retraining elsewhere rounds
-- differently and gives other features), as clean-fid pins one Inception.
function M.shipped_path()
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/") or "."
  return dir .. "/fashion_classifier.safetensors"
end

--- Where the weights are read by default: $SS_FASHION_CLASSIFIER, else the shipped file.
function M.default_path()
  local env = os.getenv("SS_FASHION_CLASSIFIER")
  if env and env ~= "" then return env end
  return M.shipped_path()
end

--- Where examples/fashion_classifier.lua writes a retrained classifier by default.
function M.cache_path()
  return require("scalespace.metrics.features").cache_dir() .. "/fashion_classifier.safetensors"
end

--- The command that makes the weights, for messages.
M.HOW = "build/scalespace examples/fashion_classifier.lua (about 25 s on 2 cores)"

--- Saves a trained classifier (atomically) with its config and test accuracy.
function M.save(path, net, meta)
  local m = { format = M.FORMAT, config = json.encode(net.config) }
  for k, v in pairs(meta or {}) do m[k] = v end
  return checkpoint.save(path, net:state_dict(), m)
end

--- The classifier saved at path (default M.default_path()), and the file's metadata.
function M.load(path)
  path = path or M.default_path()
  if not lib.file_exists(path) then
    raise(string.format("metrics: the Fashion-MNIST classifier's weights are not at %s; make them with %s (or "
      .. "set SS_FASHION_CLASSIFIER to a file it wrote)", path, M.HOW))
  end
  local meta = checkpoint.meta(path)
  if meta.format ~= M.FORMAT then
    raise(string.format("metrics: %s is not a Fashion-MNIST classifier (format %s); make one with %s", path,
      tostring(meta.format), M.HOW))
  end
  local net = Net.new(json.decode(meta.config, "metrics: " .. path .. ": config"))
  checkpoint.load_into(path, net:state_dict())
  return net:evaluate(), meta
end

--- The fraction of images (N,1,28,28) in [0, 1] whose labels (N) the classifier predicts.
function M.accuracy(net, images, labels, batch)
  batch = batch or 1000
  local correct, n = 0, #images
  for first = 1, n, batch do
    local b = math.min(batch, n - first + 1)
    local logits = net:forward(images:narrow(1, first, b)):values()
    local y = labels:narrow(1, first, b):values()
    for i = 0, b - 1 do
      local best = 1
      for k = 2, 10 do
        if logits[i * 10 + k] > logits[i * 10 + best] then best = k end
      end
      if best - 1 == y[i + 1] then correct = correct + 1 end
    end
  end
  return correct / n
end

--- Trains the classifier on the Fashion-MNIST training split and measures it on the test
-- split: opts.epochs, batch, lr (Adam, cosine decay to 0), seed, ch, hidden (M.defaults),
-- limit (the first n training images), progress (false: no bar), out (a path to save to).
-- Returns the network and {accuracy=, seconds=, steps=, loss= (the last 100 steps' mean)}.
function M.train(opts)
  opts = opts or {}
  local d = M.defaults
  local epochs, batch, lr, seed = opts.epochs or d.epochs, opts.batch or d.batch, opts.lr or d.lr, opts.seed or d.seed
  local data = require "scalespace.data"
  local optim = require "scalespace.optim"
  local progress = require "scalespace.progress"
  local train = data.fashion_mnist { split = "train", limit = opts.limit }
  local test = data.fashion_mnist { split = "test" }
  local net = Net.new { ch = opts.ch, hidden = opts.hidden, rng = tensor.rng(seed) }
  local params, grads = net:parameters()
  local opt = optim.Adam(params, grads, { lr = lr })
  local per_epoch = math.floor(train.n / batch)
  local total = epochs * per_epoch
  local bar = opts.progress ~= false and progress.new { total = total, desc = "fashion classifier" } or nil
  local t0, recent, step = progress.clock(), {}, 0
  for x, y in train:batches { size = batch, shuffle = true, seed = seed, epochs = epochs } do
    step = step + 1
    opt.lr = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / total))
    net:zero_grad()
    local logits = net:forward(x)
    recent[(step - 1) % 100 + 1] = nn.cross_entropy(logits, y)
    net:backward(x, nn.cross_entropy_backward(logits, y))
    opt:step()
    if bar and (step % 50 == 0 or step == total) then bar:update(step, { loss = recent[(step - 1) % 100 + 1] }) end
  end
  if bar then bar:close() end
  net:evaluate()
  local loss = 0
  for _, v in ipairs(recent) do loss = loss + v / #recent end
  local info = { accuracy = M.accuracy(net, test.images, test.labels), seconds = progress.clock() - t0, steps = step,
    loss = loss }
  if opts.out then
    require("scalespace.ffi").mkdir_p(opts.out:match("^(.*)/[^/]*$") or ".", "metrics.fashion.train")
    M.save(opts.out, net, { test_accuracy = info.accuracy, epochs = epochs, seed = seed, steps = step })
  end
  return net, info
end

----------------------------------------------------------------- the metric's network

--- The feature network of ss.metrics ("fashion"): opts.weights (a path; default
-- M.default_path()), opts.device. Features are the penultimate layer's activations.
function M.network(opts)
  opts = opts or {}
  local path = opts.weights or M.default_path()
  local net, meta = M.load(path)
  if opts.device then net:to(opts.device) end
  local dist = require "scalespace.dist"
  local params = net:parameters()
  return { name = "fashion", metric = M.METRIC, dim = net.config.hidden, batch = 1000, module = net, source = path,
    input = { size = 28, channels = 1, shift = 0, scale = 255 }, weights = dist.hash(params),
    accuracy = tonumber(meta.test_accuracy),
    features = function(self, x) return self.module:penultimate(x) end }
end

return M
