-- errors_spec.lua — every public function, given a wrong type, NaN, an empty value or a
-- huge one, answers with an error that names the function and the argument or option in
-- the caller's terms (1-based, strings quoted), at the caller's line, before any work.
-- One row per call: {what it tries, a function making the call, text the message must hold}.
local ss = require "scalespace"

local nan, huge = 0 / 0, 1e300
local x4 = ss.zeros { 2, 1, 4, 4 }
local g = ss.rng(1)

local function ihdm() return ss.process.ihdm { size = 4, K = 3 } end
local function ddpm() return ss.process.ddpm { beta = ss.schedule.linear_beta(10), shape = { 1, 4, 4 } } end
local tiny = { ch = 4, mult = { 1, 2 }, num_res_blocks = 1, attn_res = {}, groups = 2, size = 4 }

local rows = {
  -- tensors
  { "zeros with a zero size", function() return ss.zeros { 3, 0 } end, "zeros: argument 1: size 2 must be a positive integer, got 0" },
  { "zeros with a string size", function() return ss.zeros { 3, "2" } end, 'zeros: argument 1: size 2 must be a positive integer, got string "2"' },
  { "empty with a huge shape", function() return ss.empty { 1e6, 1e6, 1e6 } end, "empty: argument 1: shape (1000000,1000000,1000000) holds 1e+18 values" },
  { "zeros with five sizes", function() return ss.zeros { 1, 1, 1, 1, 1 } end, "zeros: argument 1: a shape has 1 to 4 sizes, got 5" },
  { "full with a string value", function() return ss.full({ 2 }, "1") end, "full: argument 2: expected a number" },
  { "ones on a device that does not exist", function() return ss.ones({ 2 }, "tpu") end, 'ones: argument 2: device must be "cpu" or "cuda"' },
  { "from_table with a string", function() return ss.from_table { 1, "a" } end, "from_table: expected numbers, got string" },
  { "from_table that does not fill its shape", function() return ss.from_table({ 1, 2, 3 }, { 2, 2 }) end, "from_table: 3 values do not fill shape (2,2)" },
  { "arange of a string", function() return ss.arange("3") end, 'arange: argument 1: expected a number, got string "3"' },
  { "arange with a zero step", function() return ss.arange(0, 3, 0) end, "arange: argument 3: expected a nonzero step, got 0" },
  { "cat of nothing", function() return ss.cat({}, 1) end, "cat: argument 1: expected a non-empty list of tensors" },
  { "dot of a tensor and nil", function() return ss.dot(x4, nil) end, "dot: argument 2: expected a tensor, got nil" },
  { "index past the end", function() return ss.ones { 3, 2 }:index { 7 } end, "index: row 7 is outside 1..3" },
  { "narrow past the end", function() return ss.ones { 3, 2 }:narrow(1, 3, 5) end, "narrow: rows 3..7 of dimension 1 are outside 1..3" },
  { "narrow in the old spelling", function() return ss.ones { 3, 2 }:narrow(3, 5) end, "narrow: takes (dim, first, n)" },
  { "get with a zero index", function() return ss.ones { 3, 2 }:get(0, 1) end, "get: index 1 is 0, outside 1..3" },
  { "reshape to another size", function() return x4:reshape { 3, 3 } end, "reshape" },
  { "transpose of a dimension that is not there", function() return x4:transpose(1, 5) end, "transpose: dimension 5 is outside 1..4" },
  { "pad with a string mode", function() return x4:pad({ 1, 1 }, { mode = "mirror" }) end, 'pad: mode must be "zero", "reflect" or "replicate"' },
  { "fill with nil", function() return x4:clone():fill(nil) end, "fill: argument 1: expected a number, got nil" },
  { "add_ of a string", function() return x4:clone():add_("1") end, 'add_: argument 1: expected a tensor or a number, got string "1"' },
  { "tensors that do not broadcast", function() return x4 + ss.ones { 3 } end, "add: shapes (2,1,4,4) and (3) do not broadcast" },
  { "to a device that does not exist", function() return x4:to("gpu") end, 'to: argument 1: device must be "cpu" or "cuda", got gpu' },
  -- random numbers
  { "rng with a table seed", function() return ss.rng {} end, "rng: argument 1: expected a seed number, got table" },
  { "normal with a NaN mean", function() return g:normal({ 2 }, nan) end, "normal: mean (argument 2) must be a finite number, got nan" },
  { "normal with a negative std", function() return g:normal({ 2 }, 0, -1) end, "normal: std (argument 3) must be a finite number >= 0, got -1" },
  { "uniform with lo > hi", function() return g:uniform({ 2 }, 1, 0) end, "uniform: needs lo <= hi, got lo = 1, hi = 0" },
  { "bernoulli without p", function() return g:bernoulli { 2 } end, "bernoulli: argument 2: expected a probability, got nil" },
  { "perm of -1", function() return g:perm(-1) end, "perm: n (argument 1) must be a whole number in [1, 2147483648], got -1" },
  { "randint with lo > hi", function() return g:randint(3, 5, 1) end, "randint: needs lo <= hi (the range is inclusive), got lo = 5, hi = 1" },
  { "randint of a huge count", function() return g:randint(1e12, 1, 2) end, "randint: n (argument 1) must be a whole number in [1, 2147483648], got 1e+12" },
  -- images and data
  { "image.load of a number", function() return ss.image.load(5) end, "image.load: argument 1: expected a file path, got 5" },
  { "image.load of a missing file", function() return ss.image.load("/nonexistent/x.png") end, "/nonexistent/x.png: cannot open" },
  { "image.save_grid of a 3-D tensor", function() return ss.image.save_grid("/tmp/ss_err.png", ss.zeros { 1, 4, 4 }) end, "image.save_grid: argument 2: expected an (N,C,H,W) batch, got (1,4,4)" },
  { "image.save_grid with a bad range", function() return ss.image.save_grid("/tmp/ss_err.png", x4, { range = { 1, 0 } }) end, "image.save_grid: range must be {lo, hi} with lo < hi" },
  { "fashion_mnist with an unknown split", function() return ss.data.fashion_mnist { split = "val" } end, 'fashion_mnist: split must be "train" or "test", got string "val"' },
  { "data.folder of a number", function() return ss.data.folder(3) end, "data.folder: argument 1: expected a directory path, got 3" },
  { "batches of size 0", function() return ss.data.from_tensors(x4):batches { size = 0 } end, "batches: size must be a whole number >= 1, got 0" },
  { "batches shuffled without a generator", function() return ss.data.from_tensors(x4):batches { shuffle = true } end, "batches: shuffle and flip need opts.rng" },
  -- operators
  { "op.heat with a string size", function() return ss.op.heat { size = "8", t = 1 } end, 'op.heat: size must be a size n or {h, w}, got "8"' },
  { "op.heat with the old h, w keys", function() return ss.op.heat { h = 8, w = 8, t = 1 } end, "op.heat: the image size is size = n or size = {h, w}" },
  { "op.heat with NaN time", function() return ss.op.heat { size = 8, t = nan } end, "op.heat: t must be a finite number >= 0, got nan" },
  { "op.blur with a negative sigma", function() return ss.op.blur { size = 8, sigma = -1 } end, "op.blur: sigma must be a finite number >= 0, got -1" },
  { "op.dct2 with a size of 0", function() return ss.op.dct2 { size = 0 } end, "op.dct2: size[1] must be a positive integer, got 0" },
  { "op.resize with an unknown mode", function() return ss.op.resize { from = 8, to = 4, mode = "lanczos" } end, 'op.resize: mode must be "bilinear", "bicubic", "area" or "nearest", got "lanczos"' },
  { "a huge operator on a small input", function() return ss.op.dct2 { size = 100000 }(ss.ones { 4, 4 }) end, "apply: operator 'dct2' takes (…,100000,100000), got (4,4)" },
  { "op.new without an adjoint", function() return ss.op.new { apply = function(v) return v end, in_shape = { 4, 4 }, out_shape = { 4, 4 } } end, "op.new: argument 1: expected {apply = function, adjoint = function" },
  { "op.check of a tensor", function() return ss.op.check(x4) end, "op.check: argument 1: expected an operator, got a tensor (2,1,4,4)" },
  -- solvers
  { "bicgstab with a huge maxiter", function() return ss.linalg.bicgstab(ss.op.identity { size = 4 }, x4, { maxiter = 1e12 }) end, "linalg.bicgstab: maxiter must be a whole number in [0, 2147483647], got 1e+12" },
  { "cg with a NaN tolerance", function() return ss.linalg.cg(ss.op.identity { size = 4 }, x4, { tol = nan }) end, "linalg.cg: tol must be a finite number >= 0, got nan" },
  { "bicgstab of a string", function() return ss.linalg.bicgstab(ss.op.identity { size = 4 }, "b") end, 'linalg.bicgstab: argument 2: expected a tensor, got string "b"' },
  { "lanczos with k = 0", function() return ss.linalg.lanczos(ss.op.identity { size = 4 }, x4, "sqrt", { k = 0 }) end, "linalg.lanczos: k (Lanczos steps) must be a whole number in [1, 2147483647], got 0" },
  { "lanczos with an unknown function", function() return ss.linalg.lanczos(ss.op.identity { size = 4 }, x4, "log") end, 'linalg.lanczos: f must be "sqrt", "invsqrt", "exp" or a function' },
  { "power_iteration of -1 iterations", function() return ss.linalg.power_iteration(ss.op.identity { size = 4 }, { iterations = -1 }) end, "linalg.power_iteration: iterations must be a whole number in [1, 2147483647], got -1" },
  { "noise_guidance without a generator", function() return ss.osmosis.noise_guidance(x4) end, "osmosis.noise_guidance: argument 2: expected {rng = ss.rng(seed), sigma = 0.1}, got nil" },
  { "osmosis.evolve with tau 0", function() return ss.osmosis.evolve(x4, x4 + 1, { tau = 0, times = { 1 } }) end, "osmosis.evolve: tau must be a positive number" },
  -- processes and schedules
  { "ddpm with β above 1", function() return ss.process.ddpm { beta = { 2, 3 } } end, "ss.process.ddpm: beta[1] = 2 is outside (0, 1)" },
  { "ddpm with a negative β", function() return ss.process.ddpm { beta = { -0.5, 0.1 } } end, "ss.process.ddpm: beta[1] = -0.5 is outside (0, 1)" },
  { "ddpm with no β", function() return ss.process.ddpm { beta = {} } end, "ss.process.ddpm: #beta (the number of steps) must be a whole number >= 1, got 0" },
  { "ddpm with NaN σ", function() return ss.process.ddpm { T = 3, sigma = nan } end, "ss.process.ddpm: sigma[1] = nan is outside [0, 1]" },
  { "ddpm with T = 0", function() return ss.process.ddpm { T = 0, sigma = 0.1 } end, "ss.process.ddpm: T must be a whole number >= 1, got 0" },
  { "ihdm of size 0", function() return ss.process.ihdm { size = 0 } end, "ss.process.ihdm: size must be a whole number >= 2 or {h, w} of them, got 0" },
  { "ihdm with K = 0", function() return ss.process.ihdm { size = 8, K = 0 } end, "ss.process.ihdm: K must be a whole number >= 1, got 0" },
  { "blurring of an unknown form", function() return ss.process.blurring { size = 8, form = "cold" } end, 'form must be "hoogeboom" or "peter"' },
  { "ssd with β outside (0, 1)", function() return ss.process.ssd { size = 8, T = 2, beta = { 0.1, 1 } } end, "ss.process.ssd: beta[2] = 1 is outside (0, 1)" },
  { "an unknown process", function() return ss.process.new("cold_diffusion", {}) end, "no process is registered as 'cold_diffusion' (registered: " },
  { "a marginal at a time past T", function() return ihdm():marginal(x4, 9, g) end, "ihdm.marginal: t must be an integer in [0, 3], got 9" },
  { "a marginal with a string time", function() return ihdm():marginal(x4, "2", g) end, 'ihdm.marginal: t must be an integer in [0, 3], got "2"' },
  { "a marginal of the wrong image size", function() return ihdm():marginal(ss.zeros { 1, 1, 5, 5 }, 2, g) end, "ihdm.marginal: images are 5x5, the process is for 4x4" },
  { "a batch of times of the wrong length", function() return ihdm():marginal(x4, { 1, 2, 3 }, g) end, "ihdm.marginal: 3 times for a batch of 2" },
  { "noise of the wrong shape", function() return ddpm():marginal(x4, 2, ss.zeros { 1, 1, 2, 2 }) end, "noise has shape (1,1,2,2), expected (2,1,4,4)" },
  { "a training example with an unknown prediction", function() return ddpm():training_example(x4, { 1, 2 }, x4, { prediction = "v" }) end, 'ddpm.training_example: prediction "v" is not one ddpm learns (eps, x0)' },
  { "a process that cannot be stored", function() return ss.process.linear { size = 4, T = 1, step_op = function() return 1 end, std = function() return 0.1 end }:descriptor() end, "process linear: option options.std is a function" },
  { "linear_beta with β above 1", function() return ss.schedule.linear_beta(10, 0.5, 2) end, "schedule.linear_beta: argument 3: β must be in (0, 1), got 2" },
  { "ihdm_sigma with 0 levels", function() return ss.schedule.ihdm_sigma(0) end, "schedule.ihdm_sigma: argument 1: expected a step count T >= 1, got 0" },
  -- networks and optimisers
  { "Conv2d with a kernel of 0", function() return ss.nn.Conv2d(1, 2, 0) end, "nn.Conv2d: argument 3: expected a whole number >= 1 or a pair {h, w} of them, got 0" },
  { "Conv2d:forward of a string", function() return ss.nn.Conv2d(1, 2, 3):forward("x") end, 'nn.Conv2d:forward: argument 1: expected an (N,C,H,W) tensor, got string' },
  { "GroupNorm that does not split", function() return ss.nn.GroupNorm(3, 4) end, "nn.GroupNorm: 4 channels do not split into 3 groups" },
  { "UNet with an unknown key", function() return ss.nn.UNet { chanels = 3 } end, "nn.UNet: unknown config key 'chanels' (known: " },
  { "UNet:forward of a 3-D tensor", function() return ss.nn.UNet(tiny):forward(ss.zeros { 1, 4, 4 }, 1) end, "UNet:forward: argument 1: expected an (N,1,H,W) tensor, got (1,4,4)" },
  { "Dropout with p = 1", function() return ss.nn.Dropout(1) end, "nn.Dropout: argument 1: expected a probability in [0, 1), got 1" },
  { "Adam of nothing", function() return ss.optim.Adam({}, {}) end, "optim.Adam: argument 1: expected a non-empty list of parameters" },
  { "mse of a tensor and nil", function() return ss.nn.mse(x4, nil) end, "nn.mse: argument 2: expected a tensor, got nil" },
  -- checkpoints
  { "checkpoint.load of a number", function() return ss.checkpoint.load(5) end, "checkpoint.load: argument 1: expected a file path, got 5" },
  { "checkpoint.load of a missing file", function() return ss.checkpoint.load("/nonexistent/c.safetensors") end, "/nonexistent/c.safetensors" },
  { "checkpoint.save of a non-tensor", function() return ss.checkpoint.save("/tmp/ss_err.safetensors", { w = 3 }) end, "checkpoint.save" },
  { "load_weights into a string", function() return ss.checkpoint.load_weights("/tmp/x.safetensors", "net") end, "checkpoint.load_weights: argument 2: expected a network (ss.nn), got string" },
  { "load_weights of an unknown part", function() return ss.checkpoint.load_weights("/tmp/x.safetensors", {}, { which = "best" }) end, 'checkpoint.load_weights: which must be "ema" or "model", got "best"' },
  { "load_torch of a missing file", function() return ss.checkpoint.load_torch("/nonexistent/w.pt") end, "/nonexistent/w.pt" },
  -- training and sampling
  { "train.run with an unknown key", function() return ss.train.run(ihdm(), ss.nn.UNet(tiny), x4, { steps = 1, lerning_rate = 1 }) end, "train: unknown config key 'lerning_rate'" },
  { "train.run with a string batch", function() return ss.train.run(ihdm(), ss.nn.UNet(tiny), x4, { steps = 1, batch = "8" }) end, "train: config key 'batch' must be a number, got string" },
  { "train.run of a process that learns nothing", function() return ss.train.run(ss.process.heat { size = 4, K = 2 }, ss.nn.UNet(tiny), x4, { steps = 1 }) end, "no learned reverse process for 'heat'" },
  { "train.run with a batch larger than the data", function() return ss.train.run(ihdm(), ss.nn.UNet(tiny), x4, { steps = 1, batch = 8, out = "/tmp/ss_err_run" }) end, "train: batch 8 is larger than the data (2 images)" },
  { "train.run into a path that cannot be a directory", function() return ss.train.run(ihdm(), ss.nn.UNet(tiny), x4, { steps = 1, batch = 2, out = "/etc/passwd/x", progress = false }) end, "train: cannot create /etc/passwd/x: Not a directory" },
  { "sample.run with an unknown option", function() return ss.sample.run(ddpm(), ss.nn.UNet(tiny), { stpes = 3 }) end, "sample.run: unknown option 'stpes'" },
  { "sample.run with a method the process lacks", function() return ss.sample.run(ihdm(), ss.nn.UNet(tiny), { method = "ddim" }) end, 'sample.run: method "ddim" is not one ihdm offers (ancestral)' },
  { "sample.run respaced where the process cannot", function() return ss.sample.run(ihdm(), ss.nn.UNet(tiny), { steps = 2, data = x4 }) end, "it cannot skip steps" },
  { "sample.run of a string network", function() return ss.sample.run(ddpm(), "net") end, 'sample.run: argument 2: expected a network, got string "net"' },
  -- files and plots
  { "write_csv of a row that is a number", function() return ss.plot.write_csv("/tmp/ss_err.csv", { "a" }, { { 1 }, 2 }) end, "row 2: expected a table, got number" },
  { "mkdir under a file", function() return ss.mkdir("/etc/passwd/x") end, "mkdir: cannot create /etc/passwd/x: Not a directory" },
}

describe("bad input", function()
  it("gets a clear error naming the function and the argument, at the caller's line", function()
    local bad = {}
    for i, row in ipairs(rows) do
      local ok, err = pcall(row[2])
      err = tostring(err)
      if ok then
        bad[#bad + 1] = string.format("%d. %s: no error", i, row[1])
      elseif not err:find(row[3], 1, true) then
        bad[#bad + 1] = string.format("%d. %s:\n     got  %s\n     want %s", i, row[1], err, row[3])
      elseif not err:find("errors_spec.lua:%d+: ") then
        bad[#bad + 1] = string.format("%d. %s: not at the caller's line: %s", i, row[1], err)
      end
    end
    print(string.format("  %d bad calls tried, %d answered as expected", #rows, #rows - #bad))
    assert(#bad == 0, "\n" .. table.concat(bad, "\n"))
  end)
end)
