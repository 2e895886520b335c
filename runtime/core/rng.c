/* rng.c — counter-based random numbers: Philox4x32-10 (Random123).
 *
 * A generator is just (seed, offset). The Philox key is the seed split into two
 * 32-bit words, low word first; the counter of block b is {b low, b high, 0, 0}.
 * Value i of a float draw comes from block (offset + i/4), lane i%4, and every
 * draw then advances offset by the blocks it touched (ceil(n/4)), so the stream
 * depends only on (seed, offset, i): not on the thread count, not on how the
 * fill loop is split, and a GPU kernel can compute any value on its own.
 * Copying the struct saves the state; assigning it back restores it.
 *
 * 64-bit integer draws (randint, perm) take two lanes per value: value i uses
 * block (offset + i/2), lanes 2*(i%2) (low word) and 2*(i%2)+1 (high word), and
 * advance offset by ceil(n/2). Their rare rejection retries use counter word 2
 * as the attempt number (1, 2, ...), which no other draw ever sets, so retries
 * never reuse a block of the main stream.
 *
 * Float results come from the lanes through a few double operations written
 * out below. Uniform and bernoulli use only correctly-rounded arithmetic, the
 * final scale-and-shift being an explicit fma() (one rounding), so the stream
 * does not depend on whether the compiler would contract a*b + c for this -march;
 * kernels/rng.cu does the same with round-to-nearest intrinsics and matches bit
 * for bit. normal also calls log/sqrt/cos/sin in double, where CUDA's libm may
 * differ from glibc's by an ulp of double, so after rounding to float it matches
 * except for rare values sitting on a float rounding boundary. Cuda tensors are
 * filled there after the generator advances here; the integer draws fill host
 * arrays only. */
#include "core/internal.h"
#include "kernels/rng.h"

#include <Random123/philox.h>
#include <math.h>
#include <string.h>

/* Below this many blocks a parallel region costs more than it saves. */
#define RNG_PAR_BLOCKS 16384

static const double two_m24 = 1.0 / 16777216.0; /* 2^-24 */

static philox4x32_key_t seed_key(uint64_t seed)
{
    philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    return k;
}

static philox4x32_ctr_t block_at(philox4x32_key_t key, uint64_t block, uint32_t attempt)
{
    philox4x32_ctr_t c = {{(uint32_t)block, (uint32_t)(block >> 32), attempt, 0}};
    return philox4x32_R(10, c, key);
}

/* The top 24 bits of a lane as a float in [0, 1); exact in float and double. */
static inline double u01_open_hi(uint32_t x) { return (double)(x >> 8) * two_m24; }
/* The same shifted by one step: (0, 1], so log() never sees 0. */
static inline double u01_open_lo(uint32_t x) { return (double)((x >> 8) + 1) * two_m24; }

/* Common checks of the float draws; *n gets the element count. */
static int check_draw(const char *op, const ss_rng *g, const ss_tensor *out, int64_t *n)
{
    if (!g) return SS_FAIL(SS_ERR_ARG, "%s: generator is NULL (call ss_rng_init first)", op);
    SS_TRY(ss_check_tensor(out, op, "out"));
    *n = ss_tensor_numel(out);
    return SS_OK;
}

/* Reserves `blocks` blocks of the stream: returns the first one through *first.
 * The 64-bit block counter cannot realistically wrap, but a wrap would silently
 * repeat the stream, so it is refused. */
static int advance(const char *op, ss_rng *g, uint64_t blocks, uint64_t *first)
{
    if (blocks > UINT64_MAX - g->offset)
        return SS_FAIL(SS_ERR_ARG, "%s: generator offset %llu would wrap past 2^64 blocks; reseed it", op,
                       (unsigned long long)g->offset);
    *first = g->offset;
    g->offset += blocks;
    return SS_OK;
}

int ss_rng_init(ss_rng *g, uint64_t seed)
{
    if (!g) return SS_FAIL(SS_ERR_ARG, "ss_rng_init: generator is NULL");
    g->seed = seed;
    g->offset = 0;
    return SS_OK;
}

int ss_philox4x32_10(uint32_t *out4, const uint32_t *ctr4, const uint32_t *key2)
{
    if (!out4 || !ctr4 || !key2)
        return SS_FAIL(SS_ERR_ARG, "ss_philox4x32_10: out, counter and key must all be non-NULL");
    philox4x32_ctr_t c = {{ctr4[0], ctr4[1], ctr4[2], ctr4[3]}};
    philox4x32_key_t k = {{key2[0], key2[1]}};
    philox4x32_ctr_t r = philox4x32_R(10, c, k);
    memcpy(out4, r.v, 4 * sizeof(uint32_t));
    return SS_OK;
}

/* ------------------------------------------------------------ float draws */

