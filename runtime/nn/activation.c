/* activation.c — SiLU (x·sigmoid(x)) and ReLU forward and backward, elementwise (on cuda in
 * kernels/layers.cu and kernels/relu.cu). */
#include "core/internal.h"
#include "kernels/layers.h"
#include "kernels/relu.h"
#include "nn/vexp.h"

#include <math.h>

/* Returns the device of the tensors. */
static int silu_check(const char *op, ss_tensor *out, const ss_tensor *a, const ss_tensor *b)
{
    SS_TRY(ss_check_tensor(out, op, "out"));
    SS_TRY(ss_check_tensor(a, op, "input"));
    SS_TRY(ss_check_same_shape(op, out, a));
    if (b) SS_TRY(ss_check_same_shape(op, out, b));
    const ss_tensor *ts[3] = {out, a, b};
    return ss_common_device(op, b ? 3 : 2, ts);
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
    const int dev = silu_check("silu_forward", out, in, NULL);
    if (dev < 0) return dev;
    const int64_t n = ss_tensor_numel(in);
    if (dev == SS_CUDA) return SS_CUDA_CALL("silu_forward", ss_cuda_silu_forward(out->data, in->data, n));
    const float *x = in->data;
    float *y = out->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoid(x[i]);
    return SS_OK;
}

/* grad_in = grad_out · σ(x)(1 + x(1 − σ(x))). */
int ss_silu_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in)
{
    const int dev = silu_check("silu_backward", grad_in, grad_out, in);
    if (dev < 0) return dev;
    const int64_t n = ss_tensor_numel(in);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("silu_backward", ss_cuda_silu_backward(grad_in->data, grad_out->data, in->data, n));
    const float *x = in->data, *dy = grad_out->data;
    float *dx = grad_in->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) {
        const float s = sigmoid(x[i]);
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
    return SS_OK;
}

/* max(x, 0) keeping a NaN, as torch.relu (a plain fmaxf would turn NaN into 0). */
int ss_relu_forward(ss_tensor *out, const ss_tensor *in)
{
    const int dev = silu_check("relu_forward", out, in, NULL);
    if (dev < 0) return dev;
    const int64_t n = ss_tensor_numel(in);
    if (dev == SS_CUDA) return SS_CUDA_CALL("relu_forward", ss_cuda_relu_forward(out->data, in->data, n));
    const float *x = in->data;
    float *y = out->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f || x[i] != x[i] ? x[i] : 0.0f;
    return SS_OK;
}

/* grad_in = grad_out where x > 0, else 0 (torch's threshold_backward: 0 at x = 0 and NaN). */
int ss_relu_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in)
{
    const int dev = silu_check("relu_backward", grad_in, grad_out, in);
    if (dev < 0) return dev;
    const int64_t n = ss_tensor_numel(in);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("relu_backward", ss_cuda_relu_backward(grad_in->data, grad_out->data, in->data, n));
    const float *x = in->data, *dy = grad_out->data;
    float *dx = grad_in->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
    return SS_OK;
}
