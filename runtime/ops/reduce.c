/* reduce.c — reductions accumulated in double, deterministic for any thread count.
 *
 * Long sums are cut into fixed blocks of REDUCE_BLOCK elements; each block is
 * summed in double by one thread (in the fixed lanes of SS_LANE_SUM) and the
 * block sums are added in order, so the result does not depend on how many
 * threads ran. Fewer than 8 blocks are summed in the calling thread. Cuda
 * tensors run kernels/reduce.cu, also in double and in an order fixed by the sizes. */
#include "core/internal.h"
#include "kernels/reduce.h"
#include "core/par.h"

#include <math.h>
#include <stdlib.h>

#define REDUCE_BLOCK 8192

/* Per-block statistic for op over x[0..n): sum, sum of squares about `shift`,
 * dot with y (op -1), or NaN-propagating min/max. Sums run in the fixed lanes
 * of SS_LANE_SUM (par.h), so results are identical run to run. */
#define T_VAR(k, a, l) a[0][l] += ((double)x[k] - shift) * ((double)x[k] - shift)
#define T_SUMSQ(k, a, l) a[0][l] += (double)x[k] * x[k]
#define T_DOT(k, a, l) a[0][l] += (double)x[k] * y[k]
#define T_SUM(k, a, l) a[0][l] += (double)x[k]
static double block_stat(int op, const float *x, const float *y, int64_t n, double shift)
{
    double acc[1];
    switch (op) {
    case SS_RED_MIN: {
        double m = INFINITY;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(x[i])) return NAN;
            if (x[i] < m) m = x[i];
        }
        return m;
    }
    case SS_RED_MAX: {
        double m = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            if (isnan(x[i])) return NAN;
            if (x[i] > m) m = x[i];
        }
        return m;
    }
    case SS_RED_VAR:
    case SS_RED_VAR_UNBIASED: SS_LANE_SUM(1, 0, n, acc, T_VAR); break;
    case SS_RED_NORM:
    case SS_RED_SUMSQ: SS_LANE_SUM(1, 0, n, acc, T_SUMSQ); break;
    case -1: SS_LANE_SUM(1, 0, n, acc, T_DOT); break;
    default: SS_LANE_SUM(1, 0, n, acc, T_SUM); break;
    }
    return acc[0];
}

static double combine(int op, double a, double b)
{
    if (op == SS_RED_MIN) return isnan(a) || isnan(b) ? NAN : (a < b ? a : b);
    if (op == SS_RED_MAX) return isnan(a) || isnan(b) ? NAN : (a > b ? a : b);
    return a + b;
}

typedef struct block_job {
    int op;
    const float *x, *y;
    int64_t n, nb;
    double shift, *part;
} block_job;

static void block_range(void *ctx, int64_t lo, int64_t hi)
{
    const block_job *jb = ctx;
    for (int64_t b = lo; b < hi; b++) {
        int64_t len = b == jb->nb - 1 ? jb->n - b * REDUCE_BLOCK : REDUCE_BLOCK;
        jb->part[b] = block_stat(jb->op, jb->x + b * REDUCE_BLOCK, jb->y ? jb->y + b * REDUCE_BLOCK : NULL, len,
                                 jb->shift);
    }
}

/* The raw statistic over n elements, blocked and deterministic; the blocks run
 * in parallel from 8 of them on. */
