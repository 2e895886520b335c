--- scalespace.checkpoint — tensors and metadata in safetensors files (C: runtime/io/safetensors.c).
-- A checkpoint is a table name -> tensor plus flat metadata (name -> string). Tensors are
-- saved as F32 in name order; loading also accepts the F16, BF16 and F64 entries that
-- PyTorch tooling writes (converted to float32). Saving writes a temporary file, fsyncs it
-- and renames it over the path, so a crash or kill leaves the old checkpoint or the new one.
-- Each tensor's CRC-32C is saved with it and checked when it loads (a corrupt file is an
-- error naming the tensor; a file without checksums loads unverified, with a one-line notice
-- on stderr); NaN and infinities in a loaded tensor are an error unless
-- {allow_nonfinite = true} is passed. PyTorch's own files load with load_torch
-- (C: runtime/io/torchfile.c), which runs none of their pickled code.
--
--   ck.save("run/ckpt.safetensors", { ["conv.w"] = w, ["conv.b"] = b }, { step = 1000, lr = 2e-4 })
--   local tensors, meta = ck.load("run/ckpt.safetensors")      -- meta.step == "1000"
--   local meta = ck.load_into("run/ckpt.safetensors", params)  -- copies into existing tensors
--   for _, e in ipairs(ck.entries(path)) do print(e.name, e.dtype, table.concat(e.shape, "x")) end
--   local weights, skipped = ck.load_torch("pt_inception-2015-12-05.pth")  -- a PyTorch file
local lib = require "scalespace.ffi"
local json = require "scalespace.json"
local tensor = require "scalespace.tensor"
local ffi, C, check, raise, arg_error = lib.ffi, lib.C, lib.check, lib.raise, lib.arg_error

local M = {}

local loadable = { F32 = true, F16 = true, BF16 = true, F64 = true }

local function expect_path(p, fname)
  if type(p) ~= "string" then arg_error(fname, 1, "a file path", p) end
end

local function shape_string(s)
  return "(" .. table.concat(s, ",") .. ")"
end

--- Opens and validates a file; the handle closes itself when collected, or at close().
local function open(path)
  local st = C.ss_safetensors_open(path)
  if st == nil then raise(lib.last_error()) end
  return ffi.gc(st, C.ss_safetensors_close)
end

local function close(st)
  ffi.gc(st, nil)
  C.ss_safetensors_close(st)
end

--- Closes st, then raises the C error (or msg).
local function fail(st, msg)
  msg = msg or lib.last_error()
  close(st)
  raise(msg)
end

local noticed = {}

--- Once per path: a one-line notice when tensors of the file carry no checksum.
local function notice_unchecked(st, path)
  local n, checked = C.ss_safetensors_count(st), C.ss_safetensors_checksum_count(st)
  if checked < n and not noticed[path] then
    noticed[path] = true
    io.stderr:write(string.format("checkpoint: %s: %d of %d tensors have no checksum (an older or another "
      .. "writer); they load unverified\n", path, n - checked, n))
  end
end

--- The load options: opts.allow_nonfinite keeps NaN and infinities (an error otherwise).
local function apply_opts(st, opts)
  if opts and opts.allow_nonfinite then C.ss_safetensors_allow_nonfinite(st, 1) end
  return st
end

local function expect_opts(opts, fname, i, example)
  if opts ~= nil and type(opts) ~= "table" then arg_error(fname, i, "an options table such as " .. example, opts) end
end

local dims = ffi.new("int64_t[?]", C.SS_SAFETENSORS_MAX_DIMS)

--- Entries in file order: {name=, dtype=, shape={...}} ({} for a 0-d entry).
local function read_entries(st)
  local list = {}
  for i = 0, C.ss_safetensors_count(st) - 1 do
    local nd = C.ss_safetensors_shape(dims, C.SS_SAFETENSORS_MAX_DIMS, st, i)
    if nd < 0 then fail(st) end
    local shape = {}
    for d = 0, nd - 1 do shape[d + 1] = tonumber(dims[d]) end
    list[#list + 1] = { name = ffi.string(C.ss_safetensors_name(st, i)),
      dtype = ffi.string(C.ss_safetensors_dtype(st, i)), shape = shape }
  end
  return list
