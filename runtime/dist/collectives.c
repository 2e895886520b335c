/* collectives.c — barrier, broadcast, all-reduce and gather over the world.
 *
 * A list of tensors travels as one float32 bucket: packed into a host buffer that is
 * kept between calls, sent through one collective, unpacked. Tensors that already lie
 * end to end in one storage skip the packing. Device tensors go through NCCL when the
 * library has it (a device bucket, kept likewise), else through the host bucket. In a
 * world of one every call checks its arguments and returns. */
#include "dist/dist.h"

#include <limits.h>
#include <string.h>

#ifdef SS_WITH_NCCL
#include "core/cuda.h"
#include "dist/nccl.h"
#endif

/* n tensors, none NULL or freed, on one device: their device and total size. */
static int check_list(const char *op, ss_tensor *const *ts, int n, int *device, int64_t *total)
{
    if (n < 0) return SS_FAIL(SS_ERR_ARG, "%s: the number of tensors must be >= 0, got %d", op, n);
    *total = 0;
    *device = SS_CPU;
    if (n == 0) return SS_OK;
    if (!ts) return SS_FAIL(SS_ERR_ARG, "%s: the tensor list is NULL", op);
    int dev = ss_common_device(op, n, (const ss_tensor *const *)ts);
    if (dev < 0) return dev;
    *device = dev;
    for (int i = 0; i < n; i++) *total += ss_tensor_numel(ts[i]);
    return SS_OK;
}

static int check_op(const char *fn, int op)
{
    if (op != SS_DIST_SUM && op != SS_DIST_MEAN)
        return SS_FAIL(SS_ERR_ARG, "%s: op must be SS_DIST_SUM (0) or SS_DIST_MEAN (1), got %d", fn, op);
    return SS_OK;
}

#ifdef SS_WITH_MPI
/* 1 when ts[0..n) are consecutive ranges of one storage, in order: one buffer already. */
static int end_to_end(ss_tensor *const *ts, int n)
{
    for (int i = 1; i < n; i++)
        if (ts[i]->storage != ts[0]->storage || ts[i]->data != ts[i - 1]->data + ss_tensor_numel(ts[i - 1])) return 0;
    return 1;
}

static int pack(float *bucket, ss_tensor *const *ts, int n)
{
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        SS_TRY(ss_tensor_read(bucket + off, ts[i]));
        off += ss_tensor_numel(ts[i]);
    }
    return SS_OK;
}

static int unpack(ss_tensor *const *ts, int n, const float *bucket)
{
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        SS_TRY(ss_tensor_write(ts[i], bucket + off));
        off += ss_tensor_numel(ts[i]);
    }
    return SS_OK;
}

/* buf[0..n) /= d: a sum over d ranks becomes their mean. */
static void divide(float *buf, int64_t n, float d)
{
#pragma omp parallel for simd if (parallel: n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) buf[i] /= d;
}

/* unpack for host tensors, dividing on the way (one pass over the bucket, not two). */
static void unpack_divided(ss_tensor *const *ts, int n, const float *bucket, float d)
{
    for (int i = 0; i < n; i++) {
        float *dst = ts[i]->data;
        const int64_t m = ss_tensor_numel(ts[i]);
#pragma omp parallel for simd if (parallel: m > 65536) schedule(static)
        for (int64_t k = 0; k < m; k++) dst[k] = bucket[k] / d;
        bucket += m;
    }
}

/* MPI counts are int: larger buffers go in pieces of this many elements. */
enum { CHUNK = 1 << 28 };

static int allreduce_host(void *buf, int64_t n, MPI_Datatype type, size_t elem, const char *op)
{
    for (int64_t off = 0; off < n; off += CHUNK) {
        int count = (int)(n - off < CHUNK ? n - off : CHUNK);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + off * elem, count, type, MPI_SUM, ss_dist_world.comm, &req);
        if (rc != MPI_SUCCESS) return ss_dist_mpi_fail(rc, op, "MPI_Iallreduce");
        SS_TRY(ss_dist_wait(&req, op, "MPI_Iallreduce"));
    }
    return SS_OK;
}

