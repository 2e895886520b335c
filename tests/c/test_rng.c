/* test_rng.c — Philox4x32-10 known answers, stream layout, thread-count
 * independence, moments of the distributions, argument errors.
 * The seed is printed; SS_TEST_SEED=<n> reruns with another one. */
#include "check.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 20240611u;

static ss_tensor *vec(int64_t n)
{
    ss_tensor *t = ss_tensor_empty(1, &n, SS_CPU);
    if (!t) {
        fprintf(stderr, "cannot allocate %lld floats: %s\n", (long long)n, ss_last_error());
        exit(2);
    }
    return t;
}

static void moments(const float *x, int64_t n, double *mean, double *var)
{
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (double)n;
}

static int same_bits(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(float)) == 0; }

static void test_known_answers(void)
{
    /* Random123's kat_vectors for philox4x32 10. */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int k = 0; k < 3; k++) {
        uint32_t out[4] = {0};
        CHECK_OK(ss_philox4x32_10(out, kat[k], kat[k] + 4));
        int ok = memcmp(out, kat[k] + 6, sizeof out) == 0;
        printf("  philox4x32-10 KAT %d: %08x %08x %08x %08x %s\n", k + 1, out[0], out[1], out[2], out[3],
               ok ? "ok" : "WRONG");
        CHECK(ok, "philox4x32-10 known-answer vector %d differs", k + 1);
    }
}

/* The documented layout: value i from block offset + i/4, lane i%4, key = seed words. */
static void test_layout(void)
{
    ss_rng g;
    CHECK_OK(ss_rng_init(&g, seed));
    CHECK(g.seed == seed && g.offset == 0, "ss_rng_init should set seed and offset 0");
    g.offset = 5; /* start mid-stream */
    const int64_t n = 10;
    ss_tensor *u = vec(n), *z = vec(n);
    CHECK_OK(ss_rng_uniform(&g, u, -1.0f, 3.0f));
    CHECK(g.offset == 5 + 3, "uniform of 10 values should advance offset by 3 blocks, got %llu",
          (unsigned long long)(g.offset - 5));
    CHECK_OK(ss_rng_normal(&g, z, 2.0f, 0.5f));
    CHECK(g.offset == 8 + 3, "normal of 10 values should advance offset by 3 blocks");

    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    float ref_u[10], ref_z[10];
    for (int64_t i = 0; i < n; i++) {
        uint64_t blk = 5 + (uint64_t)i / 4;
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), 0, 0}, r[4];
        ss_philox4x32_10(r, ctr, key);
        ref_u[i] = (float)(-1.0 + 4.0 * ((r[i % 4] >> 8) * 0x1p-24));
        blk += 3;
        ctr[0] = (uint32_t)blk, ctr[1] = (uint32_t)(blk >> 32);
        ss_philox4x32_10(r, ctr, key);
        int pair = (int)(i % 4) / 2;
        double u1 = ((r[2 * pair] >> 8) + 1) * 0x1p-24, u2 = (r[2 * pair + 1] >> 8) * 0x1p-24;
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        ref_z[i] = (float)(2.0 + 0.5 * (i % 2 ? rad * sin(th) : rad * cos(th)));
    }
    test_close("uniform vs raw Philox blocks (lane layout)", u->data, ref_u, n, 0);
    test_close("normal vs raw Philox blocks (Box-Muller)", z->data, ref_z, n, 0);

    /* randint: value i from block offset + i/2, lanes 2(i%2) (low) and +1 (high),
     * Lemire's multiply with retries from counter word 2 = attempt. A range of
     * 3*2^62 rejects a quarter of the candidates, so retries are exercised. */
    const uint64_t range = UINT64_C(3) << 62, threshold = (0 - range) % range;
    const int64_t lo = INT64_MIN, ni = 64;
    int64_t got[64];
    int retries = 0, match = 1;
    ss_rng_init(&g, seed);
    g.offset = 9;
    CHECK_OK(ss_rng_randint(&g, got, ni, lo, (INT64_C(1) << 62) - 1));
    CHECK(g.offset == 9 + 32, "randint of 64 values should advance offset by 32 blocks");
    for (int64_t i = 0; i < ni; i++) {
        uint64_t blk = 9 + (uint64_t)i / 2, v = 0;
        int lane = 2 * (int)(i % 2);
        for (uint32_t attempt = 0;; attempt++) {
            uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), attempt, 0}, r[4];
            ss_philox4x32_10(r, ctr, key);
            uint64_t x = (uint64_t)r[lane] | (uint64_t)r[lane + 1] << 32;
            unsigned __int128 m = (unsigned __int128)x * range;
            if ((uint64_t)m >= threshold) {
                v = (uint64_t)(m >> 64);
                break;
            }
            retries++;
        }
        match &= (uint64_t)got[i] - (uint64_t)lo == v;
    }
    printf("  randint vs raw Philox blocks (%d retries in %lld values): %s\n", retries, (long long)ni,
           match ? "identical" : "DIFFERENT");
    CHECK(match, "randint does not follow the documented layout");
    CHECK(retries > 0, "the retry path was not exercised; pick another seed or range");
    ss_tensor_free(u);
    ss_tensor_free(z);
}

