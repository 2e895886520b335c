/* stats.c — the running mean and covariance of feature vectors (FID's statistics).
 *
 * A batch of B vectors is read to the host in double, its own mean m_b taken and its
 * rows centred on it; the centred scatter XᵀX (dsyrk, upper triangle) is added to the
 * running scatter M2, and the batch joins the running mean μ (n vectors so far) by
 * Chan, Golub and LeVeque's pairwise update:
 *   δ = m_b − μ,  M2 += XᵀX + (n·B/(n + B)) δδᵀ,  μ += δ·B/(n + B).
 * Centring each batch on its own mean keeps the sums small, so the result is as
 * accurate as numpy's two-pass cov in double. Only M2's upper triangle is kept up to
 * date; the covariance is M2/(N − 1), mirrored when it is read. */
#include "core/internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct ss_feature_stats {
    int64_t dim, n;
    double *mean;      /* dim */
    double *m2;        /* dim·dim, upper triangle valid */
    double *rows;      /* scratch: a batch in double, cap_rows·dim */
    float *frows;      /* scratch: the batch as read from its device */
    double *delta;     /* dim */
    double *bmean;     /* dim: the batch's mean */
    int64_t cap_rows;
};

ss_feature_stats *ss_feature_stats_new(int64_t dim)
{
    if (dim < 1) return SS_FAIL_NULL(SS_ERR_ARG, "feature_stats_new: dimension must be >= 1, got %lld", (long long)dim);
    if (dim > 65536)
        return SS_FAIL_NULL(SS_ERR_ARG, "feature_stats_new: dimension %lld is above 65536 (the covariance would not fit)",
                            (long long)dim);
    ss_feature_stats *s = ss_alloc(sizeof *s, "feature statistics");
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->dim = dim;
    s->mean = ss_alloc((size_t)dim * sizeof(double), "feature statistics");
    s->delta = ss_alloc((size_t)dim * sizeof(double), "feature statistics");
    s->bmean = ss_alloc((size_t)dim * sizeof(double), "feature statistics");
    s->m2 = ss_alloc((size_t)dim * (size_t)dim * sizeof(double), "feature statistics");
    if (!s->mean || !s->delta || !s->bmean || !s->m2) {
        ss_feature_stats_free(s);
        return NULL;
    }
    memset(s->mean, 0, (size_t)dim * sizeof(double));
    memset(s->m2, 0, (size_t)dim * (size_t)dim * sizeof(double));
    return s;
}

void ss_feature_stats_free(ss_feature_stats *s)
{
    if (!s) return;
    ss_free(s->mean);
    ss_free(s->delta);
    ss_free(s->bmean);
    ss_free(s->m2);
    ss_free(s->rows);
    ss_free(s->frows);
    ss_free(s);
}

/* Joins b vectors with mean bmean and (upper) scatter already added to M2. */
static void join(ss_feature_stats *s, int64_t b, const double *bmean)
{
    const int64_t d = s->dim;
    if (s->n == 0) {
        memcpy(s->mean, bmean, (size_t)d * sizeof(double));
        s->n = b;
        return;
    }
    const double total = (double)s->n + (double)b;
    for (int64_t j = 0; j < d; j++) s->delta[j] = bmean[j] - s->mean[j];
    cblas_dsyr(CblasRowMajor, CblasUpper, (int)d, (double)s->n * (double)b / total, s->delta, 1, s->m2, (int)d);
    for (int64_t j = 0; j < d; j++) s->mean[j] += s->delta[j] * ((double)b / total);
    s->n += b;
}

/* The vector count of features as (B,D), (B,D,1,1) or (D); SS_ERR_ARG otherwise. */
static int64_t batch_rows(const ss_feature_stats *s, const ss_tensor *f)
{
    char buf[64];
    const int64_t d = s->dim;
    int ok = (f->ndim == 1 && f->shape[0] == d) || (f->ndim == 2 && f->shape[1] == d) ||
             (f->ndim == 4 && f->shape[1] == d && f->shape[2] == 1 && f->shape[3] == 1);
    if (!ok)
        return SS_FAIL(SS_ERR_ARG, "feature_stats_add: features must be (B,%lld), (B,%lld,1,1) or (%lld), got %s",
                       (long long)d, (long long)d, (long long)d, ss_shape_str(buf, sizeof buf, f));
    return f->ndim == 1 ? 1 : f->shape[0];
}

