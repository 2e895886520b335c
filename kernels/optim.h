/* optim.h — CUDA launchers for the optimiser steps (runtime/nn/optim.c). Tensors are
 * device memory; the multi-tensor launchers take host arrays of `count` device
 * pointers and their sizes. Scalars come in already rounded as the CPU rounds them. */
#ifndef SS_KERNELS_OPTIM_H
#define SS_KERNELS_OPTIM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* One fused Adam/AdamW step over n values of param, m, v (updated) and grad. */
int ss_cuda_adam_step(float *param, float *m, float *v, const float *grad, int64_t n, float beta1, float beta2,
                      float weight_decay, float eps, float step_size, float sqrt_bc2, float shrink, int decoupled);
/* *sumsq (host) = Σ over all tensors of Σ g², in double. */
int ss_cuda_grad_sumsq_forward(double *sumsq, const float *const *grads, const int64_t *sizes, int count);
/* Every value of every tensor times c. */
int ss_cuda_grad_scale_forward(float *const *grads, const int64_t *sizes, int count, float c);
/* ema = ema·decay + param·rest (n values). */
int ss_cuda_ema_update(float *ema, const float *param, int64_t n, float decay, float rest);
#ifdef __cplusplus
}
#endif
#endif
