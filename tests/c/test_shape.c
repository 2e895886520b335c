/* test_shape.c — the shape ops (runtime/core/shape.c) against numpy and
 * torch.nn.functional.pad: tests/reference/tensor/shape.ssfx, made by
 * tests/reference/make_tensor_fixtures.py. Copies must match exactly, reductions within
 * 1e-6 of max(1, |value|) (both sides sum in double, then round to float). Then cases
 * large enough for the threaded paths against plain loops, the same results with 1 and 2
 * threads, outputs that alias inputs, and bad input: every refusal leaves out unwritten. */
#include "check.h"
#include "fixture.h"

#define RED_TOL 1e-6

static const fixture *FX;
static uint64_t seed = 20251206u;

static ss_tensor *get(const char *name, const char *role) { return need(fixture_get(FX, name, role), role); }

static ss_tensor *empty_like(const ss_tensor *t) { return need(ss_tensor_empty(t->ndim, t->shape, SS_CPU), "out"); }

/* The case's integer arguments (at most 8). */
static int case_args(const char *name, int64_t *args)
{
    char key[160];
    snprintf(key, sizeof key, "%s.args", name);
    const fixture_array *a = fixture_find(FX, key);
    CHECK(a && a->numel <= 8, "%s: no args", name);
    if (!a || a->numel > 8) return 0;
    for (int64_t i = 0; i < a->numel; i++) args[i] = (int64_t)a->data[i];
    return (int)a->numel;
}

/* Max |got − want| / max(1, |want|) (NaN must meet NaN), printed and checked against tol. */
static void compare(const char *label, const ss_tensor *got, const ss_tensor *want, double tol)
{
    CHECK(ss_tensor_same_shape(got, want), "%s: shapes differ", label);
    double worst = 0;
    for (int64_t i = 0; i < ss_tensor_numel(want); i++) {
        const double g = got->data[i], w = want->data[i];
        const double d = isnan(w) || isnan(g) ? (isnan(w) && isnan(g) ? 0 : INFINITY) : fabs(g - w) / fmax(1, fabs(w));
        if (d > worst) worst = d;
    }
    printf("  %-48s max|diff|/scale = %.3g (tol %.1g)\n", label, worst, tol);
    CHECK(worst <= tol, "%s: %.3g > %.3g", label, worst, tol);
}

/* ------------------------------------------------------------ fixture cases */

/* Runs op on x into a tensor of y's shape and compares exactly. */
#define RUN_COPY(name, call_with_out)                                   \
    do {                                                                \
        ss_tensor *x = get(name, "x"), *y = get(name, "y"), *out = empty_like(y); \
        CHECK_OK(call_with_out);                                        \
        compare(name, out, y, 0);                                       \
        ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(out);      \
    } while (0)

static void case_permute(const char *name, const int64_t *a, int n)
{
    int perm[4];
    for (int d = 0; d < n; d++) perm[d] = (int)a[d];
    RUN_COPY(name, ss_permute(out, x, perm));
}

static void case_narrow(const char *name, const int64_t *a, int n)
{
    (void)n;
    RUN_COPY(name, ss_narrow(out, x, (int)a[0], a[1]));
}

static void case_flip(const char *name, const int64_t *a, int n)
{
    (void)n;
    RUN_COPY(name, ss_flip(out, x, (int)a[0]));
}

static void case_roll(const char *name, const int64_t *a, int n)
{
    (void)n;
    RUN_COPY(name, ss_roll(out, x, a));
}

static void case_pad(const char *name, const int64_t *a, int n)
{
    char key[160];
    snprintf(key, sizeof key, "%s.args", name);
    const float value = n == 6 ? fixture_find(FX, key)->data[5] : 0.0f; /* not an integer */
    RUN_COPY(name, ss_pad(out, x, a[2], a[0], (int)a[4], value));
}

static void case_crop(const char *name, const int64_t *a, int n)
{
    (void)n;
    RUN_COPY(name, ss_crop(out, x, a[0], a[1]));
}