static double blocked(int op, const float *x, const float *y, int64_t n, double shift)
{
    int64_t nb = (n + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
    if (nb <= 1) return block_stat(op, x, y, n, shift);
    double stack[64], *part = nb <= 64 ? stack : malloc(sizeof(double) * (size_t)nb);
    if (!part) { /* fall back to one sequential pass rather than fail */
        double acc = block_stat(op, x, y, REDUCE_BLOCK, shift);
        for (int64_t b = 1; b < nb; b++) {
            int64_t len = b == nb - 1 ? n - b * REDUCE_BLOCK : REDUCE_BLOCK;
            acc = combine(op, acc, block_stat(op, x + b * REDUCE_BLOCK, y ? y + b * REDUCE_BLOCK : NULL, len, shift));
        }
        return acc;
    }
    block_job jb = {op, x, y, n, nb, shift, part};
    ss_par_ranges(nb, nb >= 8, block_range, &jb);
    double acc = part[0];
    for (int64_t b = 1; b < nb; b++) acc = combine(op, acc, part[b]);
    if (part != stack) free(part);
    return acc;
}

/* op over x[0..n): the finished value (mean divides, var is two-pass, norm roots). */
static double reduce_span(int op, const float *x, int64_t n)
{
    switch (op) {
    case SS_RED_MEAN: return blocked(SS_RED_SUM, x, NULL, n, 0) / (double)n;
    case SS_RED_VAR:
    case SS_RED_VAR_UNBIASED: {
        double mean = blocked(SS_RED_SUM, x, NULL, n, 0) / (double)n;
        double ss = blocked(op, x, NULL, n, mean);
        int64_t dof = op == SS_RED_VAR ? n : n - 1;
        return dof > 0 ? ss / (double)dof : NAN;
    }
    case SS_RED_NORM: return sqrt(blocked(op, x, NULL, n, 0));
    default: return blocked(op, x, NULL, n, 0);
    }
}

static int reduce_check(const char *op_name, const ss_tensor *t, int op)
{
    SS_TRY(ss_check_tensor(t, op_name, "tensor"));
    if (op < SS_RED_SUM || op > SS_RED_SUMSQ) return SS_FAIL(SS_ERR_ARG, "%s: unknown reduction %d", op_name, op);
    return SS_OK;
}

int ss_reduce(double *result, const ss_tensor *t, int op)
{
    SS_TRY(reduce_check("ss_reduce", t, op));
    if (!result) return SS_FAIL(SS_ERR_ARG, "ss_reduce: result is NULL");
    if (t->device == SS_CUDA)
        return SS_CUDA_CALL("ss_reduce", ss_cuda_reduce_forward(result, t->data, ss_tensor_numel(t), op));
    *result = reduce_span(op, t->data, ss_tensor_numel(t));
    return SS_OK;
}

int ss_reduce_per_sample(ss_tensor *out, const ss_tensor *t, int op)
{
    SS_TRY(reduce_check("ss_reduce_per_sample", t, op));
    SS_TRY(ss_check_tensor(out, "ss_reduce_per_sample", "out"));
    if (out->device != t->device) return SS_FAIL(SS_ERR_DEVICE, "ss_reduce_per_sample: out and input on different devices");
    int64_t n = t->shape[0], row = ss_tensor_numel(t) / n;
    if (ss_tensor_numel(out) != n)
        return SS_FAIL(SS_ERR_ARG, "ss_reduce_per_sample: out has %lld elements, expected %lld (one per sample)",
                       (long long)ss_tensor_numel(out), (long long)n);
    if (t->device == SS_CUDA)
        return SS_CUDA_CALL("ss_reduce_per_sample", ss_cuda_reduce_rows_forward(out->data, t->data, n, row, op));
    for (int64_t i = 0; i < n; i++) out->data[i] = (float)reduce_span(op, t->data + i * row, row);
    return SS_OK;
}

/* Device and shape checks of the dot products; returns the device. */
static int dot_check(const char *name, const ss_tensor *a, const ss_tensor *b)
{
    const ss_tensor *ts[2] = {a, b};
    int dev = ss_common_device(name, 2, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_same_shape(name, a, b));
    return dev;
}

int ss_dot(double *result, const ss_tensor *a, const ss_tensor *b)
{
    int dev = dot_check("ss_dot", a, b);
    if (dev < 0) return dev;
    if (!result) return SS_FAIL(SS_ERR_ARG, "ss_dot: result is NULL");
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("ss_dot", ss_cuda_dot_forward(result, a->data, b->data, ss_tensor_numel(a)));
    *result = blocked(-1, a->data, b->data, ss_tensor_numel(a), 0);
    return SS_OK;
}

int ss_dot_per_sample(ss_tensor *out, const ss_tensor *a, const ss_tensor *b)
{
    int dev = dot_check("ss_dot_per_sample", a, b);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(out, "ss_dot_per_sample", "out"));
    int64_t n = a->shape[0], row = ss_tensor_numel(a) / n;
    if (ss_tensor_numel(out) != n || out->device != a->device)
        return SS_FAIL(SS_ERR_ARG, "ss_dot_per_sample: out must hold %lld values on the inputs' device", (long long)n);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("ss_dot_per_sample", ss_cuda_dot_rows_forward(out->data, a->data, b->data, n, row));
    for (int64_t i = 0; i < n; i++) out->data[i] = (float)blocked(-1, a->data + i * row, b->data + i * row, row, 0);
    return SS_OK;
}
