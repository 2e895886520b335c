/* test_osmosis.c — osmosis filtering: canonical drift, the operator A and its
 * adjoint, explicit and implicit steps, operators as values, bad input.
 *
 * Reference fixtures (tests/reference/osmosis/osmosis.ssfx, from
 * make_osmosis_fixtures.py: numpy, a dense float64 matrix built face by face)
 * must match within 1e-5 of the expected data's range. The adjoint passes the
 * dot-product test to 1e-6 relative; A keeps the mean (Σ A u = 0) and has the
 * guidance as steady state (A v = 0 for v's canonical drift); explicit steps
 * keep the mean and converge to (μ_f/μ_v)·v; implicit steps (BiCGSTAB) with a
 * large τ converge and keep the mean. The seed is printed; SS_TEST_SEED=<n>
 * reruns with another one. */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20240612u;
static ss_rng rng;

#define DOT_TOL 1e-6
#define REF_TOL 1e-5 /* relative to the data range of the expected values */

static ss_tensor *empty_n(int nd, const int64_t *s) { return need(ss_tensor_empty(nd, s, SS_CPU), "a tensor"); }
static ss_tensor *empty_like(const ss_tensor *t) { return empty_n(t->ndim, t->shape); }

/* (…,H,W) of x → the drift shapes (…,H−1,W) and (…,H,W−1). */
static ss_tensor *drift_like(const ss_tensor *x, int which)
{
    int64_t s[4];
    memcpy(s, x->shape, sizeof s);
    s[x->ndim - (which == 1 ? 2 : 1)] -= 1;
    return empty_n(x->ndim, s);
}

static ss_tensor *uniform_n(int nd, const int64_t *s, float lo, float hi)
{
    ss_tensor *t = empty_n(nd, s);
    CHECK_OK(ss_rng_uniform(&rng, t, lo, hi));
    return t;
}

static ss_tensor *normal_n(int nd, const int64_t *s)
{
    ss_tensor *t = empty_n(nd, s);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, 1.0f));
    return t;
}

static double range_of(const ss_tensor *t)
{
    double lo, hi;
    ss_reduce(&lo, t, SS_RED_MIN);
    ss_reduce(&hi, t, SS_RED_MAX);
    return hi - lo > 0 ? hi - lo : 1.0;
}

static double max_abs(const ss_tensor *t)
{
    double m = 0;
    for (int64_t i = 0; i < ss_tensor_numel(t); i++) m = fmax(m, fabs(t->data[i]));
    return m;
}

static void close_to(const char *label, const ss_tensor *got, const ss_tensor *want)
{
    CHECK(ss_tensor_same_shape(got, want), "%s: shapes differ", label);
    if (!ss_tensor_same_shape(got, want)) return;
    test_close(label, got->data, want->data, (long)ss_tensor_numel(want), REF_TOL * range_of(want));
}

static int64_t image_size(const ss_tensor *t) { return t->shape[t->ndim - 2] * t->shape[t->ndim - 1]; }

/* Mean of image k of t (…,H,W), in double. */
static double image_mean(const ss_tensor *t, int64_t k)
{
    int64_t n = image_size(t);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += t->data[k * n + i];
    return s / (double)n;
}

static void free_all(ss_tensor **ts, size_t n)
{
    for (size_t i = 0; i < n; i++) ss_tensor_free(ts[i]);
}
#define FREE(...)                                                                 \
    do {                                                                          \
        ss_tensor *list_[] = {__VA_ARGS__};                                       \
        free_all(list_, sizeof list_ / sizeof list_[0]);                          \
    } while (0)

/* ------------------------------------------------------------ fixtures */

static fixture *fx;

static int has(const char *c, const char *role)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", c, role);
    return fixture_find(fx, name) != NULL;
}

static void drift_case(const char *c)
{
    ss_tensor *v = fixture_get(fx, c, "v"), *h = fixture_get(fx, c, "h");
    ss_tensor *e1 = fixture_get(fx, c, "d1"), *e2 = fixture_get(fx, c, "d2");
    CHECK(v && h && e1 && e2, "%s: fixture arrays missing", c);
    if (!v || !h || !e1 || !e2) return;
    ss_tensor *d1 = empty_like(e1), *d2 = empty_like(e2);
    char label[160];
    CHECK_OK(ss_osmosis_drift(d1, d2, v, h->data[0]));
    snprintf(label, sizeof label, "%s d1 vs numpy", c);
    close_to(label, d1, e1);
    snprintf(label, sizeof label, "%s d2 vs numpy", c);
    close_to(label, d2, e2);
    FREE(v, h, e1, e2, d1, d2);
}