/* cat of the parts gives x; split of x gives the parts. */
static void case_cat(const char *name, const int64_t *a, int n)
{
    (void)n;
    const int dim = (int)a[0], np = (int)a[1];
    ss_tensor *x = get(name, "x"), *out = empty_like(x), *parts[8], *back[8];
    for (int i = 0; i < np; i++) {
        char role[8];
        snprintf(role, sizeof role, "p%d", i);
        parts[i] = get(name, role);
        back[i] = empty_like(parts[i]);
    }
    char label[96];
    CHECK_OK(ss_cat(out, (const ss_tensor *const *)parts, np, dim));
    snprintf(label, sizeof label, "%s: cat", name);
    compare(label, out, x, 0);
    CHECK_OK(ss_split(back, np, x, dim));
    for (int i = 0; i < np; i++) {
        snprintf(label, sizeof label, "%s: split part %d", name, i + 1);
        compare(label, back[i], parts[i], 0);
        ss_tensor_free(parts[i]), ss_tensor_free(back[i]);
    }
    ss_tensor_free(x), ss_tensor_free(out);
}

/* Each reduction into the shape without dim, and into the keepdim shape. */
static void case_reduce(const char *name, const int64_t *a, int n)
{
    (void)n;
    static const struct {
        const char *role;
        int op;
    } ops[4] = {{"sum", SS_RED_SUM}, {"mean", SS_RED_MEAN}, {"max", SS_RED_MAX}, {"min", SS_RED_MIN}};
    const int dim = (int)a[0];
    ss_tensor *x = get(name, "x");
    int64_t keep[4];
    memcpy(keep, x->shape, sizeof keep);
    keep[dim] = 1;
    ss_tensor *kept = need(ss_tensor_empty(x->ndim, keep, SS_CPU), "keepdim out");
    for (int k = 0; k < 4; k++) {
        ss_tensor *want = get(name, ops[k].role), *out = empty_like(want);
        const double tol = ops[k].op == SS_RED_MIN || ops[k].op == SS_RED_MAX ? 0 : RED_TOL;
        char label[96];
        snprintf(label, sizeof label, "%s: %s over dim %d", name, ops[k].role, dim);
        CHECK_OK(ss_reduce_dim(out, x, dim, ops[k].op));
        compare(label, out, want, tol);
        CHECK_OK(ss_reduce_dim(kept, x, dim, ops[k].op));
        CHECK(memcmp(kept->data, out->data, sizeof(float) * (size_t)ss_tensor_numel(out)) == 0,
              "%s: keepdim gives other values", label);
        ss_tensor_free(want), ss_tensor_free(out);
    }
    ss_tensor_free(x), ss_tensor_free(kept);
}

static void case_where(const char *name, const int64_t *a, int n)
{
    (void)a, (void)n;
    ss_tensor *ta = get(name, "a"), *tb = get(name, "b");
    RUN_COPY(name, ss_where(out, x, ta, tb));
    ss_tensor_free(ta), ss_tensor_free(tb);
}

static void case_index(const char *name, const int64_t *a, int n)
{
    RUN_COPY(name, ss_index_select(out, x, a, n));
}

typedef void (*case_fn)(const char *name, const int64_t *args, int n);
static const struct {
    const char *op;
    case_fn fn;
} case_ops[] = {{"permute", case_permute}, {"narrow", case_narrow}, {"flip", case_flip}, {"roll", case_roll},
                {"pad", case_pad},         {"crop", case_crop},     {"cat", case_cat},   {"reduce", case_reduce},
                {"where", case_where},     {"index", case_index}};

static int cases_run;

static void run_case(const fixture *fx, const char *name)
{
    (void)fx;
    for (size_t k = 0; k < sizeof case_ops / sizeof case_ops[0]; k++) {
        size_t len = strlen(case_ops[k].op);
        if (strncmp(name, case_ops[k].op, len) != 0 || name[len] != '_') continue;
        int64_t args[8] = {0};
        int n = strcmp(case_ops[k].op, "where") == 0 ? 0 : case_args(name, args);
        case_ops[k].fn(name, args, n);
        cases_run++;
        return;
    }
    CHECK(0, "fixture case %s names no op", name);
}

