/* test_optim.c — fused Adam/AdamW against ten steps of torch.optim (PyTorch 1.13 fixtures
 * from tests/reference/make_optim_fixtures.py) within 1e-5, gradient clipping against
 * clip_grad_norm_, EMA, and bad arguments. */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <string.h>

static fixture *fx;

static ss_tensor *get(const char *c, const char *role) { return need(fixture_get(fx, c, role), role); }
static ss_tensor *zeros_like(const ss_tensor *t) { return need(ss_tensor_zeros(t->ndim, t->shape, SS_CPU), "zeros"); }

static void test_adam(const char *name, double lr, double wd, int decoupled)
{
    ss_tensor *p = get("adam", "p0"), *grads = get("adam", "grads"), *want = get(name, "p10");
    ss_tensor *m = zeros_like(p), *v = zeros_like(p);
    for (int k = 0; k < 10; k++) {
        ss_tensor *g = need(ss_tensor_narrow(grads, k, 1), "grad");
        ss_tensor *g2 = need(ss_tensor_reshape(g, p->ndim, p->shape), "grad view");
        CHECK_OK(ss_adam_step(p, m, v, g2, lr, 0.9, 0.999, 1e-8, wd, decoupled, k + 1));
        ss_tensor_free(g), ss_tensor_free(g2);
    }
    char label[64];
    snprintf(label, sizeof label, "%s: 10 steps vs torch.optim", name);
    test_close(label, p->data, want->data, (long)ss_tensor_numel(p), 1e-5);
    CHECK_FAILS(ss_adam_step(p, m, v, p, lr, 0.9, 0.999, 1e-8, wd, decoupled, 0), "step must be >= 1");
    ss_tensor_free(p), ss_tensor_free(grads), ss_tensor_free(want), ss_tensor_free(m), ss_tensor_free(v);
}

static void test_clip_and_ema(void)
{
    ss_tensor *g[2] = {get("clip", "g1"), get("clip", "g2")};
    ss_tensor *norm_ref = get("clip", "norm"), *c1 = get("clip", "c1"), *c2 = get("clip", "c2");
    double norm;
    CHECK_OK(ss_clip_grad_norm(&norm, g, 2, 1.0));
    printf("  clip: norm %.7g vs torch %.7g\n", norm, norm_ref->data[0]);
    CHECK(fabs(norm - norm_ref->data[0]) <= 1e-5 * norm, "clip norm");
    test_close("clip: first gradient", g[0]->data, c1->data, (long)ss_tensor_numel(c1), 1e-6);
    test_close("clip: second gradient", g[1]->data, c2->data, (long)ss_tensor_numel(c2), 1e-6);
    /* below the limit nothing changes */
    float before = g[0]->data[0];
    CHECK_OK(ss_clip_grad_norm(&norm, g, 2, 10.0));
    CHECK(g[0]->data[0] == before, "clipping below the limit changed a gradient");

    ss_tensor *e = zeros_like(g[0]);
    CHECK_OK(ss_ema_update(e, g[0], 0.75));
    CHECK(fabsf(e->data[3] - 0.25f * g[0]->data[3]) < 1e-7f, "ema");
    CHECK_FAILS(ss_ema_update(e, g[1], 0.5), "ema_update");
    CHECK_FAILS(ss_ema_update(e, g[0], 1.5), "decay");
    ss_tensor_free(e), ss_tensor_free(g[0]), ss_tensor_free(g[1]), ss_tensor_free(norm_ref);
    ss_tensor_free(c1), ss_tensor_free(c2);
}

int main(void)
{
    uint64_t seed = 0;
    if (test_seed("test_optim", &seed, NULL)) return 2;
    const char *path = "tests/reference/optim/optim.ssfx";
    fx = fixture_load(path);
    CHECK(fx != NULL, "cannot load %s", path);
    if (!fx) return test_summary("test_optim");
    test_adam("adam", 2e-4, 0.0, 0);
    test_adam("adamwd", 1e-2, 0.1, 0);
    test_adam("adamw", 1e-2, 0.1, 1);
    test_clip_and_ema();
    fixture_free(fx);
    return test_summary("test_optim");
}
