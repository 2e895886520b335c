/* tensor.h — launchers of kernels/tensor.cu: runtime/core/tensor.c's finite check
 * on device tensors (its shape ops are kernels/shape.h's). Tensor pointers are
 * device pointers to float32; the others are host memory. */
#ifndef SS_KERNELS_TENSOR_H
#define SS_KERNELS_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* *first = the lowest i with x[i] NaN or Inf (n when there is none) and *value =
 * x[*first]; waits for the GPU. */
int ss_cuda_first_nonfinite_forward(int64_t *first, float *value, const float *x, int64_t n);
#ifdef __cplusplus
}
#endif
#endif