static void test_normal_moments(void)
{
    const int64_t n = 1000000;
    ss_tensor *z = vec(n);
    ss_rng g;
    ss_rng_init(&g, seed);
    CHECK_OK(ss_rng_normal(&g, z, 0.0f, 1.0f));
    double m, v;
    moments(z->data, n, &m, &v);
    float lo = z->data[0], hi = z->data[0];
    for (int64_t i = 0; i < n; i++) lo = fminf(lo, z->data[i]), hi = fmaxf(hi, z->data[i]);
    printf("  normal: n = %lld, mean = %+.6f (|.| <= 0.005), variance = %.6f (|.-1| <= 0.01), range [%.3f, %.3f]\n",
           (long long)n, m, v, lo, hi);
    CHECK(fabs(m) <= 0.005, "normal mean %.6f is not within 0.005 of 0", m);
    CHECK(fabs(v - 1.0) <= 0.01, "normal variance %.6f is not within 0.01 of 1", v);
    CHECK(hi <= 5.78f && lo >= -5.78f, "normal values beyond the 24-bit Box-Muller bound 5.77");

    CHECK_OK(ss_rng_normal(&g, z, 3.0f, 2.0f));
    moments(z->data, n, &m, &v);
    printf("  normal(3, 2^2): mean = %.6f, variance = %.6f\n", m, v);
    CHECK(fabs(m - 3.0) <= 0.01 && fabs(v - 4.0) <= 0.04, "normal(3, 2) has mean %.4f variance %.4f", m, v);

    CHECK_OK(ss_rng_normal(&g, z, 1.5f, 0.0f));
    int all = 1;
    for (int64_t i = 0; i < n; i++) all &= z->data[i] == 1.5f;
    CHECK(all, "normal with std 0 should give the mean everywhere");
    ss_tensor_free(z);
}

static void test_uniform(void)
{
    const int64_t n = 1000000;
    ss_tensor *u = vec(n);
    ss_rng g;
    ss_rng_init(&g, seed + 1);
    CHECK_OK(ss_rng_uniform(&g, u, -2.0f, 3.0f));
    double m, v;
    moments(u->data, n, &m, &v);
    int inside = 1;
    for (int64_t i = 0; i < n; i++) inside &= u->data[i] >= -2.0f && u->data[i] < 3.0f;
    printf("  uniform[-2,3): mean = %.6f (expect 0.5), variance = %.6f (expect %.6f)\n", m, v, 25.0 / 12);
    CHECK(inside, "uniform values outside [-2, 3)");
    CHECK(fabs(m - 0.5) <= 0.01, "uniform mean %.6f is not 0.5", m);
    CHECK(fabs(v - 25.0 / 12) <= 0.02, "uniform variance %.6f is not 25/12", v);

    CHECK_OK(ss_rng_uniform(&g, u, 0.0f, 1.0f));
    moments(u->data, n, &m, &v);
    inside = 1;
    for (int64_t i = 0; i < n; i++) inside &= u->data[i] >= 0.0f && u->data[i] < 1.0f;
    printf("  uniform[0,1): mean = %.6f, variance = %.6f (expect 1/12 = %.6f)\n", m, v, 1.0 / 12);
    CHECK(inside && fabs(m - 0.5) <= 0.002, "uniform[0,1) out of range or mean %.6f", m);

    /* A range one float wide: rounding would give hi, which must never appear. */
    float lo = 1.0f, hi = nextafterf(1.0f, 2.0f);
    CHECK_OK(ss_rng_uniform(&g, u, lo, hi));
    int at_lo = 1;
    for (int64_t i = 0; i < n; i++) at_lo &= u->data[i] == lo;
    CHECK(at_lo, "uniform on [1, nextafter(1)) must give only 1");

    /* The whole float range: hi - lo overflows float but not the double path. */
    CHECK_OK(ss_rng_uniform(&g, u, -FLT_MAX, FLT_MAX));
    inside = 1;
    for (int64_t i = 0; i < n; i++) inside &= isfinite(u->data[i]) && u->data[i] < FLT_MAX;
    CHECK(inside, "uniform on [-FLT_MAX, FLT_MAX) gave non-finite values or hi");
    ss_tensor_free(u);
}

