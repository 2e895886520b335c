/* test_cuda_tensor.c — the core tensor ops on CUDA against the CPU: the binary ops
 * with broadcasting (and their NaN rules), the same-shape and unary maps, the
 * reductions and dot products, bmm with every transpose, the RNG stream, tensor.c's
 * finite check, and the shape ops of shape.c: index_select, crop, flip_w_where,
 * cat/split, permute, narrow, flip, roll, pad, reduce_dim and where.
 *
 * Tolerances (cuda_close: max |cpu - gpu| / max(1, max |cpu|)):
 *  - 0 where both sides round the same correctly-rounded operations: + - * /,
 *    max/min, clamp, sqrt, abs, neg, square, floor, round, every copy and gather
 *    (shape ops, pad, where), and reduce_dim over a dimension with inner size > 1
 *    (one thread per output sums in the cpu's order);
 *  - 1e-6 for axpby/affine (either side may fuse a*x + b into one fma: a rounding
 *    of the O(1) terms) and for expf, logf, sinf, cosf, tanhf, sigmoid (CUDA's are
 *    within 2 ulp, glibc's within 1: a few 1.2e-7 of the value);
 *  - 2e-6 for powf (CUDA's is within 4 ulp);
 *  - 1e-9 relative for the double reductions: both sides sum in double in
 *    different orders; for n = 3e6 terms of |x| <= 1.5 with a positive mean the
 *    worst-case bound n * 2^-53 * sum|x| / |sum x| is about 5e-10; min and max are exact;
 *  - 1e-6 for the per-sample variants and reduce_dim over the last dimension (it
 *    runs them; the doubles rounded to float may land on either side of a float
 *    rounding boundary: 6e-8 relative);
 *  - 1e-5 for bmm (k = 37 products in FP32, no TF32: k * 2^-24 ~ 2.2e-6 of the
 *    scale of the terms);
 *  - RNG: uniform and bernoulli bit for bit; normal bit for bit except at most a
 *    handful of values one float ulp apart (CUDA's double log/cos/sin may differ
 *    from glibc's by an ulp of double); generator offsets equal after every draw.
 * The seed is printed; SS_TEST_SEED=<n> reruns with another one. */
#include "cuda_check.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

static uint64_t seed = 20251122u;
static ss_rng rng;

#define EXACT 0.0
#define MAP_TOL 1e-6
#define LIBM_TOL 1e-6
#define POW_TOL 2e-6
#define RED_TOL 1e-9
#define PER_SAMPLE_TOL 1e-6
#define BMM_TOL 1e-5

/* A cpu tensor of U[lo, hi) values. */
static ss_tensor *rand_t(int nd, const int64_t *shape, float lo, float hi)
{
    ss_tensor *t = cpu_empty(nd, shape);
    CHECK_OK(ss_rng_uniform(&rng, t, lo, hi));
    return t;
}

static void free_all(ss_tensor **ts, int n)
{
    for (int i = 0; i < n; i++) ss_tensor_free(ts[i]);
}

/* |cpu - gpu| / max(1, |cpu|) against tol; NaN must be on both sides. */
static void close_scalar(const char *label, double cpu, double gpu, double tol)
{
    double d = cpu == gpu || (isnan(cpu) && isnan(gpu)) ? 0
               : isnan(cpu) || isnan(gpu)              ? INFINITY
                                                       : fabs(cpu - gpu) / fmax(1.0, fabs(cpu));
    printf("  cuda %-44s |diff|/scale = %.3g (tol %.1g)\n", label, d, tol);
    CHECK(d <= tol, "%s: cpu %.17g vs cuda %.17g", label, cpu, gpu);
}

/* ------------------------------------------------------------ binary ops */

typedef int (*bin_fn)(ss_tensor *, const ss_tensor *, const ss_tensor *);
static const struct {
    const char *name;
    bin_fn fn;
    double tol;
} bins[] = {{"add", ss_add, EXACT}, {"sub", ss_sub, EXACT},          {"mul", ss_mul, EXACT},
            {"div", ss_div, EXACT}, {"pow", ss_pow, POW_TOL},        {"maximum", ss_maximum, EXACT},
            {"minimum", ss_minimum, EXACT}};
#define NBINS (int)(sizeof bins / sizeof bins[0])

/* Every binary op on a (na dims) against b (nb dims) into the broadcast shape o. */
static void binary_case(const char *what, int na, const int64_t *sa, int nb, const int64_t *sb, int no,
                        const int64_t *so)
{
    /* Positive operands keep pow real and div finite; the ranges overlap for max/min. */
    ss_tensor *a = rand_t(na, sa, 0.5f, 2.0f), *b = rand_t(nb, sb, 0.25f, 2.0f);
    ss_tensor *ga = cuda_copy(a), *gb = cuda_copy(b), *out = cpu_empty(no, so), *gout = gpu_empty(no, so);
    for (int k = 0; k < NBINS; k++) {
        char label[96];
        snprintf(label, sizeof label, "%s %s", bins[k].name, what);
        CHECK_OK(bins[k].fn(out, a, b));
        CHECK_OK(bins[k].fn(gout, ga, gb));
        cuda_close(label, out, gout, bins[k].tol);
    }
    ss_tensor *ts[] = {a, b, ga, gb, out, gout};
    free_all(ts, 6);
}

