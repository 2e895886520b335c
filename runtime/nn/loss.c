/* loss.c — mean-squared error with optional per-sample weights (min-SNR weighting), and
 * the softmax cross-entropy of a classifier.
 * MSE: loss = (1/N) Σ_n w_n · r_n with r_n the mean (or, with sum_pixels, the sum) over
 * the sample's elements of (pred − target)²; w_n = 1 without weights.
 * Cross-entropy: loss = (1/N) Σ_n logsumexp(z_n) − z_n[label_n], per row in double.
 * On cuda kernels/loss.cu does the same arithmetic, summing in double on the device
 * (the labels are checked on the host first: an error names its row). */
#include "core/internal.h"

#include <math.h>
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

/* ------------------------------------------------------------ softmax cross-entropy */

/* Returns the device of the tensors, after checking logits (N,K) and labels (N). */
static int ce_check(const char *op, const ss_tensor *logits, const ss_tensor *labels)
{
    char b1[64], b2[64];
    SS_TRY(ss_check_tensor(logits, op, "logits"));
    SS_TRY(ss_check_tensor(labels, op, "labels"));
    if (logits->ndim != 2 || ss_tensor_numel(labels) != logits->shape[0])
        return SS_FAIL(SS_ERR_ARG, "%s: logits must be (N,K) and labels hold N values, got %s and %s", op,
                       ss_shape_str(b1, sizeof b1, logits), ss_shape_str(b2, sizeof b2, labels));
    const ss_tensor *ts[2] = {logits, labels};
    return ss_common_device(op, 2, ts);
}

/* The labels (any device) must be class indices 0..K−1; SS_ERR_ARG naming the first bad
 * one (1-based row). */
static int ce_labels_check(const char *op, const ss_tensor *labels, int64_t n, int64_t k)
{
    float *h = labels->device == SS_CPU ? labels->data : ss_alloc((size_t)n * sizeof(float), op);
    if (!h) return SS_ERR_NOMEM;
    int rc = h == labels->data ? SS_OK : ss_tensor_read(h, labels);
    for (int64_t i = 0; rc == SS_OK && i < n; i++) {
        const float l = h[i];
        if (!(l >= 0 && l < (float)k && l == floorf(l)))
            rc = SS_FAIL(SS_ERR_ARG, "%s: label %g in row %lld is not a class index in 0..%lld", op, (double)l,
                         (long long)(i + 1), (long long)(k - 1));
    }
    if (h != labels->data) ss_free(h);
    return rc;
}

/* logsumexp of row z (k values) in double, the maximum subtracted. */
static double ce_logsumexp(const float *z, int64_t k)
{
    float mx = z[0];
    for (int64_t j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < k; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

int ss_cross_entropy_forward(double *loss, const ss_tensor *logits, const ss_tensor *labels)
{
    if (!loss) return SS_FAIL(SS_ERR_ARG, "cross_entropy_forward: loss is NULL");
    const int dev = ce_check("cross_entropy_forward", logits, labels);
    if (dev < 0) return dev;
    const int64_t n = logits->shape[0], k = logits->shape[1];
    SS_TRY(ce_labels_check("cross_entropy_forward", labels, n, k));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("cross_entropy_forward", ss_cuda_cross_entropy_forward(loss, logits->data, labels->data, n, k));
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits->data + i * k;
        total += ce_logsumexp(z, k) - z[(int64_t)labels->data[i]];
    }
    if (!isfinite(total)) return SS_FAIL(SS_ERR_NUMERIC, "cross_entropy_forward: the logits are not finite");
    *loss = total / (double)n;
    return SS_OK;
}

int ss_cross_entropy_backward(ss_tensor *grad_logits, const ss_tensor *logits, const ss_tensor *labels,
                              double grad_loss)
{
    const int dev = ce_check("cross_entropy_backward", logits, labels);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(grad_logits, "cross_entropy_backward", "grad_logits"));
    SS_TRY(ss_check_same_shape("cross_entropy_backward", grad_logits, logits));
    const ss_tensor *ts[2] = {grad_logits, logits};
    SS_TRY(ss_common_device("cross_entropy_backward", 2, ts));
    const int64_t n = logits->shape[0], k = logits->shape[1];
    SS_TRY(ce_labels_check("cross_entropy_backward", labels, n, k));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("cross_entropy_backward", ss_cuda_cross_entropy_backward(grad_logits->data, logits->data,
                                                                                    labels->data, n, k, grad_loss));
    const double c = grad_loss / (double)n;
#pragma omp parallel for schedule(static) if (n * k > 65536)
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits->data + i * k;
        float *g = grad_logits->data + i * k;
        const double lse = ce_logsumexp(z, k);
        const int64_t label = (int64_t)labels->data[i];
        for (int64_t j = 0; j < k; j++) g[j] = (float)(c * (exp((double)z[j] - lse) - (j == label)));
    }
    return SS_OK;
}