int ss_feature_stats_add(ss_feature_stats *s, const ss_tensor *features)
{
    if (!s) return SS_FAIL(SS_ERR_ARG, "feature_stats_add: statistics are NULL");
    SS_TRY(ss_check_tensor(features, "feature_stats_add", "features"));
    SS_TRY(ss_interrupt_check());
    const int64_t b = batch_rows(s, features);
    if (b < 0) return (int)b;
    const int64_t d = s->dim;
    if (b > s->cap_rows) {
        ss_free(s->rows);
        ss_free(s->frows);
        s->rows = ss_alloc((size_t)(b * d) * sizeof(double), "feature statistics");
        s->frows = ss_alloc((size_t)(b * d) * sizeof(float), "feature statistics");
        s->cap_rows = (s->rows && s->frows) ? b : 0;
        if (!s->rows || !s->frows) return SS_ERR_NOMEM;
    }
    SS_TRY(ss_tensor_read(s->frows, features));
    for (int64_t i = 0; i < b * d; i++) {
        if (!isfinite(s->frows[i]))
            return SS_FAIL(SS_ERR_NUMERIC, "feature_stats_add: feature row %lld, column %lld is %g (rows and columns "
                           "count from 1); nothing was added", (long long)(i / d + 1), (long long)(i % d + 1),
                           (double)s->frows[i]);
    }
    double *bmean = s->bmean;
    for (int64_t j = 0; j < d; j++) bmean[j] = 0;
    for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < d; j++) bmean[j] += s->frows[i * d + j];
    for (int64_t j = 0; j < d; j++) bmean[j] /= (double)b;
    for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < d; j++) s->rows[i * d + j] = (double)s->frows[i * d + j] - bmean[j];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)b, 1.0, s->rows, (int)d, 1.0, s->m2, (int)d);
    join(s, b, bmean);
    return SS_OK;
}

int ss_feature_stats_merge(ss_feature_stats *s, const ss_feature_stats *other)
{
    if (!s || !other) return SS_FAIL(SS_ERR_ARG, "feature_stats_merge: statistics are NULL");
    if (s == other) return SS_FAIL(SS_ERR_ARG, "feature_stats_merge: cannot merge statistics into themselves");
    if (s->dim != other->dim)
        return SS_FAIL(SS_ERR_ARG, "feature_stats_merge: dimensions differ (%lld and %lld)", (long long)s->dim,
                       (long long)other->dim);
    if (other->n == 0) return SS_OK;
    const int64_t d = s->dim;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) s->m2[i * d + j] += other->m2[i * d + j];
    join(s, other->n, other->mean);
    return SS_OK;
}

int64_t ss_feature_stats_count(const ss_feature_stats *s) { return s ? s->n : 0; }
int64_t ss_feature_stats_dim(const ss_feature_stats *s) { return s ? s->dim : 0; }

int ss_feature_stats_mean(double *mean, const ss_feature_stats *s)
{
    if (!s || !mean) return SS_FAIL(SS_ERR_ARG, "feature_stats_mean: NULL argument");
    if (s->n < 1) return SS_FAIL(SS_ERR_ARG, "feature_stats_mean: no feature vectors were added");
    memcpy(mean, s->mean, (size_t)s->dim * sizeof(double));
    return SS_OK;
}

int ss_feature_stats_cov(double *cov, const ss_feature_stats *s)
{
    if (!s || !cov) return SS_FAIL(SS_ERR_ARG, "feature_stats_cov: NULL argument");
    if (s->n < 2)
        return SS_FAIL(SS_ERR_ARG, "feature_stats_cov: a covariance needs at least 2 feature vectors, have %lld",
                       (long long)s->n);
    const int64_t d = s->dim;
    const double c = 1.0 / (double)(s->n - 1);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) cov[i * d + j] = cov[j * d + i] = s->m2[i * d + j] * c;
    return SS_OK;
}

int ss_feature_stats_set(ss_feature_stats *s, int64_t n, const double *mean, const double *cov)
{
    if (!s || !mean || !cov) return SS_FAIL(SS_ERR_ARG, "feature_stats_set: NULL argument");
    if (n < 2) return SS_FAIL(SS_ERR_ARG, "feature_stats_set: the count must be >= 2, got %lld", (long long)n);
    const int64_t d = s->dim;
    for (int64_t i = 0; i < d; i++) {
        if (!isfinite(mean[i]))
            return SS_FAIL(SS_ERR_NUMERIC, "feature_stats_set: mean entry %lld is %g", (long long)(i + 1), mean[i]);
        for (int64_t j = i; j < d; j++)
            if (!isfinite(cov[i * d + j]))
                return SS_FAIL(SS_ERR_NUMERIC, "feature_stats_set: covariance entry (%lld, %lld) is %g",
                               (long long)(i + 1), (long long)(j + 1), cov[i * d + j]);
    }
    memcpy(s->mean, mean, (size_t)d * sizeof(double));
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) s->m2[i * d + j] = cov[i * d + j] * (double)(n - 1);
    s->n = n;
    return SS_OK;
}
