/* test_nn_layers.c — GroupNorm, SiLU, 2x2 average pooling, nearest 2x up-sampling,
 * the timestep embedding and the weighted MSE against PyTorch 1.13 (fixtures from
 * tests/reference/make_nn_layer_fixtures.py, computed in float64), within 1e-4 of
 * the reference's largest value; the backward passes also against central finite
 * differences of the forward (double accumulation of a random projection), and the
 * `+=` of parameter gradients. Then Inception-v3's layers (make_nn_pool_fixtures.py):
 * ReLU, max pooling (with ties: the gradient goes to the first maximum), average
 * pooling with and without the padding counted, global average pooling, and BatchNorm
 * (eps 1e-3) folded into the convolution before it; NaN through ReLU and max pooling.
 * Bad shapes fail with a message. */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20241122u;
static ss_rng rng;
static fixture *fx;

/* The fixture array "<case>.<role>". */
static ss_tensor *get(const char *name)
{
    char c[64];
    const char *dot = strrchr(name, '.');
    snprintf(c, sizeof c, "%.*s", (int)(dot - name), name);
    return need(fixture_get(fx, c, dot + 1), name);
}
static ss_tensor *like(const ss_tensor *t) { return need(ss_tensor_empty(t->ndim, t->shape, SS_CPU), "tensor"); }

/* max|a − b| / max|b| against 1e-4. */
static void rel_close(const char *label, const ss_tensor *a, const ss_tensor *b)
{
    int64_t n = ss_tensor_numel(b);
    double scale = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(b->data[i]));
    CHECK(ss_tensor_numel(a) == n, "%s: sizes differ", label);
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a->data[i] - b->data[i]));
    printf("  %-40s max rel diff %.3g\n", label, m / fmax(scale, 1e-30));
    CHECK(m <= 1e-4 * fmax(scale, 1e-30), "%s: %.3g", label, m / scale);
}

/* rel_close against the fixture array `name` (loaded and freed here). */
static void rel_ref(const char *label, const ss_tensor *a, const char *name)
{
    ss_tensor *ref = get(name);
    rel_close(label, a, ref);
    ss_tensor_free(ref);
}

/* ⟨g, f(x)⟩ in double, for finite differences. */
typedef int (*fwd_fn)(ss_tensor *out, const ss_tensor *in, void *ctx);
static double project(fwd_fn f, void *ctx, ss_tensor *out, const ss_tensor *x, const ss_tensor *g)
{
    CHECK_OK(f(out, x, ctx));
    double s = 0;
    for (int64_t i = 0; i < ss_tensor_numel(out); i++) s += (double)g->data[i] * out->data[i];
    return s;
}

/* Central differences of ⟨g, f(x)⟩ at 12 random coordinates vs the analytic dx. */
static void finite_diff(const char *label, fwd_fn f, void *ctx, ss_tensor *x, ss_tensor *out, const ss_tensor *g,
                        const ss_tensor *dx)
{
    const float h = 1e-2f;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < ss_tensor_numel(dx); i++) scale = fmax(scale, fabs(dx->data[i]));
    int64_t idx[12];
    CHECK_OK(ss_rng_randint(&rng, idx, 12, 0, ss_tensor_numel(x) - 1));
    for (int k = 0; k < 12; k++) {
        float keep = x->data[idx[k]];
        x->data[idx[k]] = keep + h;
        double up = project(f, ctx, out, x, g);
        x->data[idx[k]] = keep - h;
        double down = project(f, ctx, out, x, g);
        x->data[idx[k]] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * h) - dx->data[idx[k]]));
    }
    printf("  %-40s finite differences max rel diff %.3g\n", label, worst / scale);
    CHECK(worst <= 1e-2 * scale, "%s: finite differences %.3g", label, worst / scale);
}

