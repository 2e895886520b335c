-- ranks: 1
-- tests/dist/failure.lua — ctest dist_failure (label dist): when one of 2 ranks dies or
-- goes astray during a run of all-reduces, the other stops with a message instead of
-- hanging. This script starts `mpirun -np 2` on itself (`failure.lua worker MODE`) for
-- each way rank 1 can fail, while rank 0 all-reduces in a loop:
--   kill   rank 1 kills itself (SIGKILL) while rank 0 waits in an all-reduce: mpirun
--          ends the job and names the signal;
--   error  rank 1 raises a Lua error: it exits 1 without finalizing, mpirun ends the job;
--   stall  rank 1 sleeps 100 s: rank 0's watchdog (SS_DIST_TIMEOUT=2) fails the
--          all-reduce with its message and exits 1, mpirun ends rank 1;
--   leave  rank 1 finishes normally (exit 0, finalizing MPI) while rank 0 still waits:
--          the same watchdog ends it.
-- Each run must exit non-zero within 30 s with its message (a liveness bound of the
-- failure path, not a timing). Without MPI or a launcher it says so and exits 77.
local ss = require "scalespace"
local dist = ss.dist

if arg[1] == "worker" then
  local ffi = require "ffi"
  ffi.cdef "int kill(int pid, int sig); int getpid(void); unsigned int sleep(unsigned int s); int usleep(unsigned int us);"
  local mode = arg[2]
  dist.init()
  local x = ss.ones { 100003 }
  for step = 1, 1e9 do
    if dist.rank() == 1 and step == 20 then
      ffi.C.usleep(300000) -- rank 0 is waiting in all-reduce 20 by now
      io.stderr:write("rank 1: " .. mode .. " at step 20\n")
      if mode == "kill" then ffi.C.kill(ffi.C.getpid(), 9) end
      if mode == "error" then error("rank 1 fails on purpose") end
      if mode == "stall" then ffi.C.sleep(100) end
      if mode == "leave" then os.exit(0) end
    end
    dist.allreduce(x, "mean")
  end
  return
end

if not dist.available then
  print("SKIP dist_failure: libscalespace was built without MPI (-DSS_MPI=ON with libopenmpi-dev)")
  os.exit(77)
end
local mpiexec = os.getenv("SS_MPIEXEC")
if not mpiexec or mpiexec == "" then
  print("SKIP dist_failure: no MPI launcher (SS_MPIEXEC, set by ctest when CMake found mpiexec)")
  os.exit(77)
end
local bench = require "scalespace.bench"
local exe = arg[-1]
local script = arg[0]

local cases = {
  { mode = "kill", expect = "exited on signal 9" },
  { mode = "error", expect = "rank 1 fails on purpose" },
  { mode = "stall", expect = "waited 2 s for the other ranks in MPI_Iallreduce" },
  { mode = "leave", expect = "waited 2 s for the other ranks in MPI_Iallreduce" },
}
local failures = 0
for _, c in ipairs(cases) do
  -- timeout(1) only guards the test itself against a hang: 60 s, well past the 30 s asked
  local cmd = string.format("SS_DIST_TIMEOUT=2 timeout -s KILL 60 %s %s -np 2 %s %s worker %s 2>&1; echo \"exit=$?\"",
    mpiexec, os.getenv("SS_MPIEXEC_FLAGS") or "", exe, script, c.mode)
  local t0 = bench.now()
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  local seconds = bench.now() - t0
  local status = tonumber(out:match("exit=(%d+)%s*$"))
  local ok = status ~= nil and status ~= 0 and seconds < 30 and out:find(c.expect, 1, true) ~= nil
  print(string.format("  %-5s exit %s after %.1f s, message %s: %s", c.mode, tostring(status), seconds,
    out:find(c.expect, 1, true) and "found" or "MISSING", ok and "ok" or "FAIL"))
  if not ok then
    failures = failures + 1
    print(out)
  end
end
print(string.format("%d passed, %d failed", #cases - failures, failures))
os.exit(failures == 0 and 0 or 1)
