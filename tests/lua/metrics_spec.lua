-- metrics_spec.lua — ss.metrics: clean-fid's preprocessing against Pillow, statistics and
-- their files, FD and KID through the Lua API, feature networks (a user's, the Fashion-MNIST
-- classifier, the FID Inception-v3 from the three PyTorch file formats), the weights
-- search, and `scalespace fid`. The C parts (FD against scipy, KID against numpy, the
-- running statistics) are tests/c/test_metrics.c.
local ss = require "scalespace"
local ffi = require "ffi"
local H = dofile("tests/lua/helpers.lua")
local ssfx = dofile("tests/lua/ssfx.lua")
local build = os.getenv("SS_BUILD_DIR") or "build"
local m = ss.metrics

pcall(ffi.cdef, "int setenv(const char *name, const char *value, int overwrite); int unsetenv(const char *name);")

local function raises(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error containing: " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  return tostring(err)
end

-- A cheap feature network written in a script: the 2x2 area means of the image.
local function corners_network()
  return { name = "corners", metric = "FD (corners)", dim = 4, batch = 64, weights = "none",
    input = { size = 28, channels = 1, shift = 0, scale = 255 },
    features = function(_, x)
      local n = #x
      local out = ss.empty { n, 1, 2, 2 }
      ss.check(ss.C.ss_resize_forward(out.p, x.p, ss.C.SS_RESIZE_AREA))
      return out:reshape { n, 4 }
    end }
end

describe("metrics", function()
  local dir, cleanup = H.tmpdir("ss_metrics")
  local old_cache = os.getenv("SS_CACHE_DIR")
  ffi.C.setenv("SS_CACHE_DIR", dir .. "/cache", 1)
  teardown(function()
    if old_cache then ffi.C.setenv("SS_CACHE_DIR", old_cache, 1) else ffi.C.unsetenv("SS_CACHE_DIR") end
    cleanup()
  end)
  local test = ss.data.fashion_mnist { split = "test" }

  describe("clean-fid's preprocessing", function()
    it("quantises like saving a PNG, for [0, 1] and [-1, 1]", function()
      local x = ss.from_table({ 0, 1 / 255, 0.5, 0.998, 1, 1.7, -0.2 }, { 1, 1, 1, 7 })
      assert.same({ 0, 1, 128, 254, 255, 255, 0 }, m.quantize(x):values())
      local y = ss.from_table({ -1, -0.5, 0, 0.999, 1 }, { 1, 1, 1, 5 })
      -- stylegan2-ada: (x * 127.5 + 128) truncated
      assert.same({ 0, 64, 128, 255, 255 }, m.quantize(y, { -1, 1 }):values())
    end)

    it("resizes each channel to 299x299 as Pillow's float bicubic does, clipped (<= 1e-5 of the range)", function()
      local fx = ssfx("tests/reference/metrics/clean_resize.ssfx")
      local clean = require "scalespace.metrics.clean"
      -- the 512x384 input is the LCG recipe of make_metrics_fixtures.py (seed 5)
      local big, state = ss.empty { 1, 512, 384 }, 5ULL
      for i = 0, 512 * 384 - 1 do
        state = (1103515245ULL * state + 12345ULL) % 2147483648ULL -- exact: uint64 wraps mod 2^64
        big.p.data[i] = math.floor(tonumber(state) / 2 ^ 23) -- floor((u + 0.5)·256), u = x/2^31 − 0.5
      end
      fx["grey512.x"] = big
      for _, name in ipairs { "grey28", "rgb32", "rgb40x52", "grey512" } do
        local x = fx[name .. ".x"]
        local s = x:shape()
        local input = { size = 299, channels = s[1], shift = 0, scale = 1 }
        local y = clean.prepare(x:reshape { 1, s[1], s[2], s[3] } / 255, input)
        local want, got = fx[name .. ".y"], {}
        local ws = want:shape()
        local v = y:values()
        local worst = 0
        for c = 0, ws[1] - 1 do
          for i = 0, ws[2] - 1 do
            for j = 0, ws[3] - 1 do
              local g = v[c * 299 * 299 + (7 * i) * 299 + 7 * j + 1]
              worst = math.max(worst, math.abs(g - want.p.data[(c * ws[2] + i) * ws[3] + j]))
            end
          end
        end
        got[name] = worst
        print(string.format("  clean resize %-9s -> 299: max |diff| vs Pillow %.3g (of 255)", name, worst))
        assert.is_true(worst <= 1e-5 * 255, name .. ": " .. worst)
      end
    end)

    it("copies an image that is already 299x299 unfiltered and replicates grey to RGB", function()
      local clean = require "scalespace.metrics.clean"
      local x = ss.rng(3):uniform { 2, 1, 299, 299 }
      local y = clean.prepare(x, { size = 299, channels = 3, shift = 128, scale = 128 })
      local q = clean.quantize(x)
      assert.same({ 2, 3, 299, 299 }, y:shape())
      local a, b = (y:narrow(2, 3, 1) * 128 + 128):values(), q:values()
      for i = 1, #b, 997 do assert.equal(b[i], a[i]) end
      raises("metrics: images must have 1, 3 or 4 channels", clean.prepare, ss.zeros { 1, 2, 4, 4 },
        { size = 299, channels = 3, shift = 0, scale = 1 })
    end)
  end)

  describe("statistics", function()
    local net = corners_network()

    it("do not depend on the batch size, and round-trip through a file in double", function()
      local a = m.statistics(test.images:narrow(1, 1, 500), { network = net, batch = 7, progress = false })
      local b = m.statistics(test.images:narrow(1, 1, 500), { network = net, batch = 500, progress = false })
      local ca, cb, ma, mb = a:cov(), b:cov(), a:mean(), b:mean()
      for i = 0, 15 do assert.near(cb[i], ca[i], 1e-12 * math.abs(cb[i]) + 1e-15) end
      for i = 0, 3 do assert.near(mb[i], ma[i], 1e-12) end
      local path = dir .. "/corners.safetensors"
      a:save(path)
      assert.is_true(m.is_stats_file(path))
      local c = m.load_stats(path)
      assert.equal(500, c.n)
      assert.equal("corners", c.info.network)
      local cc = c:cov()
      for i = 0, 15 do assert.near(ca[i], cc[i], 1e-14 * math.abs(ca[i])) end
      local fd = m.frechet_distance(a, c)
      assert.is_true(math.abs(fd) < 1e-10, "FD of a file's statistics against themselves: " .. fd)
      assert.is_false(m.is_stats_file(dir .. "/nothing.safetensors"))
    end)

    it("give FD 0 between equal sets and a positive FD between different ones; KID is seeded", function()
      local a = test.images:narrow(1, 1, 2000)
      local b = test.images:narrow(1, 2001, 2000)
      local noisy = (b + ss.rng(1):normal(b:shape(), 0, 0.3)):clamp_(0, 1)
      local r1 = m.compare(a, b, { network = net, progress = false })
      local r2 = m.compare(a, noisy, { network = net, progress = false, kid = true, subsets = 10, subset_size = 200 })
      print(string.format("  FD(corners): test halves %.4g, against noisy images %.4g (KID %.4g ± %.2g)", r1.fd,
        r2.fd, r2.kid, r2.kid_std))
      assert.equal("FD (corners)", r1.metric)
      assert.is_true(r1.fd < r2.fd / 10)
      local k1 = m.kid(m.features(a, { network = net, progress = false }), m.features(noisy, { network = net,
        progress = false }), { subsets = 10, subset_size = 200 })
      assert.equal(r2.kid, k1, "the same seed draws the same subsets")
    end)

    it("are cached by content for data sets and folders", function()
      local s1 = m.statistics("fashion-mnist:test", { network = net, progress = false })
      local files = H.shell("ls " .. H.quote(dir .. "/cache/metrics") .. " 2>/dev/null")
      assert.truthy(files:find("%.safetensors"), "a statistics file in the cache")
      local s2 = m.statistics("fashion-mnist:test", { network = net, progress = false })
      assert.equal(10000, s2.n)
      assert.near(s1:mean()[2], s2:mean()[2], 1e-13 * math.abs(s1:mean()[2])) -- the file's hi + lo
      -- a folder of PNGs: the same images give the same statistics as the tensor
      local folder = dir .. "/pngs"
      ss.mkdir(folder)
      for i = 1, 12 do ss.image.save(string.format("%s/%03d.png", folder, i), test.images:narrow(1, i, 1)) end
      local sf = m.statistics(folder, { network = net, progress = false, batch = 5 })
      local st = m.statistics(test.images:narrow(1, 1, 12), { network = net, progress = false })
      assert.near(st:mean()[0], sf:mean()[0], 1e-12)
      assert.near(st:cov()[5], sf:cov()[5], 1e-12)
    end)

    it("warn when there are fewer vectors than dimensions, and refuse mismatched statistics", function()
      local a = m.statistics(test.images:narrow(1, 1, 3), { network = net, progress = false })
      local b = m.statistics(test.images:narrow(1, 4, 3), { network = net, progress = false })
      local _, info = m.frechet_distance(a, b, { quiet = true })
      assert.truthy(info.warnings[1]:find("3 vectors of 4 dimensions", 1, true))
      local other = m.new_stats(5)
      raises("metrics.frechet_distance: the statistics have 4 and 5 dimensions", m.frechet_distance, a, other)
      raises("metrics.frechet_distance: argument 2: expected feature statistics", m.frechet_distance, a, 3)
      raises("metrics.statistics: option batch must be a whole number >= 1, got 0", m.statistics, test.images,
        { network = net, batch = 0 })
      raises('metrics.statistics: mode "legacy_tensorflow" is not implemented', m.statistics, test.images,
        { network = net, mode = "legacy_tensorflow" })
      raises("is not a folder of PNGs, a statistics file or a built-in data set", m.statistics, dir .. "/none",
        { network = net })
      raises('metrics.network: no feature network "nope"', m.network, "nope")
      raises("metrics.kid: KID needs at least 2 feature vectors", m.kid, ss.zeros { 1, 4 }, ss.zeros { 5, 4 })
    end)
  end)

  describe("the Fashion-MNIST classifier", function()
    it("ships as the default network, and its recorded test accuracy is what it scores", function()
      local fashion = require "scalespace.metrics.fashion"
      if os.getenv("SS_FASHION_CLASSIFIER") then return end -- a user's own classifier is the default then
      assert.equal(fashion.shipped_path(), fashion.default_path())
      local net, meta = fashion.load()
      local full = ss.data.fashion_mnist { split = "test" }
      local acc = fashion.accuracy(net, full.images, full.labels)
      print(string.format("  shipped classifier: test accuracy %.2f %% (recorded %.2f %%)", 100 * acc,
        100 * tonumber(meta.test_accuracy)))
      assert.is_true(math.abs(acc - tonumber(meta.test_accuracy)) < 1e-3 and acc >= 0.9, acc)
    end)

    it("trains, saves and serves as a feature network named FD (Fashion-MNIST classifier)", function()
      local fashion = require "scalespace.metrics.fashion"
      local path = dir .. "/classifier.safetensors"
      local _, info = fashion.train { epochs = 1, limit = 1000, progress = false, out = path }
      assert.is_true(info.accuracy > 0.25, "accuracy after 1000 images: " .. info.accuracy) -- chance is 0.1
      local net = m.network("fashion", { weights = path })
      assert.equal("FD (Fashion-MNIST classifier)", net.metric)
      local f = m.features(test.images:narrow(1, 1, 10), { network = net, progress = false })
      assert.same({ 10, net.dim }, f:shape())
      raises("examples/fashion_classifier.lua", m.network, "fashion", { weights = dir .. "/missing.safetensors" })
    end)
  end)

  describe("the FID Inception-v3", function()
    local inception = require "scalespace.metrics.inception"
    local fx = ssfx("tests/reference/inception/features.ssfx")
    local function rel(a, b)
      local x, y, worst, top = a:values(), b:values(), 0, 0
      for i = 1, #y do
        worst, top = math.max(worst, math.abs(x[i] - y[i])), math.max(top, math.abs(y[i]))
      end
      return worst / top
    end
    -- the input batch: the integer recipe of make_inception_fixtures.py
    local function recipe(ns, size)
      local x = ss.empty { #ns, 3, size, size }
      local d = x.p.data
      for k, n in ipairs(ns) do
        for c = 0, 2 do
          for y = 0, size - 1 do
            for xx = 0, size - 1 do
              d[(((k - 1) * 3 + c) * size + y) * size + xx] = (math.floor(xx / 8) * 37 + math.floor(y / 8) * 91 + c * 53
                + n * 101 + (xx * y) % 29) % 256
            end
          end
        end
      end
      return x
    end

    it("matches pytorch-fid's network from the zip, legacy and TorchScript files (<= 1e-4 relative)", function()
      local x = (recipe({ 0, 1, 2 }, 299) - 128) / 128
      for _, f in ipairs { "zip", "legacy", "torchscript" } do
        local net, scheme = inception.load("tests/reference/inception/" .. f .. ".pt", { width = 1 / 16 })
        local r = rel(net:forward(x), fx["batch.features"])
        print(string.format("  Inception (width 1/16) from %-11s (%s): features max rel diff %.3g", f, scheme, r))
        assert.is_true(r <= 1e-4, f .. ": " .. r)
      end
    end)

    it("runs clean-fid's pipeline: 8-bit 32x32 images resized to 299 and normalised", function()
      local net = m.network("inception", { weights = "tests/reference/inception/torchscript.pt", width = 1 / 16 })
      assert.equal("FID", net.metric)
      local f = m.features(fx["pipeline.images"] / 255, { network = net, progress = false })
      local r = rel(f, fx["pipeline.features"])
      print(string.format("  clean pipeline + Inception (width 1/16): max rel diff %.3g", r))
      assert.is_true(r <= 1e-4, r)
      -- the same network from the other naming scheme folds to the same weights, up to rounding
      -- (the TorchScript file holds γ already multiplied in), so the cache keys differ
      local net2 = m.network("inception", { weights = "tests/reference/inception/zip.pt", width = 1 / 16 })
      local p1, p2, worst = net.module:parameters(), net2.module:parameters(), 0
      assert.equal(#p1, #p2)
      for i = 1, #p1 do worst = math.max(worst, rel(p1[i], p2[i])) end
      print(string.format("  folded weights, TorchScript vs zip file: max rel diff %.3g", worst))
      assert.is_true(worst <= 1e-6, worst)
      assert.are_not.equal(net.weights, net2.weights)
    end)

    it("refuses files that are not this network, and says where it looked for weights", function()
      local err = raises("does not match the FID Inception-v3", inception.load, "tests/reference/inception/zip.pt")
      assert.truthy(err:find("Conv2d_1a_3x3.conv.weight: shape (2,3,3,3), (32,3,3,3) expected", 1, true), err)
      raises("holds no Inception-v3 weights in a known naming", inception.load, "tests/reference/checkpoint/ref_f32.safetensors")
      local places = inception.search_paths { weights = "/x.pt" }
      assert.equal("/x.pt", places[1])
      local joined = table.concat(places, " ")
      assert.truthy(joined:find("/tmp/inception-2015-12-05.pt", 1, true))
      assert.truthy(joined:find("hub/checkpoints/pt_inception-2015-12-05-6726825d.pth", 1, true))
      assert.truthy(joined:find("hub/checkpoints/weights-inception-2015-12-05-6726825d.pth", 1, true))
      raises("metrics.inception: weights /nonexistent.pt not found", m.network, "inception", { weights = "/nonexistent.pt" })
    end)

    local full = os.getenv("SS_INCEPTION_FULL_FIXTURE")
    it("(by hand, SS_INCEPTION_FULL_FIXTURE=DIR) matches the full-width network from the three files", function()
      if not full then return pending("set SS_INCEPTION_FULL_FIXTURE to make_inception_fixtures.py --full's DIR") end
      local ffx = ssfx(full .. "/features.ssfx")
      local x = (recipe({ 0, 1, 2 }, 299) - 128) / 128
      for _, f in ipairs { "zip", "legacy", "torchscript" } do
        local net = inception.load(full .. "/" .. f .. ".pt")
        local r = rel(net:forward(x), ffx["batch.features"])
        print(string.format("  Inception (full width) from %-11s: features max rel diff %.3g", f, r))
        assert.is_true(r <= 1e-4, f .. ": " .. r)
      end
    end)
  end)

  describe("scalespace fid", function()
    local function run(args)
      local out = H.shell(build .. "/scalespace fid " .. args .. " 2>" .. H.quote(dir .. "/fid.err") .. "; echo \"rc=$?\"")
      return out, tonumber(out:match("rc=(%d+)")), H.read(dir .. "/fid.err")
    end

    it("prints one JSON line for folders, statistics files and built-in sets; --save-stats", function()
      local fashion = require "scalespace.metrics.fashion"
      local weights = dir .. "/cli_classifier.safetensors"
      fashion.train { epochs = 1, limit = 500, progress = false, out = weights }
      local a, b = dir .. "/a", dir .. "/b"
      ss.mkdir(a)
      ss.mkdir(b)
      for i = 1, 30 do
        ss.image.save(string.format("%s/%02d.png", a, i), test.images:narrow(1, i, 1))
        ss.image.save(string.format("%s/%02d.png", b, i), test.images:narrow(1, 100 + i, 1):flip(4))
      end
      local env = "SS_FASHION_CLASSIFIER=" .. H.quote(weights) .. " "
      local out, rc, err = run(a .. " " .. b .. " --network fashion --kid --subsets 5 --subset-size 20 --weights "
        .. H.quote(weights))
      assert.equal(0, rc, err)
      local r = require("scalespace.json").decode(out:match("^[^\n]+"))
      assert.equal("FD (Fashion-MNIST classifier)", r.metric)
      assert.equal(30, r.n1)
      assert.is_true(r.fd > 0 and r.kid ~= nil and r.kid_std ~= nil)
      assert.truthy(r.warnings[1]:find("30 vectors of 64 dimensions", 1, true))
      out, rc, err = H.shell(env .. build .. "/scalespace fid --save-stats " .. a .. " " .. dir
        .. "/a.safetensors --network fashion 2>/dev/null; echo rc=$?"), nil, nil
      assert.truthy(out:find('"saved"', 1, true), out)
      out, rc, err = run(dir .. "/a.safetensors " .. b .. " --network fashion --weights " .. H.quote(weights))
      assert.equal(0, rc, err)
      assert.near(r.fd, require("scalespace.json").decode(out:match("^[^\n]+")).fd, 1e-9 * r.fd)
    end)

    it("explains bad usage and missing weights", function()
      local _, rc, err = run("onlyone")
      assert.equal(2, rc)
      assert.truthy(err:find("needs two image sets A and B", 1, true), err)
      _, rc, err = run("a b --frobnicate")
      assert.equal(2, rc)
      assert.truthy(err:find("unknown option --frobnicate", 1, true), err)
      _, rc, err = run("fashion-mnist:test fashion-mnist:test --network fashion --weights " .. dir .. "/none.safetensors")
      assert.equal(1, rc)
      assert.truthy(err:find("examples/fashion_classifier.lua", 1, true), err)
      local out = run("--help")
      assert.truthy(out:find("usage: scalespace fid A B", 1, true))
    end)
  end)
end)
