/* test_cuda_nn.c — the neural-network layers on CUDA against the CPU at UNet-like shapes:
 * conv2d (3x3 stride 1 and 2, 1x1, odd sizes, with and without bias, one shape at two batch
 * sizes, one large enough for several cuBLAS chunks; Inception's 1x7/7x1/1x3/3x1 with
 * one-axis padding and its stride-2 stem) on both paths (cuDNN and
 * SS_CUDA_CONV=cublas), each in exact FP32 (SS_CUDA_TF32=0) and with TF32 allowed (the
 * default); linear; GroupNorm; SiLU; ReLU; max and average pooling (Inception's windows and
 * the UNet's 2x2); global average pooling; nearest 2x up-sampling; the timestep embedding. Every forward and backward; the backward twice, so the parameter
 * gradients must have doubled (`+=`) while grad_in (`=`, over garbage) must not; the
 * NULL gradients; mixing devices and a bad SS_CUDA_CONV are refused.
 *
 * Tolerances (cuda_close: max |cpu - gpu| / max(1, max |cpu|)):
 *  - conv2d, exact FP32: 1e-4. Sums of K = Cin·9 (<= 4608) products forward and of
 *    N·Ho·Wo (<= 18432) backward, in other orders than OpenBLAS's (~1e-6), and cuDNN's
 *    heuristics may pick Winograd or FFT algorithms, whose FP32 error is ~1e-5 of the
 *    largest value;
 *  - conv2d, TF32: 5e-3. Inputs rounded to 10-bit mantissas (2^-11 = 4.9e-4 relative per
 *    product), random-sign terms: ~1e-3 of the largest value at worst;
 *  - linear: 1e-5 (FP32 GEMM, no TF32: k <= 512 random-sign products, ~sqrt(k)·2^-24 of
 *    the terms' scale, far below 1e-5 of the largest output);
 *  - GroupNorm forward 1e-6 (double statistics, the CPU's float formula; the compilers
 *    may fuse x·a + o differently: an ulp), backward 1e-5 (a·dy + b·x + o in float, where
 *    b·x and o partly cancel: a few ulp of the larger term);
 *  - SiLU forward 1e-6 (CUDA's expf is within 2 ulp, the CPU's vectorised exp within
 *    1.02: an ulp or two of σ), backward 5e-6 (σ's rounding comes back times
 *    |1 + x − 2xσ|, up to ~|x| = 18 for the N(0, 4) inputs);
 *  - ReLU, pooling and up-sampling 0: the same float operations in the same order
 *    (the backward passes gather what the CPU scatters, adding in the CPU's order);
 *  - global average pooling 1e-6: double sums split differently, rounded once;
 *  - timestep embedding 1e-4: both sides round expf/cosf/sinf nearly always the same way,
 *    but one ulp of a frequency moves cos(t·f) by 6e-5 at t = 1000.
 * The seed is printed; SS_TEST_SEED=<n> reruns with another one. */
#include "cuda_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20251123u;
static ss_rng rng;

#define CONV_EXACT_TOL 1e-4
#define CONV_TF32_TOL 5e-3
#define LINEAR_TOL 1e-5
#define GN_FORWARD_TOL 1e-6
#define GN_BACKWARD_TOL 1e-5
#define SILU_FORWARD_TOL 1e-6
#define SILU_BACKWARD_TOL 5e-6
#define EXACT 0.0
#define EMBED_TOL 1e-4
#define GLOBAL_POOL_TOL 1e-6

static ss_tensor *cpu_zeros(int nd, const int64_t *shape)
{
    return need(ss_tensor_zeros(nd, shape, SS_CPU), "a cpu tensor");
}
static ss_tensor *gpu_zeros(int nd, const int64_t *shape)
{
    return need(ss_tensor_zeros(nd, shape, SS_CUDA), "a cuda tensor");
}

/* A cpu tensor of N(mean, std) values. */
static ss_tensor *randn(int nd, const int64_t *shape, float mean, float std)
{
    ss_tensor *t = cpu_zeros(nd, shape);
    CHECK_OK(ss_rng_normal(&rng, t, mean, std));
    return t;
}

/* A cuda tensor shaped like t, filled with a value every kernel must overwrite. */
static ss_tensor *gpu_garbage(const ss_tensor *t)
{
    ss_tensor *g = need(ss_tensor_empty(t->ndim, t->shape, SS_CUDA), "a cuda tensor");
    CHECK_OK(ss_tensor_fill(g, 1e3f));
    return g;
}