/* ------------------------------------------------------------ threaded paths */

static void fill_rand(ss_tensor *t, uint64_t salt)
{
    ss_rng g;
    ss_rng_init(&g, seed + salt);
    CHECK_OK(ss_rng_normal(&g, t, 0, 1));
}

/* Large boxes (over the threading threshold) against plain index loops. */
static void test_large_copies(void)
{
    printf("large copies against plain loops\n");
    int64_t s[4] = {8, 16, 32, 33}, ps[4] = {8, 33, 16, 32};
    ss_tensor *x = need(ss_tensor_empty(4, s, SS_CPU), "x"), *p = need(ss_tensor_empty(4, ps, SS_CPU), "p");
    ss_tensor *want = need(ss_tensor_empty(4, ps, SS_CPU), "want");
    fill_rand(x, 1);
    const int perm[4] = {0, 3, 1, 2};
    CHECK_OK(ss_permute(p, x, perm));
    for (int64_t a = 0; a < 8; a++)
        for (int64_t b = 0; b < 16; b++)
            for (int64_t c = 0; c < 32; c++)
                for (int64_t d = 0; d < 33; d++)
                    want->data[((a * 33 + d) * 16 + b) * 32 + c] = x->data[((a * 16 + b) * 32 + c) * 33 + d];
    compare("permute (8,16,32,33) by (0,3,1,2)", p, want, 0);

    ss_tensor *r = need(ss_tensor_empty(4, s, SS_CPU), "r"), *rw = need(ss_tensor_empty(4, s, SS_CPU), "rw");
    const int64_t shift[4] = {3, -5, 70, -100};
    CHECK_OK(ss_roll(r, x, shift));
    for (int64_t i = 0; i < ss_tensor_numel(x); i++) {
        int64_t rem = i, src = 0, mul = 1;
        for (int d = 3; d >= 0; d--) {
            int64_t k = rem % s[d];
            rem /= s[d];
            k = ((k - shift[d]) % s[d] + s[d]) % s[d];
            src += k * mul;
            mul *= s[d];
        }
        rw->data[i] = x->data[src];
    }
    compare("roll (8,16,32,33) by (3,-5,70,-100)", r, rw, 0);

    CHECK_OK(ss_flip(r, x, 0xf));
    for (int64_t i = 0; i < ss_tensor_numel(x); i++) rw->data[i] = x->data[ss_tensor_numel(x) - 1 - i];
    compare("flip of all 4 dims = reversed storage", r, rw, 0);

    /* Reflect then crop the middle back out: the identity. */
    int64_t padded[4] = {8, 16, 32 + 31 + 30, 33 + 1 + 32};
    ss_tensor *pd = need(ss_tensor_empty(4, padded, SS_CPU), "padded");
    CHECK_OK(ss_pad(pd, x, 31, 1, SS_PAD_REFLECT, 0));
    CHECK_OK(ss_crop(r, pd, 31, 1));
    compare("crop(pad(x, reflect)) = x", r, x, 0);
    /* Reflection about the edge pixel: padded row 31 − k is data row k. */
    CHECK(pd->data[(0 * padded[2] + 31 - 5) * padded[3] + 1] == x->data[5 * 33], "reflect mirrors about the edge");
    ss_tensor *ts[] = {x, p, want, r, rw, pd};
    for (int i = 0; i < 6; i++) ss_tensor_free(ts[i]);
}

/* Reductions over a middle dimension: a plain double loop, and bit-equal results with
 * 1 and 2 threads. */