static ss_tensor *gn_stats, *gn_w, *gn_b;
static int gn_fwd(ss_tensor *out, const ss_tensor *in, void *ctx)
{
    (void)ctx;
    return ss_groupnorm_forward(out, gn_stats, in, gn_w, gn_b, 4, 1e-5);
}

static void test_groupnorm(void)
{
    ss_tensor *x = get("gn.x"), *y = like(x), *g = get("gn.g"), *dx = like(x);
    gn_w = get("gn.w");
    gn_b = get("gn.b");
    int64_t s = 2 * x->shape[0] * 4;
    gn_stats = need(ss_tensor_empty(1, &s, SS_CPU), "stats");
    ss_tensor *dw = need(ss_tensor_zeros(1, gn_w->shape, SS_CPU), "dw"), *db = need(ss_tensor_zeros(1, gn_b->shape,
                                                                                                       SS_CPU), "db");
    CHECK_OK(gn_fwd(y, x, NULL));
    rel_ref("groupnorm forward", y, "gn.y");
    CHECK_OK(ss_groupnorm_backward(dx, dw, db, g, x, gn_w, gn_stats, 4));
    rel_ref("groupnorm grad_in", dx, "gn.dx");
    rel_ref("groupnorm grad_weight", dw, "gn.dw");
    rel_ref("groupnorm grad_bias", db, "gn.db");
    finite_diff("groupnorm grad_in", gn_fwd, NULL, x, y, g, dx);
    /* parameter gradients accumulate, the input gradient is overwritten (the finite
     * differences left the stats of a perturbed x: recompute them) */
    CHECK_OK(gn_fwd(y, x, NULL));
    CHECK_OK(ss_groupnorm_backward(dx, dw, db, g, x, gn_w, gn_stats, 4));
    ss_tensor *dw1 = get("gn.dw");
    double m = 0;
    for (int64_t i = 0; i < 8; i++) m = fmax(m, fabs(dw->data[i] - 2 * dw1->data[i]));
    CHECK(m < 1e-4, "grad_weight does not accumulate: %.3g", m);
    rel_ref("groupnorm grad_in after a second call", dx, "gn.dx");
    CHECK_FAILS(ss_groupnorm_forward(y, gn_stats, x, gn_w, gn_b, 3, 1e-5), "groups");
    CHECK_OK(ss_groupnorm_forward(y, gn_stats, x, NULL, gn_b, 4, 1e-5)); /* weight optional on its own */
    ss_tensor *w7 = need(ss_tensor_empty(1, (int64_t[]){7}, SS_CPU), "w7");
    CHECK_FAILS(ss_groupnorm_forward(y, gn_stats, x, w7, gn_b, 4, 1e-5), "weight");
    ss_tensor_free(w7);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(g), ss_tensor_free(dx), ss_tensor_free(dw);
    ss_tensor_free(db), ss_tensor_free(gn_stats), ss_tensor_free(gn_w), ss_tensor_free(gn_b), ss_tensor_free(dw1);
}

static int silu_fwd(ss_tensor *out, const ss_tensor *in, void *ctx) { (void)ctx; return ss_silu_forward(out, in); }
static int pool_fwd(ss_tensor *out, const ss_tensor *in, void *ctx)
{
    (void)ctx;
    return ss_avgpool2d_forward(out, in, 2, 2, 2, 2, 0, 0, 1);
}
static int up_fwd(ss_tensor *out, const ss_tensor *in, void *ctx) { (void)ctx; return ss_upsample2_forward(out, in); }

typedef int (*bwd_fn)(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in);
static int silu_bwd(ss_tensor *gi, const ss_tensor *go, const ss_tensor *in) { return ss_silu_backward(gi, go, in); }
static int pool_bwd(ss_tensor *gi, const ss_tensor *go, const ss_tensor *in)
{
    (void)in;
    return ss_avgpool2d_backward(gi, go, 2, 2, 2, 2, 0, 0, 1);
}
static int up_bwd(ss_tensor *gi, const ss_tensor *go, const ss_tensor *in) { (void)in; return ss_upsample2_backward(gi, go); }