static void apply_case(const char *c)
{
    ss_tensor *u = fixture_get(fx, c, "u"), *g = fixture_get(fx, c, "g"), *h = fixture_get(fx, c, "h");
    ss_tensor *d1 = has(c, "d1") ? fixture_get(fx, c, "d1") : NULL, *d2 = fixture_get(fx, c, "d2");
    ss_tensor *y = fixture_get(fx, c, "y"), *yt = fixture_get(fx, c, "yt");
    CHECK(u && g && h && d2 && y && yt, "%s: fixture arrays missing", c);
    if (!u || !g || !h || !d2 || !y || !yt) return;
    ss_tensor *out = empty_like(u);
    char label[160];
    CHECK_OK(ss_osmosis_forward(out, u, d1, d2, h->data[0]));
    snprintf(label, sizeof label, "%s A u vs dense numpy", c);
    close_to(label, out, y);
    CHECK_OK(ss_osmosis_adjoint(out, g, d1, d2, h->data[0]));
    snprintf(label, sizeof label, "%s A^T g vs dense numpy", c);
    close_to(label, out, yt);
    /* the operator value agrees */
    ss_linop *A = ss_linop_osmosis_generator(d1, d2, h->data[0]);
    CHECK(A != NULL, "%s: ss_linop_osmosis_generator: %s", c, ss_last_error());
    if (A) {
        CHECK_OK(ss_linop_apply(A, out, u));
        snprintf(label, sizeof label, "%s linop A u vs dense numpy", c);
        close_to(label, out, y);
        ss_linop_free(A);
    }
    FREE(u, g, h, d1, d2, y, yt, out);
}

static void implicit_case(const char *c)
{
    ss_tensor *u = fixture_get(fx, c, "u"), *h = fixture_get(fx, c, "h"), *tau = fixture_get(fx, c, "tau");
    ss_tensor *d1 = fixture_get(fx, c, "d1"), *d2 = fixture_get(fx, c, "d2"), *y = fixture_get(fx, c, "y");
    CHECK(u && h && tau && d1 && d2 && y, "%s: fixture arrays missing", c);
    if (!u || !h || !tau || !d1 || !d2 || !y) return;
    ss_tensor *out = empty_like(u);
    ss_solve_info info;
    memset(&info, 0, sizeof info);
    CHECK_OK(ss_osmosis_implicit_step(out, u, d1, d2, h->data[0], tau->data[0], 1e-7, 1000, &info));
    printf("  %-48s %d iterations, residual %.3g -> %.3g\n", c, (int)info.iterations, info.initial_residual,
           info.residual);
    char label[160];
    snprintf(label, sizeof label, "%s vs dense numpy solve", c);
    close_to(label, out, y);
    FREE(u, h, tau, d1, d2, y, out);
}

static void test_fixtures(void)
{
    const char *path = "tests/reference/osmosis/osmosis.ssfx";
    printf("fixtures %s\n", path);
    fx = fixture_load(path);
    CHECK(fx != NULL, "cannot load %s", path);
    char c[128];
    for (int i = 0; fx && i < fx->count; i++) {
        const char *n = fx->arrays[i].name;
        size_t len = strlen(n);
        if (len < 2 || strcmp(n + len - 2, ".h") != 0) continue; /* every case has one .h */
        fixture_case(fx, i, c, sizeof c);
        if (strncmp(c, "drift_", 6) == 0) drift_case(c);
        else if (strncmp(c, "apply_", 6) == 0) apply_case(c);
        else if (strncmp(c, "implicit_", 9) == 0) implicit_case(c);
    }
    fixture_free(fx);
    fx = NULL;
}

/* ------------------------------------------------------------ the operator */

/* Canonical drift of v into new tensors (NULL for a single row / column). */
static void make_drift(ss_tensor **d1, ss_tensor **d2, const ss_tensor *v, float h)
{
    *d1 = v->shape[v->ndim - 2] > 1 ? drift_like(v, 1) : NULL;
    *d2 = v->shape[v->ndim - 1] > 1 ? drift_like(v, 2) : NULL;
    CHECK_OK(ss_osmosis_drift(*d1, *d2, v, h));
}