static void test_bernoulli(void)
{
    const int64_t n = 1000000;
    ss_tensor *b = vec(n);
    ss_rng g;
    ss_rng_init(&g, seed + 2);
    CHECK_OK(ss_rng_bernoulli(&g, b, 0.3f));
    double m, v;
    moments(b->data, n, &m, &v);
    int binary = 1;
    for (int64_t i = 0; i < n; i++) binary &= b->data[i] == 0.0f || b->data[i] == 1.0f;
    printf("  bernoulli(0.3): mean = %.6f\n", m);
    CHECK(binary, "bernoulli values other than 0 and 1");
    CHECK(fabs(m - 0.3) <= 0.005, "bernoulli(0.3) mean %.6f", m);
    CHECK_OK(ss_rng_bernoulli(&g, b, 0.0f));
    moments(b->data, n, &m, &v);
    CHECK(m == 0.0, "bernoulli(0) fired");
    CHECK_OK(ss_rng_bernoulli(&g, b, 1.0f));
    moments(b->data, n, &m, &v);
    CHECK(m == 1.0, "bernoulli(1) missed");
    ss_tensor_free(b);
}

/* Large enough that the fill loops run in parallel. */
static void test_threads(void)
{
    const int64_t n = (1 << 20) + 3;
    ss_tensor *a = vec(n), *b = vec(n);
    int64_t *ia = malloc((size_t)n * sizeof(int64_t)), *ib = malloc((size_t)n * sizeof(int64_t));
    CHECK(ia && ib, "out of memory");
    if (!ia || !ib) goto done;
    const char *names[4] = {"normal", "uniform", "bernoulli", "randint"};
    for (int kind = 0; kind < 4; kind++) {
        for (int pass = 0; pass < 2; pass++) {
            ss_set_num_threads(pass == 0 ? 1 : 2);
            ss_rng g;
            ss_rng_init(&g, seed + 3);
            g.offset = 77;
            ss_tensor *t = pass == 0 ? a : b;
            int64_t *it = pass == 0 ? ia : ib;
            if (kind == 0) CHECK_OK(ss_rng_normal(&g, t, 0.0f, 1.0f));
            if (kind == 1) CHECK_OK(ss_rng_uniform(&g, t, 0.0f, 1.0f));
            if (kind == 2) CHECK_OK(ss_rng_bernoulli(&g, t, 0.5f));
            if (kind == 3) CHECK_OK(ss_rng_randint(&g, it, n, INT64_MIN, (INT64_C(1) << 62) - 1));
        }
        int same = kind == 3 ? memcmp(ia, ib, (size_t)n * sizeof(int64_t)) == 0 : same_bits(a->data, b->data, n);
        printf("  %-9s 1 thread vs 2 threads (%lld values): %s\n", names[kind], (long long)n,
               same ? "identical" : "DIFFERENT");
        CHECK(same, "%s stream depends on the thread count", names[kind]);
    }
done:
    ss_set_num_threads(0);
    free(ia);
    free(ib);
    ss_tensor_free(a);
    ss_tensor_free(b);
}