static void test_unary(const char *name, fwd_fn f, bwd_fn b)
{
    char key[64];
    snprintf(key, sizeof key, "%s.x", name);
    ss_tensor *x = get(key);
    snprintf(key, sizeof key, "%s.y", name);
    ss_tensor *yref = get(key), *y = like(yref), *dx = like(x);
    snprintf(key, sizeof key, "%s.g", name);
    ss_tensor *g = get(key);
    CHECK_OK(f(y, x, NULL));
    snprintf(key, sizeof key, "%s forward", name);
    rel_close(key, y, yref);
    CHECK_OK(b(dx, g, x));
    snprintf(key, sizeof key, "%s.dx", name);
    ss_tensor *dref = get(key);
    snprintf(key, sizeof key, "%s grad_in", name);
    rel_close(key, dx, dref);
    finite_diff(key, f, NULL, x, y, g, dx);
    ss_tensor_free(x), ss_tensor_free(yref), ss_tensor_free(y), ss_tensor_free(dx), ss_tensor_free(g);
    ss_tensor_free(dref);
}

static void test_embedding_and_mse(void)
{
    ss_tensor *t = get("emb.t"), *ref = get("emb.y"), *e = like(ref);
    CHECK_OK(ss_timestep_embedding(e, t, 10000));
    rel_close("timestep embedding", e, ref);
    ss_tensor_free(e), ss_tensor_free(ref), ss_tensor_free(t);

    ss_tensor *p = get("mse.p"), *q = get("mse.q"), *w = get("mse.w"), *dp = like(p);
    const char *names[2] = {"mse", "msesum"};
    for (int sum = 0; sum < 2; sum++) {
        char key[64];
        double loss;
        CHECK_OK(ss_mse_forward(&loss, p, q, w, sum));
        snprintf(key, sizeof key, "%s.loss", names[sum]);
        ss_tensor *lref = get(key);
        printf("  %-40s loss %.6g vs %.6g\n", names[sum], loss, lref->data[0]);
        CHECK(fabs(loss - lref->data[0]) <= 1e-5 * fabs(lref->data[0]), "%s loss", names[sum]);
        CHECK_OK(ss_mse_backward(dp, p, q, w, sum, 1.0));
        snprintf(key, sizeof key, "%s.dp", names[sum]);
        ss_tensor *dref = get(key);
        rel_close(key, dp, dref);
        ss_tensor_free(lref), ss_tensor_free(dref);
    }
    int64_t s3 = 3;
    ss_tensor *w3 = need(ss_tensor_empty(1, &s3, SS_CPU), "w3");
    double loss;
    CHECK_FAILS(ss_mse_forward(&loss, p, q, w3, 0), "one value per sample");
    ss_tensor_free(w3), ss_tensor_free(p), ss_tensor_free(q), ss_tensor_free(w), ss_tensor_free(dp);
}

/* ------------------------------------------------------------ Inception-v3's layers */

/* The fixture's (h, w) pair "<c>.<role>" as two ints. */
static void get_pair(const char *c, const char *role, int *a, int *b)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", c, role);
    ss_tensor *t = get(key);
    *a = (int)t->data[0], *b = (int)t->data[1];
    ss_tensor_free(t);
}

static int relu_fwd(ss_tensor *out, const ss_tensor *in, void *ctx)
{
    (void)ctx;
    return ss_relu_forward(out, in);
}