end

local function read_meta(st)
  local meta = {}
  for i = 0, C.ss_safetensors_meta_count(st) - 1 do
    meta[ffi.string(C.ss_safetensors_meta_key(st, i))] = ffi.string(C.ss_safetensors_meta_value(st, i))
  end
  return meta
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local int64_ct, uint64_ct = ffi.typeof("int64_t"), ffi.typeof("uint64_t")

--- The text a metadata value is stored as: strings as they are, booleans "true"/"false",
-- integers exactly ("%.0f", so 2^53 and -0 survive), other numbers "%.17g" (tonumber gives
-- the same double back; NaN and infinities as "nan", "inf", "-inf"), int64/uint64 cdata
-- (e.g. an rng's seed field) as exact decimals.
local function meta_text(key, v)
  local tv = type(v)
  if tv == "string" then
    if v:find("\0", 1, true) then
      raise(string.format("checkpoint.save: metadata %q contains a NUL byte", key))
    end
    return v
  elseif tv == "boolean" then
    return tostring(v)
  elseif tv == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    if v == math.floor(v) and math.abs(v) < 2 ^ 63 then return string.format("%.0f", v) end
    return string.format("%.17g", v)
  elseif tv == "cdata" and (ffi.istype(int64_ct, v) or ffi.istype(uint64_ct, v)) then
    return (tostring(v):gsub("U?LL$", ""))
  end
  raise(string.format("checkpoint.save: metadata %q is %s; values must be strings, numbers or booleans "
    .. "(metadata is flat: encode a table yourself, e.g. one key per field)", key, lib.typename(v)))
end

--- Saves tensors (a table name -> tensor; written in name order) and optional flat metadata
-- (name -> string, number or boolean) to path, atomically. Returns path.
function M.save(path, tensors, meta)
  local fname = "checkpoint.save"
  expect_path(path, fname)
  if type(tensors) ~= "table" then arg_error(fname, 2, "a table of name = tensor", tensors) end
  if meta ~= nil and type(meta) ~= "table" then arg_error(fname, 3, "a table of metadata (or nil)", meta) end
  for k, v in pairs(tensors) do
    if type(k) ~= "string" then
      raise(string.format("%s: argument 2: tensor names must be strings, got the %s key %s", fname, type(k),
        tostring(k)))
    end
    if k:find("\0", 1, true) then raise(string.format("%s: tensor name %q contains a NUL byte", fname, k)) end
    if not tensor.is_tensor(v) then
      raise(string.format("%s: argument 2: %q is %s, not a tensor", fname, k, lib.typename(v)))
    end
  end
  local names = sorted_keys(tensors)
  local n = #names
  local cnames = ffi.new("const char *[?]", n + 1)
  local cts = ffi.new("const ss_tensor *[?]", n + 1)
  for i, k in ipairs(names) do
    cnames[i - 1] = k
    cts[i - 1] = tensors[k].p
  end
  local keys, texts = {}, {}
  if meta then
    for k, v in pairs(meta) do
      if type(k) ~= "string" then
        raise(string.format("%s: argument 3: metadata keys must be strings, got the %s key %s", fname, type(k),
          tostring(k)))
      end
      texts[k] = meta_text(k, v)
    end
    keys = sorted_keys(texts)
  end
  local nm = #keys
  local ckeys = ffi.new("const char *[?]", nm + 1)
  local cvals = ffi.new("const char *[?]", nm + 1)
  for i, k in ipairs(keys) do
    ckeys[i - 1] = k
    cvals[i - 1] = texts[k]
  end
  -- names, keys and texts keep the Lua strings the pointer arrays point into alive.
  check(C.ss_safetensors_write(path, cnames, cts, n, ckeys, cvals, nm))
  return path
end

--- Loads every tensor (float32 CPU tensors; 0-d entries as (1)) and the metadata:
-- returns tensors (name -> tensor), meta (name -> string). opts.allow_nonfinite = true
-- loads tensors that hold NaN or infinities on purpose.
function M.load(path, opts)
  expect_path(path, "checkpoint.load")
  expect_opts(opts, "checkpoint.load", 2, "{allow_nonfinite=true}")
  local st = apply_opts(open(path), opts)
  notice_unchecked(st, path)
  local out = {}
  for _, e in ipairs(read_entries(st)) do
    local p = C.ss_safetensors_load(st, e.name)
    if p == nil then fail(st) end
    out[e.name] = tensor.own(p)
  end
  local meta = read_meta(st)
  close(st)
  return out, meta
end

--- The metadata only (name -> string), without reading any tensor.
function M.meta(path)
  expect_path(path, "checkpoint.meta")
  local st = open(path)
  local meta = read_meta(st)
  close(st)
  return meta
end

--- The entries without loading data: a list of {name=, dtype=, shape=} sorted by name
-- (dtype as the file spells it, "F32", "F16", "BF16", "I64", ...; shape {} for 0-d).
function M.entries(path)
  expect_path(path, "checkpoint.entries")
  local st = open(path)
  local list = read_entries(st)
  close(st)
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

-- Up to six names, then how many more.
local function name_list(list)
  if #list <= 6 then return table.concat(list, ", ") end
  return table.concat(list, ", ", 1, 6) .. string.format(", … and %d more", #list - 6)
end

--- Copies the file's tensors into existing tensors: expected is name -> tensor (any device).
-- Every expected name must be in the file with the same shape (a 0-d entry matches (1)) and a
-- dtype that loads as float32, and the file may hold no other tensors (among those whose
-- names start with opts.prefix, when given). All problems are reported together in one
-- error (counts and the first names), and nothing is copied then. opts.strict = false
-- turns missing and unexpected names into a warning on stderr (the matching tensors
-- load); a shape or dtype mismatch stays an error. opts.allow_nonfinite = true accepts
-- NaN and infinities. Returns the metadata (name -> string).
local function load_into(fname, path, expected, opts)
  expect_path(path, fname)
  if type(expected) ~= "table" then arg_error(fname, 2, "a table of name = tensor", expected) end
  expect_opts(opts, fname, 3, "{strict=false}")
  local strict = not (opts and opts.strict == false)
  local prefix = opts and opts.prefix or ""
  for k, v in pairs(expected) do
    if type(k) ~= "string" or not tensor.is_tensor(v) then
      raise(string.format("%s: argument 2: expected name = tensor pairs, got %s = %s", fname, tostring(k),
        lib.typename(v)))
    end
  end
  local st = apply_opts(open(path), opts)
  notice_unchecked(st, path)
  local in_file = {}
  for _, e in ipairs(read_entries(st)) do in_file[e.name] = e end
  local names = sorted_keys(expected)
  local missing, extra, lines = {}, {}, {}
  for _, name in ipairs(names) do
    local e = in_file[name]
    if not e then
      missing[#missing + 1] = name
    else
      local fshape = #e.shape == 0 and { 1 } or e.shape
      local want = expected[name]:shape()
      if shape_string(fshape) ~= shape_string(want) then
        lines[#lines + 1] = string.format("%s: shape %s in the file, %s expected", name, shape_string(e.shape),
          shape_string(want))
      end
      if not loadable[e.dtype] then
        lines[#lines + 1] = string.format("%s: dtype %s in the file does not load as float32 (F32, F16, BF16, F64 do)",
          name, e.dtype)
      end
    end
  end
  for _, name in ipairs(sorted_keys(in_file)) do
    if expected[name] == nil and name:sub(1, #prefix) == prefix then extra[#extra + 1] = name end
  end
  local count = #missing + #extra + #lines
  if count > 0 then
    local msg = { string.format("%s: %s does not match the expected tensors (%d problem%s):", fname, path, count,
      count == 1 and "" or "s") }
    if #missing > 0 then
      msg[#msg + 1] = string.format("  missing from the file (%d): %s", #missing, name_list(missing))
    end
    if #extra > 0 then
      msg[#msg + 1] = string.format("  in the file but not expected (%d): %s", #extra, name_list(extra))
    end
    for i = 1, math.min(#lines, 6) do msg[#msg + 1] = "  " .. lines[i] end
    if #lines > 6 then msg[#msg + 1] = string.format("  … and %d more mismatches", #lines - 6) end
    if strict or #lines > 0 then
      if #lines == 0 then msg[#msg + 1] = "(pass {strict = false} to load the tensors that match)" end
      fail(st, table.concat(msg, "\n"))
    end
    io.stderr:write("warning: ", table.concat(msg, "\n"), "\n")
  end
  local missing_set = {}
  for _, name in ipairs(missing) do missing_set[name] = true end
  for _, name in ipairs(names) do
    if not missing_set[name] and C.ss_safetensors_load_into(expected[name].p, st, name) < 0 then fail(st) end
  end
  local meta = read_meta(st)
  close(st)
  return meta
end

function M.load_into(path, expected, opts) return load_into("checkpoint.load_into", path, expected, opts) end

----------------------------------------------------------------- PyTorch files

--- Loads a PyTorch checkpoint: torch.save's zip or legacy format, or a TorchScript archive
-- from torch.jit.save. No pickled code runs (a restricted unpickler accepts tensors,
-- OrderedDicts and TorchScript modules, and refuses anything else by name). Returns tensors
-- (dotted name -> float32 CPU tensor: state_dict keys, nested dicts and lists joined by
-- '.', a TorchScript module's attribute path such as "layers.conv.weight"; F16, BF16, F64
-- converted, views materialised, 0-d as (1)) and skipped (name -> dtype of the tensors
-- that do not load as float32, such as BatchNorm's I64 num_batches_tracked).
function M.load_torch(path)
  expect_path(path, "checkpoint.load_torch")
  local tf = C.ss_torchfile_open(path)
  if tf == nil then raise(lib.last_error()) end
  tf = ffi.gc(tf, C.ss_torchfile_close)
  local out, skipped, err = {}, {}, nil
  for i = 0, C.ss_torchfile_count(tf) - 1 do
    local name, dtype = ffi.string(C.ss_torchfile_name(tf, i)), ffi.string(C.ss_torchfile_dtype(tf, i))
    if loadable[dtype] then
      local p = C.ss_torchfile_load(tf, name)
      if p == nil then err = lib.last_error() break end
      out[name] = tensor.own(p)
    else
      skipped[name] = dtype
    end
  end
  ffi.gc(tf, nil)
  C.ss_torchfile_close(tf)
  if err then raise(err) end
  return out, skipped
end

----------------------------------------------------------------- training state

-- Configs are stored as deterministic JSON text (scalespace.json), so an equal config
-- gives an equal string and a resume compares them as strings.
local function encode_config(v) return json.encode(v) end
local function decode_config(text, path) return json.decode(text, "checkpoint.config: " .. path .. ": the config") end

--- The config saved by save_state, as a table (nil when the file holds none), so a script
-- can rebuild the network from a checkpoint alone.
function M.config(path)
  local text = M.meta(path).config
  return text and decode_config(text, path)
end


-- A decimal metadata text as an exact uint64 (RNG seeds and offsets may exceed 2^53).
local function parse_u64(text, path, key)
  if type(text) ~= "string" or not text:match("^%d+$") or #text > 20
      or (#text == 20 and text > "18446744073709551615") then
    raise(string.format("checkpoint.load_state: %s: %s is %s, not an unsigned 64-bit integer", path, key,
      tostring(text)))
  end
  local v = ffi.new("uint64_t", 0)
  for i = 1, #text do v = v * 10 + (text:byte(i) - 48) end
  return v
end

-- The tensors and metadata of a training state s (see save_state).
local function state_entries(s, fname)
  if type(s) ~= "table" then arg_error(fname, 2, "a state table {model=, ema=, optim=, rng=, step=, config=}", s) end
  local tensors, meta = {}, {}
  local named = s.model and s.model:named_parameters() or {}
  for _, e in ipairs(named) do tensors["model." .. e.name] = e.param end
  if s.ema then
    if #s.ema.shadow ~= #named then
      raise(string.format("%s: the EMA holds %d tensors, the model %d parameters", fname, #s.ema.shadow, #named))
    end
    for i, e in ipairs(named) do tensors["ema." .. e.name] = s.ema.shadow[i] end
    meta["ema.updates"] = s.ema.updates
  end
  if s.optim then
    local t, m = s.optim:state("optim.")
    for k, v in pairs(t) do tensors[k] = v end
    for k, v in pairs(m) do meta[k] = v end
  end
  if s.rng then meta["rng.seed"], meta["rng.offset"] = s.rng.seed, s.rng.offset end
  if s.model and s.model.rng then -- the network's own generator (dropout masks)
    meta["model.rng.seed"], meta["model.rng.offset"] = s.model.rng.seed, s.model.rng.offset
  end
  if s.step then meta.step = s.step end
  if s.config then meta.config = encode_config(s.config) end
  for k, v in pairs(s.meta or {}) do meta[k] = v end
  return tensors, meta
end

--- Saves a whole training state atomically: s.model (an ss.nn module; its parameters as
-- "model.<name>"), s.ema (an ss.optim.EMA of those parameters: "ema.<name>"), s.optim (an
-- ss.optim.Adam: moments and step), s.rng (an ss.rng: seed and offset, exact; the model's
-- own generator for dropout, model.rng, is kept too), s.step,
-- s.config (a table, stored as JSON text in the metadata) and s.meta (more metadata).
-- Every field is optional. Returns path.
function M.save_state(path, s)
  local tensors, meta = state_entries(s, "checkpoint.save_state")
  return M.save(path, tensors, meta)
end

--- Restores a state saved by save_state into the same kind of objects (same fields):
-- parameters, EMA, optimiser moments and step count, RNG state. When s.config is given it
-- must equal the saved config (a resumed run with other settings is an error, naming both).
-- Returns the saved step (a number, or nil) and the metadata.
function M.load_state(path, s)
  local fname = "checkpoint.load_state"
  local tensors = state_entries(s, fname)
  local meta = M.meta(path)
  if s.config and meta.config ~= encode_config(s.config) then
    raise(string.format("%s: %s was saved with config %s, not %s", fname, path, tostring(meta.config),
      encode_config(s.config)))
  end
  meta = load_into(fname, path, tensors)
  if s.optim then s.optim.step_count = tonumber(meta["optim.step"]) or 0 end
  if s.ema then s.ema.updates = tonumber(meta["ema.updates"]) or 0 end
  for key, g in pairs { rng = s.rng, ["model.rng"] = s.model and s.model.rng } do
    if not meta[key .. ".seed"] then raise(fname .. ": " .. path .. " holds no " .. key .. " state") end
    g.seed, g.offset = parse_u64(meta[key .. ".seed"], path, key .. ".seed"),
      parse_u64(meta[key .. ".offset"], path, key .. ".offset")
  end
  return tonumber(meta.step), meta
end

--- Loads a network's weights from a save_state checkpoint: the EMA weights (opts.which =
-- "ema", the default, as a sampler wants them) or the training weights ("model"). The
-- network must have exactly the checkpoint's parameters (names and shapes): anything
-- missing, unexpected or mismatched is an error listing them; opts.strict = false loads
-- what matches and warns.
function M.load_weights(path, net, opts)
  if type(opts) == "string" then opts = { which = opts } end
  opts = opts or {}
  local which = opts.which or "ema"
  if which ~= "ema" and which ~= "model" then
    raise('checkpoint.load_weights: which must be "ema" or "model", got ' .. string.format("%q", tostring(which)))
  end
  if type(net) ~= "table" or type(net.state_dict) ~= "function" then
    arg_error("checkpoint.load_weights", 2, "a network (ss.nn)", net)
  end
  load_into("checkpoint.load_weights", path, net:state_dict(which .. "."), { strict = opts.strict,
    prefix = which .. "." })
  return net
end

return M
