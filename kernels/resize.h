/* resize.h — separable linear maps on the GPU, one matrix per axis applied as a
 * GEMM pair (resize.cu): the resize modes, and with the DCT matrix the DCT
 * (dct.cu). Plus the device cache of those per-axis matrices. */
#ifndef SS_KERNELS_RESIZE_H
#define SS_KERNELS_RESIZE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* What a cached matrix is: the DCT of one size, or the resize table of a mode
 * (SS_CUDA_MATRIX_RESIZE + mode) from cols input to rows output positions. */
enum { SS_CUDA_MATRIX_DCT = 0, SS_CUDA_MATRIX_RESIZE = 1 };

/* Fills host (rows x cols, row-major, zeroed) with the matrix; an ss_status. */
typedef int (*ss_cuda_matrix_build)(float *host, int64_t rows, int64_t cols, void *ctx);

/* *dev = the matrix (kind, rows, cols) on the device, built by build(ctx) and
 * uploaded on first use, kept until the process ends. When the cache is full it
 * is made for this call only: *owned = 1 and the caller hands it to
 * ss_cuda_free after queuing the work that reads it. */
int ss_cuda_matrix_get(const float **dev, int *owned, int kind, int64_t rows, int64_t cols,
                       ss_cuda_matrix_build build, void *ctx);

/* out (b,Ho,Wo) = Mh · in_i · Mwᵀ for each image in_i (b,H,W); Mh (Ho,H) and
 * Mw (Wo,W) row-major device matrices, NULL for an axis left as it is (then
 * Ho = H, resp. Wo = W). out may overlap in. */
int ss_cuda_resize_forward(float *out, const float *in, int64_t b, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                           const float *mh, const float *mw);
/* The transpose: out (b,H,W) = Mhᵀ · in_i · Mw for each in_i (b,Ho,Wo). */
int ss_cuda_resize_adjoint(float *out, const float *in, int64_t b, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                           const float *mh, const float *mw);
#ifdef __cplusplus
}
#endif
#endif
