--- scalespace.process — forward processes of generalised diffusion scale-spaces, and the
-- protocol through which training and sampling use them.
--
-- Every process has one forward interface (t is an integer time index 0..P.T, 0 = data;
-- where a method takes `t`, a list of times gives one per sample of a batch):
--   P:marginal(x0, t, g) -> x_t      sample of p(x_t | x_0)
--   P:step(x, t, g)      -> x_t      one forward transition from x_{t−1}
--   P:transition(x, s, t, g)         from time s to t > s in one go
--   P:trajectory(x0, times, g) -> {x_t for t in times} (one path, Markov steps)
--   P:mean(x0, t), P:mean_op(t), P:std(t)   the marginal's mean operator and noise
--   P:prior(n, g, opts)   P:posterior(x_t, x0_hat, t, g) -> x_{t−1}, mean
-- g is an ss.rng, a tensor of standard normal noise of the output's shape (so a test or a
-- figure can choose the noise), or a function(shape, device) returning such a tensor.
--
-- A process that can be learned also answers the protocol that ss.train and ss.sample
-- call — and nothing else (they never read a process's fields or test its name):
--   P:capabilities() -> {predictions = {...}, methods = {...}, respacing = bool,
--                        min_snr = number|false}   the first prediction is the default
--   P:sample_times(n, g) -> n times for a batch
--   P:noise_shape(x0, ts) -> the shape of ε for a batch
--   P:training_example(x0, ts, eps, {prediction =, min_snr =}) -> {input =, target =,
--        weight = (N) tensor or nil, reduction = "mean"|"sum", out_size = n or nil}
--   P:sampler_times(steps, {prediction =}) -> {T, …, 0}
--   P:output_size(t, s, prediction) -> the network's output size for the step t → s (nil:
--        the input's)
--   P:reverse_step(x_t, prediction, t, s, g, {prediction =, method =, …}) -> x_s
--   P:prior(n, g, {shape =, data =})
--   P:descriptor() -> {name =, options =, source =} (plain data: a checkpoint rebuilds
--        the process from it through the registry)
-- A process is registered by name (ss.process.register); ss.process[name](options)
-- builds it and remembers its options for descriptor().
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local raise, arg_error = lib.raise, lib.arg_error

local M = {}

--- The base every process inherits: trajectory and step from transition, and the
-- protocol's defaults (uniform times, ε of x0's shape, linspace respacing).
local Process = {}
Process.__index = Process
M.Process = Process

local function is_time(t, lo, T) return type(t) == "number" and t % 1 == 0 and t >= lo and t <= T end

function Process:check_time(t, fname, lo)
  lo = lo or 0
  if not is_time(t, lo, self.T) then
    raise(string.format("%s.%s: t must be an integer in [%d, %d], got %s", self.name, fname, lo, self.T,
      type(t) == "string" and ('"' .. t .. '"') or tostring(t)))
  end
  return t
end

--- Checks a list of times (one per sample), each in [lo, T].
function Process:check_times(ts, fname, lo)
  lo = lo or 0
  if type(ts) ~= "table" or #ts == 0 then arg_error(self.name .. "." .. fname, 2, "a list of times", ts) end
  for i, t in ipairs(ts) do
    if not is_time(t, lo, self.T) then
      raise(string.format("%s.%s: times[%d] must be an integer in [%d, %d], got %s", self.name, fname, i, lo, self.T,
        tostring(t)))
    end
  end
  return ts
end

--- Standard normal noise of `shape` on `device` (default "cpu") from g: an rng, a noise
-- tensor of that shape (returned as it is), or a function(shape, device) giving one.
function M.noise(g, shape, what, device)
  if type(g) == "function" then g = g(shape, device or "cpu") end
  if tensor.is_tensor(g) then
    local s = g:shape()
    local same = #s == #shape
    for i = 1, #s do same = same and s[i] == shape[i] end
    if not same then
      raise(string.format("%s: noise has shape %s, expected %s", what, tensor.shape_string(s),
        tensor.shape_string(shape)))
    end
    return g
  end
  if type(g) ~= "cdata" then
    raise(what .. ": expected an rng (ss.rng(seed)), a noise tensor or a noise function, got " .. lib.typename(g))
  end
  return g:normal(shape, 0, 1, device)
end

