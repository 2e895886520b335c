/* heat.c — operators diagonal in the DCT basis: heat semigroup, Gaussian blur,
 * and a user-given per-frequency scale (blurring diffusion).
 *
 * Each is C^T·diag(d)·C with C the orthonormal DCT. Since C = S·F10 and
 * C^T = F01·S' with S'·S = 1/(2N) per axis (see dct.c), the whole operator is
 * F01·diag(d / 4HW)·F10 on FFTW's unnormalised transforms: one multiply pass
 * between two in-place transforms of the output. All three are symmetric, so
 * the adjoints are the forwards.
 *
 * Heat and blur are separable and go first to heat_band.c, which applies
 * exp(tΔ) as two banded (for small images or small t, dense) matrix passes;
 * only where that is estimated slower do they take the DCT path here. */
#include "ops/dct.h"
#include "ops/heat_band.h"
#include "ops/image_op.h"
#include "ops/linop_impl.h"
#include "kernels/dct.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

/* out = F01(diag(mult)·F10(in)): mult is one (H,W) table already divided by
 * 4HW (scale_index NULL), or a stack of tables, image i using table
 * scale_index[i], divided here. out is in or does not overlap it. */
static int dct_diag(const char *op, ss_tensor *out, const ss_tensor *in, const float *mult,
                    const int64_t *scale_index, int64_t b, int64_t h, int64_t w)
{
    SS_TRY(ss_tensor_copy(out, in));
    SS_TRY(ss_dct2_raw(out->data, b, h, w, SS_DCT_REDFT10, op));
    int64_t hw = h * w;
    float *o = out->data;
    const float norm = (float)(0.25 / (double)hw);
#pragma omp parallel for schedule(static) if (b * hw > 65536)
    for (int64_t i = 0; i < b; i++) {
        float *img = o + i * hw;
        const float *m = mult + (scale_index ? scale_index[i] * hw : 0);
        if (scale_index)
            for (int64_t j = 0; j < hw; j++) img[j] *= m[j] * norm;
        else /* heat tables already hold the 1/4HW */
            for (int64_t j = 0; j < hw; j++) img[j] *= m[j];
    }
    return ss_dct2_raw(out->data, b, h, w, SS_DCT_REDFT01, op);
}

/* The device, or the error. */
static int heat_check(const char *op, const ss_tensor *out, const ss_tensor *in, double t, int64_t *b,
                      int64_t *h, int64_t *w)
{
    int dev = ss_image_op_check(op, out, in, 0, 0, b, h, w);
    if (dev < 0) return dev;
    if (!(t >= 0)) return SS_FAIL(SS_ERR_ARG, "%s: diffusion time t must be >= 0, got %g", op, t);
    return dev;
}

/* exp(-t·λ_kl) / 4HW with λ_kl = (πk/H)² + (πl/W)²; λ_00 = 0 keeps the mean
 * even for t = +inf (where -t·0 would be NaN). */
static float *heat_table(double t, int64_t h, int64_t w)
{
    float *m = ss_alloc((size_t)(h * w) * sizeof(float), "a heat multiplier table");
    if (!m) return NULL;
    const double norm = 0.25 / (double)(h * w);
    for (int64_t k = 0; k < h; k++)
        for (int64_t l = 0; l < w; l++) {
            double a = PI * (double)k / (double)h, c = PI * (double)l / (double)w;
            double lam = a * a + c * c;
            m[k * w + l] = (float)(lam == 0 ? norm : exp(-t * lam) * norm);
        }
    return m;
}

static int heat_run(const char *op, ss_tensor *out, const ss_tensor *in, double t)
{
    int64_t b, h, w;
    int dev = heat_check(op, out, in, t, &b, &h, &w);
    if (dev < 0) return dev;
    if (t == 0) return ss_tensor_copy(out, in); /* exactly the identity */
    if (out->data != in->data && ss_tensors_overlap(out, in))
        return SS_FAIL(SS_ERR_ARG, "%s: output partly overlaps the input", op);
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_heat_forward(out->data, in->data, b, h, w, t));
    int banded = ss_heat_band(out->data, in->data, b, h, w, t, op);
    if (banded < 0) return banded;
    if (banded > 0) return SS_OK;
    float *m = heat_table(t, h, w);
    if (!m) return SS_ERR_NOMEM;
    int rc = dct_diag(op, out, in, m, NULL, b, h, w);
    ss_free(m);
    return rc;
}

