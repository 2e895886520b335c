/* tensor.h — launchers of kernels/tensor.cu: the data movement of runtime/core/
 * tensor.c on device tensors (finite check, gathers, windows, flips). Tensor
 * pointers are device pointers to float32; the others are host memory. */
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
/* out (n, row) = rows idx[0..n) of x (., row); idx is host memory, checked by the caller. */
int ss_cuda_index_select_forward(float *out, const float *x, const int64_t *idx, int64_t n, int64_t row);
/* dst[p*dst_plane + i*dst_row + j] = src[p*src_plane + i*src_row + j] for the box
 * (planes, rows, cols): crop windows and the parts of cat/split. */
int ss_cuda_copy_box_forward(float *dst, int64_t dst_plane, int64_t dst_row, const float *src, int64_t src_plane,
                             int64_t src_row, int64_t planes, int64_t rows, int64_t cols);
/* Mirrors every line of w floats of sample i of x (n, row) in place where flip[i]
 * != 0; flip (n) is host memory. */
int ss_cuda_flip_w_where_forward(float *x, const float *flip, int64_t n, int64_t row, int64_t w);
#ifdef __cplusplus
}
#endif
#endif
