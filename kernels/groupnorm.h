/* groupnorm.h — GroupNorm on the GPU (runtime/nn/groupnorm.c's semantics), and the
 * per-channel bias add and bias gradient that conv2d and linear share with it (the
 * bias gradient is GroupNorm's grad_bias: a sum per channel over batch and plane).
 * Tensors are contiguous (N, C, plane) float32 on the device; sums run in double. */
#ifndef SS_KERNELS_GROUPNORM_H
#define SS_KERNELS_GROUPNORM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (N,C,plane) = (in − μ)·rstd·weight[c] + bias[c] per (n, group of C/groups channels);
 * stats (N·groups·2) = (μ, rstd) per (n, group). weight, bias (C) may be NULL (1 and 0). */
int ss_cuda_groupnorm_forward(float *out, float *stats, const float *in, const float *weight, const float *bias,
                              int64_t n, int64_t c, int64_t plane, int groups, double eps);
/* grad_in (N,C,plane) = (written); grad_weight, grad_bias (C) += ; each may be NULL.
 * grad_out, in (N,C,plane); weight (C) or NULL; stats from the forward. */
int ss_cuda_groupnorm_backward(float *grad_in, float *grad_weight, float *grad_bias, const float *grad_out,
                               const float *in, const float *weight, const float *stats, int64_t n, int64_t c,
                               int64_t plane, int groups);
/* out (N,C,plane) += bias[c]. */
int ss_cuda_bias_forward(float *out, const float *bias, int64_t n, int64_t c, int64_t plane);
/* grad_bias (C) = (float)(grad_bias[c] + Σ_{n,p} grad_out[n][c][p]), the sum in double. */
int ss_cuda_bias_backward(float *grad_bias, const float *grad_out, int64_t n, int64_t c, int64_t plane);
#ifdef __cplusplus
}
#endif
#endif
