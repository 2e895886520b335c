/* test_nn.c — the network layers: conv2d and linear, forward and backward.
 *
 * Reference fixtures (tests/reference/nn/{conv2d,linear}.ssfx, from
 * make_nn_fixtures.py: PyTorch 1.13 F.conv2d / F.linear and autograd in float64)
 * must match to 1e-4 relative (max|got − want| / max|want|): the output and, for
 * a fixed upstream gradient g, grad_in, grad_weight and grad_bias. In every
 * case a second backward into the same gradients doubles grad_weight and
 * grad_bias (+=) and rewrites grad_in (=, pre-filled with NaN); a NULL
 * workspace gives the same bits as a kept one. Central finite differences of
 * L = <g, f(x)> agree with each backward to 1e-2 relative (the layers are linear
 * in each argument, so the differences are exact up to float rounding). A batch
 * that spans several im2col chunks equals its images one at a time, the
 * workspace stops growing after the first call, and one thread gives what
 * 2 or 3 do (the batch split over the threads). Bad shapes fail with a message. The seed is printed;
 * SS_TEST_SEED=<n> reruns with another one (it drives the random tensors drawn
 * here, not the fixtures). */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20240612u;
static ss_rng rng;

#define REF_TOL 1e-4 /* against PyTorch, relative to max|want| */
#define FD_TOL 1e-2  /* finite differences, relative to max|analytic| */
#define FD_EPS 1e-2f

static ss_tensor *tensor(int ndim, const int64_t *shape, float fill)
{
    return need(ss_tensor_full(ndim, shape, fill, SS_CPU), "a tensor");
}

static ss_tensor *like(const ss_tensor *t, float fill) { return tensor(t->ndim, t->shape, fill); }

static ss_tensor *randn(int ndim, const int64_t *shape)
{
    ss_tensor *t = tensor(ndim, shape, 0.0f);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, 1.0f));
    return t;
}

static ss_tensor *randn4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    return randn(4, s);
}

static ss_tensor *scaled(const ss_tensor *t, float s)
{
    ss_tensor *u = like(t, 0.0f);
    CHECK_OK(ss_affine(u, t, s, 0.0f));
    return u;
}