static void test_binary(void)
{
    printf("binary ops with broadcasting\n");
    binary_case("same shape (2,3,4,5)", 4, (int64_t[]){2, 3, 4, 5}, 4, (int64_t[]){2, 3, 4, 5}, 4,
                (int64_t[]){2, 3, 4, 5});
    binary_case("(4,1,1,1) by (4,3,8,8)", 4, (int64_t[]){4, 1, 1, 1}, 4, (int64_t[]){4, 3, 8, 8}, 4,
                (int64_t[]){4, 3, 8, 8});
    binary_case("(4,3,8,8) by (4,1,1,1)", 4, (int64_t[]){4, 3, 8, 8}, 4, (int64_t[]){4, 1, 1, 1}, 4,
                (int64_t[]){4, 3, 8, 8});
    binary_case("(4,3,8,8) by scalar (1)", 4, (int64_t[]){4, 3, 8, 8}, 1, (int64_t[]){1}, 4, (int64_t[]){4, 3, 8, 8});
    binary_case("scalar (1) by (4,3,8,8)", 1, (int64_t[]){1}, 4, (int64_t[]){4, 3, 8, 8}, 4, (int64_t[]){4, 3, 8, 8});
    binary_case("(4,3,8,8) by channel (1,3,1,1)", 4, (int64_t[]){4, 3, 8, 8}, 4, (int64_t[]){1, 3, 1, 1}, 4,
                (int64_t[]){4, 3, 8, 8});
    binary_case("(4,3,8,8) by rows (8,1)", 4, (int64_t[]){4, 3, 8, 8}, 2, (int64_t[]){8, 1}, 4,
                (int64_t[]){4, 3, 8, 8});
    binary_case("(4,1,8) by (1,3,1), both broadcast", 3, (int64_t[]){4, 1, 8}, 3, (int64_t[]){1, 3, 1}, 3,
                (int64_t[]){4, 3, 8});
    binary_case("(100003) long rows", 1, (int64_t[]){100003}, 1, (int64_t[]){100003}, 1, (int64_t[]){100003});

    /* NaN in either operand (and in both) comes out of every op, max/min included. */
    int64_t s[1] = {64};
    ss_tensor *a = rand_t(1, s, -1.0f, 1.0f), *b = rand_t(1, s, -1.0f, 1.0f), *out = cpu_empty(1, s);
    a->data[3] = a->data[40] = NAN;
    b->data[17] = b->data[40] = NAN;
    ss_tensor *ga = cuda_copy(a), *gb = cuda_copy(b), *gout = gpu_empty(1, s);
    for (int k = 0; k < NBINS; k++) {
        if (bins[k].fn == ss_pow) continue; /* pow(x, NaN) and pow(1, NaN) are libm matters */
        char label[96];
        snprintf(label, sizeof label, "%s with NaN operands", bins[k].name);
        CHECK_OK(bins[k].fn(out, a, b));
        CHECK(isnan(out->data[3]) && isnan(out->data[17]) && isnan(out->data[40]), "cpu %s drops a NaN", bins[k].name);
        CHECK_OK(bins[k].fn(gout, ga, gb));
        cuda_close(label, out, gout, EXACT);
    }

    /* out aliasing an operand: same shape, and the full operand of a broadcast. */
    int64_t sf[4] = {4, 3, 8, 8}, sp[4] = {4, 1, 1, 1};
    ss_tensor *x = rand_t(4, sf, -1.0f, 1.0f), *y = rand_t(4, sp, -1.0f, 1.0f), *z = rand_t(4, sf, -1.0f, 1.0f);
    ss_tensor *gx = cuda_copy(x), *gy = cuda_copy(y), *gz = cuda_copy(z);
    CHECK_OK(ss_mul(x, x, y));
    CHECK_OK(ss_mul(gx, gx, gy));
    cuda_close("mul out == a, b per-sample", x, gx, EXACT);
    CHECK_OK(ss_sub(x, z, x));
    CHECK_OK(ss_sub(gx, gz, gx));
    cuda_close("sub out == b", x, gx, EXACT);
    ss_tensor *ts[] = {a, b, out, ga, gb, gout, x, y, z, gx, gy, gz};
    free_all(ts, 12);
}

/* ------------------------------------------------------------ maps */

static void test_maps(void)
{
    printf("same-shape maps\n");
    int64_t s[4] = {3, 5, 7, 11};
    ss_tensor *x = rand_t(4, s, -3.0f, 3.0f), *y = rand_t(4, s, -3.0f, 3.0f), *pos = rand_t(4, s, 0.25f, 4.0f);
    x->data[5] = NAN; /* clamp passes NaN through */
    ss_tensor *gx = cuda_copy(x), *gy = cuda_copy(y), *gpos = cuda_copy(pos);
    ss_tensor *out = cpu_empty(4, s), *gout = gpu_empty(4, s);

    CHECK_OK(ss_axpby(out, 0.7f, x, -1.3f, y));
    CHECK_OK(ss_axpby(gout, 0.7f, gx, -1.3f, gy));
    cuda_close("axpby", out, gout, MAP_TOL);
    CHECK_OK(ss_affine(out, x, 2.5f, -0.75f));
    CHECK_OK(ss_affine(gout, gx, 2.5f, -0.75f));
    cuda_close("affine", out, gout, MAP_TOL);
    CHECK_OK(ss_clamp(out, x, -1.0f, 1.5f));
    CHECK_OK(ss_clamp(gout, gx, -1.0f, 1.5f));
    cuda_close("clamp [-1, 1.5] with a NaN", out, gout, EXACT);
    const float exps[4] = {3.0f, 2.0f, 0.5f, -1.5f};
    for (int k = 0; k < 4; k++) {
        char label[64];
        snprintf(label, sizeof label, "pow_scalar x^%g", exps[k]);
        CHECK_OK(ss_pow_scalar(out, pos, exps[k]));
        CHECK_OK(ss_pow_scalar(gout, gpos, exps[k]));
        cuda_close(label, out, gout, exps[k] == 2.0f || exps[k] == 0.5f ? EXACT : POW_TOL);
    }
    CHECK_OK(ss_rdiv_scalar(out, 3.0f, pos));
    CHECK_OK(ss_rdiv_scalar(gout, 3.0f, gpos));
    cuda_close("rdiv_scalar 3 / x", out, gout, EXACT);

    /* out == x */
    CHECK_OK(ss_axpby(y, 0.5f, y, 2.0f, pos));
    CHECK_OK(ss_axpby(gy, 0.5f, gy, 2.0f, gpos));
    cuda_close("axpby out == x", y, gy, MAP_TOL);
    CHECK_OK(ss_affine(pos, pos, -1.0f, 0.25f));
    CHECK_OK(ss_affine(gpos, gpos, -1.0f, 0.25f));
    cuda_close("affine out == x", pos, gpos, MAP_TOL);
    ss_tensor *ts[] = {x, y, pos, gx, gy, gpos, out, gout};
    free_all(ts, 8);
}