static ss_tensor *clone(const ss_tensor *t) { return need(ss_tensor_clone(t), "a clone"); }

static void free_all(ss_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) ss_tensor_free(ts[i]);
}

/* SS_CUDA_CONV and SS_CUDA_TF32 for the next calls; NULL unsets. */
static void conv_env(const char *path, const char *tf32)
{
    if (path) setenv("SS_CUDA_CONV", path, 1);
    else unsetenv("SS_CUDA_CONV");
    if (tf32) setenv("SS_CUDA_TF32", tf32, 1);
    else unsetenv("SS_CUDA_TF32");
}

/* ------------------------------------------------------------ conv2d */

typedef struct conv_case {
    int64_t n, cin, h, w, cout, kh, kw;
    int sh, sw, ph, pw, bias;
} conv_case;

/* The CPU results of one case: forward, the backward once, twice, then grad_weight alone
 * once more (a third += ). */
typedef struct conv_ref {
    ss_tensor *in, *weight, *bias, *grad_out;
    ss_tensor *out, *gi, *gw1, *gb1, *gw2, *gb2, *gw3;
} conv_ref;

static void conv_reference(const conv_case *c, conv_ref *r)
{
    const int64_t ho = (c->h + 2 * c->ph - c->kh) / c->sh + 1, wo = (c->w + 2 * c->pw - c->kw) / c->sw + 1;
    const int64_t si[4] = {c->n, c->cin, c->h, c->w}, sw[4] = {c->cout, c->cin, c->kh, c->kw}, sb[1] = {c->cout},
                  so[4] = {c->n, c->cout, ho, wo};
    r->in = randn(4, si, 0, 1);
    r->weight = randn(4, sw, 0, 1);
    r->bias = c->bias ? randn(1, sb, 0, 1) : NULL;
    r->grad_out = randn(4, so, 0, 1);
    r->out = cpu_zeros(4, so);
    CHECK_OK(ss_conv2d_forward(r->out, r->in, r->weight, r->bias, c->sh, c->sw, c->ph, c->pw, NULL));
    r->gi = cpu_zeros(4, si);
    ss_tensor *gw = cpu_zeros(4, sw), *gb = cpu_zeros(1, sb);
    CHECK_OK(ss_conv2d_backward(r->gi, gw, gb, r->grad_out, r->in, r->weight, c->sh, c->sw, c->ph, c->pw, NULL));
    r->gw1 = clone(gw), r->gb1 = clone(gb);
    CHECK_OK(ss_conv2d_backward(r->gi, gw, gb, r->grad_out, r->in, r->weight, c->sh, c->sw, c->ph, c->pw, NULL));
    r->gw2 = clone(gw), r->gb2 = gb;
    CHECK_OK(ss_conv2d_backward(NULL, gw, NULL, r->grad_out, r->in, r->weight, c->sh, c->sw, c->ph, c->pw, NULL));
    r->gw3 = gw;
}

