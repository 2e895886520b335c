-- faults_spec.lua — training survives faults in its checkpoint writes: a process killed
-- (SIGKILL) in the middle of writing a checkpoint leaves the previous one, and the next run
-- resumes from it to the same losses, bit for bit, as a run that was never killed; a write
-- that fails for lack of space (ENOSPC) says so and keeps the previous checkpoint. The
-- faults come from the writer's test hooks (SS_FAULT_WRITE_KILL_AFTER,
-- SS_FAULT_WRITE_ENOSPC), at a deterministic byte.
local ss = require "scalespace"
local h = dofile("tests/lua/helpers.lua")
local build = os.getenv("SS_BUILD_DIR") or "build"

-- A training run of `steps` steps into `out` (checkpoints every 5), printing each loss exactly.
local script = [[
local ss = require "scalespace"
local out, steps = arg[1], tonumber(arg[2])
local x = ss.op.blur { size = 8, sigma = 1 }(ss.rng(3):uniform { 64, 1, 8, 8 })
local P = ss.process.ihdm { size = 8, K = 20, sigma_max = 4 }
local net = ss.nn.UNet { ch = 8, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 4 }, groups = 4, size = 8, seed = 3 }
ss.train.run(P, net, x, { steps = steps, batch = 8, lr = 1e-3, seed = 3, out = out, samples = 2, sample_every = 0,
  checkpoint_every = 5, log_every = 5, progress = false,
  on_step = function(step, loss) io.write(string.format("loss %d %.17g\n", step, loss)) io.flush() end })
print("done")
]]

describe("a checkpoint write that fails", function()
  local dir, remove
  setup(function() dir, remove = h.tmpdir("ss_faults") h.write(dir .. "/train.lua", script) end)
  teardown(function() remove() end)

  -- Runs the script; returns its output, its exit status and the losses it printed.
  local function train(out, steps, env)
    local cmd = string.format("%s %s/scalespace %s/train.lua %s %d 2>&1; echo status=$?", env or "", build, dir, out, steps)
    local text = h.shell(cmd)
    local losses = {}
    for step, loss in text:gmatch("loss (%d+) (%S+)") do losses[tonumber(step)] = loss end
    return text, tonumber(text:match("status=(%d+)")), losses
  end
  local function step_of(out) return ss.checkpoint.meta(out .. "/checkpoint.safetensors").step end
  local function temps(out) return h.shell("ls " .. h.quote(out) .. " | grep -c '\\.tmp\\.' || true"):match("%d+") end

  it("killed mid-write leaves the previous checkpoint, and the resumed run matches an unkilled one bit for bit", function()
    local _, status, whole = train(dir .. "/whole", 10)
    assert.are.equal(0, status)
    local out = dir .. "/killed"
    _, status = train(out, 5)
    assert.are.equal(0, status)
    assert.are.equal("5", step_of(out))
    -- steps 6-10 run, then the write of step 10's checkpoint is killed after 4096 bytes
    local text
    text, status = train(out, 10, "SS_FAULT_WRITE_KILL_AFTER=4096")
    assert.are.equal(137, status, text) -- 128 + SIGKILL
    assert.is_nil(text:find("done", 1, true))
    assert.are.equal("5", step_of(out))  -- the previous checkpoint, whole and verified
    assert.are.equal("1", temps(out))    -- the dead writer's temporary file
    local resumed
    text, status, resumed = train(out, 10)
    assert.are.equal(0, status, text)
    assert.is_nil(resumed[5])             -- it started from step 5's checkpoint
    for step = 6, 10 do assert.are.equal(whole[step], resumed[step], "step " .. step) end
    assert.are.equal("10", step_of(out))
    assert.are.equal("0", temps(out))    -- the next write removed the dead one's temporary file
    print(string.format("  killed at byte 4096 of step 10's checkpoint; resumed from step 5: losses 6-10 equal the "
      .. "unkilled run's (step 10: %s)", resumed[10]))
  end)

  it("out of space: the run stops with the reason and the previous checkpoint stays", function()
    local out = dir .. "/full"
    local _, status = train(out, 5)
    assert.are.equal(0, status)
    local text
    text, status = train(out, 10, "SS_FAULT_WRITE_ENOSPC=4096")
    assert.are_not.equal(0, status)
    assert.truthy(text:find("No space left on device", 1, true), text)
    assert.are.equal("5", step_of(out))
    assert.are.equal("0", temps(out))
    local ok = pcall(ss.checkpoint.load, out .. "/checkpoint.safetensors")
    assert.is_true(ok)
  end)
end)