/* Prints max|got − want| / max|want| with the label and checks it against tol. */
static double rel_close(const char *label, const ss_tensor *got, const ss_tensor *want, double tol)
{
    if (!ss_tensor_same_shape(got, want)) {
        CHECK(0, "%s: shapes differ", label);
        return INFINITY;
    }
    double m = 0, scale = 0;
    for (int64_t i = 0, n = ss_tensor_numel(want); i < n; i++) {
        double d = fabs((double)got->data[i] - (double)want->data[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
        scale = fmax(scale, fabs((double)want->data[i]));
    }
    double r = m / (scale > 0 ? scale : 1.0);
    printf("  %-52s max|diff|/max|ref| = %.3g (tol %.1g)\n", label, r, tol);
    CHECK(r <= tol, "%s: relative max diff %.3g > %.3g", label, r, tol);
    return r;
}

/* 1 when a and b hold the same bits. */
static int same_bits(const ss_tensor *a, const ss_tensor *b)
{
    return ss_tensor_same_shape(a, b) && memcmp(a->data, b->data, (size_t)ss_tensor_numel(a) * sizeof(float)) == 0;
}

/* <g, y> in double. */
static double inner(const ss_tensor *g, const ss_tensor *y)
{
    double s = 0;
    for (int64_t i = 0, n = ss_tensor_numel(y); i < n; i++) s += (double)g->data[i] * (double)y->data[i];
    return s;
}

/* ------------------------------------------------------------ fixtures */

/* The array "<c>.<role>" when the fixture has it, else NULL (an optional bias). */
static ss_tensor *optional(const fixture *fx, const char *c, const char *role)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", c, role);
    return fixture_find(fx, name) ? fixture_get(fx, c, role) : NULL;
}

static ss_nn_workspace *shared_ws;

/* A convolution's strides and paddings {sh, sw, ph, pw}; NULL in the calls below means linear. */
typedef int conv_sp[4];

/* One layer call for the fixture cases: conv2d (sp given) or linear (sp NULL). */
static int layer_forward(ss_tensor *y, const ss_tensor *x, const ss_tensor *w, const ss_tensor *b, const int *sp,
                         ss_nn_workspace *ws)
{
    return sp ? ss_conv2d_forward(y, x, w, b, sp[0], sp[1], sp[2], sp[3], ws) : ss_linear_forward(y, x, w, b);
}

static int layer_backward(ss_tensor *gx, ss_tensor *gw, ss_tensor *gb, const ss_tensor *g, const ss_tensor *x,
                          const ss_tensor *w, const int *sp, ss_nn_workspace *ws)
{
    return sp ? ss_conv2d_backward(gx, gw, gb, g, x, w, sp[0], sp[1], sp[2], sp[3], ws)
              : ss_linear_backward(gx, gw, gb, g, x, w);
}

static void layer_case(const fixture *fx, const char *c)
{
    ss_tensor *x = fixture_get(fx, c, "x"), *w = fixture_get(fx, c, "w"), *y = fixture_get(fx, c, "y");
    ss_tensor *g = fixture_get(fx, c, "g"), *gx = fixture_get(fx, c, "gx"), *gw = fixture_get(fx, c, "gw");
    ss_tensor *b = optional(fx, c, "b"), *gb = optional(fx, c, "gb");
    ss_tensor *st = optional(fx, c, "stride"), *pd = optional(fx, c, "padding");
    CHECK(x && w && y && g && gx && gw && (!b || gb), "%s: fixture arrays missing", c);
    if (!x || !w || !y || !g || !gx || !gw || (b && !gb)) return;
    /* stride and padding: (h, w), or one number for both axes */
    conv_sp sp_conv = {0, 0, 0, 0};
    const int *sp = NULL;
    if (st && pd) {
        sp_conv[0] = (int)st->data[0], sp_conv[1] = (int)st->data[ss_tensor_numel(st) - 1];
        sp_conv[2] = (int)pd->data[0], sp_conv[3] = (int)pd->data[ss_tensor_numel(pd) - 1];
        sp = sp_conv;
    }
    char label[160];

    ss_tensor *out = like(y, NAN), *out2 = like(y, 0.0f);
    CHECK_OK(layer_forward(out, x, w, b, sp, shared_ws));
    snprintf(label, sizeof label, "%s forward", c);
    rel_close(label, out, y, REF_TOL);
    CHECK_OK(layer_forward(out2, x, w, b, sp, NULL));
    CHECK(same_bits(out, out2), "%s: forward with a NULL workspace differs", c);

    /* grad_in is written (NaN before), grad_weight and grad_bias added to (zero before). */
    ss_tensor *ggx = like(gx, NAN), *ggw = like(gw, 0.0f), *ggb = gb ? like(gb, 0.0f) : NULL;
    CHECK_OK(layer_backward(ggx, ggw, ggb, g, x, w, sp, shared_ws));
    snprintf(label, sizeof label, "%s grad_in", c);
    rel_close(label, ggx, gx, REF_TOL);
    snprintf(label, sizeof label, "%s grad_weight", c);
    rel_close(label, ggw, gw, REF_TOL);
    if (gb) {
        snprintf(label, sizeof label, "%s grad_bias", c);
        rel_close(label, ggb, gb, REF_TOL);
    }

    /* A second call: the parameter gradients double, grad_in is the same again. */
    ss_tensor *ggx2 = like(gx, NAN), *gw2 = scaled(gw, 2.0f), *gb2 = gb ? scaled(gb, 2.0f) : NULL;
    CHECK_OK(layer_backward(ggx2, ggw, ggb, g, x, w, sp, NULL));
    CHECK(same_bits(ggx, ggx2), "%s: grad_in of the second backward differs from the first", c);
    snprintf(label, sizeof label, "%s twice: grad_weight += (vs 2x)", c);
    rel_close(label, ggw, gw2, REF_TOL);
    if (gb) {
        snprintf(label, sizeof label, "%s twice: grad_bias += (vs 2x)", c);
        rel_close(label, ggb, gb2, REF_TOL);
    }
    /* Each gradient on its own (the others NULL) gives the same bits. */
    ss_tensor *only_w = like(gw, 0.0f), *only_x = like(gx, NAN);
    CHECK_OK(layer_backward(NULL, only_w, NULL, g, x, w, sp, shared_ws));
    CHECK_OK(layer_backward(only_x, NULL, NULL, g, x, w, sp, shared_ws));
    CHECK(same_bits(only_x, ggx), "%s: grad_in alone differs", c);
    ss_tensor *half = scaled(ggw, 0.5f);
    snprintf(label, sizeof label, "%s grad_weight alone", c);
    rel_close(label, only_w, half, 1e-6);

    ss_tensor_free(x), ss_tensor_free(w), ss_tensor_free(y), ss_tensor_free(g), ss_tensor_free(gx);
    ss_tensor_free(gw), ss_tensor_free(b), ss_tensor_free(gb), ss_tensor_free(st), ss_tensor_free(pd);
    ss_tensor_free(out), ss_tensor_free(out2), ss_tensor_free(ggx), ss_tensor_free(ggw), ss_tensor_free(ggb);
    ss_tensor_free(ggx2), ss_tensor_free(gw2), ss_tensor_free(gb2), ss_tensor_free(only_w), ss_tensor_free(only_x);
    ss_tensor_free(half);
}

static void test_fixtures(void)
{
    static const char *const files[] = {"tests/reference/nn/conv2d.ssfx", "tests/reference/nn/linear.ssfx"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        printf("fixtures %s (PyTorch 1.13)\n", files[i]);
        fixture *fx = fixture_load(files[i]);
        CHECK(fx != NULL, "cannot load %s", files[i]);
        fixture_each_case(fx, layer_case);
        fixture_free(fx);
    }
}

/* ------------------------------------------------------------ finite differences */

/* Central differences of L(p) = <g, f(x, w, b)> with respect to every element of p
 * (one of x, w, b) against the analytic gradient `an`. */
static void fd_check(const char *label, ss_tensor *p, const ss_tensor *an, const ss_tensor *g, ss_tensor *y,
                     const ss_tensor *x, const ss_tensor *w, const ss_tensor *b, const int *sp)
{
    ss_tensor *fd = like(an, 0.0f);
    for (int64_t i = 0, n = ss_tensor_numel(p); i < n; i++) {
        const float v = p->data[i];
        p->data[i] = v + FD_EPS;
        CHECK_OK(layer_forward(y, x, w, b, sp, shared_ws));
        double lp = inner(g, y);
        p->data[i] = v - FD_EPS;
        CHECK_OK(layer_forward(y, x, w, b, sp, shared_ws));
        double lm = inner(g, y);
        p->data[i] = v;
        fd->data[i] = (float)((lp - lm) / (2.0 * (double)FD_EPS));
    }
    rel_close(label, an, fd, FD_TOL);
    ss_tensor_free(fd);
}

/* x (N,Cin,H,W) or (R,Fin), w, b random; the three gradients against differences. */
static void fd_layer(const char *name, ss_tensor *x, ss_tensor *w, ss_tensor *b, const int *sp, int64_t ndim_y,
                     const int64_t *shape_y)
{
    ss_tensor *y = tensor((int)ndim_y, shape_y, 0.0f), *g = randn((int)ndim_y, shape_y);
    ss_tensor *gx = like(x, NAN), *gw = like(w, 0.0f), *gb = like(b, 0.0f);
    CHECK_OK(layer_backward(gx, gw, gb, g, x, w, sp, shared_ws));
    char label[160];
    snprintf(label, sizeof label, "%s grad_in vs differences", name);
    fd_check(label, x, gx, g, y, x, w, b, sp);
    snprintf(label, sizeof label, "%s grad_weight vs differences", name);
    fd_check(label, w, gw, g, y, x, w, b, sp);
    snprintf(label, sizeof label, "%s grad_bias vs differences", name);
    fd_check(label, b, gb, g, y, x, w, b, sp);
    ss_tensor_free(y), ss_tensor_free(g), ss_tensor_free(gx), ss_tensor_free(gw), ss_tensor_free(gb);
}

/* A convolution case of the tests below: sizes, strides and paddings. */
typedef struct conv_case {
    int64_t n, cin, h, w, cout, kh, kw;
    conv_sp sp; /* sh, sw, ph, pw */
} conv_case;

static int64_t out_h(const conv_case *c) { return (c->h + 2 * c->sp[2] - c->kh) / c->sp[0] + 1; }
static int64_t out_w(const conv_case *c) { return (c->w + 2 * c->sp[3] - c->kw) / c->sp[1] + 1; }

static const char *case_name(char *buf, size_t n, const conv_case *c)
{
    snprintf(buf, n, "conv %lldx%lld s(%d,%d) p(%d,%d) (%lld,%lld,%lld,%lld)->%lld", (long long)c->kh,
             (long long)c->kw, c->sp[0], c->sp[1], c->sp[2], c->sp[3], (long long)c->n, (long long)c->cin,
             (long long)c->h, (long long)c->w, (long long)c->cout);
    return buf;
}

static void test_finite_differences(void)
{
    printf("finite differences (eps %g, float)\n", (double)FD_EPS);
    /* the last ones have 8+ input channels: oneDNN's path in both directions where the build has it */
    static const conv_case convs[] = {{2, 3, 5, 6, 4, 3, 3, {1, 1, 1, 1}},  {2, 3, 7, 6, 4, 3, 3, {2, 2, 1, 1}},
                                      {2, 3, 5, 4, 2, 1, 1, {1, 1, 0, 0}},  {1, 2, 6, 7, 3, 2, 3, {2, 2, 0, 0}},
                                      {2, 2, 4, 5, 3, 3, 3, {3, 3, 2, 2}},  {1, 2, 5, 7, 3, 1, 7, {1, 1, 0, 3}},
                                      {1, 2, 7, 5, 3, 7, 1, {1, 1, 3, 0}},  {1, 8, 5, 7, 8, 1, 7, {1, 1, 0, 3}},
                                      {1, 8, 7, 6, 8, 3, 3, {2, 1, 1, 0}},  {1, 8, 7, 7, 8, 3, 3, {2, 2, 0, 0}}};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        const conv_case *c = &convs[i];
        ss_tensor *x = randn4(c->n, c->cin, c->h, c->w), *w = randn4(c->cout, c->cin, c->kh, c->kw);
        int64_t nb = c->cout;
        ss_tensor *b = randn(1, &nb);
        int64_t ys[4] = {c->n, c->cout, out_h(c), out_w(c)};
        char name[128];
        fd_layer(case_name(name, sizeof name, c), x, w, b, c->sp, 4, ys);
        ss_tensor_free(x), ss_tensor_free(w), ss_tensor_free(b);
    }
    int64_t xs[3] = {2, 3, 5}, ws[2] = {4, 5}, bs = 4, ys[3] = {2, 3, 4};
    ss_tensor *x = randn(3, xs), *w = randn(2, ws), *b = randn(1, &bs);
    fd_layer("linear (2,3,5) -> (2,3,4)", x, w, b, NULL, 3, ys);
    ss_tensor_free(x), ss_tensor_free(w), ss_tensor_free(b);
}

