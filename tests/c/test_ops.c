/* test_ops.c — the linear operators: DCT, heat/blur/diag_dct, Laplacian,
 * resize and the ss_linop algebra, and operators defined outside the runtime
 * through the operator table (ops/linop_impl.h).
 *
 * Reference fixtures (tests/reference/ops/<op>.ssfx, from make_ops_fixtures.py:
 * scipy.fft, PyTorch 1.13, Pillow) must match within 1e-5 of the expected
 * data's range; every operator and composite passes the dot-product test
 * <Ax,y> = <x,Aᵀy> to 1e-6 relative; heat keeps its scale-space properties;
 * bad arguments fail with a message. The seed is printed; SS_TEST_SEED=<n>
 * reruns with another one. */
#include "check.h"
#include "fixture.h"
#include "ops/linop_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20240611u;
static ss_rng rng;

#define DOT_TOL 1e-6
#define REF_TOL 1e-5 /* relative to the data range of the expected values */

static ss_tensor *empty4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t s[4] = {n, c, h, w};
    return need(ss_tensor_empty(4, s, SS_CPU), "a tensor");
}

static ss_tensor *randn4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    ss_tensor *t = empty4(n, c, h, w);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, 1.0f));
    return t;
}

static ss_tensor *empty_like(const ss_tensor *t)
{
    return need(ss_tensor_empty(t->ndim, t->shape, SS_CPU), "a tensor");
}

static double range_of(const ss_tensor *t)
{
    double lo, hi;
    ss_reduce(&lo, t, SS_RED_MIN);
    ss_reduce(&hi, t, SS_RED_MAX);
    return hi - lo > 0 ? hi - lo : 1.0;
}

/* Compares got with want to REF_TOL of want's range. */
static void close_to(const char *label, const ss_tensor *got, const ss_tensor *want)
{
    CHECK(ss_tensor_same_shape(got, want), "%s: shapes differ", label);
    if (!ss_tensor_same_shape(got, want)) return;
    test_close(label, got->data, want->data, (long)ss_tensor_numel(want), REF_TOL * range_of(want));
}

/* ------------------------------------------------------------ fixtures */

static void dct_case(const fixture *fx, const char *c)
{
    ss_tensor *x = fixture_get(fx, c, "x"), *y = fixture_get(fx, c, "y"), *inv = fixture_get(fx, c, "inv");
    CHECK(x && y && inv, "%s: fixture arrays missing", c);
    if (!x || !y || !inv) return;
    ss_tensor *out = empty_like(x);
    char label[160];
    CHECK_OK(ss_dct2_forward(out, x));
    snprintf(label, sizeof label, "%s forward vs scipy dctn", c);
    close_to(label, out, y);
    CHECK_OK(ss_dct2_inverse(out, x));
    snprintf(label, sizeof label, "%s inverse vs scipy idctn", c);
    close_to(label, out, inv);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(inv), ss_tensor_free(out);
}

static void heat_case(const fixture *fx, const char *c)
{
    int blur = strncmp(c, "blur", 4) == 0;
    ss_tensor *x = fixture_get(fx, c, "x"), *y = fixture_get(fx, c, "y"), *p = fixture_get(fx, c, blur ? "sigma" : "t");
    CHECK(x && y && p, "%s: fixture arrays missing", c);
    if (!x || !y || !p) return;
    ss_tensor *out = empty_like(x);
    char label[160];
    if (blur) CHECK_OK(ss_blur_forward(out, x, p->data[0]));
    else CHECK_OK(ss_heat_forward(out, x, p->data[0]));
    snprintf(label, sizeof label, "%s vs scipy", c);
    close_to(label, out, y);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(p), ss_tensor_free(out);
}

static int fixture_mode;

static void resize_case(const fixture *fx, const char *c)
{
    ss_tensor *x = fixture_get(fx, c, "x"), *y = fixture_get(fx, c, "y");
    CHECK(x && y, "%s: fixture arrays missing", c);
    if (!x || !y) return;
    ss_tensor *out = empty_like(y);
    char label[160];
    CHECK_OK(ss_resize_forward(out, x, fixture_mode));
    snprintf(label, sizeof label, "%s forward", c);
    close_to(label, out, y);
    char vjp_name[160];
    snprintf(vjp_name, sizeof vjp_name, "%s.vjp", c);
    if (fixture_find(fx, vjp_name)) {
        ss_tensor *g = fixture_get(fx, c, "g"), *vjp = fixture_get(fx, c, "vjp"), *adj = empty_like(x);
        CHECK_OK(ss_resize_adjoint(adj, g, fixture_mode));
        snprintf(label, sizeof label, "%s adjoint vs autograd", c);
        close_to(label, adj, vjp);
        ss_tensor_free(g), ss_tensor_free(vjp), ss_tensor_free(adj);
    }
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(out);
}

static void test_fixtures(void)
{
    static const struct {
        const char *file;
        int mode;
        void (*fn)(const fixture *, const char *);
    } files[] = {
        {"tests/reference/ops/dct.ssfx", 0, dct_case},
        {"tests/reference/ops/heat.ssfx", 0, heat_case},
        {"tests/reference/ops/resize_bilinear_aa.ssfx", SS_RESIZE_BILINEAR_AA, resize_case},
        {"tests/reference/ops/resize_bicubic.ssfx", SS_RESIZE_BICUBIC, resize_case},
        {"tests/reference/ops/resize_area.ssfx", SS_RESIZE_AREA, resize_case},
        {"tests/reference/ops/resize_nearest.ssfx", SS_RESIZE_NEAREST, resize_case},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        printf("fixtures %s\n", files[i].file);
        fixture *fx = fixture_load(files[i].file);
        CHECK(fx != NULL, "cannot load %s", files[i].file);
        fixture_mode = files[i].mode;
        fixture_each_case(fx, files[i].fn);
        fixture_free(fx);
    }
}

