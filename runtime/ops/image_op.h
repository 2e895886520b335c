/* image_op.h — the check the image operators share (dct.c, heat.c, laplace.c,
 * resize.c, osmosis.c); not part of the API. */
#ifndef SS_OPS_IMAGE_OP_H
#define SS_OPS_IMAGE_OP_H

#include "core/internal.h"

/* Shape check shared by the image operators: in is (...,H,W) with 2 to 4
 * dimensions, out on the same device with the same leading dimensions and last
 * two (out_h, out_w), or in's own when out_h = out_w = 0. Sets *batch (product of
 * the leading dimensions) and the image sizes; returns the device (SS_CPU or
 * SS_CUDA), or the error. */
int ss_image_op_check(const char *op, const ss_tensor *out, const ss_tensor *in, int64_t out_h,
                      int64_t out_w, int64_t *batch, int64_t *h, int64_t *w);

#endif