static void test_operator(void)
{
    printf("operator\n");
    static const struct {
        int nd;
        int64_t s[4];
        float h;
    } cases[] = {{3, {2, 9, 11}, 1.0f}, {4, {2, 3, 16, 16}, 1.0f}, {4, {1, 2, 7, 12}, 0.5f},
                 {2, {1, 13}, 1.0f},    {2, {10, 1}, 2.0f},          {3, {3, 64, 48}, 1.0f},
                 {4, {2, 1, 200, 180}, 1.0f} /* OpenMP rows */};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int nd = cases[k].nd;
        const int64_t *s = cases[k].s;
        const float h = cases[k].h;
        char shape[64], label[160];
        snprintf(shape, sizeof shape, nd == 4 ? "(%lld,%lld,%lld,%lld)" : nd == 3 ? "(%lld,%lld,%lld)" : "(%lld,%lld)",
                 (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
        ss_tensor *v = uniform_n(nd, s, 0.05f, 1.0f), *u = normal_n(nd, s), *au = empty_n(nd, s);
        ss_tensor *d1, *d2;
        make_drift(&d1, &d2, v, h);

        /* mass: Σ (A u) = 0 per image, against the size of the terms Σ|A u| */
        CHECK_OK(ss_osmosis_forward(au, u, d1, d2, h));
        int64_t nimg = ss_tensor_numel(u) / image_size(u), n = image_size(u);
        double worst = 0;
        for (int64_t m = 0; m < nimg; m++) {
            double sum = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) sum += au->data[m * n + i], mag += fabs(au->data[m * n + i]);
            worst = fmax(worst, fabs(sum) / fmax(mag, 1e-30));
        }
        snprintf(label, sizeof label, "sum(A u)/sum|A u| per image %s h=%g", shape, (double)h);
        printf("  %-48s max = %.3g (tol 1e-6)\n", label, worst);
        CHECK(worst <= 1e-6, "%s: %g", label, worst);

        /* steady state: A v = 0 for the canonical drift of v */
        CHECK_OK(ss_osmosis_forward(au, v, d1, d2, h));
        double rel = max_abs(au) / (max_abs(v) / ((double)h * h));
        snprintf(label, sizeof label, "|A v| / (|v|/h^2), steady state %s", shape);
        printf("  %-48s max = %.3g (tol 1e-6)\n", label, rel);
        CHECK(rel <= 1e-6, "%s: %g", label, rel);

        /* dot-product test of A and of I − τA as operator values */
        ss_linop *A = ss_linop_osmosis_generator(d1, d2, h), *M = ss_linop_osmosis(d1, d2, h, 3.0f);
        CHECK(A && M, "osmosis operators: %s", ss_last_error());
        int64_t batch = nd == 2 ? 1 : nimg;
        ss_tensor *u3 = NULL;
        if (A && M) {
            double e1 = 1, e2 = 1;
            /* dot_test draws (batch,H,W): the drift needs the same leading dims, so reshape when 4-D */
            ss_linop *A3 = A, *M3 = M;
            ss_tensor *r1 = NULL, *r2 = NULL;
            if (nd == 4) {
                int64_t s1[3] = {batch, s[2] - 1, s[3]}, s2[3] = {batch, s[2], s[3] - 1};
                r1 = need(ss_tensor_reshape(d1, 3, s1), "view"), r2 = need(ss_tensor_reshape(d2, 3, s2), "view");
                A3 = ss_linop_osmosis_generator(r1, r2, h), M3 = ss_linop_osmosis(r1, r2, h, 3.0f);
            }
            CHECK_OK(ss_linop_dot_test(&e1, A3, batch, seed + k));
            CHECK_OK(ss_linop_dot_test(&e2, M3, batch, seed + k + 100));
            snprintf(label, sizeof label, "dot test A %s", shape);
            printf("  %-48s rel err = %.3g (tol %.0e)\n", label, e1, DOT_TOL);
            CHECK(e1 <= DOT_TOL, "%s: %g", label, e1);
            snprintf(label, sizeof label, "dot test I - 3A %s", shape);
            printf("  %-48s rel err = %.3g (tol %.0e)\n", label, e2, DOT_TOL);
            CHECK(e2 <= DOT_TOL, "%s: %g", label, e2);
            /* I − τA = u − τ A u */
            CHECK_OK(ss_linop_apply(M, au, u));
            u3 = empty_like(u);
            CHECK_OK(ss_osmosis_forward(u3, u, d1, d2, h));
            CHECK_OK(ss_axpby(u3, 1.0f, u, -3.0f, u3));
            snprintf(label, sizeof label, "linop I - 3A = u - 3 A u %s", shape);
            test_close(label, au->data, u3->data, (long)ss_tensor_numel(u), 1e-6 * (max_abs(u3) + 1));
            if (nd == 4) ss_linop_free(A3), ss_linop_free(M3);
            FREE(r1, r2);
        }
        ss_linop_free(A);
        ss_linop_free(M);
        FREE(v, u, au, d1, d2, u3);
    }

    /* Direct dot test of ss_osmosis_forward/_adjoint with a random drift of both
     * signs (not canonical), a batch and in place. */
    int64_t s[4] = {2, 3, 9, 11};
    ss_tensor *x = normal_n(4, s), *y = normal_n(4, s), *ax = empty_like(x), *aty = empty_like(y);
    ss_tensor *d1 = drift_like(x, 1), *d2 = drift_like(x, 2);
    CHECK_OK(ss_rng_uniform(&rng, d1, -1.9f, 1.9f));
    CHECK_OK(ss_rng_uniform(&rng, d2, -1.9f, 1.9f));
    CHECK_OK(ss_osmosis_forward(ax, x, d1, d2, 1.0f));
    CHECK_OK(ss_osmosis_adjoint(aty, y, d1, d2, 1.0f));
    double a = 0, b = 0, nax = 0, ny = 0;
    ss_dot(&a, ax, y);
    ss_dot(&b, x, aty);
    ss_reduce(&nax, ax, SS_RED_NORM);
    ss_reduce(&ny, y, SS_RED_NORM);
    double rel = fabs(a - b) / fmax(fabs(a), nax * ny / sqrt((double)ss_tensor_numel(y)));
    printf("  %-48s rel err = %.3g (tol %.0e)\n", "<A x, y> = <x, A^T y>, random drift (2,3,9,11)", rel, DOT_TOL);
    CHECK(rel <= DOT_TOL, "direct dot test: %g", rel);
    ss_tensor *c = need(ss_tensor_clone(x), "clone");
    CHECK_OK(ss_osmosis_forward(c, c, d1, d2, 1.0f));
    test_close("forward in place", c->data, ax->data, (long)ss_tensor_numel(x), 0.0);
    CHECK_OK(ss_tensor_copy(c, y));
    CHECK_OK(ss_osmosis_adjoint(c, c, d1, d2, 1.0f));
    test_close("adjoint in place", c->data, aty->data, (long)ss_tensor_numel(x), 0.0);

    /* One drift (H−1,W) for every image = the same drift repeated per image. */
    ss_tensor *all1 = need(ss_tensor_reshape(d1, 3, (int64_t[]){6, 8, 11}), "view");
    ss_tensor *all2 = need(ss_tensor_reshape(d2, 3, (int64_t[]){6, 9, 10}), "view");
    ss_tensor *one1 = need(ss_tensor_narrow(all1, 2, 1), "view"), *one2 = need(ss_tensor_narrow(all2, 2, 1), "view");
    ss_tensor *sh1 = need(ss_tensor_reshape(one1, 2, (int64_t[]){8, 11}), "view");
    ss_tensor *sh2 = need(ss_tensor_reshape(one2, 2, (int64_t[]){9, 10}), "view");
    ss_tensor *rep1 = empty_like(d1), *rep2 = empty_like(d2);
    for (int m = 0; m < 6; m++) {
        memcpy(rep1->data + m * 88, sh1->data, 88 * sizeof(float));
        memcpy(rep2->data + m * 90, sh2->data, 90 * sizeof(float));
    }
    CHECK_OK(ss_osmosis_forward(ax, x, sh1, sh2, 1.0f));
    CHECK_OK(ss_osmosis_forward(c, x, rep1, rep2, 1.0f));
    test_close("an (H-1,W) drift serves every image", ax->data, c->data, (long)ss_tensor_numel(x), 0.0);
    CHECK_OK(ss_osmosis_adjoint(ax, y, sh1, sh2, 1.0f));
    CHECK_OK(ss_osmosis_adjoint(c, y, rep1, rep2, 1.0f));
    test_close("  ... and its adjoint", ax->data, c->data, (long)ss_tensor_numel(x), 0.0);
    ss_linop *A = ss_linop_osmosis_generator(sh1, sh2, 1.0f);
    CHECK(A != NULL, "shared-drift operator: %s", ss_last_error());
    if (A) {
        CHECK_OK(ss_linop_adjoint(A, ax, y));
        test_close("  ... and as an operator value", ax->data, c->data, (long)ss_tensor_numel(x), 0.0);
        ss_linop_free(A);
    }
    /* zero drift: A is the 5-point Laplacian over h² */
    CHECK_OK(ss_tensor_fill(d1, 0.0f));
    CHECK_OK(ss_tensor_fill(d2, 0.0f));
    CHECK_OK(ss_osmosis_forward(ax, x, d1, d2, 0.5f));
    CHECK_OK(ss_laplace_forward(c, x));
    CHECK_OK(ss_affine(c, c, 4.0f, 0.0f));
    test_close("zero drift, h=0.5: A = laplace/h^2", ax->data, c->data, (long)ss_tensor_numel(x), 1e-5 * max_abs(c));
    FREE(x, y, ax, aty, d1, d2, c, all1, all2, one1, one2, sh1, sh2, rep1, rep2);
}