/* out, in: (...,H,W); out may be in. */
int ss_heat_forward(ss_tensor *out, const ss_tensor *in, float t) { return heat_run("ss_heat_forward", out, in, t); }
/* exp(tΔ) is symmetric. */
int ss_heat_adjoint(ss_tensor *out, const ss_tensor *in, float t) { return heat_run("ss_heat_adjoint", out, in, t); }

static int blur_run(const char *op, ss_tensor *out, const ss_tensor *in, float sigma)
{
    if (!(sigma >= 0)) return SS_FAIL(SS_ERR_ARG, "%s: sigma must be >= 0, got %g", op, (double)sigma);
    return heat_run(op, out, in, 0.5 * (double)sigma * (double)sigma);
}

int ss_blur_forward(ss_tensor *out, const ss_tensor *in, float sigma) { return blur_run("ss_blur_forward", out, in, sigma); }
int ss_blur_adjoint(ss_tensor *out, const ss_tensor *in, float sigma) { return blur_run("ss_blur_adjoint", out, in, sigma); }

/* out: (...,H,W) = λ_kl = (πk/H)² + (πl/W)², the heat decay rate of DCT
 * coefficient (k,l), repeated over the leading dimensions. */
int ss_heat_frequencies(ss_tensor *out)
{
    SS_TRY(ss_check_tensor(out, "ss_heat_frequencies", "out"));
    int64_t b, h, w;
    int dev = ss_image_op_check("ss_heat_frequencies", out, out, 0, 0, &b, &h, &w);
    if (dev < 0) return dev;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("ss_heat_frequencies", ss_cuda_heat_frequencies_forward(out->data, b, h, w));
    for (int64_t i = 0; i < b; i++)
        for (int64_t k = 0; k < h; k++)
            for (int64_t l = 0; l < w; l++) {
                double a = PI * (double)k / (double)h, c = PI * (double)l / (double)w;
                out->data[(i * h + k) * w + l] = (float)(a * a + c * c);
            }
    return SS_OK;
}

/* Which image of scale each image of in uses: scale's leading dimensions
 * right-align with in's and each equals in's or is 1. Image i (leading index
 * flattened) uses (i / map[0])·map[1] + (i % map[0])·map[2]. */
static int diag_scale_map(const char *op, const ss_tensor *in, const ss_tensor *scale, int64_t map[3])
{
    char si[96], ss[96];
    int nd = in->ndim, snd = scale->ndim;
    int ok = snd >= 2 && snd <= nd && scale->shape[snd - 2] == in->shape[nd - 2] &&
             scale->shape[snd - 1] == in->shape[nd - 1];
    int64_t ssz[2] = {1, 1}, isz[2] = {1, 1}; /* leading sizes, right-aligned into 2 slots */
    for (int d = 0; ok && d < snd - 2; d++) ssz[2 - (snd - 2) + d] = scale->shape[d];
    for (int d = 0; d < nd - 2; d++) isz[2 - (nd - 2) + d] = in->shape[d];
    for (int d = 0; ok && d < 2; d++) ok = ssz[d] == isz[d] || ssz[d] == 1;
    if (!ok)
        return SS_FAIL(SS_ERR_ARG, "%s: scale %s does not broadcast to the input %s (needs (...,H,W) with "
                       "leading sizes equal to the input's or 1)", op, ss_shape_str(ss, sizeof ss, scale),
                       ss_shape_str(si, sizeof si, in));
    map[0] = isz[1];
    map[1] = ssz[0] == 1 ? 0 : ssz[1];
    map[2] = ssz[1] == 1 ? 0 : 1;
    return SS_OK;
}