static void test_pieces_and_offset(void)
{
    const int64_t n = 1000;
    ss_tensor *whole = vec(n), *parts = vec(n);
    ss_rng g;
    ss_rng_init(&g, seed + 4);
    CHECK_OK(ss_rng_normal(&g, whole, 0.0f, 1.0f));
    CHECK(g.offset == 250, "offset after 1000 values is %llu, expected 250", (unsigned long long)g.offset);
    ss_rng_init(&g, seed + 4);
    const int64_t sizes[3] = {400, 204, 396};
    int64_t at = 0;
    for (int k = 0; k < 3; k++) {
        ss_tensor *piece = ss_tensor_narrow(parts, at, sizes[k]);
        CHECK(piece != NULL, "narrow failed: %s", ss_last_error());
        if (piece) CHECK_OK(ss_rng_normal(&g, piece, 0.0f, 1.0f));
        ss_tensor_free(piece);
        at += sizes[k];
    }
    CHECK(g.offset == 250, "offset after pieces is %llu, expected 250", (unsigned long long)g.offset);
    test_close("normal: one call vs pieces of 400+204+396", whole->data, parts->data, n, 0);

    /* A piece that is not a multiple of 4 still uses up its whole last block:
     * 3 values then 4 values = values 0..2 and 4..7 of one draw of 8. */
    ss_tensor *eight = vec(8), *three = vec(3), *four = vec(4);
    ss_rng_init(&g, seed + 5);
    CHECK_OK(ss_rng_uniform(&g, eight, 0.0f, 1.0f));
    ss_rng_init(&g, seed + 5);
    CHECK_OK(ss_rng_uniform(&g, three, 0.0f, 1.0f));
    CHECK(g.offset == 1, "3 values should advance offset by 1 block");
    CHECK_OK(ss_rng_uniform(&g, four, 0.0f, 1.0f));
    CHECK(g.offset == 2, "then 4 values by 1 more");
    CHECK(same_bits(eight->data, three->data, 3) && same_bits(eight->data + 4, four->data, 4),
          "partial block was not skipped as documented");

    /* Integer draws take 2 values per block. */
    int64_t iv[5];
    ss_rng_init(&g, seed);
    CHECK_OK(ss_rng_randint(&g, iv, 5, 0, 9));
    CHECK(g.offset == 3, "randint of 5 should advance offset by 3 blocks, got %llu", (unsigned long long)g.offset);
    CHECK_OK(ss_rng_perm(&g, iv, 5));
    CHECK(g.offset == 5, "perm of 5 (4 swaps) should advance offset by 2 blocks");
    CHECK_OK(ss_rng_perm(&g, iv, 1));
    CHECK(g.offset == 5 && iv[0] == 0, "perm of 1 is {0} and draws nothing");
    ss_tensor_free(whole);
    ss_tensor_free(parts);
    ss_tensor_free(eight);
    ss_tensor_free(three);
    ss_tensor_free(four);
}

