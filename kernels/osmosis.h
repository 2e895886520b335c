/* osmosis.h — linear osmosis on the GPU (osmosis.cu): the canonical drift, the
 * operator A (and alpha·I + beta·A) with its transpose, and the explicit-step
 * bounds. Images (nimg,H,W); drift d1 (·,H−1,W), d2 (·,H,W−1), NULL when the image
 * has no such faces; shared: one drift image for every image. */
#ifndef SS_KERNELS_OSMOSIS_H
#define SS_KERNELS_OSMOSIS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* *first = the first flat index k of v (n) with !(v[k] > 0) or v[k] not finite, n
 * when none (copied to the host: waits for the GPU). */
int ss_cuda_osmosis_first_bad_forward(int64_t *first, const float *v, int64_t n);
/* d1 = (float)(s (v[i+1][j] − v[i][j]) / (v[i+1][j] + v[i][j])) in double, d2 likewise
 * along the rows; s = 2/h. v (nimg,H,W) > 0. */
int ss_cuda_osmosis_drift_forward(float *d1, float *d2, const float *v, int64_t nimg, int64_t H, int64_t W, double s);
/* out = alpha·in + beta·(A in), cc = 1/h², e = 1/(2h) (as float, as osmosis.c);
 * faced: the face coefficients are beta·p, beta·q and the fluxes summed unscaled
 * (osmosis.c's form for I − τA in solves), else beta scales the flux sum.
 * out must not overlap in. */
int ss_cuda_osmosis_forward(float *out, const float *in, const float *d1, const float *d2, int64_t nimg, int64_t H,
                            int64_t W, int shared, float cc, float e, float alpha, float beta, int faced);
/* out = alpha·in + beta·(Aᵀ in), the transposed loop; arguments as the forward. */
int ss_cuda_osmosis_adjoint(float *out, const float *in, const float *d1, const float *d2, int64_t nimg, int64_t H,
                            int64_t W, int shared, float cc, float e, float alpha, float beta, int faced);
/* Over the nimg drift images: *max_out = max over pixels of the sum of outgoing
 * coefficients |1/h² ± d/(2h)|, *max_dh = max |d|·h/2, in double (copied to the
 * host: waits for the GPU). */
int ss_cuda_osmosis_bounds_forward(double *max_out, double *max_dh, const float *d1, const float *d2, int64_t nimg,
                                   int64_t H, int64_t W, float h);
#ifdef __cplusplus
}
#endif
#endif