static int diag_run(const char *op, ss_tensor *out, const ss_tensor *in, const ss_tensor *scale)
{
    int64_t b, h, w, map[3] = {1, 0, 0};
    int dev = ss_image_op_check(op, out, in, 0, 0, &b, &h, &w);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(scale, op, "scale"));
    const ss_tensor *ts[2] = {in, scale};
    SS_TRY(ss_common_device(op, 2, ts));
    SS_TRY(diag_scale_map(op, in, scale, map));
    if (ss_tensors_overlap(out, scale)) return SS_FAIL(SS_ERR_ARG, "%s: output overlaps the scale", op);
    if (out->data != in->data && ss_tensors_overlap(out, in))
        return SS_FAIL(SS_ERR_ARG, "%s: output partly overlaps the input", op);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_diag_dct_forward(out->data, in->data, scale->data, b, h, w, map[0], map[1],
                                                         map[2]));
    int64_t *idx = ss_alloc((size_t)b * sizeof(int64_t), "diag_dct indices");
    if (!idx) return SS_ERR_NOMEM;
    for (int64_t i = 0; i < b; i++) idx[i] = i / map[0] * map[1] + i % map[0] * map[2];
    int rc = dct_diag(op, out, in, scale->data, idx, b, h, w);
    ss_free(idx);
    return rc;
}

/* out, in: (...,H,W); scale: (H,W) or broadcastable over the leading dims. */
int ss_diag_dct_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *scale)
{
    return diag_run("ss_diag_dct_forward", out, in, scale);
}

/* C^T·diag(s)·C is symmetric. */
int ss_diag_dct_adjoint(ss_tensor *out, const ss_tensor *in, const ss_tensor *scale)
{
    return diag_run("ss_diag_dct_adjoint", out, in, scale);
}

/* ------------------------------------------------------------ operators */

/* All three are symmetric: one function for both directions. Heat's and blur's
 * ctx is their float parameter; diag_dct's its own copy of the scale. */
static int heat_fn(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_heat_forward(out, in, *(const float *)op->ctx);
}

static int blur_fn(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_blur_forward(out, in, *(const float *)op->ctx);
}

static int diag_fn(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_diag_dct_forward(out, in, *(ss_tensor *const *)op->ctx);
}

static int diag_device(const ss_linop *op) { return (*(ss_tensor *const *)op->ctx)->device; }

static void diag_destroy(ss_linop *op) { ss_tensor_free(*(ss_tensor **)op->ctx); }

static const ss_linop_vtable heat_vt = {.apply = heat_fn, .adjoint = heat_fn};
static const ss_linop_vtable blur_vt = {.apply = blur_fn, .adjoint = blur_fn};
static const ss_linop_vtable diag_vt = {.apply = diag_fn, .adjoint = diag_fn, .device = diag_device,
                                        .destroy = diag_destroy};

ss_linop *ss_linop_heat(int64_t h, int64_t w, float t)
{
    if (!(t >= 0)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_heat: diffusion time t must be >= 0, got %g", (double)t);
    ss_linop *op = ss_linop_create("ss_linop_heat", &heat_vt, sizeof(float), h, w, h, w, "heat(t=%g)", (double)t);
    if (op) *(float *)op->ctx = t;
    return op;
}

ss_linop *ss_linop_blur(int64_t h, int64_t w, float sigma)
{
    if (!(sigma >= 0)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_blur: sigma must be >= 0, got %g", (double)sigma);
    ss_linop *op = ss_linop_create("ss_linop_blur", &blur_vt, sizeof(float), h, w, h, w, "blur(sigma=%g)",
                                   (double)sigma);
    if (op) *(float *)op->ctx = sigma;
    return op;
}

ss_linop *ss_linop_diag_dct(int64_t h, int64_t w, const ss_tensor *scale)
{
    if (!scale) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_diag_dct: scale is NULL");
    char s[96];
    int nd = scale->ndim;
    if (nd < 2 || scale->shape[nd - 2] != h || scale->shape[nd - 1] != w)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_diag_dct: scale %s does not end in the image size (%lld,%lld)",
                            ss_shape_str(s, sizeof s, scale), (long long)h, (long long)w);
    ss_linop *op = ss_linop_create("ss_linop_diag_dct", &diag_vt, sizeof(ss_tensor *), h, w, h, w, "diag_dct");
    if (!op) return NULL;
    ss_tensor **own = op->ctx;
    if (!(*own = ss_tensor_clone(scale))) {
        ss_linop_free(op);
        return NULL;
    }
    return op;
}