/* One case on cuda under the current SS_CUDA_CONV / SS_CUDA_TF32, against r. */
static void conv_on_gpu(const conv_case *c, const conv_ref *r, const char *mode, double tol)
{
    char name[128], label[192];
    snprintf(name, sizeof name, "conv2d %lldx%lld s(%d,%d) p(%d,%d) %lld->%lld %lldx%lld%s %s", (long long)c->kh,
             (long long)c->kw, c->sh, c->sw, c->ph, c->pw, (long long)c->cin, (long long)c->cout, (long long)c->h,
             (long long)c->w, c->bias ? "" : " nobias", mode);
    ss_tensor *in = cuda_copy(r->in), *weight = cuda_copy(r->weight), *bias = r->bias ? cuda_copy(r->bias) : NULL;
    ss_tensor *grad_out = cuda_copy(r->grad_out), *out = gpu_garbage(r->out), *gi = gpu_garbage(r->gi);
    ss_tensor *gw = gpu_zeros(4, r->weight->shape), *gb = gpu_zeros(1, r->gb1->shape);

    CHECK_OK(ss_conv2d_forward(out, in, weight, bias, c->sh, c->sw, c->ph, c->pw, NULL));
    snprintf(label, sizeof label, "%s forward", name);
    cuda_close(label, r->out, out, tol);

    CHECK_OK(ss_conv2d_backward(gi, gw, gb, grad_out, in, weight, c->sh, c->sw, c->ph, c->pw, NULL));
    snprintf(label, sizeof label, "%s grad_in", name);
    cuda_close(label, r->gi, gi, tol);
    snprintf(label, sizeof label, "%s grad_weight", name);
    cuda_close(label, r->gw1, gw, tol);
    snprintf(label, sizeof label, "%s grad_bias", name);
    cuda_close(label, r->gb1, gb, tol);

    /* again: grad_in written anew, the parameter gradients doubled */
    CHECK_OK(ss_conv2d_backward(gi, gw, gb, grad_out, in, weight, c->sh, c->sw, c->ph, c->pw, NULL));
    snprintf(label, sizeof label, "%s grad_in, 2nd call (=)", name);
    cuda_close(label, r->gi, gi, tol);
    snprintf(label, sizeof label, "%s grad_weight, 2nd call (+=)", name);
    cuda_close(label, r->gw2, gw, tol);
    snprintf(label, sizeof label, "%s grad_bias, 2nd call (+=)", name);
    cuda_close(label, r->gb2, gb, tol);

    /* NULL gradients: grad_weight alone (a third +=), then grad_in alone over garbage */
    CHECK_OK(ss_conv2d_backward(NULL, gw, NULL, grad_out, in, weight, c->sh, c->sw, c->ph, c->pw, NULL));
    snprintf(label, sizeof label, "%s grad_weight alone, 3rd call", name);
    cuda_close(label, r->gw3, gw, tol);
    CHECK_OK(ss_tensor_fill(gi, 1e3f));
    CHECK_OK(ss_conv2d_backward(gi, NULL, NULL, grad_out, in, weight, c->sh, c->sw, c->ph, c->pw, NULL));
    snprintf(label, sizeof label, "%s grad_in alone", name);
    cuda_close(label, r->gi, gi, tol);

    ss_tensor *all[8] = {in, weight, bias, grad_out, out, gi, gw, gb};
    free_all(all, 8);
}

static void test_conv2d(void)
{
    static const conv_case cases[] = {
        {4, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1},  /* a ResBlock conv */
        {2, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1},  /* the same with another batch size (cuDNN plans are per batch) */
        {4, 64, 32, 32, 64, 3, 3, 2, 2, 1, 1, 1},  /* the strided down-sampling conv */
        {4, 64, 16, 16, 128, 1, 1, 1, 1, 0, 0, 1}, /* the 1x1 skip projection */
        {4, 64, 32, 32, 128, 1, 1, 1, 1, 0, 0, 0}, /* 1x1 without bias */
        {4, 3, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1},   /* the input conv */
        {4, 64, 32, 32, 3, 3, 3, 1, 1, 1, 1, 0},   /* the output conv, no bias */
        {3, 5, 9, 7, 6, 3, 3, 2, 2, 0, 0, 1},      /* odd sizes, stride 2, no padding */
        {2, 4, 7, 6, 5, 1, 1, 2, 2, 1, 1, 1},      /* 1x1 with stride and padding (the im2col path) */
        /* Inception-v3's: the stem's 3x3 stride 2 on an odd size, 1x7/7x1 and 1x3/3x1 with
         * one-axis padding, a stride along one axis only */
        {2, 3, 37, 37, 32, 3, 3, 2, 2, 0, 0, 0},
        {2, 64, 17, 17, 48, 1, 7, 1, 1, 0, 3, 1},
        {2, 48, 17, 17, 64, 7, 1, 1, 1, 3, 0, 0},
        {2, 64, 8, 8, 96, 1, 3, 1, 1, 0, 1, 1},
        {2, 64, 8, 8, 96, 3, 1, 1, 1, 1, 0, 1},
        {2, 16, 11, 10, 24, 3, 3, 2, 1, 1, 0, 1},
        /* K·P = 4608·6144 floats per image: the cuBLAS path's 2^26-float scratch holds 2 images,
         * so its chunk loop runs a packed chunk of 2 and a tail of 1 */
        {3, 512, 64, 96, 4, 3, 3, 1, 1, 1, 1, 1},
    };
    static const struct {
        const char *path, *tf32, *name;
        double tol;
    } modes[] = {
        {"cublas", "0", "cublas fp32", CONV_EXACT_TOL},
        {NULL, "0", "default fp32", CONV_EXACT_TOL}, /* cuDNN when built with it */
        {"cublas", NULL, "cublas tf32", CONV_TF32_TOL},
        {NULL, NULL, "default tf32", CONV_TF32_TOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_ref r;
        conv_reference(&cases[i], &r);
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            conv_env(modes[m].path, modes[m].tf32);
            conv_on_gpu(&cases[i], &r, modes[m].name, modes[m].tol);
        }
        ss_tensor *all[11] = {r.in, r.weight, r.bias, r.grad_out, r.out, r.gi, r.gw1, r.gb1, r.gw2, r.gb2, r.gw3};
        free_all(all, 11);
    }
    conv_env(NULL, NULL);
}

