/* loss.h — CUDA launchers for the mean-squared error and the softmax cross-entropy
 * (runtime/nn/loss.c). pred, target and grad_pred are device memory (n,m): n samples of m
 * values; weight is device memory (n) or NULL for weights of 1. logits and grad_logits
 * are device memory (n,k), labels (n) class indices 0..k−1 as floats, checked by the
 * caller. */
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
/* *loss (host) = (1/n) Σ_s logsumexp(logits_s) − logits_s[label_s], in double. */
int ss_cuda_cross_entropy_forward(double *loss, const float *logits, const float *labels, int64_t n, int64_t k);
/* grad_logits = grad_loss·(softmax(logits_s) − onehot(label_s))/n. */
int ss_cuda_cross_entropy_backward(float *grad_logits, const float *logits, const float *labels, int64_t n, int64_t k,
                                   double grad_loss);
#ifdef __cplusplus
}
#endif
#endif
