/* test_cuda_train.c — CPU-vs-CUDA parity of the training ops, from the same inputs:
 * multi-head attention forward (weights and output) and backward over several sizes,
 * batching over heads and over images, rows of 9 to 576 positions, and scores near 1e4;
 * dropout masks and outputs bit for bit with the generator at the same offset after
 * (also in place, across the counter's 32-bit word, and p = 0); the MSE forward and
 * backward in both modes with and without per-sample weights; ten Adam and AdamW steps
 * with weight decay and gradient clipping; the gradient norm over several tensors; the
 * EMA with its warm-up decay. Mixing cpu and cuda tensors fails with "different devices". */
#include "cuda_check.h"

static uint64_t seed = 20250611u;
static ss_rng rng;

static ss_tensor *make(int ndim, const int64_t *shape) { return need(ss_tensor_empty(ndim, shape, SS_CPU), "tensor"); }
static ss_tensor *like_on(const ss_tensor *t, int device)
{
    return need(ss_tensor_empty(t->ndim, t->shape, device), "tensor");
}
static ss_tensor *randn(int ndim, const int64_t *shape, float std)
{
    ss_tensor *t = make(ndim, shape);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, std));
    return t;
}
static void free_all(ss_tensor **ts)
{
    for (; *ts; ts++) ss_tensor_free(*ts);
}
#define FREE(...) free_all((ss_tensor *[]){__VA_ARGS__, NULL})

/* Checks that gpu holds exactly cpu's bits (the ops below repeat the CPU's float
 * operations on exact inputs, so nothing else is right). */
static void cuda_same_bits(const char *label, const ss_tensor *cpu, const ss_tensor *gpu)
{
    const int64_t n = ss_tensor_numel(cpu);
    CHECK(ss_tensor_numel(gpu) == n, "%s: sizes differ", label);
    uint32_t *host = malloc(sizeof(float) * (size_t)n);
    if (!host || ss_tensor_numel(gpu) != n || ss_tensor_read((float *)host, gpu) != SS_OK) {
        CHECK(0, "%s: reading the cuda result: %s", label, ss_last_error());
        free(host);
        return;
    }
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t want;
        memcpy(&want, cpu->data + i, sizeof want);
        differ += host[i] != want;
    }
    free(host);
    printf("  cuda %-44s %lld of %lld values differ in a bit (tol 0)\n", label, (long long)differ, (long long)n);
    CHECK(differ == 0, "%s: %lld values differ", label, (long long)differ);
}

/* |a − b| / max(1, |a|) of two doubles against tol. */
static void close_double(const char *label, double cpu, double gpu, double tol)
{
    const double d = fabs(cpu - gpu) / fmax(1.0, fabs(cpu));
    printf("  cuda %-44s %.17g vs %.17g, diff/scale %.3g (tol %.1g)\n", label, cpu, gpu, d, tol);
    CHECK(d <= tol, "%s: cpu %.17g, cuda %.17g", label, cpu, gpu);
}

/* ------------------------------------------------------------ attention */

/* max over all pairs of |α·Σ_c q[c][t] k[c][s]|, in double, for qkv (n,3c,...). */
static double max_score(const ss_tensor *qkv, int heads)
{
    const int64_t n = qkv->shape[0], c = qkv->shape[1] / 3, t = ss_tensor_numel(qkv) / (n * 3 * c), d = c / heads;
    double worst = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t h = 0; h < heads; h++) {
            const float *q = qkv->data + (i * 3 * c + h * d) * t, *k = q + c * t;
            for (int64_t a = 0; a < t; a++)
                for (int64_t b = 0; b < t; b++) {
                    double s = 0;
                    for (int64_t j = 0; j < d; j++) s += (double)q[j * t + a] * k[j * t + b];
                    worst = fmax(worst, fabs(s / sqrt((double)d)));
                }
        }
    return worst;
}

/* qkv (n,3c,h,w), or (n,3c,h) when w is 0, from N(0,1). With big, q and k are integers
 * in [−100, 100] and d = c/heads must be 4: the scores α·Σ_4 q k (α = 1/2) then reach
 * ~1e4 and are exact in float on both devices, whatever order the sums take, so only
 * the exp and the row sums can differ and the CPU's tolerances still apply.
 * Tolerances: W within 1e-5 (scores of size ~3 carry ~d ulps of rounding from the
 * sgemm's summation order; e^x turns that into a relative error of W of ~1e-6, and
 * CUDA's expf and the CPU's vectorised exp differ by 1–2 ulps); out, a sum of T
 * products, and grad_qkv, sums over T of products of such values, within 1e-4. The
 * backward runs from the same (CPU) weights on both sides, so it is checked alone. */