/* ------------------------------------------------------------ explicit steps */

static void test_explicit(void)
{
    printf("explicit steps\n");
    /* the limit: h²/4 without drift */
    int64_t s[3] = {2, 8, 8};
    ss_tensor *d1 = empty_n(3, (int64_t[]){2, 7, 8}), *d2 = empty_n(3, (int64_t[]){2, 8, 7});
    CHECK_OK(ss_tensor_fill(d1, 0.0f));
    CHECK_OK(ss_tensor_fill(d2, 0.0f));
    double lim = 0;
    CHECK_OK(ss_osmosis_explicit_limit(&lim, d1, d2, 1.0f));
    CHECK(fabs(lim - 0.25) < 1e-12, "limit without drift, h = 1: %g, expected 0.25", lim);
    CHECK_OK(ss_osmosis_explicit_limit(&lim, d1, d2, 0.5f));
    CHECK(fabs(lim - 0.0625) < 1e-12, "limit without drift, h = 0.5: %g, expected 0.0625", lim);
    printf("  %-48s %s\n", "limit without drift = h^2/4", "ok");

    /* f and v positive, different means; explicit steps keep f's mean and go to (μ_f/μ_v)·v */
    ss_tensor *f = uniform_n(3, s, 0.1f, 1.0f), *v = uniform_n(3, s, 0.2f, 1.0f);
    CHECK_OK(ss_affine(v, v, 1.0f, 1.0f)); /* offset 1 */
    CHECK_OK(ss_osmosis_drift(d1, d2, v, 1.0f));
    CHECK_OK(ss_osmosis_explicit_limit(&lim, d1, d2, 1.0f));
    printf("  %-48s tau_max = %.6g\n", "explicit limit of a canonical drift", lim);
    CHECK(lim >= 0.125 && lim <= 0.25, "limit %g outside [h^2/8, h^2/4]", lim);

    /* just above the limit is refused, naming both; just below is accepted */
    ss_tensor *u = need(ss_tensor_clone(f), "clone"), *w = empty_like(f);
    float above = (float)(lim * (1 + 1e-4)), below = (float)(lim * (1 - 1e-4));
    CHECK_FAILS(ss_osmosis_explicit_step(w, u, d1, d2, 1.0f, above), "exceeds the explicit stability limit");
    char want[64];
    snprintf(want, sizeof want, "tau = %.9g", (double)above);
    CHECK(strstr(ss_last_error(), want) != NULL, "message \"%s\" lacks \"%s\"", ss_last_error(), want);
    snprintf(want, sizeof want, "limit %.9g", lim);
    CHECK(strstr(ss_last_error(), want) != NULL, "message \"%s\" lacks \"%s\"", ss_last_error(), want);
    printf("  %-48s %s\n", "tau = 1.0001 tau_max refused", ss_last_error());
    CHECK_OK(ss_osmosis_explicit_step(w, u, d1, d2, 1.0f, below));
    CHECK_OK(ss_osmosis_explicit_step(w, u, d1, d2, 1.0f, 0.0f));
    test_close("tau = 0 copies", w->data, u->data, (long)ss_tensor_numel(u), 0.0);

    /* evolve at 0.9999 of the limit, in place */
    double mf[2] = {image_mean(f, 0), image_mean(f, 1)}, mv[2] = {image_mean(v, 0), image_mean(v, 1)};
    double dmean = 0, dist0 = 0, dist = 0, minval = INFINITY;
    for (int64_t i = 0; i < 128; i++) dist0 = fmax(dist0, fabs(u->data[i] - mf[i / 64] / mv[i / 64] * v->data[i]));
    int steps = 3000;
    for (int k = 0; k < steps; k++) {
        CHECK_OK(ss_osmosis_explicit_step(u, u, d1, d2, 1.0f, below));
        for (int64_t i = 0; i < 128; i++) minval = fmin(minval, u->data[i]);
    }
    for (int m = 0; m < 2; m++) dmean = fmax(dmean, fabs(image_mean(u, m) - mf[m]) / mf[m]);
    for (int64_t i = 0; i < 128; i++) dist = fmax(dist, fabs(u->data[i] - mf[i / 64] / mv[i / 64] * v->data[i]));
    printf("  %-48s %.3g (tol 1e-5)\n", "mean drift after 3000 steps, relative", dmean);
    CHECK(dmean <= 1e-5, "explicit steps change the mean by %g", dmean);
    printf("  %-48s %.3g -> %.3g (tol 1e-4)\n", "max|u - (mu_f/mu_v) v|, 8x8, t = 3000 tau", dist0, dist);
    CHECK(dist <= 1e-4, "explicit steps do not converge to (mu_f/mu_v) v: %g", dist);
    CHECK(minval > 0, "explicit steps left positivity: min %g", minval);

    /* a drift made for h = 0.5 exceeds 2/h at h = 1 for some guidance: refused */
    ss_tensor *steep = empty_like(v);
    for (int64_t i = 0; i < 128; i++) steep->data[i] = (i % 2) ? 1.0f : 0.01f;
    CHECK_OK(ss_osmosis_drift(d1, d2, steep, 0.5f));
    CHECK_FAILS(ss_osmosis_explicit_step(w, f, d1, d2, 1.0f, 0.01f), "exceeds 2/h");
    FREE(d1, d2, f, v, u, w, steep);
}

