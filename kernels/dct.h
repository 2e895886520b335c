/* dct.h — the orthonormal 2-D DCT and the operators diagonal in its basis (heat,
 * blur, diag_dct) on the GPU (dct.cu): per image C_h · X · C_wᵀ as a GEMM pair
 * with the DCT matrix (resize.cu), the per-frequency scaling in between. */
#ifndef SS_KERNELS_DCT_H
#define SS_KERNELS_DCT_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (b,h,w) = the orthonormal DCT-II of each image of in (b,h,w); out may be in. */
int ss_cuda_dct2_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w);
/* out (b,h,w) = the inverse (DCT-III, the transpose); out may be in. */
int ss_cuda_dct2_inverse(float *out, const float *in, int64_t b, int64_t h, int64_t w);
/* out (b,h,w) = exp(tΔ) in: DCT coefficient (k,l) times exp(−t((πk/h)² + (πl/w)²)),
 * the mean kept exactly for t = +inf; t > 0; out may be in. */
int ss_cuda_heat_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w, double t);
/* out (b,h,w) = idct2(scale ⊙ dct2(in)); image i uses scale image
 * (i / isz1)·step0 + (i % isz1)·step1 of scale (·,h,w); out may be in. */
int ss_cuda_diag_dct_forward(float *out, const float *in, const float *scale, int64_t b, int64_t h, int64_t w,
                             int64_t isz1, int64_t step0, int64_t step1);
/* out (b,h,w) = (πk/h)² + (πl/w)² at (k,l) of every image. */
int ss_cuda_heat_frequencies_forward(float *out, int64_t b, int64_t h, int64_t w);
#ifdef __cplusplus
}
#endif
#endif
