/* dct.h — shared by the DCT-based operators (dct.c, heat.c, resize.c, laplace.c,
 * linop.c); not part of the public API. */
#ifndef SS_OPS_DCT_H
#define SS_OPS_DCT_H

#include "core/internal.h"

enum { SS_DCT_REDFT10 = 0, SS_DCT_REDFT01 = 1 };

/* Unnormalised FFTW transform in place over `batch` contiguous h×w images at
 * data: REDFT10 (DCT-II, 2·sum per axis) or REDFT01 (DCT-III). REDFT01 after
 * REDFT10 multiplies by 4·h·w. `op` names the caller in errors. */
int ss_dct2_raw(float *data, int64_t batch, int64_t h, int64_t w, int kind, const char *op);

/* exp(tΔ) (Neumann, t > 0) on `b` contiguous h×w images as two banded matrix
 * passes (heat_band.c); out may be in. 1 when done, 0 when the band is too
 * wide to beat the DCT path (nothing written), < 0 on error. */
int ss_heat_band(float *out, const float *in, int64_t b, int64_t h, int64_t w, double t, const char *op);

/* Shape check shared by the image operators: in is (...,H,W) with 2 to 4
 * dimensions, on the CPU, and out has the same leading dimensions with last two
 * (out_h, out_w), or in's own when out_h = out_w = 0. Sets *batch (product of
 * the leading dimensions) and the image sizes. */
int ss_image_op_check(const char *op, const ss_tensor *out, const ss_tensor *in, int64_t out_h,
                      int64_t out_w, int64_t *batch, int64_t *h, int64_t *w);

#endif
