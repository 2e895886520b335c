-- examples_spec.lua — every example runs from the executable and writes its pictures.
local ss = require "scalespace"
local build = os.getenv("SS_BUILD_DIR") or "build"

local exists = dofile("tests/lua/helpers.lua").exists
local H_read = dofile("tests/lua/helpers.lua").read

describe("examples", function()
  local out = os.tmpname()
  os.remove(out)

  local function run(script, args, dir, env)
    local log = out .. ".log"
    local status = os.execute((env or "") .. build .. "/scalespace examples/" .. script .. " " .. (dir or out) .. " "
      .. (args or "") .. " >" .. log .. " 2>&1")
    local f = io.open(log)
    local text = f and f:read("*a") or ""
    if f then f:close() end
    assert.are.equal(0, status, script .. " failed:\n" .. text)
    return text
  end

  it("fashion_stats.lua prints Fashion-MNIST statistics and writes a grid", function()
    local text = run("fashion_stats.lua")
    assert.truthy(text:find("fashion%-mnist train%s+n=60000%s+mean=0%.2860"))
    assert.truthy(text:find("fashion%-mnist test%s+n=10000"))
    assert.is_true(exists(out .. "/fashion_grid.png"))
  end)

  it("new_operator.lua checks its adjoint and writes the strip", function()
    local text = run("new_operator.lua")
    local err = tonumber(text:match("relative error (%S+)"))
    assert.is_true(err ~= nil and err <= 1e-6)
    assert.is_true(exists(out .. "/new_operator.png"))
  end)

  -- A classifier trained on 2000 images for three epochs stands in for the full one (which
  -- examples/fashion_classifier.lua trains in about a minute) as Fig. 4b's feature network.
  local classifier = out .. "/classifier/fashion_classifier.safetensors"
  local with_classifier = "SS_FASHION_CLASSIFIER=" .. classifier .. " SS_CACHE_DIR=" .. out .. "/cache "

  it("fashion_classifier.lua trains the metric's classifier and reports its test accuracy", function()
    local text = run("fashion_classifier.lua", "--epochs 3 --limit 2000", out .. "/classifier")
    local acc = tonumber(text:match("test accuracy (%S+) %%"))
    assert.is_true(acc ~= nil and acc > 60, text)
    assert.is_true(exists(classifier))
  end)

  it("scale_spaces.lua (`make run`) draws the trajectories and the variance curves Peter reports", function()
    local text = run("scale_spaces.lua", "--limit 300 --photos 2 --times 8 --fd-network fashion", nil, with_classifier)
    for _, tag in ipairs { "fashion", "photos" } do
      for _, f in ipairs { "_trajectories.png", "_variance.csv", "_variance.png" } do
        assert.is_true(exists(out .. "/" .. tag .. f), tag .. f)
      end
      local columns, rows = ss.plot.read_csv(out .. "/" .. tag .. "_variance.csv")
      assert.are.same({ "time", "ddpm", "ihdm", "heat", "blurring", "osmosis" }, columns)
      local last = rows[#rows]
      -- heat and IHDM → 0 (IHDM: its σ² = 1e-4), DDPM → 1, osmosis and blurring → σ² = 0.01, together
      assert.is_true(last[2] > 0.9 and last[2] < 1.1, "ddpm " .. last[2])
      assert.is_true(last[3] < 2e-4 and last[4] < 1e-5, "ihdm/heat")
      assert.is_true(math.abs(last[5] - 0.01) < 2e-3 and math.abs(last[6] - 0.01) < 2e-3, "blurring/osmosis")
    end
    assert.truthy(text:find("fashion: Fig. 4a over 300 images"))
    -- Fig. 4b: the distance to osmosis of each process; blurring diffusion tracks osmosis
    local columns, rows = ss.plot.read_csv(out .. "/fashion_fd_osmosis.csv")
    assert.are.same({ "time", "ddpm", "ihdm", "heat", "blurring" }, columns)
    assert.are.equal(4, #rows) -- every other one of 8 times
    local last = rows[#rows]
    for j = 2, 5 do assert.is_true(last[j] >= 0, columns[j]) end
    assert.is_true(last[5] < last[2] and last[5] < last[3] and last[5] < last[4], "blurring is closest to osmosis")
    assert.truthy(text:find("Fig. 4b: FD (Fashion-MNIST classifier) to osmosis", 1, true), text)
    if ss.plot.available() then assert.is_true(exists(out .. "/fashion_fd_osmosis.png")) end
  end)

  it("fid_sweep.lua --quick trains, sweeps checkpoints x samplers x steps, and resumes without measuring again", function()
    local dir = out .. "/fid_sweep"
    local text = run("fid_sweep.lua", "--quick", dir, with_classifier)
    local columns, rows = ss.plot.read_csv(dir .. "/sweep.csv")
    assert.are.same({ "checkpoint", "curve", "sampler", "steps", "fd", "n" }, columns)
    assert.are.equal(8, #rows) -- 2 checkpoints x 2 samplers x 2 step counts
    for _, r in ipairs(rows) do assert.is_true(r[5] > 0, text) end
    assert.truthy(text:find("checkpoint     40  ddim       20 steps  FD (Fashion-MNIST classifier)", 1, true), text)
    local before = H_read(dir .. "/sweep.csv")
    text = run("fid_sweep.lua", "--quick", dir, with_classifier)
    assert.are.equal(before, H_read(dir .. "/sweep.csv"))
    assert.is_nil(text:find("fid sweep", 1, true), "a second run measures nothing")
  end)

  it("psd.lua writes the spectra: heat loses the high frequencies, DDPM flattens them", function()
    local text = run("psd.lua", "--limit 200")
    assert.is_true(exists(out .. "/psd.csv") and exists(out .. "/psd.png"))
    local hi_heat, hi_ddpm = text:match("falls from %S+ to (%S+); DDPM at r = %d+ rises from %S+ to (%S+)")
    assert.is_true(tonumber(hi_heat) < 1e-10 and math.abs(tonumber(hi_ddpm) - 1) < 0.1)
  end)

  it("new_process.lua defines a process in the script, trains and samples it; sample.lua resamples it", function()
    local dir = out .. "/new_process"
    local text = run("new_process.lua", "--steps 8 --batch 8", dir)
    assert.is_true(tonumber(text:match("adjoint error of A_T (%S+)")) < 1e-5, text)
    for _, f in ipairs { "forward.png", "checkpoint.safetensors", "samples_000008.png", "samples.png", "trajectory.png" } do
      assert.is_true(exists(dir .. "/" .. f), "new_process: " .. f)
    end
    -- a fresh process finds the definition in the script the checkpoint names
    text = run("sample.lua", "--n 4 --steps 10", dir)
    assert.truthy(text:find("streak, step 8: 4 samples", 1, true), text)
    assert.is_true(exists(dir .. "/sample_samples.png"))
  end)

  -- The training examples as the README runs them for a first look: --steps 20 each
  -- (under a minute on 2 cores), writing a checkpoint, grids and the loss CSV; then
  -- sample.lua rebuilds a run from its checkpoint alone.
  for _, name in ipairs { "ihdm_mnist", "ddpm_fashion", "blurring_fashion", "ssd_fashion" } do
    it(name .. ".lua --steps 20 trains, checkpoints, writes grids and the loss CSV", function()
      local dir = out .. "/" .. name
      local t0 = ss.progress.clock()
      local text = run(name .. ".lua", "--steps 20", dir)
      local seconds = ss.progress.clock() - t0
      print(string.format("  %s --steps 20: %.1f s", name, seconds))
      assert.truthy(text:find("step 20, last loss", 1, true), text)
      for _, f in ipairs { "checkpoint.safetensors", "loss.csv", "samples_000020.png", "samples.png", "trajectory.png" } do
        assert.is_true(exists(dir .. "/" .. f), name .. ": " .. f)
      end
      assert.are.equal("20", ss.checkpoint.meta(dir .. "/checkpoint.safetensors").step)
      local _, rows = ss.plot.read_csv(dir .. "/loss.csv")
      assert.are.equal(2, #rows)
    end)
  end

  it("sample.lua samples a run from its checkpoint alone, and refuses a corrupted one", function()
    local text = run("sample.lua", "--n 4 --steps 20", out .. "/ssd_fashion")
    assert.truthy(text:find("ssd, step 20: 4 samples", 1, true), text)
    assert.is_true(exists(out .. "/ssd_fashion/sample_trajectory.png"))
    -- one flipped byte in the first tensor's data (the EMA weights come first): refused at load, naming it
    local h = dofile("tests/lua/helpers.lua")
    local bad = out .. "/corrupt"
    os.execute("mkdir -p " .. bad .. " && cp " .. out .. "/ssd_fashion/checkpoint.safetensors " .. bad)
    local bytes = h.read(bad .. "/checkpoint.safetensors")
    local b1, b2, b3, b4 = bytes:byte(1, 4)
    local i = 8 + b1 + 256 * (b2 + 256 * (b3 + 256 * b4)) + 101 -- past the header, 100 bytes into the data
    h.write(bad .. "/checkpoint.safetensors", bytes:sub(1, i - 1) .. string.char((bytes:byte(i) + 1) % 256)
      .. bytes:sub(i + 1))
    local log = out .. ".corrupt.log"
    local status = os.execute(build .. "/scalespace examples/sample.lua " .. bad .. " --n 2 >" .. log .. " 2>&1")
    text = h.read(log)
    assert.are_not.equal(0, status)
    assert.truthy(text:find("checksum", 1, true), text)
  end)
end)
