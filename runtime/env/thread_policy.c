/* thread_policy.c — libscalespace_env: the thread runtimes' wait policy, set before
 * they start.
 *
 * libgomp and OpenBLAS read their environment once, in their own constructors, which
 * the dynamic loader runs before libscalespace's. Their defaults spin: an idle OpenMP
 * worker busy-waits 300 000 rounds (~3 ms) after each parallel region, an OpenBLAS
 * worker yields in a loop for 2^28 cycles (~0.1 s) after each call. On a machine whose
 * cores are shared — another process, or our own second pool — a spinning thread
 * holds the core the thread it waits for needs, and the scheduler then makes a
 * region wait a time slice for it: a 2-thread run became slower than 1 thread.
 * Sleeping at once costs a wake-up per region (tens of microseconds), which the
 * minimum work per region (runtime/ops/par.h) pays for.
 *
 * This library is the last DT_NEEDED entry of libscalespace (CMakeLists.txt); glibc
 * runs the constructors of dependencies that do not depend on each other in the
 * reverse of their load order, so this one runs before libgomp's and OpenBLAS's.
 * tests/c/test_threads.c checks that libgomp saw the policy. Values the user set are
 * kept. */
#include <stdlib.h>

/* 1 when this library set OMP_WAIT_POLICY: libscalespace's own constructor, which runs
 * after libgomp has read it, then removes it again, so that programs this process
 * starts (a Python peer with its own OpenMP) see the environment as the user left it. */
int ss_thread_policy_applied;

__attribute__((constructor)) static void ss_thread_policy(void)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    ss_thread_policy_applied = setenv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0;
}
