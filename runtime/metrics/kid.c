/* kid.c — the Kernel Inception Distance's per-subset estimates (clean-fid's
 * kernel_distance, torch-fidelity's kid): the unbiased squared MMD with the cubic
 * polynomial kernel k(a, b) = (aᵀb/D + 1)³ between subsets of m rows of x and of y.
 * The caller draws the subsets (Philox-seeded in ss.metrics.kid), so a test can hand
 * the same indices to numpy. The estimate is a difference of sums of size ~m²,
 * which cancel to ~1e-3 of themselves: the Gram matrices are in double. */
#include "core/internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Σ_{i≠j} k over a symmetric Gram matrix g (m×m) of which the upper triangle is valid. */
static double kernel_sum_sym(const double *g, int64_t m, double inv_d)
{
    double s = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) {
            const double k = g[i * m + j] * inv_d + 1.0;
            s += k * k * k;
        }
    return 2.0 * s;
}

/* Σ_{i,j} k over a whole Gram matrix g (m×m). */
static double kernel_sum_all(const double *g, int64_t m, double inv_d)
{
    double s = 0;
    for (int64_t i = 0; i < m * m; i++) {
        const double k = g[i] * inv_d + 1.0;
        s += k * k * k;
    }
    return s;
}

/* rows idx[0..m) of the host copy h (n×d floats) into out (m×d doubles). */
static int gather(double *out, const float *h, int64_t n, int64_t d, const int64_t *idx, int64_t m, int64_t subset,
                  const char *which)
{
    for (int64_t i = 0; i < m; i++) {
        const int64_t r = idx[i];
        if (r < 0 || r >= n)
            return SS_FAIL(SS_ERR_ARG, "kid_subsets: subset %lld, position %lld: row index %lld of %s is outside "
                           "0..%lld (0-based)", (long long)(subset + 1), (long long)(i + 1), (long long)r, which,
                           (long long)(n - 1));
        for (int64_t j = 0; j < d; j++) out[i * d + j] = h[r * d + j];
    }
    return SS_OK;
}

static int64_t rows_of(const ss_tensor *t) { return t->shape[0]; }

int ss_kid_subsets(double *values, const ss_tensor *x, const ss_tensor *y, const int64_t *idx_x,
                   const int64_t *idx_y, int64_t n_subsets, int64_t m)
{
    char b1[64], b2[64];
    if (!values || !idx_x || !idx_y) return SS_FAIL(SS_ERR_ARG, "kid_subsets: NULL argument");
    SS_TRY(ss_check_tensor(x, "kid_subsets", "x"));
    SS_TRY(ss_check_tensor(y, "kid_subsets", "y"));
    if (x->ndim != 2 || y->ndim != 2 || x->shape[1] != y->shape[1])
        return SS_FAIL(SS_ERR_ARG, "kid_subsets: features must be (N1,D) and (N2,D), got %s and %s",
                       ss_shape_str(b1, sizeof b1, x), ss_shape_str(b2, sizeof b2, y));
    if (n_subsets < 1) return SS_FAIL(SS_ERR_ARG, "kid_subsets: the number of subsets must be >= 1");
    if (m < 2) return SS_FAIL(SS_ERR_ARG, "kid_subsets: a subset needs at least 2 rows, got %lld", (long long)m);
    const int64_t d = x->shape[1], n1 = rows_of(x), n2 = rows_of(y);
    const double inv_d = 1.0 / (double)d;
    float *hx = ss_alloc((size_t)(n1 * d) * sizeof(float), "kid_subsets");
    float *hy = ss_alloc((size_t)(n2 * d) * sizeof(float), "kid_subsets");
    double *sx = ss_alloc((size_t)(m * d) * sizeof(double), "kid_subsets");
    double *sy = ss_alloc((size_t)(m * d) * sizeof(double), "kid_subsets");
    double *g = ss_alloc((size_t)(m * m) * sizeof(double), "kid_subsets");
    int rc = (hx && hy && sx && sy && g) ? SS_OK : SS_ERR_NOMEM;
    if (rc == SS_OK) rc = ss_tensor_read(hx, x);
    if (rc == SS_OK) rc = ss_tensor_read(hy, y);
    for (int64_t i = 0; rc == SS_OK && i < n1 * d; i++)
        if (!isfinite(hx[i]))
            rc = SS_FAIL(SS_ERR_NUMERIC, "kid_subsets: x row %lld is not finite", (long long)(i / d + 1));
    for (int64_t i = 0; rc == SS_OK && i < n2 * d; i++)
        if (!isfinite(hy[i]))
            rc = SS_FAIL(SS_ERR_NUMERIC, "kid_subsets: y row %lld is not finite", (long long)(i / d + 1));
    for (int64_t s = 0; rc == SS_OK && s < n_subsets; s++) {
        rc = ss_interrupt_check();
        if (rc == SS_OK) rc = gather(sx, hx, n1, d, idx_x + s * m, m, s, "x");
        if (rc == SS_OK) rc = gather(sy, hy, n2, d, idx_y + s * m, m, s, "y");
        if (rc != SS_OK) break;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)d, 1.0, sx, (int)d, 0.0, g, (int)m);
        const double kxx = kernel_sum_sym(g, m, inv_d);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)d, 1.0, sy, (int)d, 0.0, g, (int)m);
        const double kyy = kernel_sum_sym(g, m, inv_d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, 1.0, sx, (int)d, sy, (int)d, 0.0,
                    g, (int)m);
        const double kxy = kernel_sum_all(g, m, inv_d);
        values[s] = (kxx + kyy) / ((double)m * (double)(m - 1)) - 2.0 * kxy / ((double)m * (double)m);
    }
    ss_free(hx);
    ss_free(hy);
    ss_free(sx);
    ss_free(sy);
    ss_free(g);
    return rc;
}