static void test_unary(void)
{
    printf("unary maps\n");
    static const char *names[] = {"exp", "log", "sqrt", "abs", "neg", "square", "sin", "cos", "tanh", "sigmoid",
                                  "floor", "round"};
    int64_t s[1] = {20011};
    for (int op = SS_EXP; op <= SS_ROUND; op++) {
        int positive = op == SS_LOG || op == SS_SQRT, halves = op == SS_FLOOR || op == SS_ROUND;
        ss_tensor *x = rand_t(1, s, positive ? 0.01f : -6.0f, positive ? 10.0f : 6.0f);
        if (halves) /* exact halves: round goes to even on both */
            for (int64_t i = 0; i < s[0]; i++) x->data[i] = (float)(i - s[0] / 2) * 0.25f;
        /* NaN, and signed zeros where the result stays finite (cuda_close scales by the largest value). */
        x->data[0] = NAN;
        if (op != SS_LOG) x->data[1] = 0.0f, x->data[2] = -0.0f;
        ss_tensor *gx = cuda_copy(x), *out = cpu_empty(1, s), *gout = gpu_empty(1, s);
        int exact = op == SS_SQRT || op == SS_ABS || op == SS_NEG || op == SS_SQUARE || halves;
        char label[64];
        snprintf(label, sizeof label, "unary %s", names[op]);
        CHECK_OK(ss_unary(out, x, op));
        CHECK_OK(ss_unary(gout, gx, op));
        cuda_close(label, out, gout, exact ? EXACT : LIBM_TOL);
        snprintf(label, sizeof label, "unary %s in place (out == x)", names[op]);
        CHECK_OK(ss_unary(x, x, op));
        CHECK_OK(ss_unary(gx, gx, op));
        cuda_close(label, x, gx, exact ? EXACT : LIBM_TOL);
        ss_tensor *ts[] = {x, gx, out, gout};
        free_all(ts, 4);
    }
}

/* ------------------------------------------------------------ reductions */

static const char *red_names[] = {"sum", "mean", "var", "var_unbiased", "min", "max", "norm", "sumsq"};

static void reduce_all(const char *what, const ss_tensor *x, const ss_tensor *gx)
{
    for (int op = SS_RED_SUM; op <= SS_RED_SUMSQ; op++) {
        double c = 0, g = 0;
        char label[96];
        snprintf(label, sizeof label, "reduce %s %s", red_names[op], what);
        CHECK_OK(ss_reduce(&c, x, op));
        CHECK_OK(ss_reduce(&g, gx, op));
        close_scalar(label, c, g, op == SS_RED_MIN || op == SS_RED_MAX ? EXACT : RED_TOL);
    }
}

static void per_sample_all(const char *what, int nd, const int64_t *shape)
{
    ss_tensor *x = rand_t(nd, shape, -0.5f, 1.5f), *y = rand_t(nd, shape, -0.5f, 1.5f);
    ss_tensor *gx = cuda_copy(x), *gy = cuda_copy(y);
    ss_tensor *out = cpu_empty(1, shape), *gout = gpu_empty(1, shape);
    char label[96];
    for (int op = SS_RED_SUM; op <= SS_RED_SUMSQ; op++) {
        snprintf(label, sizeof label, "per-sample %s %s", red_names[op], what);
        CHECK_OK(ss_reduce_per_sample(out, x, op));
        CHECK_OK(ss_reduce_per_sample(gout, gx, op));
        cuda_close(label, out, gout, PER_SAMPLE_TOL);
    }
    snprintf(label, sizeof label, "dot_per_sample %s", what);
    CHECK_OK(ss_dot_per_sample(out, x, y));
    CHECK_OK(ss_dot_per_sample(gout, gx, gy));
    cuda_close(label, out, gout, PER_SAMPLE_TOL);
    ss_tensor *ts[] = {x, y, gx, gy, out, gout};
    free_all(ts, 6);
}

