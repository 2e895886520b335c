/* activation.c — SiLU (x·sigmoid(x)) forward and backward, elementwise. */
#include "core/internal.h"
#include "nn/vexp.h"

#include <math.h>

static int silu_check(const char *op, ss_tensor *out, const ss_tensor *a, const ss_tensor *b)
{
    SS_TRY(ss_check_tensor(out, op, "out"));
    SS_TRY(ss_check_tensor(a, op, "input"));
    SS_TRY(ss_check_same_shape(op, out, a));
    if (b) SS_TRY(ss_check_same_shape(op, out, b));
    const ss_tensor *ts[3] = {out, a, b};
    int dev = ss_common_device(op, b ? 3 : 2, ts);
    if (dev < 0) return dev;
    return dev == SS_CPU ? SS_OK : ss_cuda_missing(op);
}

/* σ(x) from e = e^−|x| ≤ 1, which cannot overflow: 1/(1 + e) for x >= 0, e/(1 + e) below;
 * a select, so the loops vectorise. */
static inline float sigmoid(float x)
{
    const float e = ss_exp_nonpos(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

int ss_silu_forward(ss_tensor *out, const ss_tensor *in)
{
    SS_TRY(silu_check("silu_forward", out, in, NULL));
    const int64_t n = ss_tensor_numel(in);
    const float *x = in->data;
    float *y = out->data;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoid(x[i]);
    return SS_OK;
}

/* grad_in = grad_out · σ(x)(1 + x(1 − σ(x))). */
int ss_silu_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in)
{
    SS_TRY(silu_check("silu_backward", grad_in, grad_out, in));
    const int64_t n = ss_tensor_numel(in);
    const float *x = in->data, *dy = grad_out->data;
    float *dx = grad_in->data;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        const float s = sigmoid(x[i]);
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
    return SS_OK;
}
