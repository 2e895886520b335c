/* relu.h — ReLU on the GPU, with runtime/nn/activation.c's semantics. Contiguous float32
 * device buffers of n values. */
#ifndef SS_KERNELS_RELU_H
#define SS_KERNELS_RELU_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (n) = max(in, 0), a NaN kept (torch.relu). */
int ss_cuda_relu_forward(float *out, const float *in, int64_t n);
/* grad_in (n) = grad_out where in > 0, else 0. */
int ss_cuda_relu_backward(float *grad_in, const float *grad_out, const float *in, int64_t n);
#ifdef __cplusplus
}
#endif
#endif