static void test_reductions(void)
{
    printf("reductions and dot products\n");
    /* U[-0.5, 1.5): a positive mean, so sums do not cancel (see RED_TOL). */
    const int64_t sizes[3] = {1, 1000, 3000000};
    for (int k = 0; k < 3; k++) {
        int64_t s[1] = {sizes[k]};
        ss_tensor *x = rand_t(1, s, -0.5f, 1.5f), *y = rand_t(1, s, -0.5f, 1.5f);
        ss_tensor *gx = cuda_copy(x), *gy = cuda_copy(y);
        char what[64], label[96];
        snprintf(what, sizeof what, "n = %lld", (long long)sizes[k]);
        reduce_all(what, x, gx);
        double c = 0, g = 0;
        snprintf(label, sizeof label, "dot %s", what);
        CHECK_OK(ss_dot(&c, x, y));
        CHECK_OK(ss_dot(&g, gx, gy));
        close_scalar(label, c, g, RED_TOL);
        ss_tensor *ts[] = {x, y, gx, gy};
        free_all(ts, 4);
    }

    /* A NaN makes min and max (and the sums) NaN. */
    int64_t s[2] = {10, 100};
    ss_tensor *x = rand_t(2, s, -0.5f, 1.5f);
    x->data[777] = NAN;
    ss_tensor *gx = cuda_copy(x);
    double c = 0, g = 0;
    CHECK_OK(ss_reduce(&g, gx, SS_RED_MIN));
    CHECK(isnan(g), "cuda min over a NaN gave %g", g);
    CHECK_OK(ss_reduce(&g, gx, SS_RED_MAX));
    CHECK(isnan(g), "cuda max over a NaN gave %g", g);
    reduce_all("with a NaN", x, gx);
    ss_tensor *out = cpu_empty(1, s), *gout = gpu_empty(1, s);
    CHECK_OK(ss_reduce_per_sample(out, x, SS_RED_MAX));
    CHECK_OK(ss_reduce_per_sample(gout, gx, SS_RED_MAX));
    cuda_close("per-sample max, NaN in sample 7", out, gout, EXACT);

    /* A view that starts inside its storage (narrow). */
    x->data[777] = 0.25f;
    ss_tensor *gx2 = cuda_copy(x), *v = need(ss_tensor_narrow(x, 3, 5), "a view"),
              *gv = need(ss_tensor_narrow(gx2, 3, 5), "a cuda view");
    reduce_all("rows 3..7 (a narrowed view)", v, gv);
    CHECK_OK(ss_dot(&c, v, v));
    CHECK_OK(ss_dot(&g, gv, gv));
    close_scalar("dot of a narrowed view", c, g, RED_TOL);
    ss_tensor *ts[] = {x, gx, out, gout, gx2, v, gv};
    free_all(ts, 7);

    per_sample_all("(5,3,40,50)", 4, (int64_t[]){5, 3, 40, 50});
    per_sample_all("(7,20000), 5 chunks a row", 2, (int64_t[]){7, 20000});
    per_sample_all("(3000,1), one element a row", 2, (int64_t[]){3000, 1});
}

/* ------------------------------------------------------------ bmm */

static void bmm_case(const char *what, int nd, int64_t ba, int64_t bb, int64_t bo, int ta, int tb, float alpha,
                     float beta)
{
    const int64_t m = 5, k = 37, n = 7;
    /* nd = 3: (batch, rows, cols); nd = 4: batch bo split as (2, bo/2) for every operand. */
    int64_t sa[4], sb[4], so[4];
    int d = nd - 2;
    sa[d] = ta ? k : m, sa[d + 1] = ta ? m : k;
    sb[d] = tb ? n : k, sb[d + 1] = tb ? k : n;
    so[d] = m, so[d + 1] = n;
    if (nd == 3) sa[0] = ba, sb[0] = bb, so[0] = bo;
    else sa[0] = sb[0] = so[0] = 2, sa[1] = ba / 2, sb[1] = bb / 2, so[1] = bo / 2;
    ss_tensor *a = rand_t(nd, sa, -1.0f, 1.0f), *b = rand_t(nd, sb, -1.0f, 1.0f), *out = rand_t(nd, so, -1.0f, 1.0f);
    ss_tensor *ga = cuda_copy(a), *gb = cuda_copy(b), *gout = cuda_copy(out);
    char label[96];
    snprintf(label, sizeof label, "bmm %s%s %s", ta ? "a^T" : "a", tb ? " b^T" : " b", what);
    CHECK_OK(ss_bmm(out, a, b, ta, tb, alpha, beta));
    CHECK_OK(ss_bmm(gout, ga, gb, ta, tb, alpha, beta));
    cuda_close(label, out, gout, BMM_TOL);
    ss_tensor *ts[] = {a, b, out, ga, gb, gout};
    free_all(ts, 6);
}

static void test_bmm(void)
{
    printf("bmm (cuBLAS)\n");
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        bmm_case("batch 3, alpha 0.75, beta 0.5", 3, 3, 3, 3, ta, tb, 0.75f, 0.5f);
        bmm_case("a batch 1 (shared)", 3, 1, 3, 3, ta, tb, 1.0f, 0.0f);
        bmm_case("b batch 1 (shared)", 3, 4, 1, 4, ta, tb, -1.0f, 1.0f);
        bmm_case("4-D (2,2,.,.)", 4, 4, 4, 4, ta, tb, 1.0f, 0.0f);
    }
}

/* ------------------------------------------------------------ RNG */

/* Counts the values whose bits differ, and those more than one float ulp apart. */
static void compare_bits(const ss_tensor *cpu, const ss_tensor *gpu, int64_t *differ, int64_t *far)
{
    int64_t n = ss_tensor_numel(cpu);
    float *host = malloc(sizeof(float) * (size_t)n);
    *differ = *far = n;
    if (!host || ss_tensor_read(host, gpu) != SS_OK) {
        CHECK(0, "reading a cuda draw: %s", ss_last_error());
        free(host);
        return;
    }
    *differ = *far = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t a, b;
        memcpy(&a, &cpu->data[i], 4);
        memcpy(&b, &host[i], 4);
        if (a == b) continue;
        (*differ)++;
        if ((a ^ b) < 0 || (a > b ? a - b : b - a) > 1) (*far)++;
    }
    free(host);
}

enum { DRAW_UNIFORM, DRAW_NORMAL, DRAW_BERNOULLI };

/* The same draw from equal generators into a cpu tensor and its cuda twin. */
static void draw_case(const char *what, int kind, float p1, float p2, ss_tensor *cpu, ss_tensor *gpu, uint64_t offset)
{
    ss_rng gc, gg;
    CHECK_OK(ss_rng_init(&gc, seed ^ 0x9e3779b97f4a7c15u));
    gc.offset = offset;
    gg = gc;
    for (int dev = 0; dev < 2; dev++) {
        ss_rng *gen = dev ? &gg : &gc;
        ss_tensor *t = dev ? gpu : cpu;
        if (kind == DRAW_UNIFORM) CHECK_OK(ss_rng_uniform(gen, t, p1, p2));
        if (kind == DRAW_NORMAL) CHECK_OK(ss_rng_normal(gen, t, p1, p2));
        if (kind == DRAW_BERNOULLI) CHECK_OK(ss_rng_bernoulli(gen, t, p1));
    }
    int64_t differ, far, n = ss_tensor_numel(cpu);
    compare_bits(cpu, gpu, &differ, &far);
    /* normal: CUDA's double libm may move a value across a float rounding boundary. */
    int64_t allowed = kind == DRAW_NORMAL ? 8 : 0;
    printf("  cuda rng %-40s %lld of %lld values differ (%lld by more than 1 ulp; allowed %lld within 1 ulp)\n", what,
           (long long)differ, (long long)n, (long long)far, (long long)allowed);
    CHECK(far == 0 && differ <= allowed, "%s: %lld values differ, %lld by more than one ulp", what, (long long)differ,
          (long long)far);
    CHECK(gc.offset == gg.offset && gc.seed == gg.seed, "%s: offsets %llu (cpu) vs %llu (cuda)", what,
          (unsigned long long)gc.offset, (unsigned long long)gg.offset);
}

