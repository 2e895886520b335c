/* test_nn_attention.c — multi-head self-attention (ADM's QKVAttention, chunked qkv
 * order) and Philox dropout.
 *
 * Attention: forward, weights and backward against PyTorch 1.13 (fixtures from
 * tests/reference/make_nn_attention_fixtures.py, computed in float64) within 1e-4 of
 * the reference's largest value; the backward against central finite differences of
 * the forward; scores around 1e4 stay finite and match a max-subtracted softmax
 * computed here in double; 1, 2 and 3 threads give the same bits; bad heads, shapes,
 * sizes and overlaps fail with a message.
 * Dropout: p = 0 is the identity and draws nothing; p = 0.25 keeps 3/4 of 100000
 * values (within 5 standard errors), the mask is one ss_rng_bernoulli draw times
 * 1/(1 − p) rounded to float, kept values are exactly in·mask (within 1 ulp of
 * in/(1 − p)); the backward multiplies by the mask; bad p, a missing generator,
 * bad shapes and a mask sharing memory fail. */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <string.h>

static uint64_t seed = 20250607u;
static ss_rng rng;
static fixture *fx;

static ss_tensor *get(const char *case_name, const char *role)
{
    char name[80];
    snprintf(name, sizeof name, "%s.%s", case_name, role);
    return need(fixture_get(fx, case_name, role), name);
}
static ss_tensor *like(const ss_tensor *t) { return need(ss_tensor_empty(t->ndim, t->shape, SS_CPU), "tensor"); }
static ss_tensor *make(int ndim, const int64_t *shape) { return need(ss_tensor_empty(ndim, shape, SS_CPU), "tensor"); }
static ss_tensor *randn(int ndim, const int64_t *shape, float std)
{
    ss_tensor *t = make(ndim, shape);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, std));
    return t;
}
/* A weights tensor (N·heads, T, T) for qkv (N,3C,...). */
static ss_tensor *weights_for(const ss_tensor *qkv, int heads)
{
    int64_t t = ss_tensor_numel(qkv) / (qkv->shape[0] * qkv->shape[1]);
    return make(3, (int64_t[]){qkv->shape[0] * heads, t, t});
}
/* out (N,C,...) for qkv (N,3C,...). */
static ss_tensor *out_for(const ss_tensor *qkv)
{
    int64_t shape[4];
    memcpy(shape, qkv->shape, sizeof shape);
    shape[1] /= 3;
    return make(qkv->ndim, shape);
}

/* max|a − b| / max|b| against 1e-4. */
static void rel_close(const char *label, const ss_tensor *a, const ss_tensor *b)
{
    int64_t n = ss_tensor_numel(b);
    double scale = 0, m = 0;
    CHECK(ss_tensor_numel(a) == n, "%s: sizes differ", label);
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(b->data[i]));
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a->data[i] - b->data[i]);
        m = isnan(d) ? INFINITY : fmax(m, d);
    }
    printf("  %-44s max rel diff %.3g\n", label, m / fmax(scale, 1e-30));
    CHECK(m <= 1e-4 * fmax(scale, 1e-30), "%s: %.3g", label, m / scale);
}

static int all_finite(const ss_tensor *t)
{
    for (int64_t i = 0; i < ss_tensor_numel(t); i++)
        if (!isfinite(t->data[i])) return 0;
    return 1;
}

/* ------------------------------------------------------------ against PyTorch */

static void test_fixture(const char *name)
{
    char label[96];
    ss_tensor *h = get(name, "heads"), *qkv = get(name, "qkv"), *yref = get(name, "y"), *wref = get(name, "w");
    ss_tensor *g = get(name, "g"), *dref = get(name, "dqkv");
    const int heads = (int)h->data[0];
    ss_tensor *y = like(yref), *w = like(wref), *dqkv = like(qkv);
    printf("case %s: qkv (%lld,%lld,%lld", name, (long long)qkv->shape[0], (long long)qkv->shape[1],
           (long long)qkv->shape[2]);
    if (qkv->ndim == 4) printf(",%lld", (long long)qkv->shape[3]);
    printf("), %d heads\n", heads);
    CHECK_OK(ss_attention_forward(y, w, qkv, heads));
    snprintf(label, sizeof label, "%s forward", name);
    rel_close(label, y, yref);
    snprintf(label, sizeof label, "%s weights", name);
    rel_close(label, w, wref);
    CHECK_OK(ss_attention_backward(dqkv, g, qkv, w, heads));
    snprintf(label, sizeof label, "%s grad_qkv", name);
    rel_close(label, dqkv, dref);
    ss_tensor *ts[] = {h, qkv, yref, wref, g, dref, y, w, dqkv};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) ss_tensor_free(ts[i]);
}