static int broadcast_host(void *buf, int64_t nbytes, int root, const char *op)
{
    for (int64_t off = 0; off < nbytes; off += CHUNK) {
        int count = (int)(nbytes - off < CHUNK ? nbytes - off : CHUNK);
        MPI_Request req;
        int rc = MPI_Ibcast((char *)buf + off, count, MPI_BYTE, root, ss_dist_world.comm, &req);
        if (rc != MPI_SUCCESS) return ss_dist_mpi_fail(rc, op, "MPI_Ibcast");
        SS_TRY(ss_dist_wait(&req, op, "MPI_Ibcast"));
    }
    return SS_OK;
}
#endif

#ifdef SS_WITH_NCCL
static float *device_bucket;
static int64_t device_bucket_cap;
static int nccl_open;

/* The NCCL communicator, made at the first device collective: rank 0's unique id
 * reaches the others through MPI. It binds to the current CUDA device, so ranks that
 * share a machine must have called ss_dist_use_local_gpu first. */
static int nccl_ready(const char *op)
{
    if (nccl_open) return SS_OK;
    unsigned char id[SS_NCCL_ID_BYTES];
    memset(id, 0, sizeof id);
    if (ss_dist_world.rank == 0) SS_TRY(ss_nccl_unique_id(id));
    SS_TRY(broadcast_host(id, sizeof id, 0, op));
    int rc = ss_nccl_open(id, ss_dist_world.rank, ss_dist_world.size, ss_dist_world.timeout, op);
    if (rc < 0) return ss_dist_break(rc);
    nccl_open = 1;
    return SS_OK;
}

/* ts as one device buffer: the tensors themselves when they lie end to end, else
 * the kept device bucket with their values packed in (pack = 1). */
static float *device_buffer(ss_tensor *const *ts, int n, int64_t total, int *packed, const char *op)
{
    *packed = 0;
    if (end_to_end(ts, n)) return ts[0]->data;
    if (total > device_bucket_cap) {
        void *p = NULL;
        if (ss_cuda_malloc(&p, (size_t)total * sizeof(float)) < 0) return NULL;
        if (device_bucket) ss_cuda_free(device_bucket);
        device_bucket = p;
        device_bucket_cap = total;
    }
    *packed = 1;
    return device_bucket;
}

static int device_copy(ss_tensor *const *ts, int n, float *bucket, int to_bucket)
{
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)ss_tensor_numel(ts[i]) * sizeof(float);
        SS_TRY(to_bucket ? ss_cuda_memcpy(bucket + off, ts[i]->data, bytes, SS_COPY_D2D)
                         : ss_cuda_memcpy(ts[i]->data, bucket + off, bytes, SS_COPY_D2D));
        off += ss_tensor_numel(ts[i]);
    }
    return SS_OK;
}

static int device_collective(ss_tensor *const *ts, int n, int64_t total, int mean, int root, const char *op)
{
    SS_TRY(nccl_ready(op));
    int packed;
    float *buf = device_buffer(ts, n, total, &packed, op);
    if (!buf) return SS_ERR_NOMEM;
    if (packed) SS_TRY(device_copy(ts, n, buf, 1));
    int rc = root < 0 ? ss_nccl_allreduce(buf, total, mean, ss_dist_world.timeout, op)
                      : ss_nccl_broadcast(buf, total, root, ss_dist_world.timeout, op);
    if (rc < 0) return ss_dist_break(rc);
    if (packed) SS_TRY(device_copy(ts, n, buf, 0));
    return SS_OK;
}
#endif

int ss_dist_nccl_close(void)
{
#ifdef SS_WITH_NCCL
    int rc = nccl_open ? ss_nccl_close(ss_dist_world.timeout) : SS_OK;
    nccl_open = 0;
    if (device_bucket) ss_cuda_free(device_bucket);
    device_bucket = NULL;
    device_bucket_cap = 0;
    return rc;
#else
    return SS_OK;
#endif
}

int ss_dist_barrier(void)
{
    SS_TRY(ss_dist_check_usable("ss_dist_barrier"));
    if (!ss_dist_world.active) return SS_OK;
#ifdef SS_WITH_MPI
    MPI_Request req;
    int rc = MPI_Ibarrier(ss_dist_world.comm, &req);
    if (rc != MPI_SUCCESS) return ss_dist_mpi_fail(rc, "ss_dist_barrier", "MPI_Ibarrier");
    return ss_dist_wait(&req, "ss_dist_barrier", "MPI_Ibarrier");
#else
    return SS_OK;
#endif
}