static void test_rng(void)
{
    printf("RNG stream parity\n");
    const int64_t sizes[5] = {1, 2, 3, 5, (1 << 20) + 3};
    for (int k = 0; k < 5; k++) {
        int64_t s[1] = {sizes[k]};
        ss_tensor *c = cpu_empty(1, s), *g = gpu_empty(1, s);
        char what[96];
        snprintf(what, sizeof what, "uniform[-2,3) n = %lld", (long long)s[0]);
        draw_case(what, DRAW_UNIFORM, -2.0f, 3.0f, c, g, 7);
        snprintf(what, sizeof what, "normal(0.5, 2^2) n = %lld", (long long)s[0]);
        draw_case(what, DRAW_NORMAL, 0.5f, 2.0f, c, g, 11);
        snprintf(what, sizeof what, "bernoulli(0.3) n = %lld", (long long)s[0]);
        draw_case(what, DRAW_BERNOULLI, 0.3f, 0, c, g, 0);
        ss_tensor_free(c), ss_tensor_free(g);
    }
    int64_t s[2] = {1000, 37};
    ss_tensor *c = cpu_empty(2, s), *g = gpu_empty(2, s);
    draw_case("uniform[1, nextafter(1)): only 1", DRAW_UNIFORM, 1.0f, nextafterf(1.0f, 2.0f), c, g, 3);
    draw_case("uniform[-FLT_MAX, FLT_MAX)", DRAW_UNIFORM, -FLT_MAX, FLT_MAX, c, g, 5);
    draw_case("uniform[-1e-3, 1e-3) at offset 2^40", DRAW_UNIFORM, -1e-3f, 1e-3f, c, g, (uint64_t)1 << 40);
    draw_case("normal(-3, 0.1^2) at offset 2^33 + 1", DRAW_NORMAL, -3.0f, 0.1f, c, g, ((uint64_t)1 << 33) + 1);
    draw_case("normal std 0", DRAW_NORMAL, 1.5f, 0.0f, c, g, 9);
    draw_case("bernoulli(0)", DRAW_BERNOULLI, 0.0f, 0, c, g, 1);
    draw_case("bernoulli(1)", DRAW_BERNOULLI, 1.0f, 0, c, g, 2);
    /* Into a view that starts inside its storage. */
    ss_tensor *cv = need(ss_tensor_narrow(c, 3, 501), "a view"), *gv = need(ss_tensor_narrow(g, 3, 501), "a cuda view");
    draw_case("normal into rows 3..503 (a view)", DRAW_NORMAL, 0.0f, 1.0f, cv, gv, 13);
    draw_case("uniform into rows 3..503 (a view)", DRAW_UNIFORM, 0.0f, 1.0f, cv, gv, 17);
    ss_tensor *ts[] = {c, g, cv, gv};
    free_all(ts, 4);
}

/* ------------------------------------------------------------ tensor.c leftovers */

