/* optim.c — fused Adam/AdamW steps, the global gradient norm, and EMA of parameters.
 * Arithmetic in float32 in the order torch.optim.Adam (1.13, single-tensor path)
 * uses, so ten steps agree with PyTorch to rounding. On cuda, kernels/optim.cu runs
 * the same float operations per value, and sums the norm in double on the device. */
#include "core/internal.h"
#include "kernels/optim.h"
#include <math.h>

/* Checks n tensors of one shape on one device; returns the device. */
static int same_device(const char *op, int n, const ss_tensor *const *ts)
{
    for (int i = 0; i < n; i++) {
        SS_TRY(ss_check_tensor(ts[i], op, "tensor"));
        if (i) SS_TRY(ss_check_same_shape(op, ts[0], ts[i]));
    }
    return ss_common_device(op, n, ts);
}

int ss_adam_step(ss_tensor *param, ss_tensor *m, ss_tensor *v, const ss_tensor *grad, double lr, double beta1,
                 double beta2, double eps, double weight_decay, int decoupled, int64_t step)
{
    const ss_tensor *ts[4] = {param, m, v, grad};
    const int dev = same_device("adam_step", 4, ts);
    if (dev < 0) return dev;
    if (step < 1) return SS_FAIL(SS_ERR_ARG, "adam_step: step must be >= 1 (count it before the call), got %lld",
                                 (long long)step);
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0 && lr >= 0))
        return SS_FAIL(SS_ERR_ARG, "adam_step: need 0 <= betas < 1, eps >= 0, lr >= 0");
    const int64_t n = ss_tensor_numel(param);
    const float b1 = (float)beta1, b2 = (float)beta2, wd = (float)weight_decay;
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bc1), sqrt_bc2 = (float)sqrt(bc2), shrink = (float)(1.0 - lr * weight_decay);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("adam_step", ss_cuda_adam_step(param->data, m->data, v->data, grad->data, n, b1, b2, wd,
                                                           (float)eps, step_size, sqrt_bc2, shrink, decoupled));
    float *p = param->data, *mm = m->data, *vv = v->data;
    const float *g = grad->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        if (decoupled) p[i] *= shrink;
        else if (wd != 0.0f) gi += wd * p[i];
        mm[i] = mm[i] * b1 + (1.0f - b1) * gi;
        vv[i] = vv[i] * b2 + (1.0f - b2) * gi * gi;
        const float denom = sqrtf(vv[i]) / sqrt_bc2 + (float)eps;
        p[i] -= step_size * (mm[i] / denom);
    }
    return SS_OK;
}

/* Host arrays of the gradients' device pointers and sizes for the multi-tensor launchers
 * (*ptrs, one allocation for both; ss_free it). */
static int grad_list(float ***ptrs, int64_t **sizes, const ss_tensor *const *grads, int count)
{
    *ptrs = ss_alloc((size_t)count * (sizeof(float *) + sizeof(int64_t)), "grad_norm's list of gradients");
    if (!*ptrs) return SS_ERR_NOMEM;
    *sizes = (int64_t *)(*ptrs + count);
    for (int k = 0; k < count; k++) {
        (*ptrs)[k] = grads[k]->data;
        (*sizes)[k] = ss_tensor_numel(grads[k]);
    }
    return SS_OK;
}

int ss_grad_norm(double *norm, const ss_tensor *const *grads, int count)
{
    if (!norm || (count > 0 && !grads)) return SS_FAIL(SS_ERR_ARG, "grad_norm: NULL argument");
    for (int k = 0; k < count; k++) SS_TRY(ss_check_tensor(grads[k], "grad_norm", "gradient"));
    const int dev = ss_common_device("grad_norm", count, grads);
    if (dev < 0) return dev;
    double s = 0;
    if (dev == SS_CUDA) {
        float **ptrs;
        int64_t *sizes;
        SS_TRY(grad_list(&ptrs, &sizes, grads, count));
        const int rc =
            SS_CUDA_CALL("grad_norm", ss_cuda_grad_sumsq_forward(&s, (const float *const *)ptrs, sizes, count));
        ss_free(ptrs);
        SS_TRY(rc);
        *norm = sqrt(s);
        return SS_OK;
    }
    for (int k = 0; k < count; k++) {
        const float *g = grads[k]->data;
        const int64_t n = ss_tensor_numel(grads[k]);
        double part = 0;
#pragma omp parallel for reduction(+ : part) schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) part += (double)g[i] * g[i];
        s += part;
    }
    *norm = sqrt(s);
    return SS_OK;
}

int ss_clip_grad_norm(double *norm, ss_tensor *const *grads, int count, double max_norm)
{
    SS_TRY(ss_grad_norm(norm, (const ss_tensor *const *)grads, count));
    if (!isfinite(*norm)) return SS_OK; /* the caller decides what a non-finite norm means */
    const double coef = max_norm / (*norm + 1e-6);
    if (coef >= 1.0) return SS_OK;
    if (count > 0 && grads[0]->device == SS_CUDA) { /* grad_norm checked they share it */
        float **ptrs;
        int64_t *sizes;
        SS_TRY(grad_list(&ptrs, &sizes, (const ss_tensor *const *)grads, count));
        const int rc = SS_CUDA_CALL("clip_grad_norm", ss_cuda_grad_scale_forward(ptrs, sizes, count, (float)coef));
        ss_free(ptrs);
        return rc;
    }
    for (int k = 0; k < count; k++) {
        float *g = grads[k]->data;
        const int64_t n = ss_tensor_numel(grads[k]);
        const float c = (float)coef;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
        for (int64_t i = 0; i < n; i++) g[i] *= c;
    }
    return SS_OK;
}

int ss_ema_update(ss_tensor *ema, const ss_tensor *param, double decay)
{
    const ss_tensor *ts[2] = {ema, param};
    const int dev = same_device("ema_update", 2, ts);
    if (dev < 0) return dev;
    if (!(decay >= 0 && decay <= 1)) return SS_FAIL(SS_ERR_ARG, "ema_update: decay must be in [0, 1], got %g", decay);
    const int64_t n = ss_tensor_numel(ema);
    const float d = (float)decay, c = (float)(1.0 - decay);
    if (dev == SS_CUDA) return SS_CUDA_CALL("ema_update", ss_cuda_ema_update(ema->data, param->data, n, d, c));
    float *e = ema->data;
    const float *p = param->data;
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
    for (int64_t i = 0; i < n; i++) e[i] = e[i] * d + p[i] * c;
    return SS_OK;
}
