--- scalespace.train — one training loop for every process that can be learned.
--
--   local result = ss.train.run(P, net, data, {steps = 20000, batch = 32, out = "runs/ihdm"})
--
-- The process decides what is learned (the process protocol, ss.process): the times of
-- a batch (P:sample_times), the noise's shape (P:noise_shape) and the training example —
-- the network's input, its target, per-sample weights, the loss reduction and the output
-- size (P:training_example). Around it: Adam with warm-up and gradient clipping, an EMA of
-- the weights, a progress line, sample grids and checkpoints every N steps, the loss as
-- CSV and PNG. A run resumes from its checkpoint exactly (the same losses, bit for bit); a
-- Ctrl-C finishes the current step, writes a checkpoint and returns; a non-finite loss
-- stops the run before the weights change, naming the step.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local nn = require "scalespace.nn"
local optim = require "scalespace.optim"
local checkpoint = require "scalespace.checkpoint"
local progress = require "scalespace.progress"
local plot = require "scalespace.plot"
local sample = require "scalespace.sample"
local image = require "scalespace.image"
local data_mod = require "scalespace.data"
local dist = require "scalespace.dist"
local C, raise, arg_error = lib.C, lib.raise, lib.arg_error

local M = {}

-- Config keys: their type and default. `math` keys change the numbers of a run: they are
-- saved in the checkpoint and a resume with other values is refused.
local schema = {
  steps = { "number" }, batch = { "number", 32, math = true }, lr = { "number", 2e-4, math = true },
  betas = { "table", { 0.9, 0.999 }, math = true }, adam_eps = { "number", 1e-8, math = true },
  weight_decay = { "number", 0, math = true }, warmup = { "number", 0, math = true },
  clip = { "number|boolean", 1.0, math = true }, ema = { "number", 0.999, math = true },
  seed = { "number", 0, math = true }, prediction = { "string", nil, math = true },
  min_snr = { "number|boolean", nil, math = true }, flip = { "boolean", false, math = true },
  out = { "string" }, log_every = { "number", 10 }, sample_every = { "number", 0 },
  checkpoint_every = { "number", 0 }, samples = { "number", 16 }, sample_steps = { "number" },
  data_range = { "table", { 0, 1 }, math = true }, resume = { "boolean", true }, progress = { "boolean", true },
  on_step = { "function" }, device = { "string", "cpu" }, check_every = { "number", 100 },
}