/* ------------------------------------------------------------ linear */

static void linear_case(int nd, const int64_t *in_shape, int64_t fout, int with_bias)
{
    const int64_t fin = in_shape[nd - 1], sw[2] = {fout, fin}, sb[1] = {fout};
    int64_t so[4], rows = 1;
    memcpy(so, in_shape, sizeof(int64_t) * (size_t)nd);
    so[nd - 1] = fout;
    for (int d = 0; d < nd - 1; d++) rows *= in_shape[d];
    char name[96], label[160];
    snprintf(name, sizeof name, "linear %lld->%lld, %lld rows%s", (long long)fin, (long long)fout, (long long)rows,
             with_bias ? "" : " nobias");
    ss_tensor *in = randn(nd, in_shape, 0, 1), *weight = randn(2, sw, 0, 1);
    ss_tensor *bias = with_bias ? randn(1, sb, 0, 1) : NULL;
    ss_tensor *grad_out = randn(nd, so, 0, 1), *out = cpu_zeros(nd, so), *gi = cpu_zeros(nd, in_shape);
    ss_tensor *gw = cpu_zeros(2, sw), *gb = cpu_zeros(1, sb);
    ss_tensor *d_in = cuda_copy(in), *d_weight = cuda_copy(weight), *d_bias = bias ? cuda_copy(bias) : NULL;
    ss_tensor *d_grad_out = cuda_copy(grad_out), *d_out = gpu_garbage(out), *d_gi = gpu_garbage(gi);
    ss_tensor *d_gw = gpu_zeros(2, sw), *d_gb = gpu_zeros(1, sb);

    CHECK_OK(ss_linear_forward(out, in, weight, bias));
    CHECK_OK(ss_linear_forward(d_out, d_in, d_weight, d_bias));
    snprintf(label, sizeof label, "%s forward", name);
    cuda_close(label, out, d_out, LINEAR_TOL);
    for (int call = 1; call <= 2; call++) { /* the second call doubles grad_weight and grad_bias */
        CHECK_OK(ss_linear_backward(gi, gw, gb, grad_out, in, weight));
        CHECK_OK(ss_linear_backward(d_gi, d_gw, d_gb, d_grad_out, d_in, d_weight));
        snprintf(label, sizeof label, "%s grad_in, call %d", name, call);
        cuda_close(label, gi, d_gi, LINEAR_TOL);
        snprintf(label, sizeof label, "%s grad_weight, call %d", name, call);
        cuda_close(label, gw, d_gw, LINEAR_TOL);
        snprintf(label, sizeof label, "%s grad_bias, call %d", name, call);
        cuda_close(label, gb, d_gb, LINEAR_TOL);
    }
    /* NULL gradients: grad_bias alone, then grad_in alone over garbage */
    CHECK_OK(ss_linear_backward(NULL, NULL, gb, grad_out, in, weight));
    CHECK_OK(ss_linear_backward(NULL, NULL, d_gb, d_grad_out, d_in, d_weight));
    snprintf(label, sizeof label, "%s grad_bias alone, 3rd call", name);
    cuda_close(label, gb, d_gb, LINEAR_TOL);
    CHECK_OK(ss_tensor_fill(d_gi, 1e3f));
    CHECK_OK(ss_linear_backward(d_gi, NULL, NULL, d_grad_out, d_in, d_weight));
    snprintf(label, sizeof label, "%s grad_in alone", name);
    cuda_close(label, gi, d_gi, LINEAR_TOL);

    ss_tensor *all[18] = {in,   weight,   bias,   grad_out,   out,   gi,   gw,   gb,   d_in,
                          d_weight, d_bias, d_grad_out, d_out, d_gi, d_gw, d_gb, NULL, NULL};
    free_all(all, 18);
}

static void test_linear(void)
{
    const int64_t a[2] = {64, 128}, b[3] = {2, 16, 96}, c[2] = {4, 512};
    linear_case(2, a, 512, 1); /* the time-embedding MLP */
    linear_case(3, b, 48, 0);  /* leading dimensions, no bias */
    linear_case(2, c, 64, 1);
}

/* ------------------------------------------------------------ GroupNorm */