static void attention_case(int64_t n, int64_t c, int64_t h, int64_t w, int heads, int big)
{
    const int64_t t = w ? h * w : h;
    const int nd = w ? 4 : 3;
    int64_t qshape[4] = {n, 3 * c, h, w}, oshape[4] = {n, c, h, w};
    ss_tensor *qkv = randn(nd, qshape, 1.0f);
    if (big) {
        ss_tensor *qk = make(1, (int64_t[]){n * 3 * c * t});
        CHECK_OK(ss_rng_uniform(&rng, qk, -100.4f, 100.4f));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < 2 * c * t; j++) qkv->data[i * 3 * c * t + j] = roundf(qk->data[i * 3 * c * t + j]);
        ss_tensor_free(qk);
        printf("  largest score %.6g\n", max_score(qkv, heads));
    }
    char label[96], what[64];
    if (w) snprintf(what, sizeof what, "attention (%lld,%lld,%lld,%lld) %dh%s", (long long)n, (long long)(3 * c),
                    (long long)h, (long long)w, heads, big ? " 1e4" : "");
    else snprintf(what, sizeof what, "attention (%lld,%lld,%lld) %dh%s", (long long)n, (long long)(3 * c),
                  (long long)h, heads, big ? " 1e4" : "");
    ss_tensor *out = make(nd, oshape), *wts = make(3, (int64_t[]){n * heads, t, t});
    CHECK_OK(ss_attention_forward(out, wts, qkv, heads));
    ss_tensor *gqkv = cuda_copy(qkv), *gout = like_on(out, SS_CUDA), *gw = like_on(wts, SS_CUDA);
    CHECK_OK(ss_attention_forward(gout, gw, gqkv, heads));
    snprintf(label, sizeof label, "%s W", what);
    cuda_close(label, wts, gw, 1e-5);
    snprintf(label, sizeof label, "%s out", what);
    cuda_close(label, out, gout, 1e-4);

    ss_tensor *go = randn(nd, oshape, 1.0f), *dqkv = make(nd, qshape);
    CHECK_OK(ss_attention_backward(dqkv, go, qkv, wts, heads));
    ss_tensor *ggo = cuda_copy(go), *gwc = cuda_copy(wts), *gdqkv = like_on(qkv, SS_CUDA);
    CHECK_OK(ss_attention_backward(gdqkv, ggo, gqkv, gwc, heads));
    snprintf(label, sizeof label, "%s grad_qkv", what);
    cuda_close(label, dqkv, gdqkv, 1e-4);
    CHECK_FAILS(ss_attention_forward(gout, wts, gqkv, heads), "different devices");
    CHECK_FAILS(ss_attention_backward(gdqkv, go, gqkv, gwc, heads), "different devices");
    FREE(qkv, out, wts, gqkv, gout, gw, go, dqkv, ggo, gwc, gdqkv);
}

static void test_attention(void)
{
    printf("attention\n");
    attention_case(2, 8, 4, 4, 2, 0);    /* d 4, T 16, batched over heads */
    attention_case(3, 12, 5, 7, 1, 0);   /* d 12, T 35, batched over images */
    attention_case(4, 8, 9, 0, 2, 0);    /* 3-dim qkv, T 9, batched over images */
    attention_case(1, 32, 8, 8, 4, 0);   /* d 8, T 64 */
    attention_case(2, 16, 24, 24, 2, 0); /* T 576: rows of 256 threads */
    attention_case(2, 8, 4, 4, 2, 1);    /* scores ~1e4 */
}

/* ------------------------------------------------------------ dropout */

/* n values, drop probability p, generator (s, offset). The mask is ss_rng_bernoulli's
 * stream on both devices, scaled by the same float: masks, outputs and gradients must
 * agree in every bit, and both generators end at the same offset. */