/* ------------------------------------------------------------ finite differences */

/* Σ r·out in double, out = attention(qkv). */
static double project(ss_tensor *out, ss_tensor *w, const ss_tensor *qkv, int heads, const ss_tensor *r)
{
    CHECK_OK(ss_attention_forward(out, w, qkv, heads));
    double s = 0;
    for (int64_t i = 0; i < ss_tensor_numel(out); i++) s += (double)r->data[i] * out->data[i];
    return s;
}

/* Every coordinate of grad_qkv against (L(x + h) − L(x − h))/2h, L = Σ r·out, h = 1e-2. */
static void test_finite_differences(void)
{
    const int heads = 2;
    const float step = 1e-2f;
    ss_tensor *qkv = randn(3, (int64_t[]){2, 12, 6}, 1.0f), *r = randn(3, (int64_t[]){2, 4, 6}, 1.0f);
    ss_tensor *out = out_for(qkv), *w = weights_for(qkv, heads), *dqkv = like(qkv);
    CHECK_OK(ss_attention_forward(out, w, qkv, heads));
    CHECK_OK(ss_attention_backward(dqkv, r, qkv, w, heads));
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < ss_tensor_numel(qkv); i++) {
        const float keep = qkv->data[i];
        qkv->data[i] = keep + step;
        const double up = project(out, w, qkv, heads, r);
        qkv->data[i] = keep - step;
        const double down = project(out, w, qkv, heads, r);
        qkv->data[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2.0 * step) - dqkv->data[i]));
        scale = fmax(scale, fabs(dqkv->data[i]));
    }
    printf("finite differences, qkv (2,12,6), 2 heads, step %g, all %lld coordinates\n", (double)step,
           (long long)ss_tensor_numel(qkv));
    printf("  %-44s max rel diff %.3g\n", "grad_qkv", worst / scale);
    CHECK(worst <= 1e-2 * scale, "finite differences: %.3g", worst / scale);
    ss_tensor_free(qkv), ss_tensor_free(r), ss_tensor_free(out), ss_tensor_free(w), ss_tensor_free(dqkv);
}

/* ------------------------------------------------------------ large scores */

/* Integer q and k with d = 4, so that the scores q·k/2 are exact in float and W and
 * out must match a softmax with the row maximum subtracted, evaluated in double, up
 * to float rounding. Key channel 0 is 0..7 with keys 2 and 5 tied, the other key
 * channels are 100: query 0, (1,100,100,100), scores 15000 + s/2, gets a smooth
 * softmax far beyond expf's range; the others, random in [−100, 100], larger gaps. */
static void test_large_scores(void)
{
    enum { C = 4, T = 8 };
    ss_tensor *qkv = make(3, (int64_t[]){1, 3 * C, T}), *out = out_for(qkv), *w = weights_for(qkv, 1);
    ss_tensor *g = randn(3, (int64_t[]){1, C, T}, 1.0f), *dqkv = like(qkv), *vv = randn(1, (int64_t[]){C * T}, 1.0f);
    int64_t ints[C * T];
    CHECK_OK(ss_rng_randint(&rng, ints, C * T, -100, 100));
    float *q = qkv->data, *k = q + C * T, *v = k + C * T;
    for (int i = 0; i < C * T; i++) q[i] = (float)ints[i];
    for (int c = 0; c < C; c++) q[c * T] = c ? 100.0f : 1.0f;
    for (int s = 0; s < T; s++) {
        k[s] = (float)(s == 5 ? 2 : s);
        for (int c = 1; c < C; c++) k[c * T + s] = 100.0f;
    }
    memcpy(v, vv->data, sizeof(float) * C * T);
    CHECK_OK(ss_attention_forward(out, w, qkv, 1));
    CHECK_OK(ss_attention_backward(dqkv, g, qkv, w, 1));
    double smax = 0, werr = 0, rowerr = 0, oerr = 0, oscale = 0;
    double wr[T][T];
    for (int t = 0; t < T; t++) {
        double s[T], m = -INFINITY, sum = 0, rs = 0;
        for (int j = 0; j < T; j++) {
            s[j] = 0;
            for (int c = 0; c < C; c++) s[j] += (double)q[c * T + t] * k[c * T + j];
            s[j] /= 2.0; /* √d */
            smax = fmax(smax, fabs(s[j]));
            m = fmax(m, s[j]);
        }
        for (int j = 0; j < T; j++) sum += wr[t][j] = exp(s[j] - m);
        for (int j = 0; j < T; j++) {
            wr[t][j] /= sum;
            werr = fmax(werr, fabs(w->data[t * T + j] - wr[t][j]));
            rs += w->data[t * T + j];
        }
        rowerr = fmax(rowerr, fabs(rs - 1.0));
    }
    for (int c = 0; c < C; c++)
        for (int t = 0; t < T; t++) {
            double o = 0;
            for (int j = 0; j < T; j++) o += wr[t][j] * v[c * T + j];
            oerr = fmax(oerr, fabs(out->data[c * T + t] - o));
            oscale = fmax(oscale, fabs(o));
        }
    printf("large scores (max |score| %.3g)\n", smax);
    printf("  %-44s max|diff| %.3g, row sums off 1 by %.3g\n", "weights vs double softmax", werr, rowerr);
    printf("  %-44s max rel diff %.3g\n", "forward vs double", oerr / oscale);
    CHECK(smax > 1e4, "scores not large: %g", smax);
    CHECK(all_finite(out) && all_finite(w) && all_finite(dqkv), "non-finite values with large scores");
    CHECK(werr <= 1e-6 && rowerr <= 1e-6, "weights: %.3g, row sums %.3g", werr, rowerr);
    CHECK(oerr <= 1e-5 * oscale, "forward: %.3g", oerr / oscale);
    ss_tensor_free(qkv), ss_tensor_free(out), ss_tensor_free(w), ss_tensor_free(g), ss_tensor_free(dqkv);
    ss_tensor_free(vv);
}