int ss_rng_uniform(ss_rng *g, ss_tensor *out, float lo, float hi)
{
    const char *op = "ss_rng_uniform";
    int64_t n;
    SS_TRY(check_draw(op, g, out, &n));
    if (!isfinite(lo) || !isfinite(hi))
        return SS_FAIL(SS_ERR_ARG, "%s: bounds must be finite, got lo = %g, hi = %g", op, lo, hi);
    if (!(lo < hi)) return SS_FAIL(SS_ERR_ARG, "%s: needs lo < hi, got lo = %g, hi = %g", op, lo, hi);
    uint64_t nblocks = (uint64_t)(n + 3) / 4, first = 0;
    SS_TRY(advance(op, g, nblocks, &first));
    const philox4x32_key_t key = seed_key(g->seed);
    /* In double: hi - lo cannot overflow, and lo + width*u rounds once to
     * double and once to float. Rounding can still land on hi for a narrow
     * range, so such values step down to the float just below hi. */
    const double dlo = lo, width = (double)hi - (double)lo;
    const float below_hi = nextafterf(hi, lo);
    float *p = out->data;
    if (out->device == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_rng_uniform_forward(p, n, g->seed, first, dlo, width, hi, below_hi));
#pragma omp parallel for schedule(static) if (nblocks > RNG_PAR_BLOCKS)
    for (uint64_t b = 0; b < nblocks; b++) {
        philox4x32_ctr_t r = block_at(key, first + b, 0);
        int64_t i0 = (int64_t)b * 4;
        for (int l = 0; l < 4 && i0 + l < n; l++) {
            float v = (float)fma(width, u01_open_hi(r.v[l]), dlo);
            p[i0 + l] = v < hi ? v : below_hi;
        }
    }
    return SS_OK;
}

int ss_rng_normal(ss_rng *g, ss_tensor *out, float mean, float std)
{
    const char *op = "ss_rng_normal";
    int64_t n;
    SS_TRY(check_draw(op, g, out, &n));
    if (!isfinite(mean) || !isfinite(std))
        return SS_FAIL(SS_ERR_ARG, "%s: mean and std must be finite, got mean = %g, std = %g", op, mean, std);
    if (std < 0) return SS_FAIL(SS_ERR_ARG, "%s: std must be >= 0, got %g", op, std);
    uint64_t nblocks = (uint64_t)(n + 3) / 4, first = 0;
    SS_TRY(advance(op, g, nblocks, &first));
    const philox4x32_key_t key = seed_key(g->seed);
    const double dmean = mean, dstd = std, two_pi = 6.283185307179586;
    float *p = out->data;
    if (out->device == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_rng_normal_forward(p, n, g->seed, first, dmean, dstd));
    /* Box–Muller per lane pair (0,1) and (2,3): the even lane gives the radius
     * from u1 in (0,1], the odd lane the angle from u2 in [0,1); the pair yields
     * r cos and r sin. With 24-bit u1 the radius is at most sqrt(48 ln 2) ≈ 5.77,
     * so |z| never exceeds 5.77 (a tail of probability ~8e-9 is cut). In double,
     * then rounded once to float. */
#pragma omp parallel for schedule(static) if (nblocks > RNG_PAR_BLOCKS)
    for (uint64_t b = 0; b < nblocks; b++) {
        philox4x32_ctr_t r = block_at(key, first + b, 0);
        double z[4];
        for (int pair = 0; pair < 2; pair++) {
            double rad = sqrt(-2.0 * log(u01_open_lo(r.v[2 * pair])));
            double theta = two_pi * u01_open_hi(r.v[2 * pair + 1]);
            z[2 * pair] = rad * cos(theta);
            z[2 * pair + 1] = rad * sin(theta);
        }
        int64_t i0 = (int64_t)b * 4;
        for (int l = 0; l < 4 && i0 + l < n; l++) p[i0 + l] = (float)fma(dstd, z[l], dmean);
    }
    return SS_OK;
}

int ss_rng_bernoulli(ss_rng *g, ss_tensor *out, float p)
{
    const char *op = "ss_rng_bernoulli";
    int64_t n;
    SS_TRY(check_draw(op, g, out, &n));
    if (!(p >= 0.0f && p <= 1.0f)) return SS_FAIL(SS_ERR_ARG, "%s: probability p must be in [0, 1], got %g", op, p);
    uint64_t nblocks = (uint64_t)(n + 3) / 4, first = 0;
    SS_TRY(advance(op, g, nblocks, &first));
    const philox4x32_key_t key = seed_key(g->seed);
    float *o = out->data;
    if (out->device == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_rng_bernoulli_forward(o, n, g->seed, first, p));
    /* u < p with u the same 24-bit uniform as ss_rng_uniform on [0,1): exact
     * in float, so p = 0 never fires and p = 1 always does. */
#pragma omp parallel for schedule(static) if (nblocks > RNG_PAR_BLOCKS)
    for (uint64_t b = 0; b < nblocks; b++) {
        philox4x32_ctr_t r = block_at(key, first + b, 0);
        int64_t i0 = (int64_t)b * 4;
        for (int l = 0; l < 4 && i0 + l < n; l++) o[i0 + l] = (float)u01_open_hi(r.v[l]) < p ? 1.0f : 0.0f;
    }
    return SS_OK;
}

