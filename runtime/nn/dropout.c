/* dropout.c — inverted dropout (torch.nn.functional.dropout in training mode):
 * mask = bernoulli(1 − p)/(1 − p) from one Philox draw, out = in·mask, and the
 * backward grad_in = grad_out·mask. All tensors have one shape; elementwise.
 * On cuda the same ss_rng_bernoulli call draws the mask on the device (bit for bit
 * the CPU's, the generator advancing alike) and kernels/dropout.cu scales it. */
#include "core/internal.h"
#include "kernels/dropout.h"

/* Elements up to this many run in the calling thread. */
#define DROPOUT_PAR_MIN 65536

/* o (out or grad_in), a (in or grad_out) and mask: same shape, one device; o is a
 * itself or apart from it, and mask is apart from both. Returns the device. */
static int dropout_check(const char *op, const char *o_name, const ss_tensor *o, const char *a_name,
                         const ss_tensor *a, const ss_tensor *mask)
{
    SS_TRY(ss_check_tensor(o, op, o_name));
    SS_TRY(ss_check_tensor(a, op, a_name));
    SS_TRY(ss_check_tensor(mask, op, "mask"));
    SS_TRY(ss_check_same_shape(op, o, a));
    SS_TRY(ss_check_same_shape(op, mask, a));
    const ss_tensor *ts[3] = {o, a, mask};
    int dev = ss_common_device(op, 3, ts);
    if (dev < 0) return dev;
    /* elementwise, so in place is fine; a shifted overlap would read values already written */
    if (o->data != a->data && ss_tensors_overlap(o, a))
        return SS_FAIL(SS_ERR_ARG, "%s: %s partly overlaps %s", op, o_name, a_name);
    const char *const names[2] = {o_name, a_name};
    SS_TRY(ss_check_no_overlap(op, "mask", mask, 2, ts, names));
    return dev;
}

int ss_dropout_forward(ss_tensor *out, ss_tensor *mask, const ss_tensor *in, float p, ss_rng *g)
{
    const char *op = "ss_dropout_forward";
    const int dev = dropout_check(op, "out", out, "in", in, mask);
    if (dev < 0) return dev;
    if (!(p >= 0.0f && p < 1.0f)) return SS_FAIL(SS_ERR_ARG, "%s: p must be in [0, 1), got %g", op, p);
    const int64_t n = ss_tensor_numel(in);
    const float *x = in->data;
    float *y = out->data, *m = mask->data;
    if (p == 0.0f) {
        SS_TRY(ss_tensor_fill(mask, 1.0f));
        if (y != x) SS_TRY(ss_tensor_copy(out, in)); /* on either device */
        return SS_OK;
    }
    if (!g) return SS_FAIL(SS_ERR_ARG, "%s: generator is NULL but p = %g needs one", op, p);
    SS_TRY(ss_rng_bernoulli(g, mask, 1.0f - p));
    /* 1/(1 − p) in double, rounded once: kept values are exactly in·scale */
    const float scale = (float)(1.0 / (1.0 - (double)p));
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_dropout_forward(y, m, x, n, scale));
#pragma omp parallel for simd schedule(static) if (parallel: n > DROPOUT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] *= scale;
        y[i] = x[i] * m[i];
    }
    return SS_OK;
}

int ss_dropout_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *mask)
{
    const char *op = "ss_dropout_backward";
    const int dev = dropout_check(op, "grad_in", grad_in, "grad_out", grad_out, mask);
    if (dev < 0) return dev;
    const int64_t n = ss_tensor_numel(grad_out);
    const float *dy = grad_out->data, *m = mask->data;
    float *dx = grad_in->data;
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_dropout_backward(dx, dy, m, n));
#pragma omp parallel for simd schedule(static) if (parallel: n > DROPOUT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * m[i];
    return SS_OK;
}