--- A per-sample column (N,1,1,1) on `device` holding f(t) for each t in ts.
function M.column(ts, f, device)
  local v = {}
  for i, t in ipairs(ts) do v[i] = f(t) end
  local c = tensor.from_table(v, { #v, 1, 1, 1 })
  return (device or "cpu") == "cpu" and c or c:to(device)
end

--- Moves the process's tensors (rates, schedules held as tensors) to `device` and makes
-- its priors draw there; returns the process. Its operators follow their inputs.
function Process:to(device)
  for k, v in pairs(self) do
    if tensor.is_tensor(v) then self[k] = v:to(device) end
  end
  self.device = device
  return self
end

function Process:step(x, t, g)
  self:check_time(t, "step", 1)
  return self:transition(x, t - 1, t, g)
end

function Process:marginal(x0, t, g)
  if type(t) == "table" then
    raise(self.name .. ".marginal: this process takes one time for the whole batch, not a list")
  end
  self:check_time(t, "marginal")
  return self:transition(x0, 0, t, g)
end

--- One path through the requested times (increasing), by transitions between them:
-- by the semigroup property this has the law of stepping one index at a time.
function Process:trajectory(x0, times, g)
  tensor.expect_tensor(x0, self.name .. ".trajectory", 1)
  if type(times) ~= "table" then arg_error(self.name .. ".trajectory", 2, "a list of times", times) end
  local out, x, s = {}, x0, 0
  for i, t in ipairs(times) do
    self:check_time(t, "trajectory")
    if t < s then raise(self.name .. ".trajectory: times must be increasing") end
    if t > s then x, s = self:transition(x, s, t, g), t end
    out[i] = t == 0 and x0:clone() or x
  end
  return out
end

function Process:__tostring()
  return string.format("process %s (T = %d)", self.name, self.T)
end

----------------------------------------------------------------- learning protocol

--- What the process can learn: nothing, unless a process says otherwise.
function Process:capabilities()
  return { predictions = {}, methods = {}, respacing = false, min_snr = false }
end

local function not_learnable(self, fname)
  raise(string.format("%s.%s: no learned reverse process for '%s' (it defines no training_example and "
    .. "reverse_step; see README \"Extending scalespace\")", self.name, fname, self.name))
end

function Process:training_example() not_learnable(self, "training_example") end

--- The prediction an options table asks for (o.prediction, else the process's default),
-- checked against the ones the process learns; fname names the caller in the error.
function Process:prediction(o, fname)
  local caps = self:capabilities()
  local p = o and o.prediction or caps.predictions[1]
  for _, q in ipairs(caps.predictions) do
    if q == p then return p end
  end
  raise(string.format('%s.%s: prediction "%s" is not one %s learns (%s)', self.name, fname, tostring(p), self.name,
    table.concat(caps.predictions, ", ")))
end
function Process:reverse_step() not_learnable(self, "reverse_step") end

--- Uniform times 1..T.
function Process:sample_times(n, g) return g:randint(n, 1, self.T) end

function Process:noise_shape(x0, ts) return x0:shape() end

function Process:output_size() return nil end

--- The times a sampler visits, T first and 0 last: every time, or `steps` of them evenly
-- spaced (numpy's linspace, rounded), plus the times the process must keep (keep(t)).
function Process:sampler_times(steps, opts)
  local T = self.T
  local keep = {}
  if not steps or steps >= T then
    for t = 1, T do keep[t] = true end
  else
    if type(steps) ~= "number" or steps < 1 or steps % 1 ~= 0 then
      raise("sample: steps must be a whole number >= 1, got " .. tostring(steps))
    end
    if not self:capabilities().respacing then
      raise(string.format("sample: %s's reverse process visits every time; it cannot skip steps (steps must be nil)",
        self.name))
    end
    for i = 0, steps - 1 do
      keep[math.floor(1 + i * (T - 1) / math.max(steps - 1, 1) + 0.5)] = true
    end
    self:keep_times(keep, opts or {})
  end
  keep[T] = true
  local out = {}
  for t = T, 1, -1 do
    if keep[t] then out[#out + 1] = t end
  end
  out[#out + 1] = 0
  return out
end

--- Marks in `keep` the times a respaced sampler may not skip (none by default).
function Process:keep_times() end

--- The min-SNR weight of Hang et al. for each time: min(SNR_t, γ) for a target like x_0,
-- divided by SNR_t for ε (snr(t) from the process); nil when gamma is false.
function M.min_snr_weights(ts, snr, gamma, eps_target, device)
  if not gamma then return nil end
  return M.column(ts, function(t)
    local s = snr(t)
    local w = math.min(s, gamma)
    return eps_target and w / s or w
  end, device):reshape { #ts }
end

----------------------------------------------------------------- registry

local registry = {}   -- name -> {build =, source =}

-- Copies plain data (numbers, strings, booleans, tables of them); anything else is an
-- error naming the key, since a checkpoint must be able to store it.
local function plain(v, path, name)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return v end
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end) -- the first bad key, always the same
    local c = {}
    for _, k in ipairs(keys) do c[k] = plain(v[k], path .. "." .. tostring(k), name) end
    return c
  end
  raise(string.format("process %s: option %s is a %s; a checkpoint can only store numbers, strings, booleans and "
    .. "tables of them (build it inside the registered constructor instead)", name, path, lib.typename(v)))
end

--- Registers a process constructor under `name`, so ss.process[name](options) builds it
-- and a checkpoint holding {name, options} rebuilds it. opts.source: a file that
-- registers it when run with ss.process.loading set (a script defining its own process
-- names itself: debug.getinfo gives the caller's file by default). Returns the
-- constructor ss.process[name].
function M.register(name, build, opts)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    arg_error("process.register", 1, "a name (letters, digits, _)", name)
  end
  if type(build) ~= "function" then arg_error("process.register", 2, "a constructor function(options)", build) end
  local source = opts and opts.source
  if source == nil then
    local info = debug.getinfo(2, "S")
    source = info and info.source:sub(1, 1) == "@" and info.source:sub(2) or nil
    if source and source:find("lua/scalespace/", 1, true) then source = nil end -- built-ins need none
  end
  registry[name] = { build = build, source = source }
  rawset(M, name, nil)
  return M[name]
end

-- The files that register the built-in processes, loaded when a name is first asked for.
local builtin_files = { "diagonal", "linear", "osmosis" }
local builtins_loaded = false

local function lookup(name)
  if not registry[name] and not builtins_loaded then
    builtins_loaded = true
    for _, f in ipairs(builtin_files) do require("scalespace.process." .. f) end
  end
  return registry[name]
end

--- The registered names, sorted.
function M.names()
  lookup("")
  local out = {}
  for k in pairs(registry) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- Builds the process registered as `name` from `options` (ss.process[name](options)).
function M.new(name, options)
  local entry = lookup(name)
  if not entry then
    raise(string.format("process: no process is registered as '%s' (registered: %s); a script registers its own "
      .. "with ss.process.register('%s', constructor)", tostring(name), table.concat(M.names(), ", "), tostring(name)))
  end
  if options ~= nil and type(options) ~= "table" then arg_error("process." .. name, 1, "an options table", options) end
  local P = entry.build(options or {})
  if type(P) ~= "table" or getmetatable(P) == nil then
    raise(string.format("process.register: the constructor of '%s' returned %s, not a process", name,
      lib.typename(P)))
  end
  rawset(P, "registered", { name = name, options = options or {}, source = entry.source })
  return P
end

--- Set while M.load_source runs a file for its registrations: a script that defines a
-- process and then trains returns early when it sees it (`if ss.process.loading then
-- return end`).
M.loading = false

--- Runs `path` for the processes it registers (with ss.process.loading = true).
function M.load_source(path)
  if not lib.file_exists(path) then raise("process.load_source: " .. tostring(path) .. " not found") end
  M.loading = true
  local ok, err = pcall(dofile, path)
  M.loading = false
  if not ok then raise("process.load_source: " .. path .. ": " .. tostring(err)) end
end

--- Rebuilds a process from a descriptor {name =, options =, source =} (a checkpoint's),
-- loading the source file first when the name is not registered yet.
function M.rebuild(d)
  if type(d) ~= "table" or type(d.name) ~= "string" then
    arg_error("process.rebuild", 1, "a descriptor {name =, options =}", d)
  end
  if not lookup(d.name) and d.source then M.load_source(d.source) end
  return M.new(d.name, d.options)
end

--- {name =, options =, source =} as plain data, for a checkpoint.
function Process:descriptor()
  local r = rawget(self, "registered")
  if not r then
    raise(string.format("process %s was not built through a registered constructor, so a checkpoint cannot "
      .. "rebuild it: register it with ss.process.register('%s', function(options) … end) and build it with "
      .. "ss.process.%s(options)", self.name, self.name, self.name))
  end
  return { name = r.name, options = plain(r.options, "options", r.name), source = r.source }
end

--- A new process class (for the modules below and for users' own processes).
function M.class(name, parent)
  local cls = setmetatable({}, { __index = parent or Process })
  cls.__index = cls
  cls.__tostring = Process.__tostring
  cls.kind = name
  return cls
end

--- (h, w) from opts.size: a number or {h, w}, each at least 2.
function M.size(opts, fname)
  local s = opts.size
  local h, w
  if type(s) == "number" then h, w = s, s
  elseif type(s) == "table" and type(s[1]) == "number" and type(s[2]) == "number" then h, w = s[1], s[2] end
  if not h or h % 1 ~= 0 or w % 1 ~= 0 or h < 2 or w < 2 then
    raise(string.format("%s: size must be a whole number >= 2 or {h, w} of them, got %s", fname,
      type(s) == "table" and tensor.shape_string(s) or tostring(s)))
  end
  return h, w
end

setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= "string" or not lookup(k) then return nil end
    local ctor = function(options) return M.new(k, options) end
    rawset(t, k, ctor)
    return ctor
  end,
})

return M