static void dropout_case(int64_t n, float p, uint64_t s, uint64_t offset)
{
    char label[96], what[64];
    snprintf(what, sizeof what, "dropout n=%lld p=%g off=%llu", (long long)n, p, (unsigned long long)offset);
    ss_tensor *in = randn(1, &n, 1.0f), *out = make(1, &n), *mask = make(1, &n);
    ss_rng gc = {s, offset}, gg = gc, gi = gc;
    CHECK_OK(ss_dropout_forward(out, mask, in, p, &gc));
    ss_tensor *gin = cuda_copy(in), *gout = like_on(in, SS_CUDA), *gmask = like_on(in, SS_CUDA);
    CHECK_OK(ss_dropout_forward(gout, gmask, gin, p, &gg));
    snprintf(label, sizeof label, "%s mask", what);
    cuda_same_bits(label, mask, gmask);
    snprintf(label, sizeof label, "%s out", what);
    cuda_same_bits(label, out, gout);
    CHECK(gc.offset == gg.offset, "%s: offset after: cpu %llu, cuda %llu", what, (unsigned long long)gc.offset,
          (unsigned long long)gg.offset);
    /* in place: out is in */
    CHECK_OK(ss_dropout_forward(gin, gmask, gin, p, &gi));
    snprintf(label, sizeof label, "%s in place", what);
    cuda_same_bits(label, out, gin);
    CHECK(gi.offset == gc.offset, "%s: offset after in place", what);

    ss_tensor *dy = randn(1, &n, 1.0f), *dx = make(1, &n);
    CHECK_OK(ss_dropout_backward(dx, dy, mask));
    ss_tensor *gdy = cuda_copy(dy), *gdx = like_on(dy, SS_CUDA);
    CHECK_OK(ss_dropout_backward(gdx, gdy, gmask));
    snprintf(label, sizeof label, "%s backward", what);
    cuda_same_bits(label, dx, gdx);
    CHECK_OK(ss_dropout_backward(gdy, gdy, gmask));
    snprintf(label, sizeof label, "%s backward in place", what);
    cuda_same_bits(label, dx, gdy);
    FREE(in, out, mask, gin, gout, gmask, dy, dx, gdy, gdx);
}

static void test_dropout(void)
{
    printf("dropout\n");
    dropout_case(1, 0.5f, seed, 0);
    dropout_case(7, 0.25f, 0x0123456789abcdefull, 5);          /* a partial last block */
    dropout_case(1000, 0.1f, seed + 1, ((uint64_t)1 << 32) - 3); /* the counter's high word changes mid-draw */
    dropout_case(100003, 0.9f, seed + 2, 12345);

    /* p = 0: the mask is 1, out is in, nothing drawn (no generator needed) */
    int64_t n = 1001;
    ss_tensor *in = randn(1, &n, 1.0f), *gin = cuda_copy(in), *gout = like_on(in, SS_CUDA);
    ss_tensor *gmask = like_on(in, SS_CUDA), *ones = need(ss_tensor_full(1, &n, 1.0f, SS_CPU), "ones");
    CHECK_OK(ss_dropout_forward(gout, gmask, gin, 0.0f, NULL));
    cuda_same_bits("dropout p=0 mask", ones, gmask);
    cuda_same_bits("dropout p=0 out", in, gout);
    ss_rng g = {seed, 77};
    CHECK_FAILS(ss_dropout_forward(gout, ones, gin, 0.5f, &g), "different devices");
    CHECK(g.offset == 77, "a refused dropout moved the generator to %llu", (unsigned long long)g.offset);
    CHECK_FAILS(ss_dropout_backward(gout, in, gmask), "different devices");
    FREE(in, gin, gout, gmask, ones);
}

/* ------------------------------------------------------------ MSE */

/* pred, target (n, m...) from N(0,1), weights in [0.1, 5) when weighted.
 * Forward: squares of float differences are exact in double and both devices sum them
 * in double, in different orders: the relative difference is bounded by ~count·2^-53
 * (1.4e-12 for 12288 values a sample), so 1e-10. Backward: the per-sample factor is
 * the same double expression rounded once to float, times the same float difference on
 * both devices, so exact; 1e-7 (under one float ulp of the scale) leaves room for
 * nothing more. */
