/* dct.h — FFTW's unnormalised DCTs, shared by the DCT-based operators (dct.c,
 * heat.c); not part of the API. */
#ifndef SS_OPS_DCT_H
#define SS_OPS_DCT_H

#include "core/internal.h"

enum { SS_DCT_REDFT10 = 0, SS_DCT_REDFT01 = 1 };

/* Unnormalised FFTW transform in place over `batch` contiguous h×w images at
 * data: REDFT10 (DCT-II, 2·sum per axis) or REDFT01 (DCT-III). REDFT01 after
 * REDFT10 multiplies by 4·h·w. `op` names the caller in errors. */
int ss_dct2_raw(float *data, int64_t batch, int64_t h, int64_t w, int kind, const char *op);

#endif