static void groupnorm_case(int64_t n, int64_t c, int64_t h, int64_t w, int groups, int affine)
{
    const int64_t sx[4] = {n, c, h, w}, sc[1] = {c}, ss[1] = {2 * n * groups};
    char name[96], label[160];
    snprintf(name, sizeof name, "groupnorm (%lld,%lld,%lld,%lld) g%d%s", (long long)n, (long long)c, (long long)h,
             (long long)w, groups, affine ? "" : " no affine");
    ss_tensor *x = randn(4, sx, 3, 2), *weight = affine ? randn(1, sc, 1, 0.5f) : NULL;
    ss_tensor *bias = affine ? randn(1, sc, 0, 1) : NULL, *grad_out = randn(4, sx, 0, 1);
    ss_tensor *out = cpu_zeros(4, sx), *stats = cpu_zeros(1, ss), *gi = cpu_zeros(4, sx);
    ss_tensor *gw = cpu_zeros(1, sc), *gb = cpu_zeros(1, sc);
    ss_tensor *d_x = cuda_copy(x), *d_weight = weight ? cuda_copy(weight) : NULL;
    ss_tensor *d_bias = bias ? cuda_copy(bias) : NULL;
    ss_tensor *d_grad_out = cuda_copy(grad_out), *d_out = gpu_garbage(out), *d_stats = gpu_garbage(stats);
    ss_tensor *d_gi = gpu_garbage(gi), *d_gw = gpu_zeros(1, sc), *d_gb = gpu_zeros(1, sc);

    CHECK_OK(ss_groupnorm_forward(out, stats, x, weight, bias, groups, 1e-5));
    CHECK_OK(ss_groupnorm_forward(d_out, d_stats, d_x, d_weight, d_bias, groups, 1e-5));
    snprintf(label, sizeof label, "%s forward", name);
    cuda_close(label, out, d_out, GN_FORWARD_TOL);
    snprintf(label, sizeof label, "%s stats (mean, rstd)", name);
    cuda_close(label, stats, d_stats, GN_FORWARD_TOL);
    /* the backward from each side's own stats, as in training */
    for (int call = 1; call <= 2; call++) {
        CHECK_OK(ss_groupnorm_backward(gi, gw, gb, grad_out, x, weight, stats, groups));
        CHECK_OK(ss_groupnorm_backward(d_gi, d_gw, d_gb, d_grad_out, d_x, d_weight, d_stats, groups));
        snprintf(label, sizeof label, "%s grad_in, call %d", name, call);
        cuda_close(label, gi, d_gi, GN_BACKWARD_TOL);
        snprintf(label, sizeof label, "%s grad_weight, call %d", name, call);
        cuda_close(label, gw, d_gw, GN_BACKWARD_TOL);
        snprintf(label, sizeof label, "%s grad_bias, call %d", name, call);
        cuda_close(label, gb, d_gb, GN_BACKWARD_TOL);
    }
    /* NULL gradients: grad_weight alone, grad_in alone over garbage */
    CHECK_OK(ss_groupnorm_backward(NULL, gw, NULL, grad_out, x, weight, stats, groups));
    CHECK_OK(ss_groupnorm_backward(NULL, d_gw, NULL, d_grad_out, d_x, d_weight, d_stats, groups));
    snprintf(label, sizeof label, "%s grad_weight alone, 3rd call", name);
    cuda_close(label, gw, d_gw, GN_BACKWARD_TOL);
    CHECK_OK(ss_tensor_fill(d_gi, 1e3f));
    CHECK_OK(ss_groupnorm_backward(d_gi, NULL, NULL, d_grad_out, d_x, d_weight, d_stats, groups));
    snprintf(label, sizeof label, "%s grad_in alone", name);
    cuda_close(label, gi, d_gi, GN_BACKWARD_TOL);

    ss_tensor *all[20] = {x,      weight,   bias,   grad_out,   out,   stats,   gi,   gw,   gb,   d_x,
                          d_weight, d_bias, d_grad_out, d_out, d_stats, d_gi, d_gw, d_gb, NULL, NULL};
    free_all(all, 20);
}

static void test_groupnorm(void)
{
    groupnorm_case(4, 64, 16, 16, 32, 1);
    groupnorm_case(4, 64, 32, 32, 32, 1);
    groupnorm_case(2, 96, 8, 8, 32, 0);
    groupnorm_case(3, 32, 5, 7, 8, 1); /* odd plane, 4 channels per group */
}

/* ------------------------------------------------------------ SiLU, resampling, embedding */

