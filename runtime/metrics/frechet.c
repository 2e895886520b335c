/* frechet.c — the Fréchet distance between two Gaussians (FID's formula), in double.
 *
 * tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} is computed from two symmetric eigenproblems instead of
 * scipy's sqrtm of the non-symmetric Σ₁Σ₂ (whose Schur route has produced spurious
 * imaginary parts: pytorch-fid #103, clean-fid #53). With Σ₁ = V diag(λ) Vᵀ (dsyevd),
 * Σ₁^{1/2} Σ₂ Σ₁^{1/2} = V S T S Vᵀ with S = diag(√λ) and T = Vᵀ Σ₂ V, so its
 * eigenvalues are those of the symmetric S T S: a second dsyevd without vectors. Both
 * sets of eigenvalues are clamped at 0 before their square roots (a covariance from
 * fewer vectors than dimensions is singular, and rounding makes some of its zero
 * eigenvalues slightly negative); the clamps are counted for the caller. */
#include "core/internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

static int check_finite(const double *v, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return SS_FAIL(SS_ERR_NUMERIC, "frechet_distance: %s entry %lld is %g (entries count from 1)", what,
                           (long long)(i + 1), v[i]);
    return SS_OK;
}

/* Counts the eigenvalues w[0..d) below 0 into *clamped and keeps the most negative one
 * relative to the largest in *most_negative; then sets them to 0. */
static void clamp_negative(double *w, int64_t d, int64_t *clamped, double *most_negative)
{
    double top = 0;
    for (int64_t i = 0; i < d; i++) top = fmax(top, w[i]);
    for (int64_t i = 0; i < d; i++) {
        if (w[i] < 0) {
            (*clamped)++;
            const double rel = top > 0 ? w[i] / top : -INFINITY;
            if (rel < *most_negative) *most_negative = rel;
            w[i] = 0;
        }
    }
}

int ss_frechet_distance(double *fd, ss_frechet_info *info, const double *mu1, const double *sigma1, const double *mu2,
                        const double *sigma2, int64_t d)
{
    if (!fd || !mu1 || !sigma1 || !mu2 || !sigma2) return SS_FAIL(SS_ERR_ARG, "frechet_distance: NULL argument");
    if (d < 1 || d > 65536)
        return SS_FAIL(SS_ERR_ARG, "frechet_distance: dimension must be in 1..65536, got %lld", (long long)d);
    SS_TRY(check_finite(mu1, d, "mean 1"));
    SS_TRY(check_finite(mu2, d, "mean 2"));
    SS_TRY(check_finite(sigma1, d * d, "covariance 1"));
    SS_TRY(check_finite(sigma2, d * d, "covariance 2"));
    SS_TRY(ss_interrupt_check());

    ss_frechet_info r = {0};
    for (int64_t i = 0; i < d; i++) {
        const double e = mu1[i] - mu2[i];
        r.mean_term += e * e;
        r.trace1 += sigma1[i * d + i];
        r.trace2 += sigma2[i * d + i];
    }

    const size_t dd = (size_t)d * (size_t)d;
    double *v = ss_alloc(dd * sizeof(double), "frechet_distance");
    double *t = ss_alloc(dd * sizeof(double), "frechet_distance");
    double *w = ss_alloc((size_t)d * sizeof(double), "frechet_distance");
    int rc = SS_OK;
    if (!v || !t || !w) {
        rc = SS_ERR_NOMEM;
        goto done;
    }
    /* Σ₁ = V diag(λ) Vᵀ: dsyevd reads the upper triangle of the (symmetrised) copy and
     * leaves the eigenvectors in the columns of v. */
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++) v[i * d + j] = 0.5 * (sigma1[i * d + j] + sigma1[j * d + i]);
    lapack_int info1 = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, v, (lapack_int)d, w);
    if (info1 != 0) {
        rc = SS_FAIL(SS_ERR_NUMERIC, "frechet_distance: the eigendecomposition of covariance 1 failed (LAPACK dsyevd "
                     "info %d)", (int)info1);
        goto done;
    }
    r.most_negative = 0;
    clamp_negative(w, d, &r.clamped, &r.most_negative);
    for (int64_t i = 0; i < d; i++) w[i] = sqrt(w[i]);
    /* T = Vᵀ Σ₂ V, then S T S: row i and column j scaled by √λ_i, √λ_j. */
    double *tmp = ss_alloc(dd * sizeof(double), "frechet_distance");
    if (!tmp) {
        rc = SS_ERR_NOMEM;
        goto done;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, sigma2, (int)d, v, (int)d, 0.0,
                tmp, (int)d);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, v, (int)d, tmp, (int)d, 0.0, t,
                (int)d);
    ss_free(tmp);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) t[i * d + j] = 0.5 * (t[i * d + j] + t[j * d + i]) * w[i] * w[j];
    lapack_int info2 = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)d, t, (lapack_int)d, w);
    if (info2 != 0) {
        rc = SS_FAIL(SS_ERR_NUMERIC, "frechet_distance: the eigenvalues of Σ₁^{1/2} Σ₂ Σ₁^{1/2} were not found "
                     "(LAPACK dsyevd info %d)", (int)info2);
        goto done;
    }
    clamp_negative(w, d, &r.clamped, &r.most_negative);
    for (int64_t i = 0; i < d; i++) r.trace_sqrt += sqrt(w[i]);
    *fd = r.mean_term + r.trace1 + r.trace2 - 2.0 * r.trace_sqrt;
    if (info) *info = r;
done:
    ss_free(v);
    ss_free(t);
    ss_free(w);
    return rc;
}