static void mse_case(int nd, const int64_t *shape, int weighted)
{
    ss_tensor *pred = randn(nd, shape, 1.0f), *target = randn(nd, shape, 1.0f), *w = NULL, *gw = NULL;
    if (weighted) {
        w = make(1, shape);
        CHECK_OK(ss_rng_uniform(&rng, w, 0.1f, 5.0f));
        gw = cuda_copy(w);
    }
    ss_tensor *gp = cuda_copy(pred), *gt = cuda_copy(target), *grad = like_on(pred, SS_CPU);
    ss_tensor *ggrad = like_on(pred, SS_CUDA);
    for (int sum_pixels = 0; sum_pixels < 2; sum_pixels++) {
        char label[96], what[64];
        snprintf(what, sizeof what, "mse n=%lld numel=%lld%s%s", (long long)shape[0], (long long)ss_tensor_numel(pred),
                 weighted ? " weighted" : "", sum_pixels ? " summed" : " mean");
        double lc = NAN, lg = NAN;
        CHECK_OK(ss_mse_forward(&lc, pred, target, w, sum_pixels));
        CHECK_OK(ss_mse_forward(&lg, gp, gt, gw, sum_pixels));
        snprintf(label, sizeof label, "%s loss", what);
        close_double(label, lc, lg, 1e-10);
        CHECK_OK(ss_mse_backward(grad, pred, target, w, sum_pixels, 0.37));
        CHECK_OK(ss_mse_backward(ggrad, gp, gt, gw, sum_pixels, 0.37));
        snprintf(label, sizeof label, "%s grad", what);
        cuda_close(label, grad, ggrad, 1e-7);
    }
    double l;
    CHECK_FAILS(ss_mse_forward(&l, gp, target, NULL, 0), "different devices");
    CHECK_FAILS(ss_mse_backward(grad, gp, gt, NULL, 0, 1.0), "different devices");
    FREE(pred, target, gp, gt, grad, ggrad);
    if (weighted) FREE(w, gw);
}

static void test_mse(void)
{
    printf("mse\n");
    mse_case(4, (int64_t[]){4, 3, 5, 7}, 0);
    mse_case(4, (int64_t[]){4, 3, 5, 7}, 1);
    mse_case(4, (int64_t[]){3, 3, 64, 64}, 1); /* 48 blocks a sample */
    mse_case(2, (int64_t[]){70000, 2}, 1);     /* more samples than one grid dimension holds */
}

/* ------------------------------------------------------------ optimisers */

#define NT 3
static const int64_t opt_sizes[NT] = {1000, 37, 64 * 33};

static void fill_randn(ss_tensor **cpu, ss_tensor **gpu, float std)
{
    for (int k = 0; k < NT; k++) {
        cpu[k] = randn(1, &opt_sizes[k], std);
        gpu[k] = cuda_copy(cpu[k]);
    }
}

/* Ten steps of Adam (decoupled = 0) or AdamW with weight decay 0.1, each after clipping
 * the gradients of all three tensors to norm 5 (their norm is ~28, so every step clips).
 * Both devices run the same float operations per value; GCC (-march=native) and nvcc
 * may each fuse a different multiply-add, an ulp per step at most, so after ten steps
 * param, m and v agree within 1e-6 of max(1, |value|). The norms are double sums of
 * exact squares in different orders: 1e-12. */
static void adam_case(int decoupled)
{
    ss_tensor *p[NT], *gp[NT], *m[NT], *gm[NT], *v[NT], *gv[NT];
    fill_randn(p, gp, 1.0f);
    for (int k = 0; k < NT; k++) {
        m[k] = need(ss_tensor_zeros(1, &opt_sizes[k], SS_CPU), "m"), gm[k] = cuda_copy(m[k]);
        v[k] = need(ss_tensor_zeros(1, &opt_sizes[k], SS_CPU), "v"), gv[k] = cuda_copy(v[k]);
    }
    const char *name = decoupled ? "adamw" : "adam";
    double worst = 0;
    for (int step = 1; step <= 10; step++) {
        ss_tensor *g[NT], *gg[NT];
        fill_randn(g, gg, 0.5f);
        double nc = 0, ng = 0;
        CHECK_OK(ss_clip_grad_norm(&nc, g, NT, 5.0));
        CHECK_OK(ss_clip_grad_norm(&ng, gg, NT, 5.0));
        CHECK(nc > 5.0, "%s step %d: the norm %g does not clip", name, step, nc);
        worst = fmax(worst, fabs(nc - ng) / nc);
        for (int k = 0; k < NT; k++) {
            CHECK_OK(ss_adam_step(p[k], m[k], v[k], g[k], 1e-2, 0.9, 0.999, 1e-8, 0.1, decoupled, step));
            CHECK_OK(ss_adam_step(gp[k], gm[k], gv[k], gg[k], 1e-2, 0.9, 0.999, 1e-8, 0.1, decoupled, step));
        }
        if (step == 10) {
            char label[64];
            snprintf(label, sizeof label, "%s clipped gradient (step 10)", name);
            cuda_close(label, g[2], gg[2], 1e-6);
        }
        for (int k = 0; k < NT; k++) ss_tensor_free(g[k]), ss_tensor_free(gg[k]);
    }
    printf("  cuda %-44s max rel diff %.3g (tol 1e-12)\n", "clip_grad_norm norms over 10 steps", worst);
    CHECK(worst <= 1e-12, "%s: clip norms differ by %.3g", name, worst);
    for (int k = 0; k < NT; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s 10 steps, tensor %d: param", name, k);
        cuda_close(label, p[k], gp[k], 1e-6);
        snprintf(label, sizeof label, "%s 10 steps, tensor %d: m", name, k);
        cuda_close(label, m[k], gm[k], 1e-6);
        snprintf(label, sizeof label, "%s 10 steps, tensor %d: v", name, k);
        cuda_close(label, v[k], gv[k], 1e-6);
    }
    CHECK_FAILS(ss_adam_step(gp[0], gm[0], gv[0], p[0], 1e-2, 0.9, 0.999, 1e-8, 0.0, decoupled, 1),
                "different devices");
    for (int k = 0; k < NT; k++) FREE(p[k], gp[k], m[k], gm[k], v[k], gv[k]);
}