/* ------------------------------------------------------------ implicit steps */

static void test_implicit(void)
{
    printf("implicit steps\n");
    /* 128×128, τ = 10: converges, keeps the mean, stays positive */
    int64_t s[3] = {1, 128, 128};
    ss_tensor *f = uniform_n(3, s, 0.0f, 1.0f), *v = uniform_n(3, s, 0.0f, 1.0f);
    CHECK_OK(ss_affine(f, f, 1.0f, 1.0f));
    CHECK_OK(ss_affine(v, v, 1.0f, 1.0f));
    ss_tensor *d1, *d2;
    make_drift(&d1, &d2, v, 1.0f);
    ss_tensor *u = need(ss_tensor_clone(f), "clone"), *w = empty_like(f);
    double mf = image_mean(f, 0);
    ss_solve_info info;
    int total = 0;
    for (int k = 0; k < 5; k++) {
        memset(&info, 0, sizeof info);
        CHECK_OK(ss_osmosis_implicit_step(w, u, d1, d2, 1.0f, 10.0f, 1e-6, 2000, &info));
        CHECK(info.converged == 1, "step %d did not converge", k);
        char label[96];
        snprintf(label, sizeof label, "128x128 tau=10 step %d", k + 1);
        printf("  %-48s %d iterations (%d restarts), residual %.3g -> %.3g (abs_tol %.3g)\n", label,
               (int)info.iterations, (int)info.restarts, info.initial_residual, info.residual, 1e-6 * 16384);
        total += info.iterations;
        CHECK_OK(ss_tensor_copy(u, w));
    }
    double dmean = fabs(image_mean(u, 0) - mf) / mf, lo;
    ss_reduce(&lo, u, SS_RED_MIN);
    printf("  %-48s %.3g (tol 1e-5)\n", "mean change after 5 steps, relative", dmean);
    CHECK(dmean <= 1e-5, "implicit steps change the mean by %g", dmean);
    CHECK(lo > 0, "implicit steps left positivity: min %g", lo);
    CHECK(total > 0, "no iterations at all");

    /* in place gives the same as out of place */
    ss_tensor *a = need(ss_tensor_clone(f), "clone");
    CHECK_OK(ss_osmosis_implicit_step(w, f, d1, d2, 1.0f, 10.0f, 1e-6, 2000, NULL));
    CHECK_OK(ss_osmosis_implicit_step(a, a, d1, d2, 1.0f, 10.0f, 1e-6, 2000, NULL));
    test_close("implicit step in place", a->data, w->data, 16384, 0.0);
    /* tau = 0 is the identity */
    CHECK_OK(ss_osmosis_implicit_step(w, f, d1, d2, 1.0f, 0.0f, 1e-6, 10, &info));
    test_close("implicit tau = 0 copies", w->data, f->data, 16384, 0.0);
    FREE(f, v, d1, d2, u, w, a);

    /* Probabilistic osmosis (Peter, Sect. 6.2) on 32x32: guidance = noise with the
     * image's mean and σ = 0.1 clipped to [1e-6, 1]; large implicit steps reach
     * (μ_f/μ_v)·v. */
    int64_t t[3] = {2, 32, 32};
    f = uniform_n(3, t, 0.1f, 0.9f);
    v = empty_n(3, t);
    for (int m = 0; m < 2; m++) {
        ss_tensor *vm = need(ss_tensor_narrow(v, m, 1), "view");
        CHECK_OK(ss_rng_normal(&rng, vm, (float)image_mean(f, m), 0.1f));
        ss_tensor_free(vm);
    }
    CHECK_OK(ss_clamp(v, v, 1e-6f, 1.0f));
    make_drift(&d1, &d2, v, 1.0f);
    u = need(ss_tensor_clone(f), "clone");
    int iters = 0;
    for (int k = 0; k < 25; k++) {
        CHECK_OK(ss_osmosis_implicit_step(u, u, d1, d2, 1.0f, 100.0f, 1e-6, 5000, &info));
        iters += info.iterations;
    }
    double dist = 0, scale = 0;
    for (int64_t i = 0; i < 2048; i++) {
        int m = (int)(i / 1024);
        double target = image_mean(f, m) / image_mean(v, m) * v->data[i];
        dist = fmax(dist, fabs(u->data[i] - target));
        scale = fmax(scale, fabs(target));
    }
    printf("  %-48s %.3g (tol 1e-3), %d iterations\n", "noise guidance: max|u - (mu_f/mu_v) v|/max", dist / scale,
           iters);
    CHECK(dist <= 1e-3 * scale, "probabilistic osmosis does not reach its steady state: %g", dist);
    FREE(f, v, d1, d2, u);
}