static void test_relu(void)
{
    ss_tensor *x = get("relu.x"), *y = like(x), *dx = like(x), *g = get("relu.g");
    CHECK_OK(ss_relu_forward(y, x));
    rel_ref("relu forward", y, "relu.y");
    CHECK_OK(ss_relu_backward(dx, g, x));
    rel_ref("relu grad_in (0 where x = 0)", dx, "relu.dx");
    /* differences away from the kink: the exact zeros moved to 0.5 */
    for (int64_t i = 0; i < ss_tensor_numel(x); i++)
        if (x->data[i] == 0.0f) x->data[i] = 0.5f;
    CHECK_OK(ss_relu_backward(dx, g, x));
    finite_diff("relu grad_in", relu_fwd, NULL, x, y, g, dx);
    /* in place, and NaN kept forward, 0 backward */
    x->data[0] = NAN, x->data[1] = -1.0f;
    CHECK_OK(ss_relu_forward(x, x));
    CHECK(isnan(x->data[0]) && x->data[1] == 0.0f, "relu of NaN / -1: %g %g", x->data[0], x->data[1]);
    x->data[0] = NAN;
    CHECK_OK(ss_relu_backward(dx, g, x));
    CHECK(dx->data[0] == 0.0f, "relu backward at NaN: %g", dx->data[0]);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(dx), ss_tensor_free(g);
}

/* The window of a pooling case, for the finite differences. */
static int pool_k[2], pool_s[2], pool_p[2], pool_incl;
static int avg_fwd(ss_tensor *out, const ss_tensor *in, void *ctx)
{
    (void)ctx;
    return ss_avgpool2d_forward(out, in, pool_k[0], pool_k[1], pool_s[0], pool_s[1], pool_p[0], pool_p[1], pool_incl);
}

/* x, y, g, dx of case c with the pooling output shaped like the fixture's. */
static void pool_case(const char *c, int max)
{
    char key[96], label[96];
    get_pair(c, "k", &pool_k[0], &pool_k[1]);
    get_pair(c, "s", &pool_s[0], &pool_s[1]);
    get_pair(c, "p", &pool_p[0], &pool_p[1]);
    snprintf(key, sizeof key, "%s.x", c);
    ss_tensor *x = get(key);
    snprintf(key, sizeof key, "%s.y", c);
    ss_tensor *yref = get(key), *y = like(yref), *dx = like(x);
    snprintf(key, sizeof key, "%s.g", c);
    ss_tensor *g = get(key);
    if (!max) {
        snprintf(key, sizeof key, "%s.include_pad", c);
        ss_tensor *inc = get(key);
        pool_incl = (int)inc->data[0];
        ss_tensor_free(inc);
    }
    CHECK_OK(max ? ss_maxpool2d_forward(y, x, pool_k[0], pool_k[1], pool_s[0], pool_s[1], pool_p[0], pool_p[1])
                 : avg_fwd(y, x, NULL));
    snprintf(label, sizeof label, "%s forward", c);
    rel_close(label, y, yref);
    CHECK_OK(max ? ss_maxpool2d_backward(dx, g, x, pool_k[0], pool_k[1], pool_s[0], pool_s[1], pool_p[0], pool_p[1])
                 : ss_avgpool2d_backward(dx, g, pool_k[0], pool_k[1], pool_s[0], pool_s[1], pool_p[0], pool_p[1],
                                         pool_incl));
    snprintf(label, sizeof label, "%s grad_in", c);
    snprintf(key, sizeof key, "%s.dx", c);
    rel_ref(label, dx, key);
    /* linear in x: exact differences (the max's argmax would move under a perturbation near a tie) */
    if (!max) finite_diff(label, avg_fwd, NULL, x, y, g, dx);
    ss_tensor_free(x), ss_tensor_free(yref), ss_tensor_free(y), ss_tensor_free(dx), ss_tensor_free(g);
}

static void test_maxpool(void)
{
    pool_case("max_k3s2", 1);
    pool_case("max_k3s1p1", 1);
    pool_case("max_k2x3s1x2p1x1", 1);
    pool_case("max_ties", 1);
    /* a NaN in a window wins, as in PyTorch */
    ss_tensor *x = need(ss_tensor_zeros(4, (int64_t[]){1, 1, 3, 3}, SS_CPU), "x");
    ss_tensor *y = need(ss_tensor_zeros(4, (int64_t[]){1, 1, 1, 1}, SS_CPU), "y");
    x->data[4] = NAN, x->data[5] = 7.0f;
    CHECK_OK(ss_maxpool2d_forward(y, x, 3, 3, 2, 2, 0, 0));
    CHECK(isnan(y->data[0]), "max pool over a NaN gave %g", y->data[0]);
    ss_tensor_free(x), ss_tensor_free(y);
}