/* ------------------------------------------------------------ threads */

/* 8 pairs of 144 positions and d = 16: above the library's threshold for splitting
 * pairs over threads, so 2 and 3 threads take that path and 1 the serial one. */
static void test_threads(void)
{
    const int heads = 2, counts[3] = {1, 2, 3};
    ss_tensor *qkv = randn(4, (int64_t[]){4, 96, 12, 12}, 1.0f), *g = randn(4, (int64_t[]){4, 32, 12, 12}, 1.0f);
    ss_tensor *out[3], *w[3], *d[3];
    for (int i = 0; i < 3; i++) {
        out[i] = out_for(qkv), w[i] = weights_for(qkv, heads), d[i] = like(qkv);
        ss_set_num_threads(counts[i]);
        CHECK_OK(ss_attention_forward(out[i], w[i], qkv, heads));
        CHECK_OK(ss_attention_backward(d[i], g, qkv, w[i], heads));
    }
    ss_set_num_threads(0);
    printf("threads, qkv (4,96,12,12), 2 heads\n");
    for (int i = 1; i < 3; i++) {
        int same = memcmp(out[i]->data, out[0]->data, sizeof(float) * ss_tensor_numel(out[0])) == 0 &&
                   memcmp(w[i]->data, w[0]->data, sizeof(float) * ss_tensor_numel(w[0])) == 0 &&
                   memcmp(d[i]->data, d[0]->data, sizeof(float) * ss_tensor_numel(d[0])) == 0;
        printf("  %d threads vs 1: out, weights, grad_qkv %s\n", counts[i], same ? "bitwise identical" : "DIFFER");
        CHECK(same, "%d threads differ from 1", counts[i]);
    }
    for (int i = 0; i < 3; i++) ss_tensor_free(out[i]), ss_tensor_free(w[i]), ss_tensor_free(d[i]);
    ss_tensor_free(qkv), ss_tensor_free(g);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
    ss_tensor *qkv = randn(4, (int64_t[]){2, 18, 3, 3}, 1.0f), *out = out_for(qkv), *w = weights_for(qkv, 2);
    ss_tensor *dqkv = like(qkv);
    CHECK_OK(ss_attention_forward(out, w, qkv, 2));
    CHECK_FAILS2(ss_attention_forward(out, w, qkv, 4), "6 channels", "4 heads");
    CHECK_FAILS(ss_attention_forward(out, w, qkv, 0), "0 heads");
    CHECK_FAILS(ss_attention_backward(dqkv, out, qkv, w, 4), "4 heads");
    ss_tensor *q16 = make(4, (int64_t[]){2, 16, 3, 3});
    CHECK_FAILS(ss_attention_forward(out, w, q16, 2), "multiple of 3");
    ss_tensor *q2 = make(2, (int64_t[]){2, 18});
    CHECK_FAILS(ss_attention_forward(out, w, q2, 2), "3 or 4 dims");
    CHECK_FAILS(ss_attention_forward(out, w, NULL, 2), "qkv is NULL");
    CHECK_FAILS(ss_attention_forward(NULL, w, qkv, 2), "out is NULL");
    ss_tensor *o5 = make(4, (int64_t[]){2, 5, 3, 3}), *o3 = make(3, (int64_t[]){2, 6, 9});
    CHECK_FAILS2(ss_attention_forward(o5, w, qkv, 2), "out has shape (2,5,3,3)", "expected (2,6,3,3)");
    CHECK_FAILS(ss_attention_forward(o3, w, qkv, 2), "out has shape (2,6,9)");
    CHECK_FAILS(ss_attention_backward(dqkv, o5, qkv, w, 2), "grad_out has shape");
    CHECK_FAILS(ss_attention_backward(out, out, qkv, w, 2), "grad_qkv has shape");
    ss_tensor *wsmall = make(1, (int64_t[]){2 * 2 * 81 - 1}), *wbig = make(1, (int64_t[]){2 * 2 * 81 + 81});
    CHECK_FAILS(ss_attention_forward(out, wsmall, qkv, 2), "weights must hold");
    CHECK_FAILS(ss_attention_forward(out, wbig, qkv, 2), "weights must hold");
    CHECK_FAILS(ss_attention_backward(dqkv, out, qkv, wsmall, 2), "weights must hold");
    /* views of one storage: out, weights or grad_qkv overlapping an input */
    ss_tensor *whole = randn(3, (int64_t[]){6, 6, 9}, 1.0f);
    ss_tensor *qv = need(ss_tensor_reshape(whole, 3, (int64_t[]){2, 18, 9}), "view");
    ss_tensor *ov = need(ss_tensor_narrow(whole, 1, 2), "view"), *w9 = weights_for(qv, 2), *o9 = out_for(qv);
    ss_tensor *wv = need(ss_tensor_reshape(whole, 3, (int64_t[]){4, 9, 9}), "view");
    CHECK_OK(ss_attention_forward(o9, w9, qv, 2));
    CHECK_FAILS2(ss_attention_forward(ov, w9, qv, 2), "out shares memory", "qkv");
    CHECK_FAILS2(ss_attention_forward(o9, wv, qv, 2), "weights shares memory", "qkv");
    CHECK_FAILS2(ss_attention_backward(qv, o9, qv, w9, 2), "grad_qkv shares memory", "qkv");
    ss_tensor *whole2 = randn(3, (int64_t[]){6, 6, 9}, 1.0f);
    ss_tensor *gq = need(ss_tensor_reshape(whole2, 3, (int64_t[]){2, 18, 9}), "view");
    ss_tensor *gv = need(ss_tensor_narrow(whole2, 0, 2), "view");
    CHECK_FAILS2(ss_attention_backward(gq, gv, qv, w9, 2), "grad_qkv shares memory", "grad_out");
    ss_tensor *ts[] = {qkv, out, w, dqkv, q16, q2, o5, o3, wsmall, wbig, whole, qv, ov, w9, o9, wv, whole2, gq, gv};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) ss_tensor_free(ts[i]);
}

