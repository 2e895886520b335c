/* dropout.h — CUDA launchers for inverted dropout (runtime/nn/dropout.c). Pointers are
 * device memory of n floats. */
#ifndef SS_KERNELS_DROPOUT_H
#define SS_KERNELS_DROPOUT_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* mask (holding the 0/1 draw) *= scale, then out = in·mask; out may be in itself. */
int ss_cuda_dropout_forward(float *out, float *mask, const float *in, int64_t n, float scale);
/* grad_in = grad_out·mask; grad_in may be grad_out itself. */
int ss_cuda_dropout_backward(float *grad_in, const float *grad_out, const float *mask, int64_t n);
#ifdef __cplusplus
}
#endif
#endif