static void test_large_reduce(void)
{
    printf("reductions over one dimension, threaded\n");
    int64_t s[3] = {16, 300, 40}, so[2] = {16, 40};
    ss_tensor *x = need(ss_tensor_empty(3, s, SS_CPU), "x");
    ss_tensor *o1 = need(ss_tensor_empty(2, so, SS_CPU), "o1"), *o2 = need(ss_tensor_empty(2, so, SS_CPU), "o2");
    ss_tensor *want = need(ss_tensor_empty(2, so, SS_CPU), "want");
    fill_rand(x, 2);
    for (int64_t o = 0; o < 16; o++)
        for (int64_t i = 0; i < 40; i++) {
            double acc = 0;
            for (int64_t k = 0; k < 300; k++) acc += x->data[(o * 300 + k) * 40 + i];
            want->data[o * 40 + i] = (float)(acc / 300);
        }
    ss_set_num_threads(1);
    CHECK_OK(ss_reduce_dim(o1, x, 1, SS_RED_MEAN));
    ss_set_num_threads(2);
    CHECK_OK(ss_reduce_dim(o2, x, 1, SS_RED_MEAN));
    ss_set_num_threads(0);
    compare("mean over dim 1 of (16,300,40)", o1, want, RED_TOL);
    CHECK(memcmp(o1->data, o2->data, sizeof(float) * 640) == 0, "1 and 2 threads give other means");
    ss_tensor_free(x), ss_tensor_free(o1), ss_tensor_free(o2), ss_tensor_free(want);
}

/* out may be one of where's inputs. */
static void test_where_alias(void)
{
    int64_t s[2] = {3, 4}, one[1] = {1};
    ss_tensor *a = need(ss_tensor_empty(2, s, SS_CPU), "a"), *m = need(ss_tensor_empty(2, s, SS_CPU), "m");
    ss_tensor *v = need(ss_tensor_full(1, one, -1.0f, SS_CPU), "v"), *want = need(ss_tensor_empty(2, s, SS_CPU), "w");
    fill_rand(a, 3);
    for (int i = 0; i < 12; i++) m->data[i] = (float)(i % 3 == 0), want->data[i] = i % 3 == 0 ? -1.0f : a->data[i];
    CHECK_OK(ss_where(a, m, v, a)); /* masked fill in place */
    compare("where(m, -1, a) into a (masked fill)", a, want, 0);
    CHECK_OK(ss_where(m, m, a, v)); /* out is the mask */
    for (int i = 0; i < 12; i++) want->data[i] = -1.0f; /* a is -1 wherever the mask is set */
    compare("where(m, a, -1) into m", m, want, 0);
    ss_tensor_free(a), ss_tensor_free(m), ss_tensor_free(v), ss_tensor_free(want);
}

/* ------------------------------------------------------------ bad input */

/* out is full of 7s; after a refused call it must still be. */
static void untouched(const char *what, const ss_tensor *out)
{
    int ok = 1;
    for (int64_t i = 0; i < ss_tensor_numel(out); i++) ok &= out->data[i] == 7.0f;
    CHECK(ok, "%s: a refused call wrote into out", what);
}