/* The norm over a large tensor (many partial sums), a tiny one and a 2-d one: double
 * sums of exact squares, ~10^6 terms, in different orders; a sequential double sum of
 * n positive terms is within n·2^-53 ≈ 1.2e-10 relative, so 1e-9. */
static void test_grad_norm(void)
{
    printf("grad_norm\n");
    ss_tensor *g[3] = {randn(1, (int64_t[]){(1 << 20) + 3}, 1.0f), randn(1, (int64_t[]){5}, 3.0f),
                       randn(2, (int64_t[]){300, 7}, 0.1f)};
    ss_tensor *gg[3] = {cuda_copy(g[0]), cuda_copy(g[1]), cuda_copy(g[2])};
    double nc = 0, ng = 0;
    CHECK_OK(ss_grad_norm(&nc, (const ss_tensor *const *)g, 3));
    CHECK_OK(ss_grad_norm(&ng, (const ss_tensor *const *)gg, 3));
    close_double("grad_norm of 3 tensors", nc, ng, 1e-9);
    CHECK_OK(ss_grad_norm(&nc, (const ss_tensor *const *)g + 1, 1));
    CHECK_OK(ss_grad_norm(&ng, (const ss_tensor *const *)gg + 1, 1));
    close_double("grad_norm of 5 values", nc, ng, 1e-12);
    /* max_norm above the norm: nothing changes */
    CHECK_OK(ss_clip_grad_norm(&ng, gg, 3, 1e9));
    cuda_same_bits("clip_grad_norm below the limit", g[0], gg[0]);
    const ss_tensor *mixed[2] = {gg[0], g[1]};
    CHECK_FAILS(ss_grad_norm(&ng, mixed, 2), "different devices");
    FREE(g[0], g[1], g[2], gg[0], gg[1], gg[2]);
}

/* Ten EMA updates with IHDM's warm-up decay min(0.999, (1 + k)/(10 + k)) (optim.lua)
 * towards new parameters each time: ema·d + param·(1 − d) in float on both devices,
 * an ulp a step at most where a compiler fuses it, so 1e-6. */
static void test_ema(void)
{
    printf("ema\n");
    ss_tensor *e[NT], *ge[NT];
    fill_randn(e, ge, 1.0f);
    for (int k = 0; k < 10; k++) {
        const double decay = fmin(0.999, (1.0 + k) / (10.0 + k));
        ss_tensor *p[NT], *gp[NT];
        fill_randn(p, gp, 1.0f);
        for (int j = 0; j < NT; j++) {
            CHECK_OK(ss_ema_update(e[j], p[j], decay));
            CHECK_OK(ss_ema_update(ge[j], gp[j], decay));
        }
        if (k == 9) CHECK_FAILS(ss_ema_update(ge[0], p[0], decay), "different devices");
        for (int j = 0; j < NT; j++) ss_tensor_free(p[j]), ss_tensor_free(gp[j]);
    }
    for (int j = 0; j < NT; j++) {
        char label[64];
        snprintf(label, sizeof label, "ema 10 warm-up updates, tensor %d", j);
        cuda_close(label, e[j], ge[j], 1e-6);
        ss_tensor_free(e[j]), ss_tensor_free(ge[j]);
    }
}

int main(void)
{
    if (test_seed("test_cuda_train", &seed, &rng)) return 2;
    cuda_skip_unless_device("test_cuda_train",
                            "attention, dropout, mse, adam/adamw, grad_norm, clip_grad_norm and ema on cuda vs cpu");
    test_attention();
    test_dropout();
    test_mse();
    adam_case(0);
    adam_case(1);
    test_grad_norm();
    test_ema();
    return test_summary("test_cuda_train");
}