--- The config with defaults filled in (prediction and min_snr from the process's
-- capabilities); an unknown key or a wrong type is an error naming it, raised before
-- anything runs.
function M.config(cfg, P)
  if type(cfg) ~= "table" then arg_error("train.run", 4, "a config table", cfg) end
  local c = {}
  for k, v in pairs(cfg) do
    local s = schema[k]
    if not s then
      local names = {}
      for name in pairs(schema) do names[#names + 1] = name end
      table.sort(names)
      raise(string.format("train: unknown config key '%s' (known: %s)", tostring(k), table.concat(names, ", ")))
    end
    if not s[1]:find(type(v), 1, true) then
      raise(string.format("train: config key '%s' must be a %s, got %s", k, s[1]:gsub("|", " or "), lib.typename(v)))
    end
    c[k] = v
  end
  for k, s in pairs(schema) do
    if c[k] == nil then c[k] = s[2] end
  end
  if not c.steps or c.steps < 1 or c.steps % 1 ~= 0 then raise("train: config key 'steps' must be a whole number >= 1") end
  if c.batch < 1 or c.batch % 1 ~= 0 then raise("train: config key 'batch' must be a whole number >= 1") end
  if c.check_every < 0 or c.check_every % 1 ~= 0 then
    raise("train: config key 'check_every' must be a whole number >= 0")
  end
  if c.clip == true then raise("train: config key 'clip' must be a number or false") end
  if c.min_snr == true then raise("train: config key 'min_snr' must be a number or false") end
  if c.device ~= "cpu" and c.device ~= "cuda" then
    raise('train: config key \'device\' must be "cpu" or "cuda", got "' .. c.device .. '"')
  end
  if type(P) ~= "table" or type(P.capabilities) ~= "function" then
    arg_error("train.run", 1, "a process (ss.process.*)", P)
  end
  local caps = P:capabilities()
  if #caps.predictions == 0 then
    raise(string.format("train: no learned reverse process for '%s' (it defines no training_example and "
      .. "reverse_step; see README \"Extending scalespace\")", P.name))
  end
  c.prediction = c.prediction or caps.predictions[1]
  local known = false
  for _, p in ipairs(caps.predictions) do known = known or p == c.prediction end
  if not known then
    raise(string.format("train: config key 'prediction' is \"%s\", but %s learns %s", c.prediction, P.name,
      table.concat(caps.predictions, " or ")))
  end
  if c.min_snr == nil then c.min_snr = caps.min_snr end
  c.out = c.out or ("runs/" .. P.name)
  return c
end

--------------------------------------------------------------- the loop

-- The settings a checkpoint must agree on to be resumed.
local function saved_config(c, P, net)
  local t = {}
  for k, s in pairs(schema) do
    if s.math then t[k] = c[k] end
  end
  -- the registry rebuilds the process from its descriptor, the nn module table the network
  return { train = t, process = P:descriptor(), net = { class = net.__name, config = net.config } }
end

-- The distributed world that an ss.train.run started itself has ended with that run.
local world_ended = false

-- Joins the ranks when a launcher (mpirun, srun) started several: returns true when this
-- call started the world (the script never called ss.dist.init), which then ends with it.
local function join_world()
  if not dist.launched() or dist.initialized() then return false end
  if world_ended then
    raise("train: the distributed run ended with the ss.train.run that started it (the other ranks have exited); "
      .. "to train more than once across ranks, call ss.dist.init() at the top of the script")
  end
  dist.init()
  return true
end

--- This rank's share of a global batch of `batch` rows over `world` ranks: the rows
-- before it and its number of rows (contiguous, in rank order; the counts differ by at
-- most one). rank is 0-based, as ss.dist.rank().
function M.batch_part(batch, rank, world)
  local first = math.floor(rank * batch / world)
  return first, math.floor((rank + 1) * batch / world) - first
end

--- Trains net on data for the process P. data: an ss.data set or an (N,C,H,W) tensor,
-- in the range the process expects. cfg keys (defaults): steps (required), batch (32),
-- lr (2e-4), betas ({0.9, 0.999}), adam_eps (1e-8), weight_decay (0), warmup (0 steps),
-- clip (1.0; false: none), ema (0.999, with IHDM's warm-up), seed (0), prediction (the
-- process's default: P:capabilities().predictions[1]), min_snr (the process's default;
-- a number, or false: none), flip (false: mirror images at random), out
-- ("runs/<process>"), log_every (10), sample_every and checkpoint_every (0: at the end
-- only), samples (16), sample_steps (the sampler's steps for the grids), data_range ({0,
-- 1}, the data's range, mapped to [0, 1] for the grids), resume (true), progress (true),
-- on_step (a function (step, loss) called after each step), device ("cpu" | "cuda"),
-- check_every (100: in a distributed run, the steps between two comparisons of the
-- ranks' weights; 0: only at the end).
-- Writes out/checkpoint.safetensors, out/loss.csv, out/loss.png (when gnuplot is there)
-- and out/samples_<step>.png. Returns {step =, losses = {[step] = loss} (the steps of
-- this call), checkpoint =, interrupted =, seconds =}.
--
-- Started by mpirun or srun as several ranks (README "Scaling out"), the run is
-- data-parallel with no change to the script: batch is the global batch, and each rank
-- trains on its rows of it (M.batch_part) — the images, times and noise one process
-- would draw, every rank drawing the whole batch's from the shared generators and
-- keeping its rows (dropout masks too, through Module:set_batch_part). The ranks start
-- from rank 0's weights (or its checkpoint), sum their loss-weighted gradients in one
-- all-reduce per step before clipping and Adam, and compare a hash of their weights
-- every check_every steps. Losses are the global batch's. Only rank 0 writes the
-- checkpoint, pictures, CSV and progress bar; an interrupt on any rank (Ctrl-C on it,
-- or SIGUSR1 on mpirun, which passes it on) stops every rank after the same step, with a
-- checkpoint. A checkpoint resumes with any number of ranks. When this call started the
-- distributed world (the script never called ss.dist.init) it also ends it: MPI is
-- finalized, the other ranks exit, and the rest of the script runs on rank 0 alone.
function M.run(P, net, data, cfg)
  local c = M.config(cfg, P)
  if type(net) ~= "table" or type(net.forward) ~= "function" then arg_error("train.run", 2, "a network (ss.nn)", net) end
  local ds = data
  if tensor.is_tensor(data) and data:dim() == 4 then ds = data_mod.from_tensors(data) end
  if type(ds) ~= "table" or not tensor.is_tensor(ds.images) then
    arg_error("train.run", 3, "a data set or an (N,C,H,W) tensor", data)
  end
  local images = ds.images
  if c.batch > ds.n then raise(string.format("train: batch %d is larger than the data (%d images)", c.batch, ds.n)) end
  local descriptor = saved_config(c, P, net) -- a process a checkpoint cannot rebuild fails here, before any work
  local owns_world = join_world()
  local world, rank = dist.size(), dist.rank()
  local root = rank == 0
  if c.batch < world then
    raise(string.format("train: batch %d cannot be split across %d ranks (batch is the global batch: each rank "
      .. "needs at least one of its images)", c.batch, world))
  end
  local first, n = M.batch_part(c.batch, rank, world)
  local ckpt, csv = c.out .. "/checkpoint.safetensors", c.out .. "/loss.csv"
  -- f on rank 0 alone (the files are its job); its error stops every rank with its message
  local function on_root(f)
    if world == 1 then return f() end
    local ok, err = true, nil
    if root then ok, err = pcall(f) end
    local msg = dist.broadcast_string(ok and "" or tostring(err), 0)
    if msg ~= "" then error(msg, 0) end
  end
  on_root(function() lib.mkdir_p(c.out, "train") end)

  -- the weights, the process's tensors and every batch live on c.device; the data and
  -- the pictures stay on the cpu
  if c.device == "cuda" and world > 1 then dist.use_local_gpu() end -- one GPU per rank
  if net.device ~= c.device then net:to(c.device) end
  if (P.device or "cpu") ~= c.device then P:to(c.device) end
  if world > 1 then net:flatten_grads() end -- all-reduced where they lie
  local params, grads = net:parameters()
  local opt = optim.Adam(params, grads, { lr = c.lr, betas = c.betas, eps = c.adam_eps,
    weight_decay = c.weight_decay, warmup = c.warmup, clip = c.clip or nil })
  local ema = optim.EMA(params, c.ema)
  local g = tensor.rng(c.seed)
  local state = { model = net, ema = ema, optim = opt, rng = g, config = descriptor }
  local start, seconds0, rows, saved_ranks = 0, 0, {}, nil
  local has_ckpt = false
  on_root(function()
    if c.resume and lib.file_exists(ckpt) then
      local step, meta = checkpoint.load_state(ckpt, state)
      start, seconds0 = step or 0, tonumber(meta["train.seconds"]) or 0
      saved_ranks = tonumber(meta["train.ranks"])
      if lib.file_exists(csv) then
        local _, old = plot.read_csv(csv)
        for _, r in ipairs(old) do
          if r[1] <= start then rows[#rows + 1] = r end
        end
      end
    end
    has_ckpt = lib.file_exists(ckpt)
  end)
  if world > 1 then
    -- every rank starts from rank 0's state: its initial weights, or its checkpoint
    for _, list in ipairs { params, ema.shadow, opt.m, opt.v } do dist.broadcast(list, 0) end
    dist.broadcast_rng(net.rng and { g, net.rng } or { g }, 0)
    local line = dist.broadcast_string(root and string.format("%d %.17g %d %d %d", start, seconds0, opt.step_count,
      ema.updates, has_ckpt and 1 or 0) or nil, 0)
    local a, b, s, u, h = line:match("^(%d+) (%S+) (%d+) (%d+) (%d)$")
    start, seconds0, opt.step_count, ema.updates, has_ckpt = tonumber(a), tonumber(b), tonumber(s), tonumber(u), h == "1"
  end
  local result = { step = start, losses = {}, checkpoint = has_ckpt and ckpt or nil, interrupted = false }
  local last_saved = result.checkpoint and start or nil
  -- batches without replacement, epoch after epoch; the stream is a function of the seed
  -- and the step, so a resumed run continues it exactly (with any number of ranks)
  local batches = ds:batches { size = c.batch, shuffle = true, flip = c.flip, seed = c.seed, epochs = math.huge,
    start = start }
  local live = {} -- the training weights while the EMA weights sample
  if root then
    for i, p in ipairs(params) do live[i] = p:clone() end
  end
  local clock0 = progress.clock()
  local function elapsed() return seconds0 + progress.clock() - clock0 end

  local function save(step)
    on_root(function()
      state.step, state.meta = step, { ["train.seconds"] = string.format("%.3f", elapsed()), ["train.ranks"] = world }
      checkpoint.save_state(ckpt, state)
    end)
    result.checkpoint, last_saved = ckpt, step
  end
  local function write_log()
    plot.write_csv(csv, { "step", "loss", "lr", "grad_norm", "seconds" }, rows)
    if plot.available() and #rows > 1 then
      plot.lines(c.out .. "/loss.png", { csv = csv, x = "step", y = { "loss" }, logy = true,
        title = "training loss (" .. P.name .. ")", xlabel = "step" })
    end
  end
  local function sample_grid(step)
    for i, p in ipairs(params) do live[i]:copy(p) end
    ema:copy_to()
    local x = sample.run(P, net, { n = c.samples, seed = c.seed + 1, steps = c.sample_steps, data = ds,
      shape = { unpack(images:shape(), 2) }, prediction = c.prediction })
    for i, p in ipairs(params) do p:copy(live[i]) end
    net:training()
    return image.save_grid(string.format("%s/samples_%06d.png", c.out, step), x, { range = c.data_range })
  end

  local bar = c.progress and root and progress.new { total = c.steps, initial = start, desc = P.name } or nil
  local function say(text)
    if not root then return end
    if bar then bar:write(text) else io.stderr:write(text, "\n") end
  end
  if saved_ranks and saved_ranks ~= world then
    say(string.format("resuming at step %d with %d rank%s; the checkpoint was written by %d (the same batches, times "
      .. "and noise: the run continues, its gradient sums rounding differently)", start, world, world == 1 and "" or "s",
      saved_ranks))
  end
  local function last_good()
    return last_saved and ("the last good checkpoint is " .. ckpt .. ", step " .. last_saved) or "no checkpoint yet"
  end
  local example_opts = { prediction = c.prediction, min_snr = c.min_snr }
  lib.check(C.ss_interrupt_trap())
  if world > 1 then net:set_batch_part(first, c.batch) end
  local interval, interval_n = 0, 0
  local ok, err = pcall(function()
    net:training()
    for step = start + 1, c.steps do
      local x0 = batches()
      local ts = P:sample_times(c.batch, g)
      local eps = g:normal(P:noise_shape(x0, ts), 0, 1, c.device)
      if world > 1 then -- this rank's rows: every rank drew the whole batch, so the generators stay in step
        x0, ts, eps = x0:narrow(1, first + 1, n), { unpack(ts, first + 1, first + n) }, eps:narrow(1, first + 1, n)
      end
      if c.device ~= "cpu" then x0 = x0:to(c.device) end
      local ex = P:training_example(x0, ts, eps, example_opts)
      local pred = net:forward(ex.input, ts, ex.out_size and { out_size = ex.out_size } or nil)
      local mse_opts = { weight = ex.weight, sum_pixels = ex.reduction == "sum" }
      local loss = nn.mse(pred, ex.target, mse_opts)
      local stop = false
      if world > 1 then
        -- the global batch's loss (each rank's mean over its rows, weighted by its share)
        -- and whether a rank was interrupted: then every rank stops after this step
        local sums = dist.allreduce_numbers({ loss * n / c.batch, C.ss_interrupt_pending() })
        loss, stop = sums[1], sums[2] > 0
      end
      if loss ~= loss or loss == math.huge or loss == -math.huge then
        raise(string.format("train: the loss is %s at step %d; stopped before updating the weights (%s)", tostring(loss),
          step, last_good()))
      end
      -- the gradient of this rank's share of the global loss: their sum is the global batch's
      local gout = nn.mse_backward(pred, ex.target, mse_opts, n / c.batch)
      net:zero_grad()
      net:backward(ex.input, gout)
      if world > 1 then dist.allreduce(grads, "sum") end
      local lr = opt:current_lr()
      local norm = opt:step()
      if norm and norm ~= norm then
        raise(string.format("train: the gradient norm is nan at step %d (%s)", step, last_good()))
      end
      ema:update()
      result.step, result.losses[step] = step, loss
      interval, interval_n = interval + loss, interval_n + 1
      local last = step == c.steps
      if step % c.log_every == 0 or last then
        rows[#rows + 1] = { step, interval / interval_n, lr, norm or 0, elapsed() }
        interval, interval_n = 0, 0
        on_root(write_log)
      end
      if bar then bar:update(step, { loss = loss, lr = lr }) end
      if c.on_step then c.on_step(step, loss) end
      if world > 1 and ((c.check_every > 0 and step % c.check_every == 0) or last or stop) then
        local differ = dist.compare(params)
        if #differ > 0 then
          raise(string.format("train: after step %d the weights of rank%s %s differ from rank 0's (compared every "
            .. "%d steps, check_every): the ranks no longer train one network (a rank with other code or data, or a "
            .. "nondeterministic operation); stopped (%s)", step, #differ == 1 and "" or "s", table.concat(differ, ", "),
            c.check_every, last_good()))
        end
      end
      if (c.sample_every > 0 and step % c.sample_every == 0) or last then
        local path
        on_root(function() path = sample_grid(step) end)
        say("samples: " .. tostring(path))
      end
      if (c.checkpoint_every > 0 and step % c.checkpoint_every == 0) or last then save(step) end
      if world == 1 then stop = C.ss_interrupt_pending() == 1 end
      if stop then
        if last_saved ~= step then save(step) end
        result.interrupted = true
        say(string.format("interrupted at step %d; checkpoint %s (run again to resume)", step, ckpt))
        return
      end
    end
  end)
  C.ss_interrupt_release()
  if world > 1 then net:set_batch_part(nil) end
  if bar then bar:close() end
  if not ok then error(err, 0) end
  result.seconds = elapsed()
  if owns_world then
    -- the script never asked for ranks: the rest of it (final samples, pictures) runs once, on rank 0
    world_ended = true
    dist.finalize()
    if not root then os.exit(0) end
  end
  return result
end

--- Command-line options for training scripts: `[outdir] --key value ...` where the keys
-- are those of `defaults` (dashes or underscores), each value converted to the type of its
-- default (a boolean default makes a flag: --key, --no-key). Unknown options are errors
-- that list the known ones. Returns a table with defaults filled in; the directory is
-- in `out`.
function M.options(argv, defaults)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  local i = 1
  while argv[i] do
    local a = argv[i]
    local key = a:match("^%-%-(.+)$")
    if key then
      key = key:gsub("-", "_")
      local flag_off = key:match("^no_(.+)$")
      if flag_off and type(defaults[flag_off]) == "boolean" then
        o[flag_off] = false
      elseif type(defaults[key]) == "boolean" then
        o[key] = true
      elseif defaults[key] ~= nil then
        local v = argv[i + 1]
        if v == nil then raise("option --" .. key .. " needs a value") end
        if type(defaults[key]) == "number" then
          v = tonumber(v)
          if not v then raise("option --" .. key .. " needs a number, got " .. tostring(argv[i + 1])) end
        end
        o[key], i = v, i + 1
      else
        local names = {}
        for k in pairs(defaults) do
          if k ~= "out" then names[#names + 1] = "--" .. k:gsub("_", "-") end
        end
        table.sort(names)
        raise("unknown option " .. a .. " (known: " .. table.concat(names, " ") .. ")")
      end
    else
      o.out = a
    end
    i = i + 1
  end
  return o
end

return M