/* The all-reduce (root < 0) or broadcast (root >= 0) of a list of tensors. */
static int tensor_collective(ss_tensor *const *ts, int n, int mean, int root, const char *op)
{
    int device;
    int64_t total;
    SS_TRY(check_list(op, ts, n, &device, &total));
    SS_TRY(ss_dist_check_usable(op));
    if (!ss_dist_world.active || total == 0) return SS_OK;
#ifdef SS_WITH_MPI
#ifdef SS_WITH_NCCL
    if (device == SS_CUDA) return device_collective(ts, n, total, mean, root, op);
#endif
    float *buf;
    int packed = !(device == SS_CPU && end_to_end(ts, n));
    if (packed) {
        buf = ss_dist_bucket(total, op);
        if (!buf) return SS_ERR_NOMEM;
        if (root < 0 || ss_dist_world.rank == root) SS_TRY(pack(buf, ts, n));
    } else {
        buf = ts[0]->data;
    }
    const float size = (float)ss_dist_world.size;
    if (root < 0) {
        SS_TRY(allreduce_host(buf, total, MPI_FLOAT, sizeof(float), op));
        if (mean && packed && device == SS_CPU) {
            unpack_divided(ts, n, buf, size);
            return SS_OK;
        }
        if (mean) divide(buf, total, size);
    } else {
        SS_TRY(broadcast_host(buf, total * (int64_t)sizeof(float), root, op));
    }
    if (packed && (root < 0 || ss_dist_world.rank != root)) SS_TRY(unpack(ts, n, buf));
#endif
    (void)mean;
    (void)device;
    return SS_OK;
}

int ss_dist_broadcast(ss_tensor *const *ts, int n, int root)
{
    SS_TRY(ss_dist_check_root("ss_dist_broadcast", root));
    return tensor_collective(ts, n, 0, root, "ss_dist_broadcast");
}

int ss_dist_allreduce(ss_tensor *const *ts, int n, int op)
{
    SS_TRY(check_op("ss_dist_allreduce", op));
    return tensor_collective(ts, n, op == SS_DIST_MEAN, -1, "ss_dist_allreduce");
}

int ss_dist_allreduce_double(double *values, int n, int op)
{
    const char *fn = "ss_dist_allreduce_double";
    SS_TRY(check_op(fn, op));
    if (n < 0) return SS_FAIL(SS_ERR_ARG, "%s: n must be >= 0, got %d", fn, n);
    if (n > 0 && !values) return SS_FAIL(SS_ERR_ARG, "%s: values is NULL", fn);
    SS_TRY(ss_dist_check_usable(fn));
    if (!ss_dist_world.active || n == 0) return SS_OK;
#ifdef SS_WITH_MPI
    SS_TRY(allreduce_host(values, n, MPI_DOUBLE, sizeof(double), fn));
    if (op == SS_DIST_MEAN)
        for (int i = 0; i < n; i++) values[i] /= ss_dist_world.size;
#endif
    return SS_OK;
}

int ss_dist_broadcast_bytes(void *data, int64_t nbytes, int root)
{
    const char *fn = "ss_dist_broadcast_bytes";
    if (nbytes < 0) return SS_FAIL(SS_ERR_ARG, "%s: nbytes must be >= 0, got %lld", fn, (long long)nbytes);
    if (nbytes > 0 && !data) return SS_FAIL(SS_ERR_ARG, "%s: data is NULL", fn);
    SS_TRY(ss_dist_check_root(fn, root));
    SS_TRY(ss_dist_check_usable(fn));
    if (!ss_dist_world.active || nbytes == 0) return SS_OK;
#ifdef SS_WITH_MPI
    return broadcast_host(data, nbytes, root, fn);
#else
    return SS_OK;
#endif
}