/* ------------------------------------------------------------ operator lifetime */

static void test_lifetime(void)
{
    printf("operator lifetime\n");
    int64_t s[3] = {2, 6, 7};
    ss_tensor *v = uniform_n(3, s, 0.5f, 1.5f), *x = normal_n(3, s), *want = empty_like(x), *got = empty_like(x);
    ss_tensor *d1, *d2;
    make_drift(&d1, &d2, v, 1.0f);
    CHECK_OK(ss_osmosis_forward(want, x, d1, d2, 1.0f));
    CHECK_OK(ss_axpby(want, 1.0f, x, -2.0f, want)); /* (I − 2A) x */
    ss_linop *M = ss_linop_osmosis(d1, d2, 1.0f, 2.0f);
    CHECK(M != NULL, "ss_linop_osmosis: %s", ss_last_error());
    if (!M) return;
    printf("  %-48s %s\n", "name", ss_linop_name(M));
    CHECK(ss_linop_device(M) == SS_CPU, "an osmosis operator over a cpu drift reports device %d", ss_linop_device(M));
    /* the operator keeps copies: freeing and overwriting the caller's drift changes nothing */
    CHECK_OK(ss_tensor_fill(d1, 0.0f));
    FREE(d1, d2);
    /* a composite keeps it alive after the caller's reference is gone */
    ss_linop *S = ss_linop_scale(1.0f, M), *T = ss_linop_transpose(M);
    ss_linop_free(M);
    CHECK(S && T, "composites: %s", ss_last_error());
    if (S && T) {
        CHECK_OK(ss_linop_apply(S, got, x));
        test_close("scale(1, I - 2A) after the drift and op are freed", got->data, want->data,
                   (long)ss_tensor_numel(x), 1e-6 * max_abs(want));
        double e = 1;
        CHECK_OK(ss_linop_dot_test(&e, T, 2, seed));
        printf("  %-48s rel err = %.3g (tol %.0e)\n", "dot test of its transpose", e, DOT_TOL);
        CHECK(e <= DOT_TOL, "transpose dot test %g", e);
        /* the input needs the drift's leading dimensions */
        ss_tensor *x3 = normal_n(3, (int64_t[]){3, 6, 7}), *o3 = empty_like(x3);
        CHECK_FAILS2(ss_linop_apply(S, o3, x3), "(2,5,7)", "(3,6,7)");
        FREE(x3, o3);
    }
    ss_linop_free(S);
    ss_linop_free(T);
    FREE(v, x, want, got);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    printf("bad input\n");
    int64_t s[3] = {2, 9, 11};
    ss_tensor *v = uniform_n(3, s, 0.5f, 1.5f), *u = empty_like(v), *o = empty_like(v);
    ss_tensor *d1 = drift_like(v, 1), *d2 = drift_like(v, 2);
    CHECK_OK(ss_osmosis_drift(d1, d2, v, 1.0f));
    CHECK_OK(ss_tensor_copy(u, v));

    /* non-positive and non-finite guidance, naming the value and where */
    v->data[1 * 99 + 2 * 11 + 5] = -0.25f;
    CHECK_FAILS2(ss_osmosis_drift(d1, d2, v, 1.0f), "v = -0.25", "image 1, row 2, column 5");
    printf("  %-48s %s\n", "v <= 0", ss_last_error());
    v->data[1 * 99 + 2 * 11 + 5] = 0.0f;
    CHECK_FAILS(ss_osmosis_drift(d1, d2, v, 1.0f), "v = 0 at flat index 126");
    v->data[1 * 99 + 2 * 11 + 5] = NAN;
    CHECK_FAILS(ss_osmosis_drift(d1, d2, v, 1.0f), "NaN at flat index 126");
    CHECK(ss_last_status() == SS_ERR_NUMERIC, "NaN in v is SS_ERR_NUMERIC");
    CHECK_OK(ss_tensor_copy(v, u));
    CHECK_FAILS(ss_osmosis_drift(d1, d2, v, 0.0f), "grid size h");
    CHECK_FAILS(ss_osmosis_drift(d1, d2, v, NAN), "grid size h");

    /* shape mismatches name both shapes */
    ss_tensor *w1 = empty_n(3, (int64_t[]){2, 9, 11}), *w2 = empty_n(3, (int64_t[]){3, 8, 11});
    ss_tensor *w3 = empty_n(3, (int64_t[]){2, 9, 9}), *v1 = empty_n(3, (int64_t[]){1, 9, 11});
    CHECK_FAILS2(ss_osmosis_drift(w1, d2, v, 1.0f), "(2,9,11)", "(...,8,11)");
    CHECK_FAILS2(ss_osmosis_drift(d1, w3, v, 1.0f), "(2,9,9)", "(2,9,11)");
    CHECK_FAILS2(ss_osmosis_drift(w2, d2, v, 1.0f), "(3,8,11)", "(2,9,11)");
    CHECK_FAILS(ss_osmosis_drift(NULL, d2, v, 1.0f), "d1 is NULL");
    CHECK_FAILS(ss_osmosis_drift(d1, d2, NULL, 1.0f), "NULL");
    CHECK_FAILS2(ss_osmosis_forward(o, u, w2, d2, 1.0f), "(3,8,11)", "(2,9,11)");
    printf("  %-48s %s\n", "d1 of another batch", ss_last_error());
    CHECK_FAILS2(ss_osmosis_forward(o, u, d1, w3, 1.0f), "(2,9,9)", "(2,9,11)");
    CHECK_FAILS2(ss_osmosis_forward(w3, u, d1, d2, 1.0f), "(2,9,9)", "(2,9,11)");
    CHECK_FAILS2(ss_osmosis_adjoint(o, u, w2, d2, 1.0f), "(3,8,11)", "(2,9,11)");
    CHECK_FAILS2(ss_osmosis_explicit_step(o, v1, d1, d2, 1.0f, 0.1f), "(2,9,11)", "(1,9,11)");
    CHECK_FAILS2(ss_osmosis_implicit_step(o, v1, d1, d2, 1.0f, 1.0f, 1e-6, 10, NULL), "(2,9,11)", "(1,9,11)");
    ss_tensor *d2b = empty_n(2, (int64_t[]){9, 10});
    CHECK_OK(ss_tensor_fill(d2b, 0.0f));
    CHECK_FAILS2(ss_osmosis_forward(o, u, d1, d2b, 1.0f), "d1 (2,8,11)", "d2 (9,10)");
    CHECK(ss_linop_osmosis(w2, d2, 1.0f, 1.0f) == NULL, "ss_linop_osmosis accepts mismatched drifts");
    CHECK(strstr(ss_last_error(), "(2,9,10)") && strstr(ss_last_error(), "(3,9,11)"), "message: %s",
          ss_last_error());
    CHECK(ss_linop_osmosis(NULL, NULL, 1.0f, 1.0f) == NULL, "1x1 operator");
    /* a single-row image has no d1 */
    ss_tensor *row = empty_n(2, (int64_t[]){1, 11}), *rowd = empty_n(2, (int64_t[]){1, 10});
    ss_tensor *fake1 = empty_n(2, (int64_t[]){1, 11});
    CHECK_OK(ss_tensor_fill(row, 1.0f));
    CHECK_FAILS(ss_osmosis_drift(fake1, rowd, row, 1.0f), "single row");

    /* NaN in the drift or in the image of a step */
    d1->data[7] = NAN;
    CHECK_FAILS(ss_osmosis_forward(o, u, d1, d2, 1.0f), "drift d1 contains NaN at flat index 7");
    CHECK_FAILS(ss_osmosis_explicit_step(o, u, d1, d2, 1.0f, 0.1f), "drift d1 contains NaN");
    CHECK(ss_linop_osmosis(d1, d2, 1.0f, 1.0f) == NULL, "ss_linop_osmosis accepts a NaN drift");
    CHECK(strstr(ss_last_error(), "NaN") != NULL, "message: %s", ss_last_error());
    CHECK_OK(ss_osmosis_drift(d1, d2, v, 1.0f));
    u->data[3] = INFINITY;
    CHECK_FAILS(ss_osmosis_explicit_step(o, u, d1, d2, 1.0f, 0.1f), "image u contains Inf at flat index 3");
    u->data[3] = NAN;
    CHECK_FAILS(ss_osmosis_implicit_step(o, u, d1, d2, 1.0f, 1.0f, 1e-6, 10, NULL), "image u contains NaN");
    CHECK_OK(ss_tensor_copy(u, v));

    /* τ < 0, NaN, Inf; eps; the explicit limit */
    CHECK_FAILS(ss_osmosis_explicit_step(o, u, d1, d2, 1.0f, -0.1f), "tau must be finite and >= 0, got -0.1");
    CHECK_FAILS(ss_osmosis_explicit_step(o, u, d1, d2, 1.0f, NAN), "tau must be");
    CHECK_FAILS(ss_osmosis_implicit_step(o, u, d1, d2, 1.0f, -1.0f, 1e-6, 10, NULL), "tau must be finite and >= 0");
    CHECK_FAILS(ss_osmosis_implicit_step(o, u, d1, d2, 1.0f, INFINITY, 1e-6, 10, NULL), "tau must be");
    CHECK_FAILS(ss_osmosis_implicit_step(o, u, d1, d2, 1.0f, 1.0f, 0.0, 10, NULL), "eps must be");
    CHECK_FAILS(ss_osmosis_implicit_step(o, u, d1, d2, 1.0f, 1.0f, 1e-6, -1, NULL), "maxiter");
    CHECK(ss_linop_osmosis(d1, d2, 1.0f, -1.0f) == NULL, "ss_linop_osmosis accepts tau < 0");
    CHECK_FAILS(ss_osmosis_explicit_step(o, u, d1, d2, 1.0f, 0.3f), "exceeds the explicit stability limit");
    printf("  %-48s %s\n", "tau above the explicit limit", ss_last_error());
    CHECK_FAILS(ss_osmosis_explicit_limit(NULL, d1, d2, 1.0f), "tau_max is NULL");
    /* too few iterations: not converged, a status and a message */
    ss_tensor *big = uniform_n(3, s, 1.0f, 2.0f);
    int rc = ss_osmosis_implicit_step(o, big, d1, d2, 1.0f, 50.0f, 1e-9, 1, NULL);
    CHECK(rc == SS_ERR_NOTCONV, "one iteration converged? rc %d: %s", rc, ss_last_error());
    printf("  %-48s %s\n", "maxiter = 1", ss_last_error());
    FREE(v, u, o, d1, d2, w1, w2, w3, v1, d2b, row, rowd, fake1, big);
}

int main(void)
{
    if (test_seed("test_osmosis", &seed, &rng)) return 2;
    test_fixtures();
    test_operator();
    test_explicit();
    test_implicit();
    test_lifetime();
    test_bad_input();
    return test_summary("test_osmosis");
}
