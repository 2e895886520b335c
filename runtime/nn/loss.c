/* loss.c — mean-squared error with optional per-sample weights (min-SNR weighting).
 * loss = (1/N) Σ_n w_n · r_n with r_n the mean (or, with sum_pixels, the sum) over
 * the sample's elements of (pred − target)²; w_n = 1 without weights. On cuda
 * kernels/loss.cu does the same arithmetic, summing in double on the device. */
#include "core/internal.h"
#include "kernels/loss.h"

/* Returns the device of the tensors. */
static int mse_check(const char *op, const ss_tensor *pred, const ss_tensor *target, const ss_tensor *weight)
{
    SS_TRY(ss_check_tensor(pred, op, "pred"));
    SS_TRY(ss_check_tensor(target, op, "target"));
    SS_TRY(ss_check_same_shape(op, pred, target));
    const ss_tensor *ts[3] = {pred, target, weight};
    int dev = ss_common_device(op, weight ? 3 : 2, ts);
    if (dev < 0) return dev;
    if (weight && ss_tensor_numel(weight) != pred->shape[0])
        return SS_FAIL(SS_ERR_ARG, "%s: weights must have one value per sample (%lld), have %lld", op,
                       (long long)pred->shape[0], (long long)ss_tensor_numel(weight));
    return dev;
}

int ss_mse_forward(double *loss, const ss_tensor *pred, const ss_tensor *target, const ss_tensor *weight,
                   int sum_pixels)
{
    if (!loss) return SS_FAIL(SS_ERR_ARG, "mse_forward: loss is NULL");
    const int dev = mse_check("mse_forward", pred, target, weight);
    if (dev < 0) return dev;
    const int64_t N = pred->shape[0], M = ss_tensor_numel(pred) / N;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("mse_forward", ss_cuda_mse_forward(loss, pred->data, target->data,
                                                                weight ? weight->data : NULL, N, M, sum_pixels));
    double total = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = pred->data + n * M, *q = target->data + n * M;
        double s = 0;
        for (int64_t i = 0; i < M; i++) s += (double)(p[i] - q[i]) * (p[i] - q[i]);
        if (!sum_pixels) s /= M;
        total += (weight ? weight->data[n] : 1.0) * s;
    }
    *loss = total / N;
    return SS_OK;
}

/* grad_pred = grad_loss · ∂loss/∂pred = grad_loss · 2 w_n (pred − target) / (N · (sum_pixels ? 1 : M)). */
int ss_mse_backward(ss_tensor *grad_pred, const ss_tensor *pred, const ss_tensor *target, const ss_tensor *weight,
                    int sum_pixels, double grad_loss)
{
    const int dev = mse_check("mse_backward", pred, target, weight);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(grad_pred, "mse_backward", "grad_pred"));
    SS_TRY(ss_check_same_shape("mse_backward", grad_pred, pred));
    /* grad_pred on another device would be written through a pointer of the wrong kind */
    const ss_tensor *ts[2] = {grad_pred, pred};
    SS_TRY(ss_common_device("mse_backward", 2, ts));
    const int64_t N = pred->shape[0], M = ss_tensor_numel(pred) / N;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("mse_backward", ss_cuda_mse_backward(grad_pred->data, pred->data, target->data,
                                                                  weight ? weight->data : NULL, N, M, grad_loss,
                                                                  (double)N * (sum_pixels ? 1 : M)));
#pragma omp parallel for schedule(static) if (N * M > 65536)
    for (int64_t n = 0; n < N; n++) {
        const float c = (float)(grad_loss * 2.0 * (weight ? weight->data[n] : 1.0) / ((double)N * (sum_pixels ? 1 : M)));
        const float *p = pred->data + n * M, *q = target->data + n * M;
        float *g = grad_pred->data + n * M;
        for (int64_t i = 0; i < M; i++) g[i] = c * (p[i] - q[i]);
    }
    return SS_OK;
}
