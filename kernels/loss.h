/* loss.h — CUDA launchers for the mean-squared error (runtime/nn/loss.c). pred, target
 * and grad_pred are device memory (n,m): n samples of m values; weight is device memory
 * (n) or NULL for weights of 1. */
#ifndef SS_KERNELS_LOSS_H
#define SS_KERNELS_LOSS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* *loss (host) = (1/n) Σ_s w_s r_s, r_s the mean (sum_pixels = 0) or sum over sample s of
 * (pred − target)², summed in double on the device. */
int ss_cuda_mse_forward(double *loss, const float *pred, const float *target, const float *weight, int64_t n,
                        int64_t m, int sum_pixels);
/* grad_pred = (float)(grad_loss·2·w_s / denom)·(pred − target), denom = n·(sum_pixels ? 1 : m)
 * in double as the caller computes it. */
int ss_cuda_mse_backward(float *grad_pred, const float *pred, const float *target, const float *weight, int64_t n,
                         int64_t m, double grad_loss, double denom);
#ifdef __cplusplus
}
#endif
#endif