/* ------------------------------------------------------------ DCT */

static void test_dct(void)
{
    printf("dct\n");
    static const int64_t sizes[][4] = {{2, 3, 8, 8}, {1, 2, 7, 12}, {3, 1, 1, 5}, {1, 1, 13, 1}, {4, 3, 31, 17},
                                      {1, 1, 600, 500} /* FFTW's threads */};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int64_t *s = sizes[i];
        ss_tensor *x = randn4(s[0], s[1], s[2], s[3]), *c = empty_like(x), *r = empty_like(x);
        CHECK_OK(ss_dct2_forward(c, x));
        CHECK_OK(ss_dct2_inverse(r, c));
        char label[96];
        snprintf(label, sizeof label, "inverse(forward(x)) = x, (%lld,%lld,%lld,%lld)", (long long)s[0],
                 (long long)s[1], (long long)s[2], (long long)s[3]);
        test_close(label, r->data, x->data, (long)ss_tensor_numel(x), REF_TOL * range_of(x));
        /* orthonormal: ‖Cx‖ = ‖x‖ */
        double nx, nc;
        ss_reduce(&nx, x, SS_RED_NORM);
        ss_reduce(&nc, c, SS_RED_NORM);
        CHECK(fabs(nx - nc) <= 1e-5 * nx, "dct changes the norm: %g vs %g", nx, nc);
        ss_tensor_free(x), ss_tensor_free(c), ss_tensor_free(r);
    }
    /* In place, and on a narrowed view whose data is not SIMD-aligned (FFTW_UNALIGNED plan). */
    ss_tensor *x = randn4(3, 1, 5, 7), *ref = empty4(1, 1, 5, 7);
    ss_tensor *view = need(ss_tensor_narrow(x, 1, 1), "a view"), *alone = need(ss_tensor_clone(view), "a clone");
    CHECK_OK(ss_dct2_forward(ref, alone));
    CHECK_OK(ss_dct2_forward(view, view));
    test_close("dct in place on an unaligned view", view->data, ref->data, 35, 0.0);
    CHECK_OK(ss_dct2_adjoint(view, view));
    test_close("dct adjoint undoes it in place", view->data, alone->data, 35, 1e-5 * range_of(alone));
    ss_tensor_free(x), ss_tensor_free(ref), ss_tensor_free(view), ss_tensor_free(alone);
    /* A batch large enough for FFTW's threads agrees with one image at a time. */
    x = randn4(8, 3, 128, 128), ref = empty4(1, 3, 128, 128);
    ss_tensor *c = empty_like(x);
    CHECK_OK(ss_dct2_forward(c, x));
    double m = 0;
    for (int i = 0; i < 8; i++) {
        view = need(ss_tensor_narrow(x, i, 1), "a view");
        CHECK_OK(ss_dct2_forward(ref, view));
        for (int j = 0; j < 3 * 128 * 128; j++) m = fmax(m, fabs(ref->data[j] - c->data[i * 3 * 128 * 128 + j]));
        ss_tensor_free(view);
    }
    printf("  %-48s max|diff| = %.3g (tol %.1g)\n", "threaded batch plan = per-image plans", m, 1e-5 * range_of(x));
    CHECK(m <= 1e-5 * range_of(x), "threaded DCT differs: %g", m);
    ss_tensor_free(x), ss_tensor_free(ref), ss_tensor_free(c);
}

/* ------------------------------------------------------------ heat */

