/* image_op.c — the shape and device check the image operators share (dct.c,
 * heat.c, laplace.c, resize.c, osmosis.c). */
#include "ops/image_op.h"

int ss_image_op_check(const char *op, const ss_tensor *out, const ss_tensor *in, int64_t out_h,
                      int64_t out_w, int64_t *batch, int64_t *h, int64_t *w)
{
    const ss_tensor *ts[2] = {out, in};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    char si[96], so[96];
    if (in->ndim < 2)
        return SS_FAIL(SS_ERR_ARG, "%s: input %s needs 2 to 4 dimensions (...,H,W)", op,
                       ss_shape_str(si, sizeof si, in));
    int nd = in->ndim;
    if (out_h == 0) out_h = in->shape[nd - 2], out_w = in->shape[nd - 1];
    int ok = out->ndim == nd && out->shape[nd - 2] == out_h && out->shape[nd - 1] == out_w;
    for (int d = 0; ok && d < nd - 2; d++) ok = out->shape[d] == in->shape[d];
    if (!ok)
        return SS_FAIL(SS_ERR_ARG, "%s: output %s does not fit input %s: expected the input's leading "
                       "dimensions and an image of %lldx%lld", op, ss_shape_str(so, sizeof so, out),
                       ss_shape_str(si, sizeof si, in), (long long)out_h, (long long)out_w);
    int64_t b = 1;
    for (int d = 0; d < nd - 2; d++) b *= in->shape[d];
    *batch = b;
    *h = in->shape[nd - 2];
    *w = in->shape[nd - 1];
    return dev;
}