static void test_integers(void)
{
    ss_rng g;
    ss_rng_init(&g, seed + 6);
    /* perm is a permutation, for several sizes. */
    const int64_t sizes[4] = {2, 7, 1000, 100003};
    int64_t *p = malloc(100003 * sizeof(int64_t));
    unsigned char *seen = malloc(100003);
    if (!p || !seen) {
        CHECK(0, "out of memory");
        free(p);
        free(seen);
        return;
    }
    for (int k = 0; k < 4; k++) {
        int64_t n = sizes[k];
        CHECK_OK(ss_rng_perm(&g, p, n));
        memset(seen, 0, (size_t)n);
        int ok = 1;
        for (int64_t i = 0; i < n; i++) {
            if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = 0;
            else seen[p[i]] = 1;
        }
        int64_t fixed = 0;
        for (int64_t i = 0; i < n; i++) fixed += p[i] == i;
        printf("  perm(%lld): %s, %lld fixed points\n", (long long)n, ok ? "a permutation" : "NOT a permutation",
               (long long)fixed);
        CHECK(ok, "perm(%lld) is not a permutation", (long long)n);
        if (n >= 1000) CHECK(fixed < 20, "perm(%lld) has %lld fixed points (expect ~1)", (long long)n, (long long)fixed);
    }
    /* Every position of perm(3) is uniform: 6 orders, each ~1/6. */
    int count[6] = {0};
    for (int t = 0; t < 60000; t++) {
        ss_rng_perm(&g, p, 3);
        count[p[0] * 2 + (p[1] > p[2])]++;
    }
    int even = 1;
    for (int k = 0; k < 6; k++) even &= abs(count[k] - 10000) < 500;
    printf("  perm(3) orders over 60000 draws: %d %d %d %d %d %d\n", count[0], count[1], count[2], count[3], count[4],
           count[5]);
    CHECK(even, "perm(3) orders are not uniform");

    /* randint: inclusive range, both ends hit. */
    const int64_t n = 100000;
    int64_t lo_hits = 0, hi_hits = 0, outside = 0;
    CHECK_OK(ss_rng_randint(&g, p, n, -3, 5));
    for (int64_t i = 0; i < n; i++) {
        outside += p[i] < -3 || p[i] > 5;
        lo_hits += p[i] == -3;
        hi_hits += p[i] == 5;
    }
    printf("  randint[-3,5]: %lld hits of -3, %lld of 5 (expect ~%lld each), %lld outside\n", (long long)lo_hits,
           (long long)hi_hits, (long long)(n / 9), (long long)outside);
    CHECK(outside == 0, "randint values outside [-3, 5]");
    CHECK(lo_hits > n / 9 - 1000 && hi_hits > n / 9 - 1000, "randint does not reach both ends evenly");
    CHECK_OK(ss_rng_randint(&g, p, 100, 7, 7));
    int all7 = 1;
    for (int i = 0; i < 100; i++) all7 &= p[i] == 7;
    CHECK(all7, "randint[7,7] must give 7");
    CHECK_OK(ss_rng_randint(&g, p, 1000, INT64_MIN, INT64_MAX));
    int64_t neg = 0;
    for (int i = 0; i < 1000; i++) neg += p[i] < 0;
    CHECK(neg > 400 && neg < 600, "full-range randint has %lld negatives of 1000", (long long)neg);

    /* A range of 3*2^62 rejects 1/4 of raw 64-bit values: the thirds must still
     * be even (a plain modulo would give 1/2, 1/4, 1/4). */
    int64_t lo = INT64_MIN, hi = (INT64_C(1) << 62) - 1; /* hi - lo + 1 = 3*2^62 */
    CHECK_OK(ss_rng_randint(&g, p, n, lo, hi));
    int64_t third[3] = {0, 0, 0};
    outside = 0;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] < lo || p[i] > hi) outside++;
        else third[((uint64_t)p[i] - (uint64_t)lo) >> 62]++;
    }
    printf("  randint over 3*2^62 values: thirds %lld %lld %lld\n", (long long)third[0], (long long)third[1],
           (long long)third[2]);
    CHECK(outside == 0, "randint over 3*2^62 left its range");
    for (int k = 0; k < 3; k++)
        CHECK(llabs(third[k] - n / 3) < 1000, "randint over 3*2^62 is biased: third %d has %lld", k,
              (long long)third[k]);
    free(p);
    free(seen);
}

static void test_save_restore(void)
{
    const int64_t n = 4097;
    ss_tensor *a = vec(n), *b = vec(n);
    int64_t pa[50], pb[50];
    ss_rng g;
    ss_rng_init(&g, seed + 7);
    ss_rng_uniform(&g, a, 0.0f, 1.0f); /* move along a bit */
    ss_rng saved = g;
    CHECK_OK(ss_rng_normal(&g, a, 0.0f, 1.0f));
    CHECK_OK(ss_rng_perm(&g, pa, 50));
    g = saved;
    CHECK_OK(ss_rng_normal(&g, b, 0.0f, 1.0f));
    CHECK_OK(ss_rng_perm(&g, pb, 50));
    CHECK(same_bits(a->data, b->data, n) && memcmp(pa, pb, sizeof pa) == 0, "restored state does not replay");
    printf("  save/restore: stream replays %s\n", same_bits(a->data, b->data, n) ? "exactly" : "DIFFERENTLY");
    /* A different seed gives a different stream. */
    ss_rng_init(&g, seed + 8);
    CHECK_OK(ss_rng_normal(&g, b, 0.0f, 1.0f));
    CHECK(!same_bits(a->data, b->data, n), "two seeds gave the same stream");
    ss_tensor_free(a);
    ss_tensor_free(b);
}

