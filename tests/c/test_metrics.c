/* test_metrics.c — FID's statistics and distances, and the classifier's cross-entropy:
 * - the Fréchet distance against scipy's sqrtm route (clean-fid's frechet_distance, in
 *   float64) on SPD statistics of dimension 64 and 2048 that both sides build from the
 *   LCG recipe of tests/reference/make_metrics_fixtures.py: <= 1e-6 relative; and
 *   the analytic cases: μ₁ = 0, μ₂ = 1, Σ = I (d = 2048) gives 2048; Σ₂ = c²Σ₁ gives
 *   ‖Δμ‖² + (1 − c)² tr Σ₁ (and scipy's value; d = 64); a singular Σ (rank < d) clamps
 *   and counts negative eigenvalues; identical statistics give 0;
 * - KID per subset against clean-fid's kernel_distance in numpy for the same indices
 *   (<= 1e-6 relative), and bad indices;
 * - running statistics against numpy's mean and cov (divisor N − 1), whatever the
 *   batch split, merge, set, NaN rows and shapes;
 * - softmax cross-entropy and its gradient against torch's F.cross_entropy, and bad labels. */
#include "check.h"
#include "fixture.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The recipe's LCG: x <- (1103515245 x + 12345) mod 2^31, u = x/2^31 − 0.5. */
static void lcg(double *out, int64_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (int64_t i = 0; i < n; i++) {
        x = (1103515245ULL * x + 12345ULL) & 0x7fffffffULL;
        out[i] = (double)x / 2147483648.0 - 0.5;
    }
}

/* mu (d) and Sigma = A Aᵀ/k (d·d) with A[i][j] = u/(1 + j/64) from seeds seed_a, seed_mu. */
static void recipe(double *mu, double *sigma, int64_t d, int64_t k, uint64_t seed_a, uint64_t seed_mu)
{
    double *a = malloc((size_t)(d * k) * sizeof(double));
    lcg(a, d * k, seed_a);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < k; j++) a[i * k + j] /= 1.0 + (double)j / 64.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)k, 1.0 / (double)k, a, (int)k, a, (int)k,
                0.0, sigma, (int)d);
    lcg(mu, d, seed_mu);
    free(a);
}

/* The value after `key` (e.g. "fd d=64 k=80") in tests/reference/metrics/fd.txt. */
static double fd_reference(const char *key)
{
    FILE *f = fopen("tests/reference/metrics/fd.txt", "r");
    char line[256];
    double v = NAN;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ' ') v = strtod(line + n + 1, NULL);
    if (f) fclose(f);
    CHECK(!isnan(v), "no reference '%s' in tests/reference/metrics/fd.txt", key);
    return v;
}

static void check_rel(const char *label, double got, double want, double tol)
{
    double rel = fabs(got - want) / fmax(fabs(want), 1e-300);
    printf("  %-52s %.17g vs %.17g: rel diff %.3g (tol %.0e)\n", label, got, want, rel, tol);
    CHECK(rel <= tol, "%s: %.17g vs %.17g (rel %.3g)", label, got, want, rel);
}

static void test_fd_scipy(int64_t d, int64_t k)
{
    size_t dd = (size_t)(d * d);
    double *mu1 = malloc(d * sizeof(double)), *mu2 = malloc(d * sizeof(double));
    double *s1 = malloc(dd * sizeof(double)), *s2 = malloc(dd * sizeof(double)), *s3 = malloc(dd * sizeof(double));
    recipe(mu1, s1, d, k, 1, 3);
    recipe(mu2, s2, d, k, 2, 4);
    char key[64], label[96];
    double fd = 0;
    ss_frechet_info info;
    CHECK_OK(ss_frechet_distance(&fd, &info, mu1, s1, mu2, s2, d));
    snprintf(key, sizeof key, "fd d=%lld k=%lld", (long long)d, (long long)k);
    snprintf(label, sizeof label, "FD vs scipy sqrtm, d=%lld", (long long)d);
    check_rel(label, fd, fd_reference(key), 1e-6);
    CHECK(info.clamped == 0, "full-rank statistics clamped %lld eigenvalues", (long long)info.clamped);
    if (d > 64) { /* each 2048-d distance costs seconds: the other cases run at d = 64 */
        free(mu1), free(mu2), free(s1), free(s2), free(s3);
        return;
    }
    /* Σ₂ = c²Σ₁: ‖Δμ‖² + (1 − c)² tr Σ₁, analytically and by scipy */
    const double c = 0.7;
    for (size_t i = 0; i < dd; i++) s3[i] = c * c * s1[i];
    CHECK_OK(ss_frechet_distance(&fd, &info, mu1, s1, mu2, s3, d));
    snprintf(key, sizeof key, "fd_c0.7 d=%lld k=%lld", (long long)d, (long long)k);
    snprintf(label, sizeof label, "FD(c=0.7) vs scipy sqrtm, d=%lld", (long long)d);
    check_rel(label, fd, fd_reference(key), 1e-6);
    double want = (1 - c) * (1 - c) * info.trace1;
    for (int64_t i = 0; i < d; i++) want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    snprintf(label, sizeof label, "FD(c=0.7) vs |dmu|^2 + (1-c)^2 tr S1, d=%lld", (long long)d);
    check_rel(label, fd, want, 1e-10);
    /* identical statistics */
    CHECK_OK(ss_frechet_distance(&fd, &info, mu1, s1, mu1, s1, d));
    printf("  FD of identical statistics, d=%lld: %.3g (tr S = %.6g)\n", (long long)d, fd, info.trace1);
    CHECK(fabs(fd) <= 1e-10 * info.trace1, "FD(x, x) = %.3g", fd);
    free(mu1), free(mu2), free(s1), free(s2), free(s3);
}

