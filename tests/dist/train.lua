-- ranks: 1
-- tests/dist/train.lua — ctest dist_train (label dist): ss.train.run on 2 ranks, one thread
-- each, against one process. This script is the one process (a world of one, started by
-- ctest without a launcher); it starts `mpirun -np 2` on itself (`train.lua worker CASE
-- DIR`) for each case and reads what the ranks print:
--   equal     DDPM (ε, min-SNR weights), dropout 0.1, random flips, global batch 4 (2 per
--             rank), 20 steps: every loss equals the one-process run's within 1e-5
--             relative, and the ranks' weights are bit-identical after every step (the
--             run compares them each step, check_every = 1, and so does the test);
--   uneven    IHDM (summed loss), global batch 3 split 1 + 2: the same;
--   usr1      rank 0 sends SIGUSR1 to mpirun at step 5, which passes it on to both ranks:
--             both stop after step 6 with a checkpoint of step 6, which a one-process
--             run resumes to step 20 with the uninterrupted run's losses (a resume with
--             another world size: 2 → 1);
--   sigint    Ctrl-C (SIGINT) on rank 1 alone at step 5: both stop after step 6;
--   resume    a one-process run of 8 steps resumed by 2 ranks to step 20 (1 → 2);
--   owned     the script never calls ss.dist.init (as examples/*.lua): train.run starts
--             and ends the world, rank 1 exits after training, the rest of the script
--             runs once, on rank 0 alone;
--   kill      rank 1 SIGKILLs itself at step 5, error: it raises a Lua error, diverge:
--             it flips one bit of a weight (the weight check names rank 1), tiny: a
--             global batch of 1 for 2 ranks is refused — each run ends non-zero within
--             30 s with its message.
-- Without MPI or a launcher it says so and exits 77.
local ss = require "scalespace"
local ffi = require "ffi"
local lib = require "scalespace.ffi"
local dist = ss.dist
pcall(ffi.cdef, [[
int kill(int pid, int sig); int getpid(void); int getppid(void); int raise(int sig);
int usleep(unsigned int us);
]])
local SIGINT, SIGKILL, SIGUSR1 = 2, 9, 10

local seed = tonumber(os.getenv("SS_TEST_SEED") or "") or 3

-- 64 smooth random 8x8 images in [-1, 1], a small UNet with dropout, and each case's run.
local function data()
  local g = ss.rng(seed)
  return ss.op.blur { size = 8, sigma = 1 }(g:uniform { 64, 1, 8, 8 }) * 2 - 1
end
local function net()
  return ss.nn.UNet { ch = 8, mult = { 1, 2 }, num_res_blocks = 1, attn_res = { 4 }, groups = 4, size = 8,
    dropout = 0.1, seed = seed }
end
local setups = {
  ddpm = function() return ss.process.ddpm { beta = ss.schedule.linear_beta(50) }, { batch = 4, flip = true } end,
  ihdm = function()
    return ss.process.ihdm { size = 8, K = 20, sigma_max = 4 }, { batch = 3, data_range = { -1, 1 } }
  end,
}
local function config(out, steps, extra)
  local c = { steps = steps, lr = 2e-4, warmup = 5, clip = 1, ema = 0.99, seed = seed, out = out, samples = 2,
    log_every = 5, progress = false, check_every = 1, data_range = { -1, 1 } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end
-- case -> process, steps, and what rank 1 (or rank 0) does in on_step
local cases = {
  equal = { setup = "ddpm", steps = 20 }, uneven = { setup = "ihdm", steps = 20 },
  usr1 = { setup = "ddpm", steps = 20 }, sigint = { setup = "ddpm", steps = 20 },
  resume = { setup = "ddpm", steps = 20 }, owned = { setup = "ddpm", steps = 6 },
  kill = { setup = "ddpm", steps = 20 }, error = { setup = "ddpm", steps = 20 },
  diverge = { setup = "ddpm", steps = 20 }, tiny = { setup = "ddpm", steps = 20, batch = 1 },
}
local function run(case, dir, steps)
  local P, extra = setups[cases[case].setup]()
  extra.batch = cases[case].batch or extra.batch
  return ss.train.run(P, net(), data(), config(dir, steps or cases[case].steps, extra))
end

-------------------------------------------------------------------- the ranks

if arg[1] == "worker" then
  io.stdout:setvbuf("line")
  local case, dir = arg[2], arg[3]
  if case ~= "owned" then dist.init { timeout = 60 } end
  local P, extra = setups[cases[case].setup]()
  extra.batch = cases[case].batch or extra.batch
  local network = net()
  local rank = dist.launched() and tonumber(os.getenv("OMPI_COMM_WORLD_RANK") or os.getenv("PMI_RANK") or "0") or 0
  local differ_steps, compared = 0, 0
  extra.on_step = function(step)
    if case ~= "owned" then -- the test's own comparison of the weights, after every step
      compared = compared + 1
      if #dist.compare((network:parameters())) > 0 then differ_steps = differ_steps + 1 end
    end
    if step ~= 5 and not (case == "diverge" and step == 3) then return end
    if case == "usr1" and rank == 0 then
      local parent = ffi.C.getppid()
      local f = io.open("/proc/" .. parent .. "/comm")
      local comm = f and f:read("*l") or "?"
      if f then f:close() end
      if comm:match("mpirun") or comm:match("mpiexec") or comm:match("orterun") or comm:match("prterun") then
        print("signal: SIGUSR1 to " .. comm)
        ffi.C.kill(parent, SIGUSR1)
      else
        print("signal: SIGUSR1 to rank 0 itself (the parent is " .. comm .. ", not mpirun)")
        ffi.C.raise(SIGUSR1)
      end
      -- wait until it is back here, so rank 0's flag goes into step 6's all-reduce
      for _ = 1, 500 do
        if lib.C.ss_interrupt_pending() == 1 then break end
        ffi.C.usleep(10000)
      end
    elseif case == "sigint" and rank == 1 then
      ffi.C.raise(SIGINT)
    elseif case == "kill" and rank == 1 then
      io.stderr:write("rank 1: SIGKILL at step 5\n")
      ffi.C.kill(ffi.C.getpid(), SIGKILL)
    elseif case == "error" and rank == 1 then
      error("rank 1 fails on purpose at step 5")
    elseif case == "diverge" and rank == 1 then
      local w = network:parameters()[1]
      local p = ffi.cast("uint32_t *", w.p.data)
      p[0] = bit.bxor(p[0], 1)
    end
  end
  local r = ss.train.run(P, network, data(), config(dir, cases[case].steps, extra))
  if rank == 0 then
    for step = 1, cases[case].steps do
      if r.losses[step] then print(string.format("loss %d %.17g", step, r.losses[step])) end
    end
  end
  print(string.format("rank %d: stopped at step %d, interrupted %s, weights compared %d times, %d differed, "
    .. "world %d after the run", rank, r.step, tostring(r.interrupted), compared, differ_steps, dist.size()))
  return
end

-------------------------------------------------------------------- the one process

if not dist.available then
  print("SKIP dist_train: libscalespace was built without MPI (-DSS_MPI=ON with libopenmpi-dev)")
  os.exit(77)
end
local mpiexec = os.getenv("SS_MPIEXEC")
if not mpiexec or mpiexec == "" then
  print("SKIP dist_train: no MPI launcher (SS_MPIEXEC, set by ctest when CMake found mpiexec)")
  os.exit(77)
end
if dist.launched() then
  print("SKIP dist_train: run it as one process (it starts mpirun itself)")
  os.exit(77)
end
local bench = require "scalespace.bench"
local h = dofile("tests/lua/helpers.lua")
local tmp, remove = h.tmpdir("ss_dist_train")
print(string.format("dist_train: seed %d (SS_TEST_SEED=<n> to change), 2 ranks of 1 thread against 1 process", seed))

local failures, checks = 0, 0
local function check(ok, what)
  checks = checks + 1
  print(string.format("  %s: %s", ok and "ok  " or "FAIL", what))
  if not ok then failures = failures + 1 end
end

-- Runs `mpirun -np 2` on a case; returns its output, exit status and seconds.
local function ranks(case, dir)
  -- timeout(1) only guards the test against a hang, well past the 30 s asked of a failure
  local cmd = string.format("SS_DIST_TIMEOUT=60 timeout -s KILL 120 %s %s -np 2 %s %s worker %s %s 2>&1; echo \"exit=$?\"",
    mpiexec, os.getenv("SS_MPIEXEC_FLAGS") or "", arg[-1], arg[0], case, dir)
  local t0 = bench.now()
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$")), bench.now() - t0
end
local function losses_of(out)
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local step, v = line:match("^loss (%d+) (%S+)$")
    if step then t[tonumber(step)] = tonumber(v) end
  end
  return t
end
local function stops_of(out)
  local t = {}
  for r, step, intr, cmp, dif, w in out:gmatch("rank (%d): stopped at step (%d+), interrupted (%a+), weights compared "
      .. "(%d+) times, (%d+) differed, world (%d+)") do
    t[tonumber(r)] = { step = tonumber(step), interrupted = intr == "true", compared = tonumber(cmp),
      differed = tonumber(dif), world = tonumber(w) }
  end
  return t
end
-- The largest relative difference of got[s] from want[s] over steps a..b (inf if one is missing).
local function max_rel(got, want, a, b)
  local m = 0
  for s = a, b do
    if not got[s] or not want[s] then return math.huge end
    m = math.max(m, math.abs(got[s] - want[s]) / math.abs(want[s]))
  end
  return m
end
local function show(out) print((out:gsub("\n", "\n    | "))) end

-- the one-process runs every case is measured against
local reference = {
  ddpm = run("equal", tmp .. "/ref_ddpm").losses,
  ihdm = run("uneven", tmp .. "/ref_ihdm").losses,
}

for _, case in ipairs { "equal", "uneven" } do
  local steps, ref = cases[case].steps, reference[cases[case].setup]
  local out, status = ranks(case, tmp .. "/" .. case)
  local got, stop = losses_of(out), stops_of(out)
  local d = max_rel(got, ref, 1, steps)
  print(string.format("%s: %d steps on 2 ranks, losses vs 1 process: max relative difference %.3g (step %d: %.9g vs %.9g)",
    case, steps, d, steps, got[steps] or 0 / 0, ref[steps]))
  check(status == 0, case .. ": mpirun exits 0")
  check(d <= 1e-5, case .. ": every loss within 1e-5 relative of the one-process run's")
  for r = 0, 1 do
    local s = stop[r]
    check(s and s.step == steps and s.compared == steps and s.differed == 0 and s.world == 2,
      string.format("%s: rank %d found the ranks' weights bit-identical after each of the %d steps", case, r, steps))
  end
  if failures > 0 then show(out) end
end

-- interrupts: SIGUSR1 through mpirun, Ctrl-C on one rank; then one process resumes (2 → 1)
for _, case in ipairs { "usr1", "sigint" } do
  local dir = tmp .. "/" .. case
  local out, status = ranks(case, dir)
  local stop = stops_of(out)
  local saved = h.exists(dir .. "/checkpoint.safetensors") and ss.checkpoint.meta(dir .. "/checkpoint.safetensors")
  print(string.format("%s: %s; ranks stopped at steps %s and %s, checkpoint step %s (written by %s ranks)", case,
    out:match("signal: [^\n]*") or "SIGINT on rank 1", tostring(stop[0] and stop[0].step),
    tostring(stop[1] and stop[1].step), tostring(saved and saved.step), tostring(saved and saved["train.ranks"])))
  check(status == 0 and stop[0] and stop[1] and stop[0].interrupted and stop[1].interrupted,
    case .. ": both ranks return interrupted, mpirun exits 0")
  check(stop[0] and stop[1] and stop[0].step == 6 and stop[1].step == 6 and saved and saved.step == "6",
    case .. ": both stop after step 6 with a checkpoint of step 6")
  local resumed = run("usr1", dir)
  local d = max_rel(resumed.losses, reference.ddpm, 7, 20)
  print(string.format("%s: one process resumes at step 7: losses 7-20 vs the uninterrupted run: max relative "
    .. "difference %.3g", case, d))
  check(resumed.step == 20 and resumed.losses[6] == nil and d <= 1e-5,
    case .. ": a one-process resume continues the 2-rank run (losses 7-20 within 1e-5)")
  if failures > 0 then show(out) end
end

-- a one-process checkpoint resumed by 2 ranks (1 → 2)
do
  local dir = tmp .. "/resume"
  run("resume", dir, 8)
  local out, status = ranks("resume", dir)
  local got = losses_of(out)
  local d = max_rel(got, reference.ddpm, 9, 20)
  print(string.format("resume: 2 ranks resume a one-process run at step 9: losses 9-20 max relative difference %.3g", d))
  check(status == 0 and got[8] == nil and d <= 1e-5, "resume: 2 ranks continue a one-process run (losses 9-20 within 1e-5)")
  if failures > 0 then show(out) end
end

-- a script that never mentions ranks
do
  local out, status = ranks("owned", tmp .. "/owned")
  local stop = stops_of(out)
  local _, lines = out:gsub("rank %d: stopped", "")
  print(string.format("owned: %d rank(s) ran the script after training; rank 0's world then: %s", lines,
    tostring(stop[0] and stop[0].world)))
  check(status == 0 and lines == 1 and stop[0] and stop[0].step == 6 and stop[0].world == 1,
    "owned: train.run starts and ends the world; the rest of the script runs on rank 0 alone")
  if failures > 0 then show(out) end
end

-- failures end the run within a bounded time, with a message
for _, f in ipairs {
  { "kill", "exited on signal 9" },
  { "error", "rank 1 fails on purpose at step 5" },
  { "diverge", "train: after step 3 the weights of rank 1 differ from rank 0's" },
  { "tiny", "train: batch 1 cannot be split across 2 ranks" },
} do
  local out, status, seconds = ranks(f[1], tmp .. "/" .. f[1])
  local found = out:find(f[2], 1, true) ~= nil
  print(string.format("%s: exit %s after %.1f s, message %s", f[1], tostring(status), seconds,
    found and "found" or "MISSING"))
  check(status ~= nil and status ~= 0 and seconds < 30 and found, f[1] .. ": ends non-zero within 30 s with its message")
  if not found then show(out) end
end

remove()
print(string.format("%d passed, %d failed", checks - failures, failures))
os.exit(failures == 0 and 0 or 1)