static void test_silu(void)
{
    const int64_t s[4] = {4, 64, 32, 32};
    ss_tensor *x = randn(4, s, 0, 4), *g = randn(4, s, 0, 1), *y = cpu_zeros(4, s), *dx = cpu_zeros(4, s);
    /* far tails: σ underflows to 0 below −87 and e^−|x| to 0 */
    x->data[0] = -100.0f, x->data[1] = 100.0f, x->data[2] = 0.0f, x->data[3] = -20.0f;
    ss_tensor *d_x = cuda_copy(x), *d_g = cuda_copy(g), *d_y = gpu_garbage(y), *d_dx = gpu_garbage(dx);
    CHECK_OK(ss_silu_forward(y, x));
    CHECK_OK(ss_silu_forward(d_y, d_x));
    cuda_close("silu forward", y, d_y, SILU_FORWARD_TOL);
    CHECK_OK(ss_silu_backward(dx, g, x));
    CHECK_OK(ss_silu_backward(d_dx, d_g, d_x));
    cuda_close("silu backward", dx, d_dx, SILU_BACKWARD_TOL);
    ss_tensor *all[8] = {x, g, y, dx, d_x, d_g, d_y, d_dx};
    free_all(all, 8);
}

/* upsample2 and its backward at (n,c,h,w). */
static void upsample_case(int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t ss[4] = {n, c, h, w}, su[4] = {n, c, 2 * h, 2 * w};
    char label[160];
    ss_tensor *x = randn(4, ss, 0, 1), *gu = randn(4, su, 0, 1), *up = cpu_zeros(4, su), *gx = cpu_zeros(4, ss);
    ss_tensor *d_x = cuda_copy(x), *d_gu = cuda_copy(gu), *d_up = gpu_garbage(up), *d_gx = gpu_garbage(gx);
    CHECK_OK(ss_upsample2_forward(up, x));
    CHECK_OK(ss_upsample2_forward(d_up, d_x));
    snprintf(label, sizeof label, "upsample2 forward %lldx%lld", (long long)h, (long long)w);
    cuda_close(label, up, d_up, EXACT);
    CHECK_OK(ss_upsample2_backward(gx, gu));
    CHECK_OK(ss_upsample2_backward(d_gx, d_gu));
    snprintf(label, sizeof label, "upsample2 backward %lldx%lld", (long long)h, (long long)w);
    cuda_close(label, gx, d_gx, EXACT);
    ss_tensor *all[8] = {x, gu, up, gx, d_x, d_gu, d_up, d_gx};
    free_all(all, 8);
}

/* A pooling window: kernel, strides, paddings (h, w), the average's count_include_pad. */
typedef struct pool_case {
    int64_t n, c, h, w;
    int kh, kw, sh, sw, ph, pw, include_pad;
} pool_case;

/* Max and average pooling of one case forward and backward (grad_in over garbage), CPU vs cuda. */
static void pool_on_gpu(const pool_case *p)
{
    const int64_t ho = (p->h + 2 * p->ph - p->kh) / p->sh + 1, wo = (p->w + 2 * p->pw - p->kw) / p->sw + 1;
    const int64_t si[4] = {p->n, p->c, p->h, p->w}, so[4] = {p->n, p->c, ho, wo};
    char name[128], label[192];
    snprintf(name, sizeof name, "%dx%d s(%d,%d) p(%d,%d) on (%lld,%lld,%lld,%lld)", p->kh, p->kw, p->sh, p->sw, p->ph,
             p->pw, (long long)p->n, (long long)p->c, (long long)p->h, (long long)p->w);
    ss_tensor *x = randn(4, si, 0, 1), *g = randn(4, so, 0, 1), *y = cpu_zeros(4, so), *gx = cpu_zeros(4, si);
    /* a few equal values: ties must go to the same position on both sides */
    for (int64_t i = 0; i + 7 < ss_tensor_numel(x); i += 7) x->data[i + 1] = x->data[i];
    ss_tensor *d_x = cuda_copy(x), *d_g = cuda_copy(g), *d_y = gpu_garbage(y), *d_gx = gpu_garbage(gx);
    for (int max = 0; max < 2; max++) {
        const char *kind = max ? "maxpool" : (p->include_pad ? "avgpool (pad counted)" : "avgpool (pad excluded)");
        if (max) {
            CHECK_OK(ss_maxpool2d_forward(y, x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw));
            CHECK_OK(ss_maxpool2d_forward(d_y, d_x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw));
        } else {
            CHECK_OK(ss_avgpool2d_forward(y, x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->include_pad));
            CHECK_OK(ss_avgpool2d_forward(d_y, d_x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->include_pad));
        }
        snprintf(label, sizeof label, "%s %s forward", kind, name);
        cuda_close(label, y, d_y, EXACT);
        CHECK_OK(ss_tensor_fill(d_gx, 1e3f));
        if (max) {
            CHECK_OK(ss_maxpool2d_backward(gx, g, x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw));
            CHECK_OK(ss_maxpool2d_backward(d_gx, d_g, d_x, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw));
        } else {
            CHECK_OK(ss_avgpool2d_backward(gx, g, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->include_pad));
            CHECK_OK(ss_avgpool2d_backward(d_gx, d_g, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->include_pad));
        }
        snprintf(label, sizeof label, "%s %s backward", kind, name);
        cuda_close(label, gx, d_gx, EXACT);
    }
    ss_tensor *all[8] = {x, g, y, gx, d_x, d_g, d_y, d_gx};
    free_all(all, 8);
}