static void test_fd_analytic(void)
{
    const int64_t d = 2048;
    double *mu1 = calloc(d, sizeof(double)), *mu2 = malloc(d * sizeof(double));
    double *s = calloc((size_t)(d * d), sizeof(double));
    for (int64_t i = 0; i < d; i++) mu2[i] = 1, s[i * d + i] = 1;
    double fd = 0;
    ss_frechet_info info;
    CHECK_OK(ss_frechet_distance(&fd, &info, mu1, s, mu2, s, d));
    check_rel("FD(mu 0 vs 1, Sigma = I, d = 2048) = 2048", fd, 2048.0, 1e-12);
    CHECK(info.mean_term == 2048 && info.trace1 == 2048 && info.trace2 == 2048, "info terms");

    /* A singular covariance: 10 vectors in 32 dimensions (rank <= 9). */
    const int64_t dim = 32, n = 10;
    double *f = malloc((size_t)(n * dim) * sizeof(double)), *cov = calloc((size_t)(dim * dim), sizeof(double));
    double *mean = calloc(dim, sizeof(double));
    lcg(f, n * dim, 9);
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < dim; j++) mean[j] += f[r * dim + j] / n;
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < dim; i++)
            for (int64_t j = 0; j < dim; j++)
                cov[i * dim + j] += (f[r * dim + i] - mean[i]) * (f[r * dim + j] - mean[j]) / (n - 1);
    CHECK_OK(ss_frechet_distance(&fd, &info, mean, cov, mean, cov, dim));
    printf("  singular Sigma (rank 9 of 32): FD(x, x) = %.3g, %lld eigenvalues clamped, most negative %.3g\n", fd,
           (long long)info.clamped, info.most_negative);
    CHECK(fabs(fd) < 1e-6 * info.trace1, "singular FD(x, x) = %.3g", fd);
    CHECK(info.most_negative <= 0 && info.most_negative > -1e-10, "clamped eigenvalues are rounding: %.3g",
          info.most_negative);

    /* bad input */
    s[5] = NAN;
    CHECK_FAILS(ss_frechet_distance(&fd, &info, mu1, s, mu2, s, d), "covariance 1 entry 6");
    CHECK_FAILS(ss_frechet_distance(&fd, &info, mu1, cov, mu2, cov, 0), "dimension");
    CHECK_FAILS(ss_frechet_distance(NULL, &info, mu1, cov, mu2, cov, dim), "NULL");
    free(mu1), free(mu2), free(s), free(f), free(cov), free(mean);
}