/* ------------------------------------------------------------ integer draws */

/* Value `k` of a 64-bit draw starting at block `first`, uniform in
 * [0, range) — or any 64-bit value when range is 0 (meaning 2^64).
 * Lemire's multiply-shift: the high word of x*range is the result, and the
 * low word l tells whether x fell in the biased sliver (l < 2^64 mod range);
 * then the value is drawn again from the retry counter {block, attempt}.
 * Retries happen with probability below range/2^64 (never above 1/2). */
static uint64_t bounded64(philox4x32_key_t key, uint64_t first, uint64_t k, uint64_t range)
{
    const uint64_t block = first + k / 2;
    const int lane = 2 * (int)(k % 2);
    philox4x32_ctr_t r = block_at(key, block, 0);
    uint64_t x = (uint64_t)r.v[lane] | (uint64_t)r.v[lane + 1] << 32;
    if (range == 0) return x;
    /* mulhilo64 is Random123's 64x64 -> 128 multiply (mulq here, __umul64hi
     * on CUDA): returns the low word, stores the high word. */
    uint64_t hi, l = mulhilo64(x, range, &hi);
    if (l < range) {
        const uint64_t threshold = (0 - range) % range; /* 2^64 mod range */
        for (uint32_t attempt = 1; l < threshold; attempt++) {
            r = block_at(key, block, attempt);
            x = (uint64_t)r.v[lane] | (uint64_t)r.v[lane + 1] << 32;
            l = mulhilo64(x, range, &hi);
        }
    }
    return hi;
}

int ss_rng_randint(ss_rng *g, int64_t *out, int64_t n, int64_t lo, int64_t hi)
{
    const char *op = "ss_rng_randint";
    if (!g) return SS_FAIL(SS_ERR_ARG, "%s: generator is NULL (call ss_rng_init first)", op);
    if (!out) return SS_FAIL(SS_ERR_ARG, "%s: out is NULL", op);
    if (n < 0) return SS_FAIL(SS_ERR_ARG, "%s: count n must be >= 0, got %lld", op, (long long)n);
    if (lo > hi)
        return SS_FAIL(SS_ERR_ARG, "%s: needs lo <= hi (the range is inclusive), got lo = %lld, hi = %lld", op,
                       (long long)lo, (long long)hi);
    uint64_t nblocks = ((uint64_t)n + 1) / 2, first = 0;
    SS_TRY(advance(op, g, nblocks, &first));
    const philox4x32_key_t key = seed_key(g->seed);
    /* hi - lo + 1 in unsigned arithmetic; 0 stands for the full 2^64 range. */
    const uint64_t range = (uint64_t)hi - (uint64_t)lo + 1;
#pragma omp parallel for schedule(static) if (n > 2 * RNG_PAR_BLOCKS)
    for (int64_t i = 0; i < n; i++) {
        /* lo + v wraps modulo 2^64 into [lo, hi]; memcpy keeps the conversion
         * back to signed well defined. */
        uint64_t u = (uint64_t)lo + bounded64(key, first, (uint64_t)i, range);
        int64_t s;
        memcpy(&s, &u, sizeof s);
        out[i] = s;
    }
    return SS_OK;
}

int ss_rng_perm(ss_rng *g, int64_t *out, int64_t n)
{
    const char *op = "ss_rng_perm";
    if (!g) return SS_FAIL(SS_ERR_ARG, "%s: generator is NULL (call ss_rng_init first)", op);
    if (!out) return SS_FAIL(SS_ERR_ARG, "%s: out is NULL", op);
    if (n < 1) return SS_FAIL(SS_ERR_ARG, "%s: size n must be >= 1, got %lld", op, (long long)n);
    /* Fisher–Yates from the top: step k (k = 0..n-2) swaps position i = n-1-k
     * with j uniform in [0, i], j being value k of one 64-bit draw of n-1 values. */
    uint64_t nblocks = (uint64_t)n / 2, first = 0; /* ceil((n-1)/2) */
    SS_TRY(advance(op, g, nblocks, &first));
    const philox4x32_key_t key = seed_key(g->seed);
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t k = 0; k < n - 1; k++) {
        int64_t i = n - 1 - k;
        int64_t j = (int64_t)bounded64(key, first, (uint64_t)k, (uint64_t)i + 1);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    return SS_OK;
}