static void test_errors(void)
{
    printf("bad input\n");
    int64_t s[4] = {2, 3, 4, 5}, st[4] = {2, 3, 5, 4}, s1[1] = {3};
    ss_tensor *x = need(ss_tensor_empty(4, s, SS_CPU), "x"), *o = need(ss_tensor_full(4, s, 7, SS_CPU), "o");
    ss_tensor *ot = need(ss_tensor_full(4, st, 7, SS_CPU), "ot"), *v = need(ss_tensor_empty(1, s1, SS_CPU), "v");
    fill_rand(x, 4);

    const int bad_perm[4] = {0, 1, 1, 3}, big_perm[4] = {0, 1, 2, 4}, tperm[4] = {0, 1, 3, 2};
    CHECK_FAILS(ss_permute(ot, x, bad_perm), "not a permutation");
    CHECK_FAILS(ss_permute(ot, x, big_perm), "perm[3] = 4");
    CHECK_FAILS(ss_permute(o, x, tperm), "does not fit");
    CHECK_FAILS(ss_permute(ot, x, NULL), "perm is NULL");
    CHECK_FAILS(ss_permute(x, x, tperm), "shares memory");
    untouched("permute", ot);

    int64_t sn[4] = {2, 3, 2, 5};
    ss_tensor *on = need(ss_tensor_full(4, sn, 7, SS_CPU), "on");
    CHECK_FAILS(ss_narrow(on, x, 2, 3), "rows 3..4 of dim 2 are outside 0..3");
    CHECK_FAILS(ss_narrow(on, x, 2, -1), "outside");
    CHECK_FAILS(ss_narrow(on, x, 4, 0), "dim 4 is not a dimension");
    CHECK_FAILS(ss_narrow(on, x, 1, 0), "does not fit");
    untouched("narrow", on);

    CHECK_FAILS(ss_flip(o, x, 16), "beyond");
    CHECK_FAILS(ss_flip(ot, x, 1), "does not fit");
    CHECK_FAILS(ss_roll(o, x, NULL), "shift is NULL");
    const int64_t sh[4] = {1, 2, 3, 4};
    CHECK_FAILS(ss_roll(ot, x, sh), "does not fit");
    untouched("flip and roll", o);

    int64_t sp[4] = {2, 3, 6, 9};
    ss_tensor *op = need(ss_tensor_full(4, sp, 7, SS_CPU), "op");
    CHECK_FAILS(ss_pad(op, x, 1, 2, 7, 0), "unknown mode 7");
    CHECK_FAILS(ss_pad(op, x, 3, 2, SS_PAD_CONSTANT, 0), "pads must be >= 0");
    CHECK_FAILS(ss_pad(op, x, -1, 2, SS_PAD_REPLICATE, 0), "pads must be >= 0");
    int64_t swide[4] = {2, 3, 4, 11};
    ss_tensor *wide = need(ss_tensor_full(4, swide, 7, SS_CPU), "wide");
    CHECK_FAILS(ss_pad(wide, x, 0, 0, SS_PAD_REFLECT, 0), "right 6 < W = 5");
    untouched("reflect pad", wide);
    CHECK_OK(ss_pad(wide, x, 0, 0, SS_PAD_REPLICATE, 0));
    CHECK(wide->data[10] == x->data[4], "replicate repeats the edge as far as asked");
    CHECK_FAILS(ss_pad(v, x, 0, 0, SS_PAD_CONSTANT, 0), "does not fit");
    CHECK_FAILS(ss_pad(o, v, 0, 0, SS_PAD_CONSTANT, 0), "at least 2 dimensions");
    untouched("pad", op);
    CHECK_OK(ss_pad(op, x, 1, 2, SS_PAD_CONSTANT, NAN));
    CHECK(isnan(op->data[0]) && op->data[9 + 2] == x->data[0], "a NaN value fills the border");

    CHECK_FAILS(ss_crop(on, x, 3, 0), "does not fit");
    untouched("crop", on);

    const ss_tensor *parts[2] = {x, x};
    int64_t sc[4] = {2, 6, 4, 5}, sc2[4] = {2, 7, 4, 5};
    ss_tensor *oc = need(ss_tensor_full(4, sc, 7, SS_CPU), "oc"), *oc2 = need(ss_tensor_full(4, sc2, 7, SS_CPU), "oc2");
    CHECK_FAILS(ss_cat(oc, parts, 2, 0), "does not stack along dim 0");
    CHECK_FAILS(ss_cat(oc2, parts, 2, 1), "parts add up to 6 along dim 1, expected 7");
    CHECK_FAILS(ss_cat(oc, parts, 2, -1), "not a dimension");
    CHECK_FAILS(ss_cat(oc, parts, 0, 1), "at least one part");
    const ss_tensor *self[2] = {x, oc};
    CHECK_FAILS(ss_cat(oc, self, 2, 1), "part 2 shares memory");
    untouched("cat", oc);
    ss_tensor *outs[2] = {o, ot};
    CHECK_FAILS(ss_split(outs, 2, oc, 1), "does not stack");
    untouched("split", o);

    int64_t sr[3] = {2, 4, 5}, sk[4] = {2, 1, 4, 5};
    ss_tensor *orr = need(ss_tensor_full(3, sr, 7, SS_CPU), "or"), *ok = need(ss_tensor_full(4, sk, 7, SS_CPU), "ok");
    CHECK_FAILS(ss_reduce_dim(orr, x, 1, SS_RED_VAR), "not sum, mean, min or max");
    CHECK_FAILS(ss_reduce_dim(orr, x, 2, SS_RED_SUM), "dropped or set to 1");
    CHECK_FAILS(ss_reduce_dim(ok, x, 0, SS_RED_SUM), "dropped or set to 1");
    CHECK_FAILS(ss_reduce_dim(orr, x, 5, SS_RED_SUM), "dim 5 is not a dimension");
    untouched("reduce_dim", orr);
    CHECK_OK(ss_reduce_dim(ok, x, 1, SS_RED_MAX));

    int64_t sm[2] = {3, 5};
    ss_tensor *m = need(ss_tensor_full(2, sm, 1, SS_CPU), "mask");
    CHECK_FAILS2(ss_where(o, m, x, x), "mask (3,5) does not broadcast", "(2,3,4,5)");
    CHECK_FAILS(ss_where(o, x, v, x), "a (3) does not broadcast");
    ss_tensor *part = need(ss_tensor_narrow(o, 1, 1), "a view");
    CHECK_FAILS(ss_where(part, x, x, o), "out shares memory with b without being it");
    ss_tensor_free(part);
    untouched("where", o);

    int64_t si[4] = {2, 3, 4, 5}, idx[2] = {0, 2};
    ss_tensor *oi = need(ss_tensor_full(4, si, 7, SS_CPU), "oi");
    CHECK_FAILS(ss_index_select(oi, x, idx, 2), "idx[1] = 2 is outside the rows 0..1");
    untouched("index_select", oi);

    /* Mixed devices (a cuda header that is never dereferenced) and freed tensors. */
    ss_tensor fake = *x;
    fake.device = SS_CUDA;
    CHECK_FAILS(ss_permute(ot, &fake, tperm), "different devices");
    CHECK_FAILS(ss_narrow(on, &fake, 2, 0), "different devices");
    CHECK_FAILS(ss_flip(o, &fake, 1), "different devices");
    CHECK_FAILS(ss_roll(o, &fake, sh), "different devices");
    CHECK_FAILS(ss_pad(op, &fake, 1, 2, SS_PAD_CONSTANT, 0), "different devices");
    CHECK_FAILS(ss_crop(on, &fake, 0, 0), "different devices");
    const ss_tensor *mixed[2] = {x, &fake};
    CHECK_FAILS(ss_cat(oc, mixed, 2, 1), "part 2 is on another device");
    CHECK_FAILS(ss_reduce_dim(orr, &fake, 1, SS_RED_SUM), "different devices");
    CHECK_FAILS(ss_where(o, m, &fake, x), "different devices");
    CHECK_FAILS(ss_index_select(oi, &fake, idx, 1), "different devices");
    ss_tensor *gone = need(ss_tensor_clone(x), "a clone");
    ss_tensor_release(gone);
    CHECK_FAILS(ss_permute(ot, gone, tperm), "freed");
    CHECK_FAILS(ss_reduce_dim(NULL, x, 0, SS_RED_SUM), "NULL");
    untouched("mixed devices", o);

    ss_tensor *ts[] = {x, o, ot, v, on, op, wide, oc, oc2, orr, ok, m, oi, gone};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) ss_tensor_free(ts[i]);
}

int main(void)
{
    if (test_seed("test_shape", &seed, NULL)) return 2;
    fixture *fx = fixture_load("tests/reference/tensor/shape.ssfx");
    if (!fx) return 2;
    FX = fx;
    printf("fixture cases (numpy, torch.nn.functional.pad)\n");
    fixture_each_case(fx, run_case);
    CHECK(cases_run >= 49, "only %d fixture cases ran", cases_run);
    printf("  %d fixture cases\n", cases_run);
    test_large_copies();
    test_large_reduce();
    test_where_alias();
    test_errors();
    fixture_free(fx);
    return test_summary("test_shape");
}