/* ------------------------------------------------------------ batches, chunks, threads */

/* The im2col path (forced here): a batch large enough for several chunks equals
 * its images one at a time (with 2+ threads the batch is split over the team,
 * one chunk per image; with one thread it runs in chunks of 3 images); the
 * workspace grows on the first forward and backward only; one thread gives what
 * several do. */
static void test_chunks(void)
{
    printf("batch in chunks (SS_CPU_CONV=im2col)\n");
    setenv("SS_CPU_CONV", "im2col", 1);
    const int64_t N = 7, cin = 64, cout = 16, H = 64, W = 64;
    ss_tensor *x = randn4(N, cin, H, W), *w = randn4(cout, cin, 3, 3), *g = randn4(N, cout, H, W);
    int64_t cb = cout;
    ss_tensor *b = randn(1, &cb);
    ss_tensor *y = randn4(N, cout, H, W), *gx = like(x, NAN), *gw = like(w, 0.0f), *gb = like(b, 0.0f);
    ss_nn_workspace *ws = ss_nn_workspace_new();
    CHECK(ws != NULL && ss_nn_workspace_bytes(ws) == 0, "a new workspace holds memory");
    CHECK_OK(ss_conv2d_forward(y, x, w, b, 1, 1, 1, 1, ws));
    CHECK_OK(ss_conv2d_backward(gx, gw, gb, g, x, w, 1, 1, 1, 1, ws));
    const int64_t bytes = ss_nn_workspace_bytes(ws);
    printf("  workspace after (7,64,64,64) 3x3: %.1f MiB (the batch needs %.1f MiB of im2col)\n",
           (double)bytes / 1048576.0, (double)(N * (cin * 9 + cout) * H * W * 4) / 1048576.0);
    CHECK(bytes < N * (cin * 9 + cout) * H * W * 4, "the batch was not cut into chunks");
    ss_tensor *y0 = like(y, NAN);
    CHECK_OK(ss_conv2d_forward(y0, x, w, b, 1, 1, 1, 1, ws));
    CHECK(same_bits(y, y0), "a second forward differs");
    CHECK(ss_nn_workspace_bytes(ws) == bytes, "the workspace grew on a second call: %lld -> %lld",
          (long long)bytes, (long long)ss_nn_workspace_bytes(ws));

    /* One image at a time into views; grad_weight and grad_bias accumulate over the images. */
    ss_tensor *y1 = like(y, NAN), *gx1 = like(gx, NAN), *gw1 = like(gw, 0.0f), *gb1 = like(gb, 0.0f);
    for (int64_t n = 0; n < N; n++) {
        ss_tensor *xn = need(ss_tensor_narrow(x, n, 1), "a view"), *yn = need(ss_tensor_narrow(y1, n, 1), "a view");
        ss_tensor *gn = need(ss_tensor_narrow(g, n, 1), "a view"), *gxn = need(ss_tensor_narrow(gx1, n, 1), "a view");
        CHECK_OK(ss_conv2d_forward(yn, xn, w, b, 1, 1, 1, 1, ws));
        CHECK_OK(ss_conv2d_backward(gxn, gw1, gb1, gn, xn, w, 1, 1, 1, 1, ws));
        ss_tensor_free(xn), ss_tensor_free(yn), ss_tensor_free(gn), ss_tensor_free(gxn);
    }
    CHECK(ss_nn_workspace_bytes(ws) == bytes, "the workspace grew for single images");
    rel_close("chunked forward = per image", y, y1, 1e-5);
    rel_close("chunked grad_in = per image", gx, gx1, 1e-5);
    rel_close("chunked grad_weight = sum over images (+=)", gw, gw1, 1e-5);
    rel_close("chunked grad_bias = sum over images (+=)", gb, gb1, 1e-5);

    /* One thread: our copies and sums do not depend on it (grad_bias is bitwise equal);
     * OpenBLAS may round its threaded products differently in the last bits. */
    const int nt = ss_get_num_threads();
    ss_set_num_threads(1);
    ss_tensor *y2 = like(y, NAN), *gx2 = like(gx, NAN), *gw2 = like(gw, 0.0f), *gb2 = like(gb, 0.0f);
    CHECK_OK(ss_conv2d_forward(y2, x, w, b, 1, 1, 1, 1, ws));
    CHECK_OK(ss_conv2d_backward(gx2, gw2, gb2, g, x, w, 1, 1, 1, 1, ws));
    ss_set_num_threads(nt);
    printf("  1 thread vs %d:\n", nt);
    rel_close("forward", y, y2, 1e-5);
    rel_close("grad_in", gx, gx2, 1e-5);
    rel_close("grad_weight", gw, gw2, 1e-5);
    CHECK(same_bits(gb, gb2), "grad_bias depends on the thread count");

    ss_nn_workspace_free(ws);
    ss_nn_workspace_free(NULL);
    CHECK(ss_nn_workspace_bytes(NULL) == 0, "a NULL workspace holds memory");
    ss_tensor *all[] = {x, w, g, b, y, y0, gx, gw, gb, y1, gx1, gw1, gb1, y2, gx2, gw2, gb2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ss_tensor_free(all[i]);
    unsetenv("SS_CPU_CONV");
}

/* The workspace of the path in use grows on the first forward and backward of a shape
 * and not on later calls, and a call with NULL (its own scratch) gives the same bits. */
static void test_workspace(void)
{
    printf("workspace reuse\n");
    ss_tensor *x = randn4(4, 16, 12, 10), *w = randn4(24, 16, 3, 3), *g = randn4(4, 24, 12, 10);
    ss_tensor *y = like(g, NAN), *y0 = like(g, NAN), *gx = like(x, NAN), *gx0 = like(x, NAN);
    ss_tensor *gw = like(w, 0.0f), *gw0 = like(w, 0.0f);
    ss_nn_workspace *ws = ss_nn_workspace_new();
    CHECK_OK(ss_conv2d_forward(y, x, w, NULL, 1, 1, 1, 1, ws));
    CHECK_OK(ss_conv2d_backward(gx, gw, NULL, g, x, w, 1, 1, 1, 1, ws));
    const int64_t bytes = ss_nn_workspace_bytes(ws);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ss_conv2d_forward(y, x, w, NULL, 1, 1, 1, 1, ws));
        CHECK_OK(ss_conv2d_backward(gx, gw, NULL, g, x, w, 1, 1, 1, 1, ws));
    }
    printf("  (4,16,12,10) 3x3 -> 24: %.1f KiB after the first calls, %.1f KiB after three more\n",
           (double)bytes / 1024.0, (double)ss_nn_workspace_bytes(ws) / 1024.0);
    CHECK(bytes > 0 && ss_nn_workspace_bytes(ws) == bytes, "the workspace grew: %lld -> %lld", (long long)bytes,
          (long long)ss_nn_workspace_bytes(ws));
    CHECK_OK(ss_conv2d_forward(y0, x, w, NULL, 1, 1, 1, 1, NULL));
    CHECK_OK(ss_conv2d_backward(gx0, gw0, NULL, g, x, w, 1, 1, 1, 1, NULL));
    CHECK(same_bits(y, y0) && same_bits(gx, gx0), "a NULL workspace gives other values");
    ss_nn_workspace_free(ws);
    ss_tensor *all[] = {x, w, g, y, y0, gx, gx0, gw, gw0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ss_tensor_free(all[i]);
}

