/* test_nn_layers.c — GroupNorm, SiLU, 2x2 average pooling, nearest 2x up-sampling,
 * the timestep embedding and the weighted MSE against PyTorch 1.13 (fixtures from
 * tests/reference/make_nn_layer_fixtures.py, computed in float64), within 1e-4 of
 * the reference's largest value; the backward passes also against central finite
 * differences of the forward (double accumulation of a random projection), and the
 * `+=` of parameter gradients. Bad shapes fail with a message. */
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
static int pool_fwd(ss_tensor *out, const ss_tensor *in, void *ctx) { (void)ctx; return ss_avgpool2_forward(out, in); }
static int up_fwd(ss_tensor *out, const ss_tensor *in, void *ctx) { (void)ctx; return ss_upsample2_forward(out, in); }

typedef int (*bwd_fn)(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in);
static int silu_bwd(ss_tensor *gi, const ss_tensor *go, const ss_tensor *in) { return ss_silu_backward(gi, go, in); }
static int pool_bwd(ss_tensor *gi, const ss_tensor *go, const ss_tensor *in) { (void)in; return ss_avgpool2_backward(gi, go); }
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
    CHECK_FAILS(ss_avgpool2_forward(b, a), "H/2");
    ss_tensor_free(a), ss_tensor_free(b);
    fixture_free(fx);
    return test_summary("test_nn_layers");
}