static void test_kid(void)
{
    fixture *fx = fixture_load("tests/reference/metrics/kid.ssfx");
    FILE *txt = fopen("tests/reference/metrics/kid.txt", "r");
    CHECK(fx && txt, "KID fixtures missing");
    if (!fx || !txt) return;
    ss_tensor *x = need(fixture_get(fx, "kid", "x"), "x"), *y = need(fixture_get(fx, "kid", "y"), "y");
    ss_tensor *ix = need(fixture_get(fx, "kid", "ix"), "ix"), *iy = need(fixture_get(fx, "kid", "iy"), "iy");
    const int64_t subsets = ix->shape[0], m = ix->shape[1];
    int64_t *jx = malloc((size_t)(subsets * m) * sizeof(int64_t)), *jy = malloc((size_t)(subsets * m) * sizeof(int64_t));
    for (int64_t i = 0; i < subsets * m; i++) jx[i] = (int64_t)ix->data[i], jy[i] = (int64_t)iy->data[i];
    double want[64], got[64];
    char line[128];
    int nref = 0;
    while (nref < 64 && fgets(line, sizeof line, txt))
        if (line[0] != '#') want[nref++] = strtod(line, NULL);
    fclose(txt);
    CHECK(nref == subsets, "kid.txt has %d values for %lld subsets", nref, (long long)subsets);
    CHECK_OK(ss_kid_subsets(got, x, y, jx, jy, subsets, m));
    double worst = 0;
    for (int64_t s = 0; s < subsets && s < nref; s++) worst = fmax(worst, fabs(got[s] - want[s]) / fabs(want[s]));
    printf("  KID per subset vs numpy (%lld subsets of %lld): max rel diff %.3g (tol 1e-6)\n", (long long)subsets,
           (long long)m, worst);
    CHECK(worst <= 1e-6, "KID: %.3g", worst);
    /* the same rows on both sides: an unbiased estimate near 0, exactly symmetric */
    CHECK_OK(ss_kid_subsets(got, x, x, jx, jx, 1, m));
    printf("  KID of a subset against itself: %.3g\n", got[0]);
    CHECK(got[0] < 0 && got[0] > -1, "KID(X, X) = %.3g (the unbiased estimate's cross term includes the diagonal)",
          got[0]);
    jx[3] = 150;
    CHECK_FAILS(ss_kid_subsets(got, x, y, jx, jy, subsets, m), "subset 1, position 4: row index 150 of x");
    CHECK_FAILS(ss_kid_subsets(got, x, y, jx, jy, subsets, 1), "at least 2 rows");
    CHECK_FAILS(ss_kid_subsets(got, x, ix, jx, jy, subsets, m), "(N1,D) and (N2,D)");
    free(jx), free(jy);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(ix), ss_tensor_free(iy);
    fixture_free(fx);
}

static void test_stats(void)
{
    fixture *fx = fixture_load("tests/reference/metrics/stats.ssfx");
    CHECK(fx != NULL, "stats fixture missing");
    if (!fx) return;
    ss_tensor *f = need(fixture_get(fx, "stats", "features"), "features");
    ss_tensor *mean = need(fixture_get(fx, "stats", "mean"), "mean"), *cov = need(fixture_get(fx, "stats", "cov"), "cov");
    const int64_t n = f->shape[0], d = f->shape[1];
    double *mu = malloc(d * sizeof(double)), *c = malloc((size_t)(d * d) * sizeof(double));
    float *fm = malloc(d * sizeof(float)), *fc = malloc((size_t)(d * d) * sizeof(float));
    const int64_t splits[3][4] = {{301, 0}, {1, 2, 98, 200}, {150, 151, 0}};
    for (int k = 0; k < 3; k++) {
        ss_feature_stats *s = ss_feature_stats_new(d);
        int64_t at = 0;
        for (int b = 0; b < 4 && splits[k][b] > 0; b++) {
            ss_tensor *rows = need(ss_tensor_narrow(f, at, splits[k][b]), "rows");
            CHECK_OK(ss_feature_stats_add(s, rows));
            ss_tensor_free(rows);
            at += splits[k][b];
        }
        CHECK(ss_feature_stats_count(s) == n, "count %lld", (long long)ss_feature_stats_count(s));
        CHECK_OK(ss_feature_stats_mean(mu, s));
        CHECK_OK(ss_feature_stats_cov(c, s));
        for (int64_t i = 0; i < d; i++) fm[i] = (float)mu[i];
        for (int64_t i = 0; i < d * d; i++) fc[i] = (float)c[i];
        char label[64];
        snprintf(label, sizeof label, "mean vs numpy, batches split %d", k + 1);
        test_close(label, fm, mean->data, (long)d, 2e-6);
        snprintf(label, sizeof label, "cov vs numpy.cov, batches split %d", k + 1);
        test_close(label, fc, cov->data, (long)(d * d), 2e-5);
        ss_feature_stats_free(s);
    }
    /* merge of two halves = the whole; set round-trips */
    ss_feature_stats *a = ss_feature_stats_new(d), *b = ss_feature_stats_new(d), *e = ss_feature_stats_new(d);
    ss_tensor *h1 = need(ss_tensor_narrow(f, 0, 100), "h1"), *h2 = need(ss_tensor_narrow(f, 100, n - 100), "h2");
    CHECK_OK(ss_feature_stats_add(a, h1));
    CHECK_OK(ss_feature_stats_add(b, h2));
    CHECK_OK(ss_feature_stats_merge(a, b));
    CHECK_OK(ss_feature_stats_cov(c, a));
    for (int64_t i = 0; i < d * d; i++) fc[i] = (float)c[i];
    test_close("cov of merged halves vs numpy.cov", fc, cov->data, (long)(d * d), 2e-5);
    CHECK_OK(ss_feature_stats_mean(mu, a));
    CHECK_OK(ss_feature_stats_set(e, n, mu, c));
    double *c2 = malloc((size_t)(d * d) * sizeof(double));
    CHECK_OK(ss_feature_stats_cov(c2, e));
    CHECK(memcmp(c, c2, (size_t)(d * d) * sizeof(double)) == 0 || fabs(c[0] - c2[0]) < 1e-12, "set round-trip");
    /* bad input */
    CHECK_FAILS(ss_feature_stats_merge(a, a), "themselves");
    ss_feature_stats *other = ss_feature_stats_new(d + 1);
    CHECK_FAILS(ss_feature_stats_merge(a, other), "dimensions differ");
    CHECK_FAILS(ss_feature_stats_add(other, h1), "(B,25)");
    CHECK_FAILS(ss_feature_stats_cov(c, other), "at least 2");
    CHECK(ss_feature_stats_new(0) == NULL && strstr(ss_last_error(), ">= 1"), "dim 0");
    ss_tensor *bad = need(ss_tensor_clone(h1), "bad");
    bad->data[5 * d + 2] = NAN;
    const int64_t before = ss_feature_stats_count(b);
    CHECK_FAILS(ss_feature_stats_add(b, bad), "row 6, column 3");
    CHECK(ss_feature_stats_count(b) == before, "a NaN batch added nothing");
    ss_tensor_free(bad), ss_tensor_free(h1), ss_tensor_free(h2);
    ss_feature_stats_free(a), ss_feature_stats_free(b), ss_feature_stats_free(e), ss_feature_stats_free(other);
    free(mu), free(c), free(c2), free(fm), free(fc);
    ss_tensor_free(f), ss_tensor_free(mean), ss_tensor_free(cov);
    fixture_free(fx);
}