/* 2 and 3 threads (whatever the machine has) against one: on the im2col path the
 * batch is split over the threads and grad_weight summed per thread, oneDNN splits
 * its own work; grad_weight starts non-zero (+=) and grad_in as NaN (=). */
static void test_threads(void)
{
    static const conv_case convs[] = {{4, 32, 16, 16, 32, 3, 3, {1, 1, 1, 1}},  {5, 32, 17, 17, 48, 3, 3, {2, 2, 1, 1}},
                                      {4, 64, 16, 16, 64, 1, 1, {1, 1, 0, 0}},  {6, 24, 30, 21, 40, 5, 3, {3, 3, 2, 2}},
                                      {5, 16, 20, 20, 16, 1, 1, {2, 2, 0, 0}},  {4, 32, 17, 17, 48, 1, 7, {1, 1, 0, 3}},
                                      {4, 32, 17, 17, 48, 7, 1, {1, 1, 3, 0}},  {3, 16, 19, 21, 32, 3, 3, {2, 2, 0, 0}}};
    const int saved = ss_get_num_threads();
    for (int nt = 2; nt <= 3; nt++) {
        printf("%d threads vs 1\n", nt);
        for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
            const conv_case *c = &convs[i];
            ss_tensor *x = randn4(c->n, c->cin, c->h, c->w), *w = randn4(c->cout, c->cin, c->kh, c->kw);
            ss_tensor *g = randn4(c->n, c->cout, out_h(c), out_w(c)), *w0 = randn4(c->cout, c->cin, c->kh, c->kw);
            int64_t nb = c->cout;
            ss_tensor *b = randn(1, &nb);
            ss_tensor *y[2], *gx[2], *gw[2], *gb[2];
            for (int k = 0; k < 2; k++) {
                ss_set_num_threads(k ? nt : 1);
                y[k] = like(g, NAN), gx[k] = like(x, NAN), gw[k] = need(ss_tensor_clone(w0), "a clone");
                gb[k] = like(b, 1.0f);
                CHECK_OK(layer_forward(y[k], x, w, b, c->sp, shared_ws));
                CHECK_OK(layer_backward(gx[k], gw[k], gb[k], g, x, w, c->sp, shared_ws));
            }
            ss_set_num_threads(saved);
            char name[128], label[192];
            case_name(name, sizeof name, c);
            snprintf(label, sizeof label, "%s: forward", name);
            rel_close(label, y[1], y[0], 1e-5);
            snprintf(label, sizeof label, "%s: grad_in", name);
            rel_close(label, gx[1], gx[0], 1e-5);
            snprintf(label, sizeof label, "%s: grad_weight +=", name);
            rel_close(label, gw[1], gw[0], 1e-5);
            CHECK(same_bits(gb[0], gb[1]), "grad_bias depends on the thread count");
            ss_tensor_free(x), ss_tensor_free(w), ss_tensor_free(g), ss_tensor_free(w0), ss_tensor_free(b);
            for (int k = 0; k < 2; k++)
                ss_tensor_free(y[k]), ss_tensor_free(gx[k]), ss_tensor_free(gw[k]), ss_tensor_free(gb[k]);
        }
    }
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    printf("bad input\n");
    int64_t s3[3] = {2, 4, 8}, s1 = 5, sl[2] = {3, 6}, sw[2] = {5, 6}, sb = 3;
    ss_tensor *x = randn4(2, 4, 8, 8), *w = randn4(5, 4, 3, 3), *w3 = randn4(5, 3, 3, 3), *b = randn(1, &s1);
    ss_tensor *y = tensor(4, (int64_t[]){2, 5, 8, 8}, 0.0f), *ybad = tensor(4, (int64_t[]){2, 5, 6, 6}, 0.0f);
    ss_tensor *x3 = tensor(3, s3, 0.0f), *bbad = tensor(1, &sb, 0.0f), *big = randn4(5, 4, 11, 11);
    CHECK_FAILS(ss_conv2d_forward(y, x, w3, b, 1, 1, 1, 1, NULL), "weight has 3 input channels, input has 4");
    CHECK_FAILS2(ss_conv2d_forward(ybad, x, w, b, 1, 1, 1, 1, NULL), "out has shape (2,5,6,6)", "expected (2,5,8,8)");
    CHECK_FAILS(ss_conv2d_forward(y, x, w, bbad, 1, 1, 1, 1, NULL), "bias has shape (3), expected (5)");
    CHECK_FAILS(ss_conv2d_forward(y, x, big, b, 1, 1, 1, 1, NULL), "kernel 11x11 is larger than the padded input 10x10");
    ss_tensor *w17 = randn4(5, 4, 1, 7), *w91 = randn4(5, 4, 9, 1);
    CHECK_OK(ss_conv2d_forward(y, x, w17, b, 1, 1, 0, 3, NULL));
    CHECK_FAILS2(ss_conv2d_forward(y, x, w17, b, 1, 1, 3, 0, NULL), "out has shape (2,5,8,8)", "expected (2,5,14,2)");
    CHECK_FAILS(ss_conv2d_forward(y, x, w91, b, 1, 1, 0, 4, NULL), "kernel 9x1 is larger than the padded input 8x16");
    ss_tensor_free(w17), ss_tensor_free(w91);
    CHECK_FAILS(ss_conv2d_forward(y, x, w, b, 1, 0, 1, 1, NULL), "stride must be >= 1, got (1,0)");
    CHECK_FAILS(ss_conv2d_forward(y, x, w, b, 1, 1, 1, -1, NULL), "padding must be >= 0, got (1,-1)");
    CHECK_FAILS2(ss_conv2d_forward(y, x, w, b, 2, 1, 1, 1, NULL), "out has shape (2,5,8,8)", "expected (2,5,4,8)");
    setenv("SS_CPU_CONV", "mkl", 1);
    CHECK_FAILS(ss_conv2d_forward(y, x, w, b, 1, 1, 1, 1, NULL), "SS_CPU_CONV must be onednn, winograd or im2col, got \"mkl\"");
    if (!strstr(ss_conv2d_cpu_path(), "oneDNN")) {
        setenv("SS_CPU_CONV", "onednn", 1);
        CHECK_FAILS(ss_conv2d_forward(y, x, w, b, 1, 1, 1, 1, NULL), "built without oneDNN");
    }
    unsetenv("SS_CPU_CONV");
    CHECK_FAILS(ss_conv2d_forward(y, x3, w, b, 1, 1, 1, 1, NULL), "in must be (N,Cin,H,W), got (2,4,8)");
    CHECK_FAILS(ss_conv2d_forward(y, x, x3, b, 1, 1, 1, 1, NULL), "weight must be (Cout,Cin,kh,kw)");
    CHECK_FAILS(ss_conv2d_forward(y, NULL, w, b, 1, 1, 1, 1, NULL), "in is NULL");
    CHECK_FAILS(ss_conv2d_forward(NULL, x, w, b, 1, 1, 1, 1, NULL), "out is NULL");
    ss_tensor *wsq = randn4(4, 4, 1, 1);
    CHECK_FAILS(ss_conv2d_forward(x, x, wsq, NULL, 1, 1, 0, 0, NULL), "out shares memory with in");
    ss_tensor *gx = like(x, 0.0f), *gw = like(w, 0.0f), *gb = like(b, 0.0f);
    CHECK_OK(ss_conv2d_backward(gx, gw, gb, y, x, w, 1, 1, 1, 1, NULL));
    CHECK_FAILS2(ss_conv2d_backward(gx, gw, gb, ybad, x, w, 1, 1, 1, 1, NULL), "grad_out has shape (2,5,6,6)",
                 "expected (2,5,8,8)");
    CHECK_FAILS(ss_conv2d_backward(gx, w3, gb, y, x, w, 1, 1, 1, 1, NULL), "grad_weight has shape (5,3,3,3)");
    CHECK_FAILS(ss_conv2d_backward(y, gw, gb, y, x, w, 1, 1, 1, 1, NULL), "grad_in has shape (2,5,8,8)");
    CHECK_FAILS(ss_conv2d_backward(gx, gw, bbad, y, x, w, 1, 1, 1, 1, NULL), "grad_bias has shape (3)");
    CHECK_FAILS(ss_conv2d_backward(gx, gw, gb, y, x, w3, 1, 1, 1, 1, NULL), "weight has 3 input channels, input has 4");
    CHECK_FAILS(ss_conv2d_backward(gx, gw, gb, NULL, x, w, 1, 1, 1, 1, NULL), "grad_out is NULL");
    CHECK_FAILS(ss_conv2d_backward(gx, gw, gb, y, x, w, 2, 2, 1, 1, NULL), "grad_out has shape (2,5,8,8), expected (2,5,4,4)");
    CHECK_FAILS(ss_conv2d_backward(x, gw, gb, y, x, w, 1, 1, 1, 1, NULL), "grad_in shares memory with in");
    ss_tensor *victim = like(x, 0.0f);
    ss_tensor_release(victim);
    CHECK_FAILS(ss_conv2d_forward(y, victim, w, b, 1, 1, 1, 1, NULL), "in was freed");

    ss_tensor *lx = randn(2, sl), *lw = randn(2, sw), *lb = randn(1, &s1), *ly = tensor(2, (int64_t[]){3, 5}, 0.0f);
    ss_tensor *lw4 = tensor(2, (int64_t[]){5, 4}, 0.0f), *lgx = like(lx, 0.0f);
    CHECK_OK(ss_linear_forward(ly, lx, lw, lb));
    CHECK_FAILS(ss_linear_forward(ly, lx, lw4, lb), "weight has 4 input features, input has 6");
    CHECK_FAILS(ss_linear_forward(ly, lx, lb, lb), "weight must be (Fout,Fin), got (5)");
    CHECK_FAILS(ss_linear_forward(lx, lx, lw, lb), "out has shape (3,6), expected in's leading dimensions (3,6) with last size 5");
    CHECK_FAILS(ss_linear_forward(ly, lx, lw, bbad), "bias has shape (3), expected (5)");
    CHECK_FAILS(ss_linear_backward(lgx, lw4, NULL, ly, lx, lw), "grad_weight has shape (5,4), expected (5,6)");
    CHECK_FAILS(ss_linear_backward(ly, NULL, NULL, ly, lx, lw), "grad_in has shape (3,5)");
    CHECK_FAILS(ss_linear_backward(lgx, NULL, NULL, lx, lx, lw), "grad_out has shape (3,6)");
    CHECK_FAILS(ss_linear_backward(lgx, NULL, bbad, ly, lx, lw), "grad_bias has shape (3), expected (5)");
    CHECK_FAILS(ss_linear_backward(lx, NULL, NULL, ly, lx, lw), "grad_in shares memory with in");

    ss_tensor *all[] = {x, w, w3, b, y, ybad, x3, bbad, big, wsq, gx, gw, gb, victim, lx, lw, lb, ly, lw4, lgx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ss_tensor_free(all[i]);
}

int main(void)
{
    if (test_seed("test_nn", &seed, &rng)) return 2;
    shared_ws = ss_nn_workspace_new();
    if (!shared_ws) return 2;
    /* every CPU path this build has: the choice by shape, then each one forced */
    const int onednn = strstr(ss_conv2d_cpu_path(), "oneDNN") != NULL;
    static const char *const paths[4] = {NULL, "im2col", "winograd", "onednn"};
    printf("CPU convolutions: %s\n", ss_conv2d_cpu_path());
    for (int i = 0; i < (onednn ? 4 : 3); i++) {
        if (paths[i]) setenv("SS_CPU_CONV", paths[i], 1);
        printf("==== %s%s\n", paths[i] ? "SS_CPU_CONV=" : "path chosen by shape", paths[i] ? paths[i] : "");
        test_fixtures();
        test_finite_differences();
        test_threads();
        test_workspace();
        unsetenv("SS_CPU_CONV");
    }
    test_chunks();
    test_bad_input();
    ss_nn_workspace_free(shared_ws);
    return test_summary("test_nn");
}
