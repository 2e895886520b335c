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
 * dimensions, out on the same device with the same leading dimensions and last
 * two (out_h, out_w), or in's own when out_h = out_w = 0. Sets *batch (product of
 * the leading dimensions) and the image sizes; returns the device (SS_CPU or
 * SS_CUDA), or the error. */
int ss_image_op_check(const char *op, const ss_tensor *out, const ss_tensor *in, int64_t out_h,
                      int64_t out_w, int64_t *batch, int64_t *h, int64_t *w);

/* The device an operator's data lives on (diag_dct's scale, an osmosis
 * operator's drift), looking through composites' children; SS_CPU when it holds
 * none. ss_linop_dot_test and ss_power_iteration run there (linop.c). */
int ss_linop_device(const ss_linop *op);
/* The device of an osmosis operator's drift, or -1 when op is none (osmosis.c). */
int ss_osmosis_linop_device(const ss_linop *op);
/* ss_linop_dot_test with the vectors on `device` (drawn on the CPU and copied, so
 * every device tests with the same numbers). */
int ss_linop_dot_test_on(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed, int device);
/* Replaces *t by a copy on `device` (nothing to do when it is there already). */
int ss_tensor_move(ss_tensor **t, int device);

#endif