static void test_avgpool(void)
{
    pool_case("avg_k3s1p1_excl", 0);
    pool_case("avg_k3s1p1_incl", 0);
    pool_case("avg_k2s2", 0);
    pool_case("avg_k3x2s2x1p1x0_excl", 0);
}

static void test_global_avgpool(void)
{
    ss_tensor *x = get("global.x"), *yref = get("global.y"), *y = like(yref), *g = get("global.g"), *dx = like(x);
    CHECK_OK(ss_global_avgpool_forward(y, x));
    rel_close("global average pool forward (N,C)", y, yref);
    ss_tensor *y4 = need(ss_tensor_empty(4, (int64_t[]){x->shape[0], x->shape[1], 1, 1}, SS_CPU), "y4");
    CHECK_OK(ss_global_avgpool_forward(y4, x));
    CHECK(memcmp(y4->data, y->data, sizeof(float) * (size_t)ss_tensor_numel(y)) == 0, "(N,C,1,1) differs from (N,C)");
    CHECK_OK(ss_global_avgpool_backward(dx, g));
    rel_ref("global average pool grad_in", dx, "global.dx");
    ss_tensor *bad = need(ss_tensor_empty(2, (int64_t[]){x->shape[0], x->shape[1] + 1}, SS_CPU), "bad");
    CHECK_FAILS(ss_global_avgpool_forward(bad, x), "expected (N,C) or (N,C,1,1)");
    ss_tensor_free(x), ss_tensor_free(yref), ss_tensor_free(y), ss_tensor_free(g), ss_tensor_free(dx);
    ss_tensor_free(y4), ss_tensor_free(bad);
}

/* bn(conv(x)) (PyTorch, float64) against conv'(x) with the BatchNorm folded in. */
static void bn_case(const char *c, int has_gamma)
{
    char key[96], label[96];
    int ph, pw;
    get_pair(c, "p", &ph, &pw);
#define GET(role) (snprintf(key, sizeof key, "%s." role, c), get(key))
    ss_tensor *x = GET("x"), *w = GET("w"), *beta = GET("beta"), *mean = GET("mean"), *var = GET("var");
    ss_tensor *yref = GET("y"), *gamma = has_gamma ? GET("gamma") : NULL;
#undef GET
    ss_tensor *y = like(yref), *b = need(ss_tensor_zeros(1, &w->shape[0], SS_CPU), "bias");
    CHECK_OK(ss_batchnorm_fold(w, b, gamma, beta, mean, var, 1e-3));
    CHECK_OK(ss_conv2d_forward(y, x, w, b, 1, 1, ph, pw, NULL));
    snprintf(label, sizeof label, "%s: conv with BN folded vs bn(conv)", c);
    rel_close(label, y, yref);
    ss_tensor_free(x), ss_tensor_free(w), ss_tensor_free(beta), ss_tensor_free(mean), ss_tensor_free(var);
    ss_tensor_free(yref), ss_tensor_free(gamma), ss_tensor_free(y), ss_tensor_free(b);
}

