/* resample.c — the UNet's nearest 2x up-sampling and its backward (the 2x2 block sums); on
 * cuda in kernels/layers.cu. Average pooling, 2x2 included, is pool.c's. */
#include "core/internal.h"
#include "kernels/layers.h"

/* Returns the device of the tensors. */
static int resample_check(const char *op, const ss_tensor *big, const ss_tensor *small)
{
    SS_TRY(ss_check_tensor(big, op, "full-size tensor"));
    SS_TRY(ss_check_tensor(small, op, "half-size tensor"));
    const ss_tensor *ts[2] = {big, small};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    if (big->ndim != 4 || small->ndim != 4 || big->shape[0] != small->shape[0] || big->shape[1] != small->shape[1] ||
        big->shape[2] / 2 != small->shape[2] || big->shape[3] / 2 != small->shape[3] || small->shape[2] < 1 ||
        small->shape[3] < 1) {
        char a[64], b[64];
        return SS_FAIL(SS_ERR_ARG, "%s: shapes %s and %s are not (N,C,H,W) and (N,C,H/2,W/2)", op,
                       ss_shape_str(a, sizeof a, big), ss_shape_str(b, sizeof b, small));
    }
    return dev;
}

/* out (N,C,2h,2w): each value of in (N,C,h,w) repeated in a 2x2 block. */
int ss_upsample2_forward(ss_tensor *out, const ss_tensor *in)
{
    const int dev = resample_check("upsample2_forward", out, in);
    if (dev < 0) return dev;
    if (out->shape[2] != 2 * in->shape[2] || out->shape[3] != 2 * in->shape[3])
        return SS_FAIL(SS_ERR_ARG, "upsample2_forward: out must be exactly twice the input's size");
    const int64_t NC = in->shape[0] * in->shape[1], h = in->shape[2], w = in->shape[3], W = 2 * w;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("upsample2_forward", ss_cuda_upsample2_forward(out->data, in->data, NC, h, w));
#pragma omp parallel for schedule(static) if (NC * h * w > 16384)
    for (int64_t p = 0; p < NC; p++) {
        const float *x = in->data + p * h * w;
        float *y = out->data + p * 4 * h * w;
        for (int64_t i = 0; i < 2 * h; i++)
            for (int64_t j = 0; j < W; j++) y[i * W + j] = x[(i / 2) * w + j / 2];
    }
    return SS_OK;
}

/* grad_in (N,C,h,w) = sum of grad_out over each 2x2 block. */
int ss_upsample2_backward(ss_tensor *grad_in, const ss_tensor *grad_out)
{
    const int dev = resample_check("upsample2_backward", grad_out, grad_in);
    if (dev < 0) return dev;
    if (grad_out->shape[2] != 2 * grad_in->shape[2] || grad_out->shape[3] != 2 * grad_in->shape[3])
        return SS_FAIL(SS_ERR_ARG, "upsample2_backward: grad_out must be exactly twice grad_in's size");
    const int64_t NC = grad_in->shape[0] * grad_in->shape[1], h = grad_in->shape[2], w = grad_in->shape[3], W = 2 * w;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("upsample2_backward", ss_cuda_upsample2_backward(grad_in->data, grad_out->data, NC, h, w));
#pragma omp parallel for schedule(static) if (NC * h * w > 16384)
    for (int64_t p = 0; p < NC; p++) {
        float *x = grad_in->data + p * h * w;
        const float *y = grad_out->data + p * 4 * h * w;
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                const float *r0 = y + 2 * i * W + 2 * j, *r1 = r0 + W;
                x[i * w + j] = r0[0] + r0[1] + r1[0] + r1[1];
            }
    }
    return SS_OK;
}
