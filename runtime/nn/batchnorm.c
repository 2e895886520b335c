/* batchnorm.c — inference BatchNorm folded into the layer before it, once at load time:
 * y = γ·(conv(x) + b − mean)/√(var + eps) + β is conv'(x) with
 *   w' = w·s,  b' = β + (b − mean)·s,  s = γ/√(var + eps)   (per output channel),
 * computed in double and rounded once. */
#include "core/internal.h"

#include <math.h>

/* SS_ERR_ARG unless t (when given) is a CPU tensor of shape (c). */
static int check_vec(const char *op, const char *name, const ss_tensor *t, int64_t c)
{
    if (!t) return SS_OK;
    char a[96];
    if (t->ndim != 1 || t->shape[0] != c)
        return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld)", op, name, ss_shape_str(a, sizeof a, t),
                       (long long)c);
    if (t->device != SS_CPU)
        return SS_FAIL(SS_ERR_DEVICE, "%s: %s is on cuda; fold on the CPU, then move the network", op, name);
    return SS_OK;
}

int ss_batchnorm_fold(ss_tensor *weight, ss_tensor *bias, const ss_tensor *gamma, const ss_tensor *beta,
                      const ss_tensor *mean, const ss_tensor *var, double eps)
{
    const char *op = "ss_batchnorm_fold";
    char a[96];
    SS_TRY(ss_check_tensor(weight, op, "weight"));
    SS_TRY(ss_check_tensor(bias, op, "bias"));
    SS_TRY(ss_check_tensor(mean, op, "mean"));
    SS_TRY(ss_check_tensor(var, op, "var"));
    if (weight->ndim < 1) return SS_FAIL(SS_ERR_ARG, "%s: weight must be (C,...), got %s", op, ss_shape_str(a, sizeof a, weight));
    if (weight->device != SS_CPU)
        return SS_FAIL(SS_ERR_DEVICE, "%s: weight is on cuda; fold on the CPU, then move the network", op);
    const int64_t c = weight->shape[0], per = c ? ss_tensor_numel(weight) / c : 0;
    SS_TRY(check_vec(op, "bias", bias, c));
    SS_TRY(check_vec(op, "gamma", gamma, c));
    SS_TRY(check_vec(op, "beta", beta, c));
    SS_TRY(check_vec(op, "mean", mean, c));
    SS_TRY(check_vec(op, "var", var, c));
    if (!(eps >= 0.0) || !isfinite(eps)) return SS_FAIL(SS_ERR_ARG, "%s: eps must be finite and >= 0, got %g", op, eps);
    /* check everything before changing anything */
    for (int64_t o = 0; o < c; o++) {
        const double v = (double)var->data[o] + eps, g = gamma ? gamma->data[o] : 1.0, b = beta ? beta->data[o] : 0.0;
        if (!(v > 0.0) || !isfinite(v) || !isfinite(g) || !isfinite(b) || !isfinite(mean->data[o]))
            return SS_FAIL(SS_ERR_NUMERIC,
                           "%s: channel %lld has var + eps = %g, gamma %g, beta %g, mean %g (need finite, var + eps > 0)",
                           op, (long long)o, v, g, b, (double)mean->data[o]);
    }
    for (int64_t o = 0; o < c; o++) {
        const double s = (gamma ? (double)gamma->data[o] : 1.0) / sqrt((double)var->data[o] + eps);
        float *w = weight->data + o * per;
        for (int64_t i = 0; i < per; i++) w[i] = (float)((double)w[i] * s);
        bias->data[o] = (float)((beta ? (double)beta->data[o] : 0.0) + ((double)bias->data[o] - (double)mean->data[o]) * s);
    }
    return SS_OK;
}
