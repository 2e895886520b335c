// nccl.cu — device collectives through NCCL (see dist/nccl.h).
//
// The communicator is non-blocking (NCCL >= 2.14): no NCCL call blocks the host, so
// a peer that died or stopped is caught by the same deadline as the MPI path; on a
// timeout the communicator is aborted (ncclCommAbort), which also ends its kernels.
#include "kernels/common.cuh"

#include <chrono>
#include <cstring>
#include <nccl.h>
#include <thread>

#include "dist/nccl.h"

#if !defined(NCCL_VERSION_CODE) || NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "scalespace needs NCCL 2.14 or newer (non-blocking communicators); configure with -DSS_NCCL=OFF"
#endif
static_assert(sizeof(ncclUniqueId) == SS_NCCL_ID_BYTES, "ncclUniqueId size");

static ncclComm_t g_comm;
static int g_size;

static double now(void)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static int nccl_fail(ncclResult_t r, const char *op, const char *what)
{
    const char *detail = g_comm ? ncclGetLastError(g_comm) : "";
    return SS_FAIL(SS_ERR_IO, "%s: %s failed: %s%s%s", op, what, ncclGetErrorString(r), detail && *detail ? ": " : "",
                   detail ? detail : "");
}

static int timed_out(double waited, double timeout, const char *op, const char *what)
{
    if (g_comm) ncclCommAbort(g_comm);
    g_comm = nullptr;
    return SS_FAIL(SS_ERR_IO,
                   "%s: waited %.0f s for the other ranks in %s (timeout SS_DIST_TIMEOUT=%g s): a rank has died, "
                   "stopped, or called a different collective; the NCCL communicator was aborted",
                   op, waited, what, timeout);
}

// Polls hard for 10 ms, then naps between polls (see dist.c's ss_dist_wait).
static void nap(double waited)
{
    if (waited > 0.01) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

// A call on the non-blocking communicator may return ncclInProgress: wait until it
// has been issued (or failed).
static int settle(ncclResult_t r, double timeout, const char *op, const char *what)
{
    const double t0 = now();
    while (r == ncclInProgress) {
        double waited = now() - t0;
        if (timeout > 0 && waited > timeout) return timed_out(waited, timeout, op, what);
        nap(waited);
        ncclCommGetAsyncError(g_comm, &r);
    }
    return r == ncclSuccess ? SS_OK : nccl_fail(r, op, what);
}

// Waits for the work queued on the scalespace stream up to now (the collective), and
// for NCCL's own report of a failure.
static int finish(double timeout, const char *op, const char *what)
{
    cudaEvent_t done;
    SS_CUDA_TRY(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), op);
    cudaError_t e = cudaEventRecord(done, ss_cuda_stream());
    const double t0 = now();
    int rc = SS_OK;
    while (e == cudaSuccess) {
        e = cudaEventQuery(done);
        if (e == cudaSuccess) break;
        if (e != cudaErrorNotReady) break;
        e = cudaSuccess;
        ncclResult_t r = ncclSuccess;
        ncclCommGetAsyncError(g_comm, &r);
        if (r != ncclSuccess && r != ncclInProgress) {
            rc = nccl_fail(r, op, what);
            break;
        }
        double waited = now() - t0;
        if (timeout > 0 && waited > timeout) {
            rc = timed_out(waited, timeout, op, what);
            break;
        }
        nap(waited);
    }
    cudaEventDestroy(done);
    if (rc == SS_OK && e != cudaSuccess) rc = ss_cuda_status(e, what, __FILE__, __LINE__);
    return rc;
}

extern "C" int ss_nccl_unique_id(unsigned char *id)
{
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return nccl_fail(r, "ss_dist (NCCL)", "ncclGetUniqueId");
    memcpy(id, &u, sizeof u);
    return SS_OK;
}

extern "C" int ss_nccl_open(const unsigned char *id, int rank, int size, double timeout, const char *op)
{
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t r = ncclCommInitRankConfig(&g_comm, size, u, rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) {
        g_comm = nullptr;
        return nccl_fail(r, op, "ncclCommInitRankConfig");
    }
    SS_TRY(settle(ncclInProgress, timeout, op, "ncclCommInitRankConfig"));
    g_size = size;
    return SS_OK;
}

__global__ void divide_kernel(float *buf, int64_t n, float d)
{
    SS_CUDA_FOR(i, n) buf[i] /= d; // the host path's division, bit for bit
}

extern "C" int ss_nccl_allreduce(float *buf, int64_t n, int mean, double timeout, const char *op)
{
    ncclResult_t r = ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, g_comm, ss_cuda_stream());
    SS_TRY(settle(r, timeout, op, "ncclAllReduce"));
    if (mean) {
        divide_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(buf, n, (float)g_size);
        SS_TRY(SS_CUDA_LAUNCHED("the mean of ncclAllReduce"));
    }
    return finish(timeout, op, "ncclAllReduce");
}

extern "C" int ss_nccl_broadcast(float *buf, int64_t n, int root, double timeout, const char *op)
{
    ncclResult_t r = ncclBroadcast(buf, buf, (size_t)n, ncclFloat, root, g_comm, ss_cuda_stream());
    SS_TRY(settle(r, timeout, op, "ncclBroadcast"));
    return finish(timeout, op, "ncclBroadcast");
}

extern "C" int ss_nccl_close(double timeout)
{
    if (!g_comm) return SS_OK;
    int rc = settle(ncclCommFinalize(g_comm), timeout, "ss_dist_finalize", "ncclCommFinalize");
    if (g_comm) ncclCommDestroy(g_comm);
    g_comm = nullptr;
    return rc;
}