static void test_errors(void)
{
    ss_rng g;
    ss_rng_init(&g, seed);
    ss_tensor *t = vec(8);
    int64_t iv[4];
    uint32_t w[4] = {0};
    CHECK_FAILS(ss_rng_init(NULL, 1), "NULL");
    CHECK_FAILS(ss_philox4x32_10(NULL, w, w), "NULL");
    CHECK_FAILS(ss_rng_uniform(NULL, t, 0.0f, 1.0f), "generator is NULL");
    CHECK_FAILS(ss_rng_uniform(&g, NULL, 0.0f, 1.0f), "out is NULL");
    CHECK_FAILS(ss_rng_uniform(&g, t, 1.0f, 1.0f), "lo < hi");
    CHECK_FAILS(ss_rng_uniform(&g, t, 2.0f, 1.0f), "lo < hi");
    CHECK_FAILS(ss_rng_uniform(&g, t, NAN, 1.0f), "finite");
    CHECK_FAILS(ss_rng_uniform(&g, t, 0.0f, INFINITY), "finite");
    CHECK_FAILS(ss_rng_normal(&g, t, 0.0f, -1.0f), "std must be >= 0");
    CHECK_FAILS(ss_rng_normal(&g, t, NAN, 1.0f), "finite");
    CHECK_FAILS(ss_rng_normal(&g, t, 0.0f, NAN), "finite");
    CHECK_FAILS(ss_rng_normal(NULL, t, 0.0f, 1.0f), "generator is NULL");
    CHECK_FAILS(ss_rng_bernoulli(&g, t, 1.5f), "[0, 1]");
    CHECK_FAILS(ss_rng_bernoulli(&g, t, -0.1f), "[0, 1]");
    CHECK_FAILS(ss_rng_bernoulli(&g, t, NAN), "[0, 1]");
    CHECK_FAILS(ss_rng_randint(&g, iv, 4, 5, 4), "lo <= hi");
    CHECK_FAILS(ss_rng_randint(&g, NULL, 4, 0, 4), "out is NULL");
    CHECK_FAILS(ss_rng_randint(&g, iv, -1, 0, 4), ">= 0");
    CHECK_FAILS(ss_rng_randint(NULL, iv, 4, 0, 4), "generator is NULL");
    CHECK_FAILS(ss_rng_perm(&g, iv, 0), ">= 1");
    CHECK_FAILS(ss_rng_perm(&g, NULL, 4), "out is NULL");
    CHECK_FAILS(ss_rng_perm(NULL, iv, 4), "generator is NULL");
    CHECK(g.offset == 0, "failed calls must not advance the generator");
    /* A tensor on the GPU (a copy of the header claiming cuda; never touched).
     * Both the no-CUDA-build and the no-kernel messages name CUDA. */
    ss_tensor fake = *t;
    fake.device = SS_CUDA;
    CHECK_FAILS(ss_rng_uniform(&g, &fake, 0.0f, 1.0f), "CUDA");
    CHECK_FAILS(ss_rng_normal(&g, &fake, 0.0f, 1.0f), "CUDA");
    CHECK_FAILS(ss_rng_bernoulli(&g, &fake, 0.5f), "CUDA");
    /* The 64-bit block counter refuses to wrap rather than repeat itself. */
    g.offset = UINT64_MAX - 1;
    CHECK_FAILS(ss_rng_uniform(&g, t, 0.0f, 1.0f), "wrap");
    CHECK(g.offset == UINT64_MAX - 1, "a refused draw must leave the offset alone");
    ss_tensor_free(t);
}

int main(void)
{
    test_seed("test_rng", &seed, NULL);
    test_known_answers();
    test_layout();
    test_normal_moments();
    test_uniform();
    test_bernoulli();
    test_threads();
    test_pieces_and_offset();
    test_integers();
    test_save_restore();
    test_errors();
    return test_summary("test_rng");
}
