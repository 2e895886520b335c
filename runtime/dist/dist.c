/* dist.c — the world of a distributed run: starting and ending MPI, ranks, the
 * timeout and the watchdog wait that every collective goes through.
 *
 * Without MPI (a build without it, or before ss_dist_init) the world is this process
 * alone. With MPI, collectives are the non-blocking ones (MPI_Iallreduce, …) polled
 * with MPI_Test until a deadline: Open MPI's mpirun ends the job when a rank dies or
 * exits with an error, but a rank that is alive and elsewhere (stopped, stuck, in a
 * different collective, or in MPI_Finalize) would leave the others waiting forever in
 * a blocking collective. */
#define _DEFAULT_SOURCE /* on_exit, setenv, nanosleep */
#include "dist/dist.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SS_WITH_CUDA
int ss_dist_cuda_select(int index); /* dist/device.cu */
#endif

struct ss_dist_world ss_dist_world = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .timeout = 600};

static float *bucket;
static int64_t bucket_cap;
static int timeout_set; /* ss_dist_set_timeout was called: SS_DIST_TIMEOUT no longer applies */

int ss_dist_has_mpi(void)
{
#ifdef SS_WITH_MPI
    return 1;
#else
    return 0;
#endif
}

int ss_dist_has_nccl(void)
{
#ifdef SS_WITH_NCCL
    return 1;
#else
    return 0;
#endif
}

static int env_int(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

int ss_dist_launched(void)
{
    /* Open MPI, MPICH/Intel MPI (PMI), Slurm's srun (set in a step, not in the batch script) */
    return env_int("OMPI_COMM_WORLD_SIZE") > 1 || env_int("PMI_SIZE") > 1 || env_int("SLURM_STEP_NUM_TASKS") > 1;
}

double ss_dist_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int ss_dist_check_usable(const char *op)
{
    if (ss_dist_world.broken[0])
        return SS_FAIL(SS_ERR_IO, "%s: the distributed run is broken by an earlier failure (%s)", op,
                       ss_dist_world.broken);
    return SS_OK;
}

int ss_dist_break(int rc)
{
    if (!ss_dist_world.broken[0]) snprintf(ss_dist_world.broken, sizeof ss_dist_world.broken, "%s", ss_last_error());
    return rc;
}

int ss_dist_check_root(const char *op, int root)
{
    if (root < 0 || root >= ss_dist_world.size)
        return SS_FAIL(SS_ERR_ARG, "%s: root %d is not a rank of this run (0..%d)", op, root, ss_dist_world.size - 1);
    return SS_OK;
}

float *ss_dist_bucket(int64_t n, const char *op)
{
    if (n <= bucket_cap) return bucket;
    float *p = ss_alloc((size_t)n * sizeof(float), op);
    if (!p) return NULL;
    ss_free(bucket);
    bucket = p;
    bucket_cap = n;
    return bucket;
}

void ss_dist_bucket_free(void)
{
    ss_free(bucket);
    bucket = NULL;
    bucket_cap = 0;
}

int ss_dist_initialized(void) { return ss_dist_world.initialized; }
int ss_dist_rank(void) { return ss_dist_world.rank; }
int ss_dist_size(void) { return ss_dist_world.size; }
int ss_dist_local_rank(void) { return ss_dist_world.local_rank; }
int ss_dist_local_size(void) { return ss_dist_world.local_size; }
double ss_dist_timeout(void) { return ss_dist_world.timeout; }

int ss_dist_set_timeout(double seconds)
{
    if (!(seconds >= 0) || isinf(seconds))
        return SS_FAIL(SS_ERR_ARG, "ss_dist_set_timeout: seconds must be finite and >= 0 (0 waits forever), got %g",
                       seconds);
    ss_dist_world.timeout = seconds;
    timeout_set = 1;
    return SS_OK;
}

int ss_dist_use_local_gpu(int *device)
{
    if (device) *device = -1;
    SS_TRY(ss_cuda_need_device("ss_dist_use_local_gpu"));
    int count = ss_cuda_device_count(), index = ss_dist_world.local_rank;
    if (index >= count)
        return SS_FAIL(SS_ERR_DEVICE,
                       "ss_dist_use_local_gpu: local rank %d needs GPU %d but this machine has %d (start at most one "
                       "rank per GPU on each machine)",
                       index, index, count);
#ifdef SS_WITH_CUDA
    SS_TRY(ss_dist_cuda_select(index));
#endif
    if (device) *device = index;
    return SS_OK;
}

#ifdef SS_WITH_MPI
int ss_dist_nccl_close(void); /* dist/collectives.c: frees the NCCL communicator (none: 0) */

int ss_dist_mpi_fail(int mpi_rc, const char *op, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", mpi_rc);
    SS_FAIL(SS_ERR_IO, "%s: %s failed on rank %d of %d: %s", op, what, ss_dist_world.rank, ss_dist_world.size, msg);
    return ss_dist_break(SS_ERR_IO);
}

int ss_dist_wait(MPI_Request *req, const char *op, const char *what)
{
    const double t0 = ss_dist_now(), limit = ss_dist_world.timeout;
    /* Each MPI_Test also moves the transfer on (libnbc's rounds, the shared-memory
     * fragments): 200 µs naps between polls made bucket all-reduces 2-3x slower
     * (bench/dist.lua). So poll without pause, yielding the core to any runnable thread, for
     * the first 10 s (a gradient bucket takes well under that), then nap 1 ms between
     * polls: a wait that long is a rank doing something else (rank 0 writing a
     * checkpoint or pictures), and the waiting ranks should leave it the cores. */
    const struct timespec nap = {0, 1000 * 1000};
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return ss_dist_mpi_fail(rc, op, what);
        if (done) return SS_OK;
        double waited = ss_dist_now() - t0;
        if (limit > 0 && waited > limit) {
            SS_FAIL(SS_ERR_IO,
                    "%s: rank %d of %d waited %.0f s for the other ranks in %s (timeout SS_DIST_TIMEOUT=%g s): a "
                    "rank has died, stopped, or called a different collective",
                    op, ss_dist_world.rank, ss_dist_world.size, waited, what, limit);
            return ss_dist_break(SS_ERR_IO);
        }
        if (waited > 10)
            nanosleep(&nap, NULL);
        else
            sched_yield();
    }
}

