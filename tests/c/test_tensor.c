/* test_tensor.c — tensors, elementwise ops with broadcasting, reductions, cat,
 * bmm, gather/crop/flip: each against a plain double-precision loop, then bad input. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

static ss_tensor *make(int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    return ss_tensor_empty(ndim, s, SS_CPU);
}

static void fill_seq(ss_tensor *t, float scale, float shift)
{
    for (int64_t i = 0; i < ss_tensor_numel(t); i++) t->data[i] = scale * (float)((i * 7919) % 101) + shift;
}

static void test_views(void)
{
    ss_tensor *t = make(4, 3, 2, 4, 5);
    fill_seq(t, 1, 0);
    int64_t s2[2] = {6, 20};
    ss_tensor *v = ss_tensor_reshape(t, 2, s2);
    CHECK(v && v->data == t->data && v->storage == t->storage, "reshape shares storage");
    ss_tensor *n = ss_tensor_narrow(t, 1, 2);
    CHECK(n && n->shape[0] == 2 && n->data == t->data + 40, "narrow offsets by one sample");
    ss_tensor_free(t); /* views keep the storage alive */
    CHECK(n->data[0] == (float)((40 * 7919) % 101), "view survives its parent");
    ss_tensor *c = ss_tensor_clone(n);
    CHECK(c && c->data != n->data && memcmp(c->data, n->data, 40 * 2 * sizeof(float)) == 0, "clone copies");
    CHECK_OK(ss_tensor_fill(c, 2.5f));
    CHECK(c->data[79] == 2.5f, "fill");
    CHECK_OK(ss_tensor_copy(n, c));
    CHECK(v->data[40] == 2.5f, "copy writes through a view into shared storage");
    ss_tensor_release(c);
    ss_tensor_release(c); /* idempotent */
    CHECK_FAILS(ss_tensor_fill(c, 1), "freed");
    CHECK_FAILS(ss_tensor_copy(n, c), "freed");
    ss_tensor_free(c);
    ss_tensor_free(v);
    ss_tensor_free(n);
}

static void test_elementwise(void)
{
    ss_tensor *a = make(4, 2, 3, 4, 5), *b = make(4, 2, 1, 1, 1), *c = make(1, 5, 0, 0, 0);
    ss_tensor *out = make(4, 2, 3, 4, 5);
    fill_seq(a, 0.5f, -3.25f), fill_seq(b, 1, 1), fill_seq(c, 0.25f, 2); /* a has no zeros: div */
    float *ref = malloc(sizeof(float) * 120);
    CHECK_OK(ss_mul(out, a, b));
    for (int i = 0; i < 120; i++) ref[i] = a->data[i] * b->data[i / 60];
    test_close("mul (2,3,4,5) * (2,1,1,1)", out->data, ref, 120, 0);
    CHECK_OK(ss_sub(out, a, c));
    for (int i = 0; i < 120; i++) ref[i] = a->data[i] - c->data[i % 5];
    test_close("sub (2,3,4,5) - (5)", out->data, ref, 120, 0);
    CHECK_OK(ss_div(out, c, a)); /* broadcast on the left */
    for (int i = 0; i < 120; i++) ref[i] = c->data[i % 5] / a->data[i];
    test_close("div (5) / (2,3,4,5)", out->data, ref, 120, 0);
    ss_tensor *col = make(4, 1, 3, 4, 1);
    fill_seq(col, 1, 0);
    CHECK_OK(ss_add(out, a, col));
    for (int i = 0; i < 120; i++) ref[i] = a->data[i] + col->data[(i / 5) % 12];
    test_close("add (2,3,4,5) + (1,3,4,1)", out->data, ref, 120, 0);
    CHECK_OK(ss_axpby(out, 2, a, -1, a));
    test_close("axpby 2a - a = a", out->data, a->data, 120, 0);
    CHECK_OK(ss_affine(out, a, 3, 1));
    for (int i = 0; i < 120; i++) ref[i] = 3 * a->data[i] + 1;
    test_close("affine 3a + 1", out->data, ref, 120, 0);
    CHECK_OK(ss_clamp(out, a, -1, 1));
    for (int i = 0; i < 120; i++) ref[i] = a->data[i] < -1 ? -1 : a->data[i] > 1 ? 1 : a->data[i];
    test_close("clamp [-1,1]", out->data, ref, 120, 0);
    CHECK_OK(ss_abs(out, a));
    CHECK_OK(ss_sqrt(out, out));
    CHECK_OK(ss_pow_scalar(out, out, 2));
    CHECK_OK(ss_log(out, out));
    CHECK_OK(ss_exp(out, out));
    for (int i = 0; i < 120; i++) ref[i] = fabsf(a->data[i]);
    test_close("exp(log(sqrt(|a|)^2)) = |a|", out->data, ref, 120, 2e-5);
    /* bad input */
    ss_tensor *wrong = make(2, 3, 2, 0, 0);
    CHECK_FAILS(ss_add(out, a, wrong), "does not broadcast");
    CHECK_FAILS(ss_axpby(out, 1, a, 1, wrong), "shapes differ");
    CHECK_FAILS(ss_add(NULL, a, b), "NULL");
    CHECK_FAILS(ss_clamp(out, a, 1, -1), "above");
    CHECK_FAILS(ss_unary(out, a, 99), "unknown");
    ss_tensor fake = *a;
    fake.device = SS_CUDA;
    CHECK_FAILS(ss_add(out, &fake, b), "different devices");
    free(ref);
    ss_tensor_free(a), ss_tensor_free(b), ss_tensor_free(c), ss_tensor_free(out), ss_tensor_free(col);
    ss_tensor_free(wrong);
}

