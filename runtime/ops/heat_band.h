/* heat_band.h — the banded path of the heat semigroup (heat_band.c), used by
 * heat.c; not part of the API. */
#ifndef SS_OPS_HEAT_BAND_H
#define SS_OPS_HEAT_BAND_H

#include "core/internal.h"

/* exp(tΔ) (Neumann, t > 0) on `b` contiguous h×w images as two banded matrix
 * passes (heat_band.c); out may be in. 1 when done, 0 when the band is too
 * wide to beat the DCT path (nothing written), < 0 on error. */
int ss_heat_band(float *out, const float *in, int64_t b, int64_t h, int64_t w, double t, const char *op);

#endif
