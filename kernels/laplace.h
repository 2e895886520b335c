/* laplace.h — the 5-point Neumann Laplacian on the GPU (laplace.cu). */
#ifndef SS_KERNELS_LAPLACE_H
#define SS_KERNELS_LAPLACE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (b,h,w) = Σ over the existing 4-neighbours of (in_nb − in_ij) per image of
 * in (b,h,w); symmetric, so it is also the adjoint. out must not overlap in. */
int ss_cuda_laplace_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w);
#ifdef __cplusplus
}
#endif
#endif