static void test_reductions(void)
{
    ss_tensor *t = make(2, 1000, 333, 0, 0); /* 333 000 values: several reduction blocks */
    fill_seq(t, 0.01f, -0.3f);
    int64_t n = ss_tensor_numel(t);
    double s = 0, ss = 0, mn = 1e30, mx = -1e30;
    for (int64_t i = 0; i < n; i++) {
        s += t->data[i];
        mn = t->data[i] < mn ? t->data[i] : mn;
        mx = t->data[i] > mx ? t->data[i] : mx;
    }
    double mean = s / n;
    for (int64_t i = 0; i < n; i++) ss += (t->data[i] - mean) * (t->data[i] - mean);
    double r;
    CHECK_OK(ss_reduce(&r, t, SS_RED_SUM));
    CHECK(fabs(r - s) < 1e-9 * fabs(s) + 1e-9, "sum %g vs %g", r, s);
    CHECK_OK(ss_reduce(&r, t, SS_RED_MEAN));
    CHECK(fabs(r - mean) < 1e-12, "mean %g vs %g", r, mean);
    CHECK_OK(ss_reduce(&r, t, SS_RED_VAR));
    CHECK(fabs(r - ss / n) < 1e-10, "var %g vs %g", r, ss / n);
    CHECK_OK(ss_reduce(&r, t, SS_RED_VAR_UNBIASED));
    CHECK(fabs(r - ss / (n - 1)) < 1e-10, "unbiased var %g vs %g", r, ss / (n - 1));
    CHECK_OK(ss_reduce(&r, t, SS_RED_MIN));
    CHECK(r == mn, "min %g vs %g", r, mn);
    CHECK_OK(ss_reduce(&r, t, SS_RED_MAX));
    CHECK(r == mx, "max %g vs %g", r, mx);
    double d;
    CHECK_OK(ss_dot(&d, t, t));
    CHECK_OK(ss_reduce(&r, t, SS_RED_NORM));
    CHECK(fabs(r * r - d) < 1e-9 * d, "norm^2 %g vs dot %g", r * r, d);
    /* the same sums with 1 and 2 threads, bit for bit */
    double r1, r2;
    ss_set_num_threads(1);
    ss_reduce(&r1, t, SS_RED_SUM);
    ss_set_num_threads(2);
    ss_reduce(&r2, t, SS_RED_SUM);
    ss_set_num_threads(0);
    CHECK(r1 == r2, "sum with 1 and 2 threads: %.17g vs %.17g", r1, r2);
    ss_tensor *ps = make(1, 1000, 0, 0, 0);
    CHECK_OK(ss_reduce_per_sample(ps, t, SS_RED_MEAN));
    double row = 0;
    for (int i = 0; i < 333; i++) row += t->data[333 * 7 + i];
    CHECK(fabs(ps->data[7] - row / 333) < 1e-6, "per-sample mean of row 7: %g vs %g", ps->data[7], row / 333);
    CHECK_OK(ss_dot_per_sample(ps, t, t));
    row = 0;
    for (int i = 0; i < 333; i++) row += (double)t->data[333 * 9 + i] * t->data[333 * 9 + i];
    CHECK(fabs(ps->data[9] - row) < 1e-5 * row, "per-sample dot of row 9");
    t->data[12345] = NAN;
    CHECK_OK(ss_reduce(&r, t, SS_RED_MAX));
    CHECK(isnan(r), "max propagates NaN");
    CHECK_FAILS(ss_tensor_check_finite(t, "batch"), "batch contains NaN at flat index 12345");
    ss_tensor *wrong = make(1, 3, 0, 0, 0);
    CHECK_FAILS(ss_reduce_per_sample(wrong, t, SS_RED_SUM), "one per sample");
    CHECK_FAILS(ss_reduce(&r, t, 42), "unknown");
    CHECK_FAILS(ss_dot(&d, t, wrong), "shapes differ");
    ss_tensor_free(t), ss_tensor_free(ps), ss_tensor_free(wrong);
}