static void test_tensor_ops(void)
{
    printf("finite check, index_select, crop, flip_w_where, cat/split\n");
    /* check_finite: the same message (first bad index, NaN or Inf) as the cpu. */
    int64_t sn[1] = {100000};
    ss_tensor *x = rand_t(1, sn, -1.0f, 1.0f), *gx = cuda_copy(x);
    CHECK_OK(ss_tensor_check_finite(gx, "finite cuda tensor"));
    const struct {
        int64_t at[2];
        float v[2];
    } bad[3] = {{{54321, 60000}, {NAN, -INFINITY}}, {{54321, 60000}, {INFINITY, NAN}}, {{777, 778}, {-INFINITY, 0}}};
    for (int k = 0; k < 3; k++) {
        ss_tensor *y = need(ss_tensor_clone(x), "a clone");
        y->data[bad[k].at[0]] = bad[k].v[0], y->data[bad[k].at[1]] = bad[k].v[1];
        ss_tensor *gy = cuda_copy(y);
        char want[256];
        int rc = ss_tensor_check_finite(y, "the input");
        snprintf(want, sizeof want, "%s", ss_last_error());
        CHECK(rc == SS_ERR_NUMERIC, "cpu check_finite returned %d", rc);
        rc = ss_tensor_check_finite(gy, "the input");
        CHECK(rc == SS_ERR_NUMERIC && strcmp(ss_last_error(), want) == 0, "cuda check_finite: %d \"%s\", cpu \"%s\"",
              rc, ss_last_error(), want);
        printf("  cuda check_finite case %d: %s\n", k + 1, ss_last_error());
        ss_tensor_free(y), ss_tensor_free(gy);
    }
    ss_tensor_free(x), ss_tensor_free(gx);

    /* index_select: 1000 rows with repeats (more than one chunk of indices). */
    int64_t sx[3] = {600, 3, 4}, so[3] = {1000, 3, 4}, idx[1000];
    CHECK_OK(ss_rng_randint(&rng, idx, 1000, 0, 599));
    x = rand_t(3, sx, -1.0f, 1.0f), gx = cuda_copy(x);
    ss_tensor *out = cpu_empty(3, so), *gout = gpu_empty(3, so);
    CHECK_OK(ss_index_select(out, x, idx, 1000));
    CHECK_OK(ss_index_select(gout, gx, idx, 1000));
    cuda_close("index_select 1000 of 600 rows", out, gout, EXACT);
    idx[500] = 600;
    CHECK_FAILS(ss_index_select(gout, gx, idx, 1000), "outside");
    ss_tensor *ts[] = {x, gx, out, gout};
    free_all(ts, 4);

    /* crop: 4-D, 3-D and a full 2-D window. */
    const struct {
        int nd;
        int64_t xs[4], os[4], top, left;
    } crops[3] = {{4, {4, 3, 20, 30}, {4, 3, 7, 11}, 5, 9}, {3, {2, 13, 17}, {2, 5, 1}, 8, 16},
                  {2, {20, 30}, {20, 30}, 0, 0}};
    for (int k = 0; k < 3; k++) {
        ss_tensor *cx = rand_t(crops[k].nd, crops[k].xs, -1.0f, 1.0f), *gcx = cuda_copy(cx);
        ss_tensor *co = cpu_empty(crops[k].nd, crops[k].os), *gco = gpu_empty(crops[k].nd, crops[k].os);
        char label[64];
        snprintf(label, sizeof label, "crop case %d at (%lld,%lld)", k + 1, (long long)crops[k].top,
                 (long long)crops[k].left);
        CHECK_OK(ss_crop(co, cx, crops[k].top, crops[k].left));
        CHECK_OK(ss_crop(gco, gcx, crops[k].top, crops[k].left));
        cuda_close(label, co, gco, EXACT);
        ss_tensor *tc[] = {cx, gcx, co, gco};
        free_all(tc, 4);
    }

    /* flip_w_where: odd and even widths, more flipped samples than one chunk, width 1. */
    const int64_t flips[3][4] = {{600, 2, 5, 7}, {5, 3, 4, 8}, {4, 3, 1, 1}};
    for (int k = 0; k < 3; k++) {
        ss_tensor *fx = rand_t(4, flips[k], -1.0f, 1.0f), *gfx = cuda_copy(fx);
        int64_t sm[1] = {flips[k][0]};
        ss_tensor *mask = cpu_empty(1, sm);
        CHECK_OK(ss_rng_bernoulli(&rng, mask, 0.9f));
        mask->data[0] = 0.0f;
        char label[64];
        snprintf(label, sizeof label, "flip_w_where (%lld,%lld,%lld,%lld)", (long long)flips[k][0],
                 (long long)flips[k][1], (long long)flips[k][2], (long long)flips[k][3]);
        CHECK_OK(ss_flip_w_where(fx, mask->data));
        CHECK_OK(ss_flip_w_where(gfx, mask->data));
        cuda_close(label, fx, gfx, EXACT);
        ss_tensor *tf[] = {fx, gfx, mask};
        free_all(tf, 3);
    }

    /* cat and split along dims 0 and 1, with three parts. */
    for (int dim = 0; dim < 2; dim++) {
        int64_t ps[3][4], ws[4] = {4, 6, 5, 6};
        const int64_t along[3] = {1, 2, 3};
        ss_tensor *parts[3], *gparts[3], *back[3];
        for (int i = 0; i < 3; i++) {
            memcpy(ps[i], ws, sizeof ws);
            ps[i][dim] = along[i];
            parts[i] = rand_t(4, ps[i], -1.0f, 1.0f);
            gparts[i] = cuda_copy(parts[i]);
            back[i] = gpu_empty(4, ps[i]);
        }
        ws[0] = dim == 0 ? 6 : 4;
        ss_tensor *w = cpu_empty(4, ws), *gw = gpu_empty(4, ws);
        char label[64];
        snprintf(label, sizeof label, "cat of 3 parts along dim %d", dim);
        CHECK_OK(ss_cat(w, (const ss_tensor *const *)parts, 3, dim));
        CHECK_OK(ss_cat(gw, (const ss_tensor *const *)gparts, 3, dim));
        cuda_close(label, w, gw, EXACT);
        CHECK_OK(ss_split(back, 3, gw, dim));
        for (int i = 0; i < 3; i++) {
            snprintf(label, sizeof label, "split along dim %d, part %d", dim, i + 1);
            cuda_close(label, parts[i], back[i], EXACT);
        }
        for (int i = 0; i < 3; i++) ss_tensor_free(parts[i]), ss_tensor_free(gparts[i]), ss_tensor_free(back[i]);
        ss_tensor_free(w), ss_tensor_free(gw);
    }
}

/* ------------------------------------------------------------ shape ops */

/* One copy op on a cpu tensor and its cuda twin into fresh outputs of shape so. */
typedef int (*copy_fn)(ss_tensor *out, const ss_tensor *x, const void *arg);
static int do_permute(ss_tensor *o, const ss_tensor *x, const void *a) { return ss_permute(o, x, a); }
static int do_flip(ss_tensor *o, const ss_tensor *x, const void *a) { return ss_flip(o, x, *(const int *)a); }
static int do_roll(ss_tensor *o, const ss_tensor *x, const void *a) { return ss_roll(o, x, a); }

static void copy_case(const char *label, copy_fn fn, const void *arg, int nd, const int64_t *sx, const int64_t *so)
{
    ss_tensor *x = rand_t(nd, sx, -1.0f, 1.0f), *gx = cuda_copy(x), *o = cpu_empty(nd, so), *go = gpu_empty(nd, so);
    CHECK_OK(fn(o, x, arg));
    CHECK_OK(fn(go, gx, arg));
    cuda_close(label, o, go, EXACT);
    ss_tensor *ts[] = {x, gx, o, go};
    free_all(ts, 4);
}

