/* threads.c — one knob for OpenMP and OpenBLAS threads (SS_NUM_THREADS). */
#include "core/internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

static int ss_default_threads;
/* Set by libscalespace_env (runtime/env/thread_policy.c) when it chose the wait policy. */
extern int ss_thread_policy_applied;

int ss_set_num_threads(int n)
{
    if (n <= 0) n = ss_default_threads > 0 ? ss_default_threads : omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return SS_OK;
}

int ss_get_num_threads(void) { return omp_get_max_threads(); }

/* Read SS_NUM_THREADS once when the library is loaded, before any parallel region. */
__attribute__((constructor)) static void ss_threads_init(void)
{
    /* libgomp has read the policy by now; child processes get the user's environment. */
    if (ss_thread_policy_applied) unsetenv("OMP_WAIT_POLICY");
    ss_default_threads = omp_get_num_procs();
    const char *env = getenv("SS_NUM_THREADS");
    if (env && *env) {
        int n = atoi(env);
        if (n > 0) ss_default_threads = n;
    }
    ss_set_num_threads(ss_default_threads);
}