int ss_dist_gather_sizes(int64_t *sizes, int64_t nbytes, int root)
{
    const char *fn = "ss_dist_gather_sizes";
    if (nbytes < 0) return SS_FAIL(SS_ERR_ARG, "%s: nbytes must be >= 0, got %lld", fn, (long long)nbytes);
    SS_TRY(ss_dist_check_root(fn, root));
    if (ss_dist_world.rank == root && !sizes) return SS_FAIL(SS_ERR_ARG, "%s: sizes is NULL on the root", fn);
    SS_TRY(ss_dist_check_usable(fn));
    if (!ss_dist_world.active) {
        sizes[0] = nbytes;
        return SS_OK;
    }
#ifdef SS_WITH_MPI
    static int64_t mine; /* static: a request that timed out may still read it */
    mine = nbytes;
    MPI_Request req;
    int rc = MPI_Igather(&mine, 1, MPI_INT64_T, sizes, 1, MPI_INT64_T, root, ss_dist_world.comm, &req);
    if (rc != MPI_SUCCESS) return ss_dist_mpi_fail(rc, fn, "MPI_Igather");
    return ss_dist_wait(&req, fn, "MPI_Igather");
#else
    return SS_OK;
#endif
}

int ss_dist_gather_bytes(char *out, const int64_t *sizes, const char *data, int64_t nbytes, int root)
{
    const char *fn = "ss_dist_gather_bytes";
    if (nbytes < 0) return SS_FAIL(SS_ERR_ARG, "%s: nbytes must be >= 0, got %lld", fn, (long long)nbytes);
    if (nbytes > INT_MAX) return SS_FAIL(SS_ERR_ARG, "%s: a rank sends at most %d bytes, got %lld", fn, INT_MAX, (long long)nbytes);
    if (nbytes > 0 && !data) return SS_FAIL(SS_ERR_ARG, "%s: data is NULL", fn);
    SS_TRY(ss_dist_check_root(fn, root));
    const int size = ss_dist_world.size, is_root = ss_dist_world.rank == root;
    int64_t total = 0;
    if (is_root) {
        if (!sizes) return SS_FAIL(SS_ERR_ARG, "%s: sizes is NULL on the root", fn);
        for (int r = 0; r < size; r++) {
            if (sizes[r] < 0) return SS_FAIL(SS_ERR_ARG, "%s: sizes[%d] is negative", fn, r);
            total += sizes[r];
        }
        if (sizes[ss_dist_world.rank] != nbytes)
            return SS_FAIL(SS_ERR_ARG, "%s: the root's nbytes %lld differs from its sizes entry %lld", fn,
                           (long long)nbytes, (long long)sizes[ss_dist_world.rank]);
        if (total > INT_MAX)
            return SS_FAIL(SS_ERR_ARG, "%s: the root receives at most %d bytes, the ranks send %lld", fn, INT_MAX,
                           (long long)total);
        if (total > 0 && !out) return SS_FAIL(SS_ERR_ARG, "%s: out is NULL on the root", fn);
    }
    SS_TRY(ss_dist_check_usable(fn));
    if (!ss_dist_world.active) {
        if (nbytes > 0) memmove(out, data, (size_t)nbytes);
        return SS_OK;
    }
#ifdef SS_WITH_MPI
    int *counts = NULL, *displs = NULL;
    if (is_root) {
        counts = ss_alloc(2 * (size_t)size * sizeof(int), fn);
        if (!counts) return SS_ERR_NOMEM;
        displs = counts + size;
        int off = 0;
        for (int r = 0; r < size; r++) {
            counts[r] = (int)sizes[r];
            displs[r] = off;
            off += counts[r];
        }
    }
    MPI_Request req;
    int rc = MPI_Igatherv(data, (int)nbytes, MPI_BYTE, out, counts, displs, MPI_BYTE, root, ss_dist_world.comm, &req);
    if (rc != MPI_SUCCESS) {
        ss_free(counts);
        return ss_dist_mpi_fail(rc, fn, "MPI_Igatherv");
    }
    rc = ss_dist_wait(&req, fn, "MPI_Igatherv");
    if (rc < 0) {
        /* the request may still read counts: keep them (reachable) for the rest of the process */
        static int *volatile abandoned;
        abandoned = counts;
        (void)abandoned;
        return rc;
    }
    ss_free(counts);
    return SS_OK;
#else
    return SS_OK;
#endif
}