/* A normal exit (status 0) finalizes MPI, which waits for every rank to arrive.
 * Any other exit leaves MPI as it is: the launcher sees a rank end without
 * finalizing and stops the others at once, while a finalize here could wait for
 * ranks stuck in a collective this rank will never join. */
static void at_exit(int status, void *arg)
{
    (void)arg;
    if (status == 0 && ss_dist_world.initialized && !ss_dist_world.broken[0]) ss_dist_finalize();
}
#endif

int ss_dist_init(void)
{
#ifndef SS_WITH_MPI
    if (ss_dist_launched())
        return SS_FAIL(SS_ERR_ARG,
                       "ss_dist_init: an MPI launcher started this process as one of several ranks, but libscalespace "
                       "was built without MPI (install libopenmpi-dev and configure with -DSS_MPI=ON)");
    ss_dist_world.initialized = 1;
    return SS_OK;
#else
    struct ss_dist_world *w = &ss_dist_world;
    if (w->initialized) return SS_OK;
    if (w->finalized) return SS_FAIL(SS_ERR_IO, "ss_dist_init: MPI was finalized and cannot start again in this process");
    const char *env = getenv("SS_DIST_TIMEOUT");
    if (env && *env && !timeout_set) {
        char *end;
        double t = strtod(env, &end);
        if (*end != '\0' || !(t >= 0) || isinf(t))
            return SS_FAIL(SS_ERR_ARG, "ss_dist_init: SS_DIST_TIMEOUT must be a number of seconds >= 0, got \"%s\"", env);
        w->timeout = t;
    }
    int started = 0, finished = 0, provided = 0, rc;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    if (finished) return SS_FAIL(SS_ERR_IO, "ss_dist_init: MPI was finalized and cannot start again in this process");
    if (!started) {
        /* libnbc (Open MPI's non-blocking collectives) reduces with a binomial tree
         * below 4 ranks or in place: a whole bucket through one rank, 3-4x slower than
         * Rabenseifner's reduce-scatter + all-gather on the bucket sizes of training.
         * A value the user set wins. */
        setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0);
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return SS_FAIL(SS_ERR_IO, "ss_dist_init: MPI_Init_thread failed (error %d)", rc);
        w->owns_mpi = 1;
        on_exit(at_exit, NULL);
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_FUNNELED)
        return SS_FAIL(SS_ERR_IO, "ss_dist_init: MPI gives thread level %d; libscalespace needs MPI_THREAD_FUNNELED",
                       provided);
    if (w->owns_mpi) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* a program's own MPI keeps its handler */
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &w->comm)) != MPI_SUCCESS)
        return ss_dist_mpi_fail(rc, "ss_dist_init", "MPI_Comm_dup");
    MPI_Comm_set_errhandler(w->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(w->comm, &w->rank);
    MPI_Comm_size(w->comm, &w->size);
    MPI_Comm local;
    if ((rc = MPI_Comm_split_type(w->comm, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &local)) != MPI_SUCCESS)
        return ss_dist_mpi_fail(rc, "ss_dist_init", "MPI_Comm_split_type");
    MPI_Comm_rank(local, &w->local_rank);
    MPI_Comm_size(local, &w->local_size);
    MPI_Comm_free(&local);
    w->active = w->size > 1;
    w->initialized = 1;
    return SS_OK;
#endif
}

int ss_dist_finalize(void)
{
    struct ss_dist_world *w = &ss_dist_world;
    if (!w->initialized) return SS_OK;
#ifdef SS_WITH_MPI
    if (w->broken[0])
        return SS_FAIL(SS_ERR_IO,
                       "ss_dist_finalize: MPI is left unfinalized after the failure (%s): finalizing would wait for "
                       "ranks that are gone; end the process",
                       w->broken);
    int rc = ss_dist_nccl_close();
    MPI_Comm_free(&w->comm);
    ss_dist_bucket_free();
    w->initialized = 0;
    w->finalized = 1;
    w->active = 0;
    w->rank = w->local_rank = 0;
    w->size = w->local_size = 1;
    if (w->owns_mpi) {
        int mrc = MPI_Finalize();
        if (mrc != MPI_SUCCESS) return SS_FAIL(SS_ERR_IO, "ss_dist_finalize: MPI_Finalize failed (error %d)", mrc);
    }
    return rc;
#else
    w->initialized = 0;
    ss_dist_bucket_free();
    return SS_OK;
#endif
}
