/* linear.h — the fully connected layer on the GPU (runtime/nn/linear.c's semantics):
 * cuBLAS SGEMMs in full FP32 (no TF32, like PyTorch's default for matmul) on the
 * row-major device buffers; the bias pieces are groupnorm.h's per-channel kernels. */
#ifndef SS_KERNELS_LINEAR_H
#define SS_KERNELS_LINEAR_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (rows,fout) = in (rows,fin) · weightᵀ (fin,fout) [+ bias (fout)]; bias may be NULL. */
int ss_cuda_linear_forward(float *out, const float *in, const float *weight, const float *bias, int64_t rows,
                           int64_t fin, int64_t fout);
/* grad_in (rows,fin) = grad_out (rows,fout) · weight (fout,fin) (written);
 * grad_weight (fout,fin) += grad_outᵀ · in; grad_bias (fout) += Σ_rows grad_out; each may be NULL. */
int ss_cuda_linear_backward(float *grad_in, float *grad_weight, float *grad_bias, const float *grad_out,
                            const float *in, const float *weight, int64_t rows, int64_t fin, int64_t fout);
#ifdef __cplusplus
}
#endif
#endif