static void test_cross_entropy(void)
{
    fixture *fx = fixture_load("tests/reference/metrics/cross_entropy.ssfx");
    CHECK(fx != NULL, "cross-entropy fixture missing");
    if (!fx) return;
    ss_tensor *z = need(fixture_get(fx, "ce", "logits"), "logits"), *l = need(fixture_get(fx, "ce", "labels"), "labels");
    ss_tensor *loss = need(fixture_get(fx, "ce", "loss"), "loss"), *g = need(fixture_get(fx, "ce", "grad_x1.5"), "grad");
    double v = 0;
    CHECK_OK(ss_cross_entropy_forward(&v, z, l));
    check_rel("cross-entropy vs torch", v, loss->data[0], 1e-6);
    ss_tensor *dz = need(ss_tensor_empty(2, z->shape, SS_CPU), "dz");
    CHECK_OK(ss_cross_entropy_backward(dz, z, l, 1.5));
    test_close("cross-entropy gradient (x1.5) vs torch", dz->data, g->data, (long)ss_tensor_numel(g), 1e-7);
    /* bad labels and shapes */
    l->data[4] = 10;
    CHECK_FAILS(ss_cross_entropy_forward(&v, z, l), "label 10 in row 5 is not a class index in 0..9");
    l->data[4] = 1.5f;
    CHECK_FAILS(ss_cross_entropy_backward(dz, z, l, 1), "row 5");
    ss_tensor *short_l = need(ss_tensor_narrow(l, 0, 3), "short");
    CHECK_FAILS(ss_cross_entropy_forward(&v, z, short_l), "labels hold N values");
    ss_tensor_free(short_l), ss_tensor_free(dz);
    ss_tensor_free(z), ss_tensor_free(l), ss_tensor_free(loss), ss_tensor_free(g);
    fixture_free(fx);
}

int main(void)
{
    uint64_t seed = 0;
    if (test_seed("test_metrics", &seed, NULL)) return 2;
    test_fd_scipy(64, 80);
    test_fd_scipy(2048, 2560);
    test_fd_analytic();
    test_kid();
    test_stats();
    test_cross_entropy();
    return test_summary("test_metrics");
}