static void test_heat(void)
{
    printf("heat\n");
    ss_tensor *x = randn4(2, 3, 12, 9), *a = empty_like(x), *b = empty_like(x), *c = empty_like(x);
    double r = range_of(x);
    /* semigroup H(s)H(t) = H(s+t) */
    CHECK_OK(ss_heat_forward(a, x, 0.7f));
    CHECK_OK(ss_heat_forward(b, a, 1.8f));
    CHECK_OK(ss_heat_forward(c, x, 2.5f));
    test_close("semigroup H(1.8)H(0.7) = H(2.5)", b->data, c->data, (long)ss_tensor_numel(x), 1e-5 * r);
    /* t = 0 is exactly the identity */
    CHECK_OK(ss_heat_forward(a, x, 0.0f));
    test_close("H(0) = identity", a->data, x->data, (long)ss_tensor_numel(x), 0.0);
    /* grey value: each channel's mean is preserved */
    CHECK_OK(ss_heat_forward(a, x, 3.0f));
    ss_tensor *mx = need(ss_tensor_empty(1, (int64_t[]){6}, SS_CPU), "means");
    ss_tensor *ma = need(ss_tensor_empty(1, (int64_t[]){6}, SS_CPU), "means");
    ss_tensor *x3 = need(ss_tensor_reshape(x, 2, (int64_t[]){6, 108}), "view");
    ss_tensor *a3 = need(ss_tensor_reshape(a, 2, (int64_t[]){6, 108}), "view");
    CHECK_OK(ss_reduce_per_sample(mx, x3, SS_RED_MEAN));
    CHECK_OK(ss_reduce_per_sample(ma, a3, SS_RED_MEAN));
    test_close("channel means kept by H(3)", ma->data, mx->data, 6, 1e-6 * r);
    /* very large t (and +inf) flattens each channel to its mean */
    static const float big[2] = {1e6f, INFINITY};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ss_heat_forward(a, x, big[k]));
        double m = 0;
        for (int ch = 0; ch < 6; ch++)
            for (int j = 0; j < 108; j++) m = fmax(m, fabs(a->data[ch * 108 + j] - mx->data[ch]));
        printf("  %-48s max|diff| = %.3g (tol %.1g)\n", k ? "H(inf) = channel mean" : "H(1e6) = channel mean", m,
               1e-6 * r);
        CHECK(m <= 1e-6 * r, "large t does not give the channel mean: %g", m);
    }
    /* blur(sigma) = heat(sigma^2/2); in place works */
    CHECK_OK(ss_blur_forward(a, x, 1.5f));
    CHECK_OK(ss_tensor_copy(b, x));
    CHECK_OK(ss_heat_forward(b, b, 1.125f));
    test_close("blur(1.5) = heat(1.125), in place", a->data, b->data, (long)ss_tensor_numel(x), 1e-6 * r);
    /* diag_dct with exp(-t λ) is heat; a (N,1,H,W) scale broadcasts over channels */
    ss_tensor *lam = empty4(2, 1, 12, 9), *scale = empty4(2, 1, 12, 9);
    CHECK_OK(ss_heat_frequencies(lam));
    CHECK_OK(ss_affine(scale, lam, -2.0f, 0.0f));
    CHECK_OK(ss_exp(scale, scale));
    for (int j = 0; j < 108; j++) scale->data[108 + j] = expf(-0.5f * lam->data[j]); /* image 2: t = 0.5 */
    CHECK_OK(ss_diag_dct_forward(a, x, scale));
    ss_tensor *x0 = need(ss_tensor_narrow(x, 0, 1), "view"), *x1 = need(ss_tensor_narrow(x, 1, 1), "view");
    ss_tensor *b0 = need(ss_tensor_narrow(b, 0, 1), "view"), *b1 = need(ss_tensor_narrow(b, 1, 1), "view");
    CHECK_OK(ss_heat_forward(b0, x0, 2.0f));
    CHECK_OK(ss_heat_forward(b1, x1, 0.5f));
    test_close("diag_dct(exp(-t lambda)) = heat, (N,1,H,W) scale", a->data, b->data, (long)ss_tensor_numel(x),
               1e-5 * r);
    ss_tensor *s2 = need(ss_tensor_narrow(scale, 0, 1), "view");
    ss_tensor *s2v = need(ss_tensor_reshape(s2, 2, (int64_t[]){12, 9}), "view");
    CHECK_OK(ss_diag_dct_forward(a, x, s2v));
    CHECK_OK(ss_heat_forward(b, x, 2.0f));
    test_close("diag_dct with an (H,W) scale = heat(2)", a->data, b->data, (long)ss_tensor_numel(x), 1e-5 * r);
    ss_tensor *tens[] = {x, a, b, c, mx, ma, x3, a3, lam, scale, x0, x1, b0, b1, s2, s2v};
    for (size_t i = 0; i < sizeof tens / sizeof tens[0]; i++) ss_tensor_free(tens[i]);
}

/* ------------------------------------------------------------ Laplacian */

static void test_laplace(void)
{
    printf("laplace\n");
    /* 2x3 by hand: u = [[1,2,4],[0,3,5]] */
    const float u[6] = {1, 2, 4, 0, 3, 5};
    const float want[6] = {(2 - 1) + (0 - 1), (1 - 2) + (4 - 2) + (3 - 2), (2 - 4) + (5 - 4),
                           (3 - 0) + (1 - 0), (0 - 3) + (5 - 3) + (2 - 3), (3 - 5) + (4 - 5)};
    ss_tensor *x = need(ss_tensor_from_buffer(u, 2, (int64_t[]){2, 3}), "x"), *o = empty_like(x);
    CHECK_OK(ss_laplace_forward(o, x));
    test_close("laplace 2x3 by hand", o->data, want, 6, 0.0);
    CHECK_OK(ss_laplace_forward(x, x)); /* in place */
    test_close("laplace in place", x->data, want, 6, 0.0);
    ss_tensor_free(x), ss_tensor_free(o);
    /* conservation: the Laplacian of anything sums to zero per image; of a constant it is zero */
    x = randn4(2, 2, 9, 14), o = empty_like(x);
    CHECK_OK(ss_laplace_forward(o, x));
    double m = 0;
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 126; j++) s += o->data[i * 126 + j];
        m = fmax(m, fabs(s));
    }
    printf("  %-48s max|sum| = %.3g\n", "laplace sums to zero per image", m);
    CHECK(m < 1e-4, "laplace does not conserve mass: %g", m);
    ss_tensor_free(x), ss_tensor_free(o);
}

/* ------------------------------------------------------------ resize */