static void test_shape_ops(void)
{
    printf("shape ops: permute, narrow, flip, roll, pad, cat/split, reduce over a dimension, where\n");
    /* permute: every box shape the simplifier leaves (merged runs, strided rows). */
    const struct {
        int nd;
        int64_t s[4];
        int perm[4];
    } perms[4] = {{4, {6, 7, 33, 65}, {0, 3, 1, 2}}, {4, {3, 4, 5, 6}, {3, 2, 1, 0}}, {3, {50, 3, 70}, {2, 0, 1}},
                  {2, {513, 257}, {1, 0}}};
    for (int k = 0; k < 4; k++) {
        int64_t so[4];
        char label[96];
        for (int d = 0; d < perms[k].nd; d++) so[d] = perms[k].s[perms[k].perm[d]];
        snprintf(label, sizeof label, "permute case %d", k + 1);
        copy_case(label, do_permute, perms[k].perm, perms[k].nd, perms[k].s, so);
    }
    /* narrow copies along every dimension. */
    int64_t sn[4] = {5, 6, 17, 19};
    ss_tensor *x = rand_t(4, sn, -1.0f, 1.0f), *gx = cuda_copy(x);
    for (int dim = 0; dim < 4; dim++) {
        int64_t so[4];
        memcpy(so, sn, sizeof so);
        so[dim] = sn[dim] - 3;
        ss_tensor *o = cpu_empty(4, so), *go = gpu_empty(4, so);
        char label[96];
        snprintf(label, sizeof label, "narrow dim %d from row 2", dim);
        CHECK_OK(ss_narrow(o, x, dim, 2));
        CHECK_OK(ss_narrow(go, gx, dim, 2));
        cuda_close(label, o, go, EXACT);
        ss_tensor_free(o), ss_tensor_free(go);
    }
    /* flips and rolls. */
    const int masks[4] = {1, 8, 6, 15};
    for (int k = 0; k < 4; k++) {
        char label[96];
        snprintf(label, sizeof label, "flip dims mask 0x%x", masks[k]);
        copy_case(label, do_flip, &masks[k], 4, sn, sn);
    }
    const int64_t shifts[3][4] = {{0, 0, 0, 5}, {-1, 7, -30, 2}, {5, 6, 17, 19}};
    for (int k = 0; k < 3; k++) {
        char label[96];
        snprintf(label, sizeof label, "roll by (%lld,%lld,%lld,%lld)", (long long)shifts[k][0], (long long)shifts[k][1],
                 (long long)shifts[k][2], (long long)shifts[k][3]);
        copy_case(label, do_roll, shifts[k], 4, sn, sn);
    }
    /* pad: the three modes, several planes, asymmetric pads. */
    for (int mode = SS_PAD_CONSTANT; mode <= SS_PAD_REPLICATE; mode++) {
        int64_t so[4] = {5, 6, 17 + 3 + 16, 19 + 18 + 1};
        ss_tensor *o = cpu_empty(4, so), *go = gpu_empty(4, so);
        char label[96];
        snprintf(label, sizeof label, "pad mode %d (top 3, left 18)", mode);
        CHECK_OK(ss_pad(o, x, 3, 18, mode, -2.5f));
        CHECK_OK(ss_pad(go, gx, 3, 18, mode, -2.5f));
        cuda_close(label, o, go, EXACT);
        ss_tensor_free(o), ss_tensor_free(go);
    }
    /* cat and split along dims 2 and 3 (0 and 1 are in test_tensor_ops). */
    for (int dim = 2; dim < 4; dim++) {
        int64_t s1[4], s2[4];
        memcpy(s1, sn, sizeof s1), memcpy(s2, sn, sizeof s2);
        s1[dim] = 4, s2[dim] = sn[dim] - 4;
        ss_tensor *p[2] = {cpu_empty(4, s1), cpu_empty(4, s2)}, *gp[2] = {gpu_empty(4, s1), gpu_empty(4, s2)};
        ss_tensor *w = cpu_empty(4, sn), *gw = gpu_empty(4, sn);
        char label[96];
        CHECK_OK(ss_split(p, 2, x, dim));
        CHECK_OK(ss_split(gp, 2, gx, dim));
        for (int i = 0; i < 2; i++) {
            snprintf(label, sizeof label, "split along dim %d, part %d", dim, i + 1);
            cuda_close(label, p[i], gp[i], EXACT);
        }
        CHECK_OK(ss_cat(w, (const ss_tensor *const *)p, 2, dim));
        CHECK_OK(ss_cat(gw, (const ss_tensor *const *)gp, 2, dim));
        snprintf(label, sizeof label, "cat along dim %d", dim);
        cuda_close(label, w, gw, EXACT);
        ss_tensor *ts[] = {p[0], p[1], gp[0], gp[1], w, gw};
        free_all(ts, 6);
    }
    ss_tensor_free(x), ss_tensor_free(gx);

    /* reduce over one dimension: inner > 1 runs one thread per output in the cpu's order
     * (bit for bit); inner = 1 runs the per-sample reductions (PER_SAMPLE_TOL). A NaN. */
    int64_t sr[3] = {7, 3001, 45};
    x = rand_t(3, sr, -0.5f, 1.5f);
    x->data[12345] = NAN;
    gx = cuda_copy(x);
    static const char *names[4] = {"sum", "mean", "min", "max"};
    const int ops[4] = {SS_RED_SUM, SS_RED_MEAN, SS_RED_MIN, SS_RED_MAX};
    for (int dim = 0; dim < 3; dim++)
        for (int k = 0; k < 4; k++) {
            int64_t so[3];
            memcpy(so, sr, sizeof so);
            so[dim] = 1;
            ss_tensor *o = cpu_empty(3, so), *go = gpu_empty(3, so);
            char label[96];
            snprintf(label, sizeof label, "reduce_dim %s over dim %d of (7,3001,45)", names[k], dim);
            CHECK_OK(ss_reduce_dim(o, x, dim, ops[k]));
            CHECK_OK(ss_reduce_dim(go, gx, dim, ops[k]));
            cuda_close(label, o, go, dim == 2 && k < 2 ? PER_SAMPLE_TOL : EXACT);
            ss_tensor_free(o), ss_tensor_free(go);
        }
    ss_tensor_free(x), ss_tensor_free(gx);

    /* where with broadcasting, a NaN and a 2 in the mask, and out aliasing b. */
    int64_t sa[4] = {4, 3, 20, 30}, sm[4] = {4, 1, 20, 30}, sb[1] = {30};
    ss_tensor *a = rand_t(4, sa, -1.0f, 1.0f), *b = rand_t(1, sb, -1.0f, 1.0f), *m = cpu_empty(4, sm);
    CHECK_OK(ss_rng_bernoulli(&rng, m, 0.5f));
    m->data[7] = NAN, m->data[8] = 2.0f;
    ss_tensor *ga = cuda_copy(a), *gb = cuda_copy(b), *gm = cuda_copy(m), *o = cpu_empty(4, sa), *go = gpu_empty(4, sa);
    CHECK_OK(ss_where(o, m, a, b));
    CHECK_OK(ss_where(go, gm, ga, gb));
    cuda_close("where (4,1,20,30) ? (4,3,20,30) : (30)", o, go, EXACT);
    CHECK_OK(ss_where(a, m, b, a));
    CHECK_OK(ss_where(ga, gm, gb, ga));
    cuda_close("where into b (masked fill in place)", a, ga, EXACT);
    ss_tensor *ts[] = {a, b, m, ga, gb, gm, o, go};
    free_all(ts, 8);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
    printf("errors on cuda tensors\n");
    int64_t s[4] = {4, 3, 8, 8}, sb[4] = {2, 3, 1, 1};
    ss_tensor *c = rand_t(4, s, 0.0f, 1.0f), *g = cuda_copy(c), *g2 = cuda_copy(c), *gb = gpu_empty(4, sb);
    double r;
    CHECK_FAILS(ss_add(g, g2, c), "different devices");
    CHECK_FAILS(ss_maximum(c, g, g2), "different devices");
    CHECK_FAILS(ss_axpby(g, 1.0f, g2, 1.0f, c), "different devices");
    CHECK_FAILS(ss_dot(&r, g, c), "different devices");
    CHECK_FAILS(ss_bmm(g, g2, c, 0, 0, 1.0f, 0.0f), "different devices");
    CHECK_FAILS2(ss_add(g, g2, gb), "does not broadcast", "(2,3,1,1)");
    CHECK_FAILS(ss_clamp(g, g2, 2.0f, 1.0f), "lower bound");
    CHECK_FAILS(ss_unary(g, g2, 42), "unknown op");
    CHECK_FAILS(ss_reduce(&r, g, 99), "unknown reduction");
    CHECK_FAILS(ss_reduce(NULL, g, SS_RED_SUM), "result is NULL");
    int64_t sv[1] = {4};
    ss_tensor *cv = cpu_empty(1, sv);
    CHECK_FAILS(ss_reduce_per_sample(cv, g, SS_RED_SUM), "different devices");
    CHECK_FAILS(ss_bmm(gb, g, g2, 0, 0, 1.0f, 0.0f), "do not multiply");
    ss_rng gen;
    CHECK_OK(ss_rng_init(&gen, 5));
    CHECK_FAILS(ss_rng_uniform(&gen, g, 1.0f, 0.0f), "lo < hi");
    CHECK_FAILS(ss_rng_bernoulli(&gen, g, 1.5f), "[0, 1]");
    CHECK(gen.offset == 0, "a refused cuda draw moved the offset to %llu", (unsigned long long)gen.offset);
    CHECK_FAILS(ss_crop(gb, g, 7, 0), "does not fit");
    const int perm[4] = {0, 1, 3, 2};
    const int64_t shift[4] = {1, 0, 0, 0};
    CHECK_FAILS(ss_permute(g, c, perm), "different devices");
    CHECK_FAILS(ss_narrow(gb, c, 0, 0), "different devices");
    CHECK_FAILS(ss_flip(g, c, 1), "different devices");
    CHECK_FAILS(ss_roll(c, g, shift), "different devices");
    CHECK_FAILS(ss_pad(g, c, 0, 0, SS_PAD_CONSTANT, 0), "different devices");
    CHECK_FAILS(ss_reduce_dim(cv, g, 1, SS_RED_SUM), "different devices");
    CHECK_FAILS(ss_where(g, c, g2, g2), "different devices");
    const ss_tensor *mixed[2] = {g, c};
    int64_t sw[4] = {8, 3, 8, 8}, sr[3] = {4, 8, 8};
    ss_tensor *gw = gpu_empty(4, sw), *gr = gpu_empty(3, sr);
    CHECK_FAILS(ss_cat(gw, mixed, 2, 0), "part 2 is on another device");
    CHECK_FAILS(ss_pad(g2, g, 1, 0, SS_PAD_REFLECT, 0), "pads must be >= 0");
    CHECK_FAILS(ss_reduce_dim(gr, g, 1, SS_RED_NORM), "not sum, mean, min or max");
    ss_tensor_free(gw), ss_tensor_free(gr);
    ss_tensor *ts[] = {c, g, g2, gb, cv};
    free_all(ts, 5);
}

int main(void)
{
    if (test_seed("test_cuda_tensor", &seed, &rng)) return 2;
    cuda_skip_unless_device("test_cuda_tensor", "binary ops with broadcasting, maps, unary ops, reductions, dot "
                                                "products, bmm, RNG parity, check_finite, index_select, crop, "
                                                "flip_w_where, cat/split, permute, narrow, flip, roll, pad, "
                                                "reduce_dim, where");
    test_binary();
    test_maps();
    test_unary();
    test_reductions();
    test_bmm();
    test_rng();
    test_tensor_ops();
    test_shape_ops();
    test_errors();
    return test_summary("test_cuda_tensor");
}