static void test_cat_bmm(void)
{
    ss_tensor *a = make(4, 2, 3, 2, 2), *b = make(4, 2, 1, 2, 2), *out = make(4, 2, 4, 2, 2);
    fill_seq(a, 1, 0), fill_seq(b, 1, 100);
    const ss_tensor *parts[2] = {a, b};
    CHECK_OK(ss_cat(out, parts, 2, 1));
    CHECK(out->data[12] == b->data[0] && out->data[16] == a->data[12] && out->data[31] == b->data[7],
          "cat along channels interleaves per sample");
    ss_tensor *a2 = make(4, 2, 3, 2, 2), *b2 = make(4, 2, 1, 2, 2);
    ss_tensor *const back[2] = {a2, b2};
    CHECK_OK(ss_split(back, 2, out, 1));
    test_close("split(cat(a,b)) = a", a2->data, a->data, 24, 0);
    test_close("split(cat(a,b)) = b", b2->data, b->data, 8, 0);
    CHECK_FAILS(ss_cat(out, parts, 2, 0), "does not stack");
    CHECK_FAILS(ss_cat(out, parts, 2, 2), "does not stack along dim 2");
    CHECK_FAILS(ss_cat(out, parts, 2, 4), "not a dimension");

    ss_tensor *x = make(3, 4, 5, 6, 0), *y = make(2, 6, 7, 0, 0), *z = make(3, 4, 5, 7, 0);
    fill_seq(x, 0.1f, -1), fill_seq(y, 0.2f, -2);
    CHECK_OK(ss_bmm(z, x, y, 0, 0, 1, 0));
    float ref[140];
    for (int bi = 0; bi < 4; bi++)
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 7; j++) {
                double acc = 0;
                for (int k = 0; k < 6; k++) acc += (double)x->data[bi * 30 + i * 6 + k] * y->data[k * 7 + j];
                ref[bi * 35 + i * 7 + j] = (float)acc;
            }
    test_close("bmm (4,5,6) x (6,7)", z->data, ref, 140, 1e-4);
    ss_tensor *yt = make(2, 7, 6, 0, 0);
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 7; j++) yt->data[j * 6 + k] = y->data[k * 7 + j];
    CHECK_OK(ss_bmm(z, x, yt, 0, 1, 1, 0));
    test_close("bmm with b transposed", z->data, ref, 140, 1e-4);
    CHECK_FAILS(ss_bmm(z, x, x, 0, 0, 1, 0), "do not multiply");
    ss_tensor_free(a), ss_tensor_free(b), ss_tensor_free(out), ss_tensor_free(a2), ss_tensor_free(b2);
    ss_tensor_free(x), ss_tensor_free(y), ss_tensor_free(z), ss_tensor_free(yt);
}