static void test_resize_paths(void)
{
    printf("resize\n");
    /* A batch runs one image per thread; a single image splits its passes over
     * the threads. Both must give the same numbers. */
    for (int mode = 0; mode <= SS_RESIZE_NEAREST; mode++) {
        ss_tensor *x = randn4(3, 2, 150, 130), *y = empty4(3, 2, 61, 197), *y1 = empty4(1, 1, 61, 197);
        ss_tensor *g = randn4(3, 2, 61, 197), *gx = empty_like(x), *gx1 = empty4(1, 1, 150, 130);
        CHECK_OK(ss_resize_forward(y, x, mode));
        CHECK_OK(ss_resize_adjoint(gx, g, mode));
        double m = 0, ma = 0;
        ss_tensor *x6 = need(ss_tensor_reshape(x, 4, (int64_t[]){6, 1, 150, 130}), "view");
        ss_tensor *g6 = need(ss_tensor_reshape(g, 4, (int64_t[]){6, 1, 61, 197}), "view");
        for (int i = 0; i < 6; i++) {
            ss_tensor *xi = need(ss_tensor_narrow(x6, i, 1), "view"), *gi = need(ss_tensor_narrow(g6, i, 1), "view");
            CHECK_OK(ss_resize_forward(y1, xi, mode));
            CHECK_OK(ss_resize_adjoint(gx1, gi, mode));
            for (int j = 0; j < 61 * 197; j++) m = fmax(m, fabs(y1->data[j] - y->data[i * 61 * 197 + j]));
            for (int j = 0; j < 150 * 130; j++) ma = fmax(ma, fabs(gx1->data[j] - gx->data[i * 150 * 130 + j]));
            ss_tensor_free(xi), ss_tensor_free(gi);
        }
        ss_tensor_free(x6), ss_tensor_free(g6);
        char label[96];
        snprintf(label, sizeof label, "%s batch = single-image path (fwd, adj)", ss_resize_mode_name(mode));
        printf("  %-48s max|diff| = %.3g, %.3g\n", label, m, ma);
        CHECK(m == 0 && ma == 0, "%s: the split path differs: %g %g", label, m, ma);
        ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(y1), ss_tensor_free(g), ss_tensor_free(gx),
            ss_tensor_free(gx1);
    }
    /* an unchanged size is the identity in every mode */
    ss_tensor *x = randn4(1, 2, 9, 11), *y = empty_like(x);
    for (int mode = 0; mode <= SS_RESIZE_NEAREST; mode++) {
        CHECK_OK(ss_resize_forward(y, x, mode));
        test_close(ss_resize_mode_name(mode), y->data, x->data, 198, 0.0);
    }
    /* constants stay constant (weights sum to one) */
    ss_tensor *one = need(ss_tensor_full(4, (int64_t[]){1, 1, 23, 17}, 1.0f, SS_CPU), "ones"), *o = empty4(1, 1, 7, 40);
    for (int mode = 0; mode <= SS_RESIZE_NEAREST; mode++) {
        CHECK_OK(ss_resize_forward(o, one, mode));
        double lo, hi;
        ss_reduce(&lo, o, SS_RED_MIN);
        ss_reduce(&hi, o, SS_RED_MAX);
        char label[64];
        snprintf(label, sizeof label, "%s resize of ones", ss_resize_mode_name(mode));
        printf("  %-48s [%.8f, %.8f]\n", label, lo, hi);
        CHECK(fabs(lo - 1) < 1e-6 && fabs(hi - 1) < 1e-6, "%s: resize of ones gives [%g, %g]",
              ss_resize_mode_name(mode), lo, hi);
    }
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(one), ss_tensor_free(o);
}

/* ------------------------------------------------------------ linops */

/* An external operator: out = 2·in shifted one column right (zero fill). */
static int shift_apply(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const float k = *(const float *)ctx;
    int64_t w = in->shape[in->ndim - 1], n = ss_tensor_numel(in);
    for (int64_t i = 0; i < n; i++) out->data[i] = i % w ? k * in->data[i - 1] : 0.0f;
    return SS_OK;
}

static int shift_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const float k = *(const float *)ctx;
    int64_t w = in->shape[in->ndim - 1], n = ss_tensor_numel(in);
    for (int64_t i = 0; i < n; i++) out->data[i] = i % w != w - 1 ? k * in->data[i + 1] : 0.0f;
    return SS_OK;
}

static int failing_fn(void *ctx, ss_tensor *out, const ss_tensor *in) { return SS_ERR_NUMERIC; }

static void dot_check(ss_linop *op, int64_t batch)
{
    CHECK(op != NULL, "operator construction failed: %s", ss_last_error());
    if (!op) return;
    double err = 1;
    CHECK_OK(ss_linop_dot_test(&err, op, batch, seed + 17));
    char label[200];
    int64_t s[4];
    CHECK_OK(ss_linop_size(op, s));
    snprintf(label, sizeof label, "%s (%lldx%lld->%lldx%lld)", ss_linop_name(op), (long long)s[0], (long long)s[1],
             (long long)s[2], (long long)s[3]);
    printf("  dot test %-60.60s rel err = %.3g\n", label, err);
    CHECK(err <= DOT_TOL, "dot test of %s: %g > %g", label, err, DOT_TOL);
}

