/* reduce.h — launchers of kernels/reduce.cu: the reductions and dot products of
 * runtime/ops/reduce.c (accumulated in double in a fixed order) and the batched
 * GEMM of runtime/ops/matmul.c (cuBLAS). Tensor pointers are device pointers to
 * contiguous float32; `result` pointers are host memory (those calls wait for the
 * GPU). */
#ifndef SS_KERNELS_REDUCE_H
#define SS_KERNELS_REDUCE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* *result = op (an SS_RED_* kind) over x[0..n), finished as on the CPU (mean
 * divides, var is two-pass, norm takes the root). */
int ss_cuda_reduce_forward(double *result, const float *x, int64_t n, int op);
/* out[r] (rows) = op over row r of x (rows, len), rounded to float. */
int ss_cuda_reduce_rows_forward(float *out, const float *x, int64_t rows, int64_t len, int op);
/* *result = sum of a[i]*b[i] over n elements. */
int ss_cuda_dot_forward(double *result, const float *a, const float *b, int64_t n);
/* out[r] (rows) = dot of row r of a and b (rows, len), rounded to float. */
int ss_cuda_dot_rows_forward(float *out, const float *a, const float *b, int64_t rows, int64_t len);
/* Row-major out (batch, m, n) = alpha * op(a) (m, k) * op(b) (k, n) + beta * out per
 * batch entry; a is stored (m, k), or (k, m) when trans_a, with `lda` floats per row
 * and stride_a floats between batch entries (0: one a for all), likewise b. */
int ss_cuda_bmm_forward(float *out, const float *a, const float *b, int64_t batch, int64_t m, int64_t n, int64_t k,
                        int trans_a, int trans_b, int64_t lda, int64_t ldb, int64_t stride_a, int64_t stride_b,
                        float alpha, float beta);
#ifdef __cplusplus
}
#endif
#endif