static void test_batchnorm_fold(void)
{
    bn_case("bn_k3", 1);
    bn_case("bn_k1x7_nogamma", 0);
    /* a bad channel changes nothing */
    ss_tensor *w = get("bn_k3.w"), *w0 = need(ss_tensor_clone(w), "clone"), *var = get("bn_k3.var");
    ss_tensor *mean = get("bn_k3.mean"), *b = need(ss_tensor_zeros(1, &w->shape[0], SS_CPU), "bias");
    var->data[2] = -5.0f;
    CHECK_FAILS(ss_batchnorm_fold(w, b, NULL, NULL, mean, var, 1e-3), "channel 2 has var + eps");
    CHECK(memcmp(w->data, w0->data, sizeof(float) * (size_t)ss_tensor_numel(w)) == 0, "a failed fold changed weight");
    ss_tensor *short_mean = need(ss_tensor_zeros(1, (int64_t[]){2}, SS_CPU), "mean");
    CHECK_FAILS(ss_batchnorm_fold(w, b, NULL, NULL, short_mean, var, 1e-3), "mean has shape (2), expected (6)");
    CHECK_FAILS(ss_batchnorm_fold(w, b, NULL, NULL, mean, NULL, 1e-3), "var is NULL");
    ss_tensor_free(w), ss_tensor_free(w0), ss_tensor_free(var), ss_tensor_free(mean), ss_tensor_free(b);
    ss_tensor_free(short_mean);
}

static void test_pool_bad_input(void)
{
    ss_tensor *x = need(ss_tensor_zeros(4, (int64_t[]){2, 3, 7, 7}, SS_CPU), "x");
    ss_tensor *y = need(ss_tensor_zeros(4, (int64_t[]){2, 3, 3, 3}, SS_CPU), "y");
    CHECK_OK(ss_maxpool2d_forward(y, x, 3, 3, 2, 2, 0, 0));
    CHECK_FAILS(ss_maxpool2d_forward(y, x, 3, 3, 2, 2, 2, 0), "padding (2,0) must be >= 0 and at most half");
    CHECK_FAILS(ss_maxpool2d_forward(y, x, 3, 3, 0, 2, 0, 0), "stride must be >= 1");
    CHECK_FAILS(ss_avgpool2d_forward(y, x, 3, 3, 1, 1, 1, 1, 0), "out has shape (2,3,3,3), expected (2,3,7,7)");
    CHECK_FAILS(ss_avgpool2d_forward(y, x, 9, 9, 1, 1, 0, 0, 0), "kernel 9x9 is larger than the padded input 7x7");
    CHECK_FAILS(ss_maxpool2d_forward(x, x, 1, 1, 1, 1, 0, 0), "out shares memory");
    CHECK_FAILS(ss_maxpool2d_backward(y, y, x, 3, 3, 2, 2, 0, 0), "grad_in has shape (2,3,3,3)");
    ss_tensor_free(x), ss_tensor_free(y);
}

int main(void)
{
    if (test_seed("test_nn_layers", &seed, &rng)) return 2;
    const char *path = "tests/reference/nn_layers/layers.ssfx";
    fx = fixture_load(path);
    CHECK(fx != NULL, "cannot load %s", path);
    if (!fx) return test_summary("test_nn_layers");
    test_groupnorm();
    test_unary("silu", silu_fwd, silu_bwd);
    test_unary("pool", pool_fwd, pool_bwd);
    test_unary("up", up_fwd, up_bwd);
    test_embedding_and_mse();
    ss_tensor *a = need(ss_tensor_empty(4, (int64_t[]){1, 1, 4, 4}, SS_CPU), "a");
    ss_tensor *b = need(ss_tensor_empty(4, (int64_t[]){1, 1, 3, 2}, SS_CPU), "b");
    CHECK_FAILS(ss_avgpool2d_forward(b, a, 2, 2, 2, 2, 0, 0, 1), "expected (1,1,2,2)");
    ss_tensor_free(a), ss_tensor_free(b);
    fixture_free(fx);
    fx = fixture_load("tests/reference/nn_pool/pool.ssfx");
    CHECK(fx != NULL, "cannot load tests/reference/nn_pool/pool.ssfx");
    if (!fx) return test_summary("test_nn_layers");
    test_relu();
    test_maxpool();
    test_avgpool();
    test_global_avgpool();
    test_batchnorm_fold();
    test_pool_bad_input();
    fixture_free(fx);
    return test_summary("test_nn_layers");
}