/* The global average pool (N,C,H,W) -> (N,C) and its backward. */
static void global_case(int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t si[4] = {n, c, h, w}, so[2] = {n, c};
    char label[128];
    ss_tensor *x = randn(4, si, 0, 1), *g = randn(2, so, 0, 1), *y = cpu_zeros(2, so), *gx = cpu_zeros(4, si);
    ss_tensor *d_x = cuda_copy(x), *d_g = cuda_copy(g), *d_y = gpu_garbage(y), *d_gx = gpu_garbage(gx);
    CHECK_OK(ss_global_avgpool_forward(y, x));
    CHECK_OK(ss_global_avgpool_forward(d_y, d_x));
    snprintf(label, sizeof label, "global avgpool forward (%lld,%lld,%lld,%lld)", (long long)n, (long long)c,
             (long long)h, (long long)w);
    cuda_close(label, y, d_y, GLOBAL_POOL_TOL);
    CHECK_OK(ss_global_avgpool_backward(gx, g));
    CHECK_OK(ss_global_avgpool_backward(d_gx, d_g));
    snprintf(label, sizeof label, "global avgpool backward (%lld,%lld,%lld,%lld)", (long long)n, (long long)c,
             (long long)h, (long long)w);
    cuda_close(label, gx, d_gx, EXACT);
    ss_tensor *all[8] = {x, g, y, gx, d_x, d_g, d_y, d_gx};
    free_all(all, 8);
}

static void test_pool_resample(void)
{
    static const pool_case pools[] = {
        {4, 64, 32, 32, 2, 2, 2, 2, 0, 0, 1}, /* the UNet's 2x2 */
        {2, 8, 33, 31, 2, 2, 2, 2, 0, 0, 1},  /* odd: the last row and column are dropped */
        {2, 32, 37, 37, 3, 3, 2, 2, 0, 0, 1}, /* Inception's stem max pool */
        {2, 32, 17, 17, 3, 3, 1, 1, 1, 1, 0}, /* Inception's pools in the blocks (average: pad excluded) */
        {2, 32, 17, 17, 3, 3, 1, 1, 1, 1, 1},
        {2, 4, 9, 11, 3, 2, 2, 1, 1, 0, 0},   /* rectangular, one-axis stride and padding */
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) pool_on_gpu(&pools[i]);
    global_case(4, 2048, 8, 8); /* Inception's pool3 */
    global_case(3, 5, 7, 6);
    upsample_case(4, 64, 16, 16);
    upsample_case(2, 8, 16, 15);
}

static void test_relu(void)
{
    const int64_t s[4] = {4, 64, 17, 17};
    ss_tensor *x = randn(4, s, 0, 1), *g = randn(4, s, 0, 1), *y = cpu_zeros(4, s), *dx = cpu_zeros(4, s);
    x->data[0] = NAN, x->data[1] = 0.0f;
    ss_tensor *d_x = cuda_copy(x), *d_g = cuda_copy(g), *d_y = gpu_garbage(y), *d_dx = gpu_garbage(dx);
    CHECK_OK(ss_relu_forward(y, x));
    CHECK_OK(ss_relu_forward(d_y, d_x));
    /* the NaN kept on both sides, then compared as 0 (cuda_close counts NaN as a difference) */
    ss_tensor *back = need(ss_tensor_to(d_y, SS_CPU), "a copy back");
    CHECK(isnan(y->data[0]) && isnan(back->data[0]), "relu of NaN: cpu %g, cuda %g", y->data[0], back->data[0]);
    y->data[0] = back->data[0] = 0.0f;
    test_close("relu forward", y->data, back->data, (long)ss_tensor_numel(y), EXACT);
    CHECK_OK(ss_relu_backward(dx, g, x));
    CHECK_OK(ss_relu_backward(d_dx, d_g, d_x));
    cuda_close("relu backward (0 at NaN and 0)", dx, d_dx, EXACT);
    ss_tensor *all[9] = {x, g, y, dx, d_x, d_g, d_y, d_dx, back};
    free_all(all, 9);
}