/* ------------------------------------------------------------ dropout */

static void test_dropout(void)
{
    printf("dropout\n");
    /* p = 0: the identity, mask 1, nothing drawn (a generator is optional) */
    ss_tensor *x = randn(3, (int64_t[]){3, 4, 5}, 1.0f), *y = like(x), *m = like(x);
    const uint64_t offset = rng.offset;
    CHECK_OK(ss_dropout_forward(y, m, x, 0.0f, &rng));
    CHECK(memcmp(y->data, x->data, sizeof(float) * 60) == 0, "p = 0 is not the identity");
    int ones = 1;
    for (int i = 0; i < 60; i++) ones &= m->data[i] == 1.0f;
    CHECK(ones, "p = 0: mask is not all 1");
    CHECK(rng.offset == offset, "p = 0 advanced the generator");
    CHECK_OK(ss_dropout_forward(y, m, x, 0.0f, NULL));
    printf("  p = 0: identity, mask 1, generator untouched\n");

    /* p = 0.25 on 100000 values */
    enum { n = 100000 };
    const float p = 0.25f, scale = (float)(1.0 / (1.0 - 0.25));
    ss_tensor *xb = randn(1, (int64_t[]){n}, 1.0f), *yb = like(xb), *mb = like(xb), *ref = like(xb);
    const ss_rng start = rng;
    ss_rng clone = start;
    CHECK_OK(ss_dropout_forward(yb, mb, xb, p, &rng));
    CHECK_OK(ss_rng_bernoulli(&clone, ref, 1.0f - p));
    CHECK(clone.offset == rng.offset, "dropout drew %llu blocks, one bernoulli draw %llu",
          (unsigned long long)(rng.offset - start.offset), (unsigned long long)(clone.offset - start.offset));
    int64_t kept = 0, bad_mask = 0, bad_out = 0;
    double ulps = 0;
    for (int i = 0; i < n; i++) {
        const float mi = mb->data[i], xi = xb->data[i];
        kept += mi != 0.0f;
        bad_mask += mi != ref->data[i] * scale || (mi != 0.0f && mi != scale);
        bad_out += yb->data[i] != xi * mi;
        if (mi != 0.0f) { /* against in/(1 − p), in units of the last place */
            const double e = (double)xi / (1.0 - p);
            ulps = fmax(ulps, fabs(yb->data[i] - e) / fmax(nextafterf((float)fabs(e), INFINITY) - (float)fabs(e),
                                                            1e-45));
        }
    }
    const double frac = (double)kept / n, se = sqrt(0.75 * 0.25 / n);
    printf("  p = 0.25, %d values: kept %.5f (expected 0.75, %.1f standard errors off)\n", n, frac,
           fabs(frac - 0.75) / se);
    printf("  kept values = in·%.9g exactly; vs in/(1-p): max %.2g ulp\n", (double)scale, ulps);
    CHECK(fabs(frac - 0.75) <= 5 * se, "kept fraction %.5f", frac);
    CHECK(bad_mask == 0, "%lld mask values differ from one ss_rng_bernoulli draw times 1/(1-p)", (long long)bad_mask);
    CHECK(bad_out == 0, "%lld outputs differ from in·mask", (long long)bad_out);
    CHECK(ulps <= 1.0, "kept values off in/(1-p) by %.3g ulp", ulps);

    /* backward, also in place; forward in place; same seed, same mask */
    ss_tensor *gb = randn(1, (int64_t[]){n}, 1.0f), *db = like(gb);
    CHECK_OK(ss_dropout_backward(db, gb, mb));
    int64_t bad = 0;
    for (int i = 0; i < n; i++) bad += db->data[i] != gb->data[i] * mb->data[i];
    CHECK_OK(ss_dropout_backward(gb, gb, mb));
    bad += memcmp(gb->data, db->data, sizeof(float) * n) != 0;
    CHECK(bad == 0, "backward is not grad_out·mask (%lld)", (long long)bad);
    ss_tensor *xi = need(ss_tensor_clone(xb), "clone"), *m2 = like(xb);
    ss_rng same;
    CHECK_OK(ss_rng_init(&same, start.seed));
    same.offset = start.offset;
    CHECK_OK(ss_dropout_forward(xi, m2, xi, p, &same));
    CHECK(memcmp(m2->data, mb->data, sizeof(float) * n) == 0, "same seed and offset, different mask");
    CHECK(memcmp(xi->data, yb->data, sizeof(float) * n) == 0, "in place differs");
    CHECK_OK(ss_dropout_forward(yb, m2, xb, p, &same));
    CHECK(memcmp(m2->data, mb->data, sizeof(float) * n) != 0, "the next draw repeats the mask");
    printf("  backward = grad_out·mask (also in place); in place forward, same seed and offset agree\n");

    /* errors */
    CHECK_FAILS(ss_dropout_forward(y, m, x, 1.0f, &rng), "p must be in [0, 1)");
    CHECK_FAILS(ss_dropout_forward(y, m, x, -0.1f, &rng), "p must be in [0, 1)");
    CHECK_FAILS(ss_dropout_forward(y, m, x, NAN, &rng), "p must be in [0, 1)");
    CHECK_FAILS(ss_dropout_forward(y, m, x, 0.5f, NULL), "generator is NULL");
    CHECK_FAILS2(ss_dropout_forward(yb, m, x, 0.5f, &rng), "(100000)", "(3,4,5)");
    CHECK_FAILS(ss_dropout_forward(y, x, x, 0.5f, &rng), "mask shares memory with in");
    CHECK_FAILS(ss_dropout_backward(db, gb, m), "shapes differ");
    CHECK_FAILS(ss_dropout_backward(m, x, m), "mask shares memory with grad_in");
    ss_tensor *ts[] = {x, y, m, xb, yb, mb, ref, gb, db, xi, m2};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) ss_tensor_free(ts[i]);
}

int main(void)
{
    if (test_seed("test_nn_attention", &seed, &rng)) return 2;
    const char *path = "tests/reference/nn_attention/attention.ssfx";
    fx = fixture_load(path);
    CHECK(fx != NULL, "cannot load %s", path);
    if (!fx) return test_summary("test_nn_attention");
    test_fixture("a4");
    test_fixture("a3");
    test_fixture("a49");
    test_finite_differences();
    test_large_scores();
    test_threads();
    test_errors();
    test_dropout();
    fixture_free(fx);
    return test_summary("test_nn_attention");
}