static void test_linops(void)
{
    printf("linop dot-product tests (tol %.0e)\n", DOT_TOL);
    static float two = 2.0f;
    ss_tensor *scale = need(ss_tensor_empty(2, (int64_t[]){10, 13}, SS_CPU), "scale");
    CHECK_OK(ss_rng_uniform(&rng, scale, 0.0f, 1.0f));
    ss_linop *ops[] = {
        ss_linop_identity(6, 5),
        ss_linop_dct2(8, 8),
        ss_linop_dct2(7, 12),
        ss_linop_heat(16, 16, 2.0f),
        ss_linop_heat(7, 12, 0.3f),
        ss_linop_blur(28, 28, 3.0f),
        ss_linop_diag_dct(10, 13, scale),
        ss_linop_laplace(9, 14),
        ss_linop_laplace(1, 7),
        ss_linop_resize(64, 64, 32, 32, SS_RESIZE_BILINEAR_AA),
        ss_linop_resize(28, 28, 8, 8, SS_RESIZE_BILINEAR_AA),
        ss_linop_resize(7, 7, 14, 14, SS_RESIZE_BILINEAR_AA),
        ss_linop_resize(12, 20, 5, 7, SS_RESIZE_BILINEAR_AA),
        ss_linop_resize(28, 28, 75, 75, SS_RESIZE_BICUBIC),
        ss_linop_resize(15, 15, 6, 6, SS_RESIZE_BICUBIC),
        ss_linop_resize(12, 20, 5, 7, SS_RESIZE_AREA),
        ss_linop_resize(10, 9, 4, 21, SS_RESIZE_AREA),
        ss_linop_resize(15, 12, 6, 31, SS_RESIZE_NEAREST),
        ss_linop_new(shift_apply, shift_adjoint, &two, 5, 8, 5, 8, "shift"),
    };
    const int nops = (int)(sizeof ops / sizeof ops[0]);
    for (int i = 0; i < nops; i++) dot_check(ops[i], 3);

    ss_linop *blur = ss_linop_blur(64, 64, 2.0f), *down = ss_linop_resize(64, 64, 32, 32, SS_RESIZE_BILINEAR_AA);
    ss_linop *down_t = ss_linop_transpose(down), *up_t = ss_linop_transpose(ops[12]);
    ss_linop *comp[] = {
        ss_linop_compose(ops[3], ops[3]),                 /* heat∘heat */
        ss_linop_compose(down, blur),                     /* resize∘blur */
        ss_linop_compose(down_t, down),                   /* resizeᵀ∘resize */
        ss_linop_scale(-0.5f, ops[7]),                    /* scale */
        ss_linop_sum(ops[4], ops[2]),                     /* heat + dct (7x12) */
        down_t,                                           /* transpose */
        ss_linop_transpose(ops[18]),                      /* transpose of an external op */
        ss_linop_compose(up_t, ops[12]),                  /* AᵀA of a non-square resize */
    };
    const int ncomp = (int)(sizeof comp / sizeof comp[0]);
    for (int i = 0; i < ncomp; i++) dot_check(comp[i], 2);
    /* the test catches a wrong adjoint: shift with itself as its adjoint */
    ss_linop *wrong = ss_linop_new(shift_apply, shift_apply, &two, 5, 8, 5, 8, "wrong");
    double werr = 0;
    CHECK_OK(ss_linop_dot_test(&werr, wrong, 3, seed));
    printf("  dot test %-60s rel err = %.3g (must be large)\n", "shift with a wrong adjoint", werr);
    CHECK(werr > 1e-2, "a wrong adjoint passes the dot test: %g", werr);
    ss_linop_free(wrong);
    /* transposing twice gives the original back */
    ss_linop *tt = ss_linop_transpose(down_t);
    CHECK(tt == down, "transpose(transpose(A)) is not A");
    ss_linop_free(tt);

    /* composites keep their children alive after the caller's references go */
    ss_linop *h = ss_linop_heat(8, 8, 1.0f), *sh = ss_linop_scale(3.0f, h);
    ss_linop *chain = ss_linop_compose(sh, h);
    ss_linop_free(h), ss_linop_free(sh);
    ss_tensor *x = randn4(2, 1, 8, 8), *a = empty_like(x), *b = empty_like(x);
    CHECK_OK(ss_linop_apply(chain, a, x));
    CHECK_OK(ss_heat_forward(b, x, 2.0f));
    CHECK_OK(ss_affine(b, b, 3.0f, 0.0f));
    test_close("compose(scale(3, heat(1)), heat(1)) = 3 heat(2)", a->data, b->data, 128, 1e-5 * range_of(b));
    /* apply in place through a sum (its input is copied first) */
    ss_linop *h1 = ss_linop_heat(8, 8, 1.0f), *id8 = ss_linop_identity(8, 8), *hid = ss_linop_sum(h1, id8);
    ss_linop_free(h1), ss_linop_free(id8);
    CHECK_OK(ss_heat_forward(b, x, 1.0f));
    CHECK_OK(ss_add(b, b, x));
    CHECK_OK(ss_tensor_copy(a, x));
    CHECK_OK(ss_linop_apply(hid, a, a));
    test_close("sum(heat, identity) applied in place", a->data, b->data, 128, 1e-5 * range_of(b));
    ss_linop_free(hid);
    ss_linop_free(chain);
    ss_tensor_free(x), ss_tensor_free(a), ss_tensor_free(b);

    /* a failing callback reports the operator's name */
    ss_linop *bad = ss_linop_new(failing_fn, failing_fn, NULL, 4, 4, 4, 4, "broken");
    x = randn4(1, 1, 4, 4), a = empty_like(x);
    CHECK_FAILS(ss_linop_apply(bad, a, x), "broken");
    ss_linop *id4 = ss_linop_identity(4, 4), *wrap = ss_linop_compose(id4, bad);
    ss_linop_free(id4);
    CHECK_FAILS(ss_linop_adjoint(wrap, a, x), "broken");
    ss_linop_free(wrap), ss_linop_free(bad);
    ss_tensor_free(x), ss_tensor_free(a);

    for (int i = 0; i < ncomp; i++) ss_linop_free(comp[i]);
    for (int i = 0; i < nops; i++) ss_linop_free(ops[i]);
    ss_linop_free(blur), ss_linop_free(down), ss_linop_free(up_t);
    ss_tensor_free(scale);
}

/* ------------------------------------------------------------ the operator table */

/* An operator made outside the runtime through the operator table, as a new
 * built-in would be: out = k·(each row rolled right by one column), its adjoint
 * the roll to the left. k lives on the heap, released by the table's destroy
 * (ASan reports a leak when it does not run); the device it reports is set by
 * the test. */
typedef struct roll_ctx {
    float *k;
    int device;     /* what the table's device function answers */
    int *destroyed; /* counts the destroy calls */
} roll_ctx;

static int roll_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int shift)
{
    const roll_ctx *c = op->ctx;
    const int64_t w = in->shape[in->ndim - 1], n = ss_tensor_numel(in);
    for (int64_t i = 0; i < n; i++) {
        const int64_t j = i % w;
        out->data[i] = *c->k * in->data[i - j + (j - shift + w) % w];
    }
    return SS_OK;
}

static int roll_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return roll_run(op, out, in, 1); }
static int roll_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return roll_run(op, out, in, -1); }
static int roll_device(const ss_linop *op) { return ((const roll_ctx *)op->ctx)->device; }

static void roll_destroy(ss_linop *op)
{
    roll_ctx *c = op->ctx;
    free(c->k);
    (*c->destroyed)++;
}