static void test_gather_crop_flip(void)
{
    ss_tensor *x = make(4, 5, 1, 2, 3), *o = make(4, 2, 1, 2, 3);
    fill_seq(x, 1, 0);
    int64_t idx[2] = {4, 1};
    CHECK_OK(ss_index_select(o, x, idx, 2));
    CHECK(memcmp(o->data, x->data + 24, 6 * sizeof(float)) == 0 && memcmp(o->data + 6, x->data + 6, 24) == 0,
          "index_select picks rows 4 and 1");
    int64_t bad[2] = {0, 5};
    CHECK_FAILS(ss_index_select(o, x, bad, 2), "outside");
    float flip[2] = {1, 0};
    float before[12];
    memcpy(before, o->data, sizeof before);
    CHECK_OK(ss_flip_w_where(o, flip));
    CHECK(o->data[0] == before[2] && o->data[2] == before[0] && o->data[4] == before[4] && o->data[6] == before[6],
          "flip mirrors sample 1 only");
    ss_tensor *big = make(3, 2, 5, 6, 0), *win = make(3, 2, 2, 3, 0);
    fill_seq(big, 1, 0);
    CHECK_OK(ss_crop(win, big, 2, 1));
    CHECK(win->data[0] == big->data[13] && win->data[5] == big->data[21] && win->data[6] == big->data[43],
          "crop takes the window per plane");
    CHECK_FAILS(ss_crop(win, big, 4, 0), "does not fit");
    ss_tensor_free(x), ss_tensor_free(o), ss_tensor_free(big), ss_tensor_free(win);
}

static void test_bad_creation(void)
{
    int64_t s[5] = {2, 0, 3, 4, 5};
    CHECK(ss_tensor_empty(2, s, SS_CPU) == NULL && strstr(ss_last_error(), ">= 1"), "zero size refused: %s",
          ss_last_error());
    CHECK(ss_tensor_empty(5, s, SS_CPU) == NULL && strstr(ss_last_error(), "1 to 4"), "5 dims refused");
    CHECK(ss_tensor_empty(1, s, 7) == NULL && strstr(ss_last_error(), "unknown device"), "bad device refused");
    int64_t huge[4] = {1 << 30, 1 << 30, 1 << 30, 1 << 30};
    CHECK(ss_tensor_empty(4, huge, SS_CPU) == NULL && strstr(ss_last_error(), "too large"), "overflow refused");
    ss_tensor *t = ss_tensor_zeros(1, s, SS_CPU);
    CHECK(ss_tensor_narrow(t, 1, 2) == NULL && strstr(ss_last_error(), "outside"), "narrow past the end refused");
    int64_t r[1] = {3};
    CHECK(ss_tensor_reshape(t, 1, r) == NULL && strstr(ss_last_error(), "cannot view"), "reshape count refused");
    if (!ss_has_cuda()) {
        CHECK(ss_tensor_to(t, SS_CUDA) == NULL && strstr(ss_last_error(), "without CUDA"), "no CUDA build: %s",
              ss_last_error());
    } else {
        ss_tensor *g = ss_tensor_to(t, SS_CUDA);
        printf("  cuda build: to(cuda) %s (%s)\n", g ? "worked" : "failed", g ? "" : ss_last_error());
        ss_tensor_free(g);
    }
    ss_tensor_free(t);
}

int main(void)
{
    test_views();
    test_elementwise();
    test_reductions();
    test_cat_bmm();
    test_gather_crop_flip();
    test_bad_creation();
    return test_summary("test_tensor");
}