static void embedding_case(int64_t n, int64_t dim)
{
    const int64_t st[1] = {n}, so[2] = {n, dim};
    char label[96];
    ss_tensor *t = cpu_zeros(1, st), *out = cpu_zeros(2, so);
    CHECK_OK(ss_rng_uniform(&rng, t, 0.0f, 1000.0f));
    t->data[0] = 0.0f, t->data[n - 1] = 999.0f;
    ss_tensor *d_t = cuda_copy(t), *d_out = gpu_garbage(out);
    CHECK_OK(ss_timestep_embedding(out, t, 10000.0));
    CHECK_OK(ss_timestep_embedding(d_out, d_t, 10000.0));
    snprintf(label, sizeof label, "timestep embedding (%lld,%lld)", (long long)n, (long long)dim);
    cuda_close(label, out, d_out, EMBED_TOL);
    ss_tensor *all[4] = {t, out, d_t, d_out};
    free_all(all, 4);
}

static void test_embedding(void)
{
    embedding_case(64, 128);
    embedding_case(5, 33); /* odd dim: a zero last column */
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
    const int64_t si[4] = {2, 4, 8, 8}, sw[4] = {6, 4, 3, 3}, so[4] = {2, 6, 8, 8}, sc[1] = {4}, ss[1] = {2 * 2 * 2};
    ss_tensor *in = cpu_zeros(4, si), *d_in = gpu_zeros(4, si), *d_w = gpu_zeros(4, sw), *d_out = gpu_zeros(4, so);
    ss_tensor *d_small = gpu_zeros(4, si), *d_c = gpu_zeros(1, sc), *d_stats = gpu_zeros(1, ss);
    CHECK_FAILS(ss_conv2d_forward(d_out, in, d_w, NULL, 1, 1, 1, 1, NULL), "different devices");
    CHECK_FAILS(ss_conv2d_backward(d_in, NULL, NULL, d_out, in, d_w, 1, 1, 1, 1, NULL), "different devices");
    CHECK_FAILS(ss_conv2d_forward(d_out, d_in, d_w, NULL, 2, 2, 1, 1, NULL), "expected"); /* out has the stride-1 shape */
    CHECK_FAILS(ss_silu_forward(d_in, in), "different devices");
    CHECK_FAILS(ss_groupnorm_forward(d_in, d_stats, in, d_c, NULL, 2, 1e-5), "different devices");
    CHECK_FAILS(ss_groupnorm_forward(in, d_stats, d_in, d_c, NULL, 2, 1e-5), "different devices"); /* out */
    CHECK_FAILS(ss_groupnorm_backward(d_small, NULL, NULL, in, d_in, d_c, d_stats, 2), "different devices");
    CHECK_FAILS(ss_groupnorm_forward(d_small, d_stats, d_in, d_c, NULL, 3, 1e-5), "groups");
    CHECK_FAILS(ss_avgpool2d_forward(d_small, d_in, 2, 2, 2, 2, 0, 0, 1), "expected (2,4,4,4)");
    CHECK_FAILS(ss_maxpool2d_forward(d_small, in, 3, 3, 1, 1, 1, 1), "different devices");
    setenv("SS_CUDA_CONV", "cudnnn", 1);
    CHECK_FAILS(ss_conv2d_forward(d_out, d_in, d_w, NULL, 1, 1, 1, 1, NULL), "SS_CUDA_CONV");
    conv_env(NULL, NULL);
    CHECK_OK(ss_cuda_synchronize()); /* nothing queued failed */
    ss_tensor *all[7] = {in, d_in, d_w, d_out, d_small, d_c, d_stats};
    free_all(all, 7);
}

int main(void)
{
    if (test_seed("test_cuda_nn", &seed, &rng)) return 2;
    cuda_skip_unless_device("test_cuda_nn", "conv2d (cuDNN and cuBLAS paths, FP32 and TF32), linear, GroupNorm, "
                                            "SiLU, ReLU, max/average/global pooling, upsample2, timestep embedding: "
                                            "forward, backward, +=");
    test_conv2d();
    test_linear();
    test_groupnorm();
    test_silu();
    test_relu();
    test_pool_resample();
    test_embedding();
    test_errors();
    return test_summary("test_cuda_nn");
}