static const ss_linop_vtable roll_vt = {
    .apply = roll_apply, .adjoint = roll_adjoint, .device = roll_device, .destroy = roll_destroy,
};

static ss_linop *roll_new(int64_t h, int64_t w, float k, int device, int *destroyed)
{
    ss_linop *op = ss_linop_create("roll_new", &roll_vt, sizeof(roll_ctx), h, w, h, w, "roll(k=%g)", (double)k);
    if (!op) return NULL;
    roll_ctx *c = op->ctx;
    c->device = device, c->destroyed = destroyed;
    c->k = malloc(sizeof *c->k);
    if (!c->k) {
        ss_linop_free(op);
        return NULL;
    }
    *c->k = k;
    return op;
}

/* ss_linop_new's ctx for shift_apply (k first) with a count of destroy calls. */
typedef struct shift_owned {
    float k;
    int destroyed;
} shift_owned;

static void shift_owned_destroy(void *ctx) { ((shift_owned *)ctx)->destroyed++; }

static void test_linop_table(void)
{
    printf("the operator table: an operator defined outside the runtime, destroy, device, transpose\n");
    int destroyed = 0;
    ss_linop *roll = roll_new(5, 7, 2.0f, SS_CPU, &destroyed);
    CHECK(roll != NULL, "roll_new: %s", ss_last_error());
    if (!roll) return;
    dot_check(roll, 3);
    ss_tensor *x = randn4(2, 1, 5, 7), *y = empty_like(x), *z = empty_like(x);
    CHECK_OK(ss_linop_apply(roll, y, x));
    for (int64_t i = 0; i < 70; i++) z->data[i] = 2.0f * x->data[i % 7 ? i - 1 : i + 6];
    test_close("roll(k=2) applied through the table", y->data, z->data, 70, 0.0);
    ss_tensor *wrong = empty4(2, 1, 5, 6);
    CHECK_FAILS2(ss_linop_apply(roll, wrong, x), "roll(k=2)", "(2,1,5,6)"); /* errors name the operator */

    /* destroy runs once, when the last reference goes: the composite's */
    ss_linop *heat = ss_linop_heat(5, 7, 0.5f), *rh = ss_linop_compose(roll, heat);
    dot_check(rh, 2);
    ss_linop_free(roll);
    CHECK(destroyed == 0, "roll destroyed while a composite holds it (%d)", destroyed);
    CHECK_OK(ss_linop_apply(rh, y, x));
    ss_linop_free(rh);
    CHECK(destroyed == 1, "roll's destroy ran %d times, expected once", destroyed);
    CHECK(ss_linop_set_destroy(heat, shift_owned_destroy) < 0 && strstr(ss_last_error(), "'heat(t=0.5)'"),
          "ss_linop_set_destroy on a built-in: %s", ss_last_error());

    /* an ss_linop_new operator that owns its ctx: destroy through the external table */
    static shift_owned own = {2.0f, 0};
    ss_linop *ext = ss_linop_new(shift_apply, shift_adjoint, &own, 5, 8, 5, 8, "owned_shift");
    CHECK_OK(ss_linop_set_destroy(ext, shift_owned_destroy));
    ss_linop *ext_t = ss_linop_transpose(ext);
    dot_check(ext_t, 2);
    ss_linop_free(ext);
    CHECK(own.destroyed == 0, "an external ctx destroyed while its transpose holds it");
    ss_linop_free(ext_t);
    CHECK(own.destroyed == 1, "the external destroy ran %d times, expected once", own.destroyed);

    /* the device through the table: none for data-free operators, a held tensor's
     * device, and composites look through their children */
    ss_tensor *sc = need(ss_tensor_empty(2, (int64_t[]){5, 7}, SS_CPU), "scale");
    CHECK_OK(ss_rng_uniform(&rng, sc, 0.5f, 1.0f));
    ss_linop *diag = ss_linop_diag_dct(5, 7, sc), *sdiag = ss_linop_scale(2.0f, diag);
    ss_linop *c1 = ss_linop_compose(diag, heat), *c2 = ss_linop_compose(heat, diag), *s1 = ss_linop_sum(heat, sdiag);
    ss_linop *t1 = ss_linop_transpose(c1), *hh = ss_linop_compose(heat, heat);
    struct {
        const char *what;
        const ss_linop *op;
        int device;
    } devs[] = {
        {"heat", heat, SS_LINOP_NO_DEVICE},           {"compose(heat, heat)", hh, SS_LINOP_NO_DEVICE},
        {"diag_dct", diag, SS_CPU},                   {"compose(diag_dct, heat)", c1, SS_CPU},
        {"compose(heat, diag_dct)", c2, SS_CPU},      {"sum(heat, scale(2, diag_dct))", s1, SS_CPU},
        {"transpose(compose(diag_dct, heat))", t1, SS_CPU},
    };
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
        CHECK(ss_linop_device(devs[i].op) == devs[i].device, "ss_linop_device(%s) = %d, expected %d", devs[i].what,
              ss_linop_device(devs[i].op), devs[i].device);
    dot_check(s1, 2);

    /* The dot test and the power iteration run where the table says: an operator
     * reporting cuda gets cuda vectors, a composite holding it too. Without a
     * usable GPU that is the device error; with one, test_cuda_ops checks a real
     * diag_dct on cuda instead (this operator's loops are host code). */
    int dummy = 0;
    ss_linop *rc_cpu = roll_new(5, 7, 2.0f, SS_CPU, &dummy), *rc_cuda = roll_new(5, 7, 2.0f, SS_CUDA, &dummy);
    ss_linop *rc_cpu_t = ss_linop_transpose(rc_cpu), *gram = ss_linop_compose(rc_cpu_t, rc_cpu); /* 4·I */
    ss_linop *mixed = ss_linop_sum(diag, rc_cuda), *after = ss_linop_compose(heat, rc_cuda);
    CHECK(ss_linop_device(mixed) == SS_CUDA && ss_linop_device(after) == SS_CUDA,
          "composites holding a cuda child report %d and %d", ss_linop_device(mixed), ss_linop_device(after));
    double lam = 0;
    CHECK_OK(ss_power_iteration(&lam, gram, 5, seed));
    printf("  power iteration of roll(k=2)ᵀ∘roll(k=2) = 4·I: %.9g (|diff| = %.2g)\n", lam, fabs(lam - 4.0));
    CHECK(fabs(lam - 4.0) < 1e-5, "power iteration of 4·I gave %g", lam);
    if (ss_cuda_device_count() == 0) {
        double err = 0;
        ss_linop *cuda_ops[2] = {rc_cuda, mixed};
        for (int i = 0; i < 2; i++) {
            int rc = ss_linop_dot_test(&err, cuda_ops[i], 2, seed);
            CHECK(rc == SS_ERR_DEVICE, "dot test of %s on cuda without a GPU: %d (%s)", ss_linop_name(cuda_ops[i]), rc,
                  ss_last_error());
            rc = ss_power_iteration(&lam, cuda_ops[i], 2, seed);
            CHECK(rc == SS_ERR_DEVICE, "power iteration of %s on cuda without a GPU: %d (%s)",
                  ss_linop_name(cuda_ops[i]), rc, ss_last_error());
        }
        printf("  an operator whose table reports cuda: dot test and power iteration ask for cuda (%s)\n",
               ss_last_error());
    }

    /* transpose of a transpose: the original, by the transpose table's own hook */
    ss_linop *down = ss_linop_resize(12, 10, 5, 4, SS_RESIZE_AREA), *dt = ss_linop_transpose(down);
    ss_linop *dtt = ss_linop_transpose(dt), *rt = ss_linop_transpose(rc_cpu_t);
    CHECK(dtt == down && rt == rc_cpu, "transpose(transpose(A)) is not A");
    int64_t s[4];
    CHECK_OK(ss_linop_size(dt, s));
    CHECK(s[0] == 5 && s[1] == 4 && s[2] == 12 && s[3] == 10, "transpose(resize 12x10->5x4) maps %lldx%lld->%lldx%lld",
          (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
    CHECK(strcmp(ss_linop_name(rc_cpu_t), "transpose(roll(k=2))") == 0, "name %s", ss_linop_name(rc_cpu_t));
    /* (Aᵀ)ᵀ applied = A applied; (Aᵀ)ᵀᵀ is a new Aᵀ, whose own transpose is A again */
    ss_tensor *xs = randn4(2, 1, 12, 10), *ys = empty4(2, 1, 5, 4), *ya = empty4(2, 1, 5, 4);
    ss_tensor *xa = empty_like(xs), *xb = empty_like(xs);
    ss_linop *dttt = ss_linop_transpose(dtt), *dtttt = ss_linop_transpose(dttt);
    CHECK(dttt && strcmp(ss_linop_name(dttt), ss_linop_name(dt)) == 0 && dtttt == down,
          "transpose(transpose(transpose(A))) is %s", ss_linop_name(dttt));
    ss_linop_free(dtttt);
    CHECK_OK(ss_linop_apply(dtt, ys, xs));
    CHECK_OK(ss_resize_forward(ya, xs, SS_RESIZE_AREA));
    test_close("transpose(transpose(resize)) applies resize", ys->data, ya->data, 40, 0.0);
    CHECK_OK(ss_linop_apply(dttt, xa, ys));
    CHECK_OK(ss_resize_adjoint(xb, ys, SS_RESIZE_AREA));
    test_close("transpose applied = resize adjoint", xa->data, xb->data, 240, 0.0);

    ss_linop_free(dttt), ss_linop_free(rt), ss_linop_free(dtt), ss_linop_free(dt), ss_linop_free(down);
    ss_linop_free(after), ss_linop_free(mixed), ss_linop_free(gram), ss_linop_free(rc_cpu_t);
    ss_linop_free(rc_cuda), ss_linop_free(rc_cpu);
    CHECK(dummy == 2, "two roll operators freed, destroy ran %d times", dummy);
    ss_linop_free(hh), ss_linop_free(t1), ss_linop_free(s1), ss_linop_free(c2), ss_linop_free(c1);
    ss_linop_free(sdiag), ss_linop_free(diag), ss_linop_free(heat);
    ss_tensor_free(sc), ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(z), ss_tensor_free(wrong);
    ss_tensor_free(xs), ss_tensor_free(ys), ss_tensor_free(ya), ss_tensor_free(xa), ss_tensor_free(xb);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    printf("bad input\n");
    ss_tensor *x = randn4(2, 3, 8, 8), *y = empty4(2, 3, 8, 9), *z = empty4(2, 4, 4, 4), *o = empty_like(x);
    ss_tensor *v = need(ss_tensor_empty(1, (int64_t[]){8}, SS_CPU), "vector");
    CHECK_FAILS2(ss_dct2_forward(y, x), "(2,3,8,9)", "(2,3,8,8)");
    CHECK_FAILS2(ss_dct2_inverse(y, x), "(2,3,8,9)", "(2,3,8,8)");
    CHECK_FAILS2(ss_heat_forward(y, x, 1.0f), "(2,3,8,9)", "(2,3,8,8)");
    CHECK_FAILS(ss_dct2_forward(v, v), "2 to 4 dimensions");
    CHECK_FAILS(ss_dct2_forward(NULL, x), "NULL");
    CHECK_FAILS(ss_dct2_forward(o, NULL), "NULL");
    CHECK_FAILS(ss_heat_forward(o, x, NAN), "t must be >= 0");
    CHECK_FAILS(ss_heat_forward(o, x, -1.0f), "t must be >= 0");
    CHECK_FAILS(ss_heat_adjoint(o, x, -1.0f), "t must be >= 0");
    CHECK_FAILS(ss_blur_forward(o, x, NAN), "sigma");
    CHECK_FAILS(ss_blur_forward(o, x, -2.0f), "sigma");
    CHECK_FAILS2(ss_laplace_forward(y, x), "(2,3,8,9)", "(2,3,8,8)");
    CHECK_FAILS(ss_laplace_forward(o, NULL), "NULL");
    CHECK_FAILS2(ss_diag_dct_forward(o, x, y), "(2,3,8,9)", "(2,3,8,8)");
    CHECK_FAILS2(ss_diag_dct_forward(o, x, z), "(2,4,4,4)", "(2,3,8,8)");
    CHECK_FAILS(ss_diag_dct_forward(o, x, NULL), "scale is NULL");
    CHECK_FAILS(ss_resize_forward(z, x, 7), "unknown resize mode 7");
    CHECK_FAILS(ss_resize_adjoint(x, z, -1), "unknown resize mode -1");
    CHECK_FAILS2(ss_resize_forward(z, x, SS_RESIZE_AREA), "(2,4,4,4)", "(2,3,8,8)"); /* channels differ */
    CHECK_FAILS(ss_resize_forward(v, x, SS_RESIZE_AREA), "(8)");
    CHECK_FAILS(ss_resize_forward(NULL, x, SS_RESIZE_AREA), "NULL");
    CHECK_FAILS(ss_resize_adjoint(x, NULL, SS_RESIZE_AREA), "NULL");
    ss_tensor *w = empty4(2, 3, 4, 4);
    CHECK_OK(ss_resize_forward(w, x, SS_RESIZE_AREA));

    /* operators */
    CHECK(ss_linop_heat(8, 8, NAN) == NULL && strstr(ss_last_error(), "t must be >= 0"), "heat(NaN): %s", ss_last_error());
    CHECK(ss_linop_heat(8, 8, -1.0f) == NULL, "heat(-1) should fail");
    CHECK(ss_linop_blur(8, 8, -1.0f) == NULL, "blur(-1) should fail");
    CHECK(ss_linop_identity(0, 8) == NULL && strstr(ss_last_error(), ">= 1"), "identity(0,8): %s", ss_last_error());
    CHECK(ss_linop_resize(8, 8, 4, 4, 9) == NULL && strstr(ss_last_error(), "unknown resize mode 9"), "resize mode 9: %s",
          ss_last_error());
    CHECK(ss_linop_diag_dct(8, 8, z) == NULL && strstr(ss_last_error(), "(2,4,4,4)"), "diag_dct: %s", ss_last_error());
    CHECK(ss_linop_diag_dct(8, 8, NULL) == NULL, "diag_dct(NULL) should fail");
    CHECK(ss_linop_new(NULL, shift_adjoint, NULL, 4, 4, 4, 4, "x") == NULL, "ss_linop_new without apply should fail");
    CHECK(ss_linop_scale(NAN, NULL) == NULL, "scale of NULL should fail");
    ss_linop *d = ss_linop_resize(8, 8, 4, 4, SS_RESIZE_BILINEAR_AA), *h = ss_linop_heat(8, 8, 1.0f);
    CHECK(ss_linop_compose(d, d) == NULL, "compose of mismatched shapes should fail");
    CHECK(strstr(ss_last_error(), "(...,8,8)") && strstr(ss_last_error(), "(...,4,4)"), "compose message: %s",
          ss_last_error());
    CHECK(ss_linop_compose(NULL, d) == NULL, "compose(NULL, d) should fail");
    CHECK(ss_linop_sum(d, h) == NULL && strstr(ss_last_error(), "(...,4,4)"), "sum message: %s", ss_last_error());
    CHECK(ss_linop_scale(NAN, h) == NULL, "scale(NaN) should fail");
    CHECK_FAILS2(ss_linop_apply(d, o, x), "(...,4,4)", "(2,3,8,8)");     /* output has the input's size */
    CHECK_FAILS2(ss_linop_apply(d, w, z), "(...,8,8)", "(2,4,4,4)");     /* input of the wrong size */
    CHECK_FAILS2(ss_linop_adjoint(d, w, w), "(...,8,8)", "(2,3,4,4)");   /* adjoint writes 8x8 */
    ss_tensor *w1 = empty4(1, 3, 4, 4);
    CHECK_FAILS2(ss_linop_apply(d, w1, x), "(1,3,4,4)", "(2,3,8,8)");    /* leading dims differ */
    CHECK_FAILS(ss_linop_apply(NULL, o, x), "NULL");
    CHECK_FAILS(ss_linop_apply(h, NULL, x), "NULL");
    double err;
    CHECK_FAILS(ss_linop_dot_test(NULL, h, 1, 1), "NULL");
    CHECK_FAILS(ss_linop_dot_test(&err, h, 0, 1), "batch");
    CHECK_FAILS(ss_linop_dot_test(&err, NULL, 1, 1), "NULL");
    ss_linop_free(NULL);
    ss_linop_free(d), ss_linop_free(h);
    ss_tensor *ts[] = {x, y, z, o, v, w, w1};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) ss_tensor_free(ts[i]);
}

int main(void)
{
    if (test_seed("test_ops", &seed, &rng)) return 2;
    test_fixtures();
    test_dct();
    test_heat();
    test_laplace();
    test_resize_paths();
    test_linops();
    test_linop_table();
    test_bad_input();
    return test_summary("test_ops");
}
