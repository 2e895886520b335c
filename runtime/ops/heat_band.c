/* heat_band.c — the heat semigroup exp(tΔ) with Neumann boundaries as two
 * banded matrix passes, K_H·X·K_W, instead of two 2-D DCTs.
 *
 * The DCT multiplier exp(-t((πk/H)² + (πl/W)²)) is separable, so exp(tΔ) on an
 * H×W image is K_H·X·K_W with K_N = C_Nᵀ·diag(exp(-t(πk/N)²))·C_N, C_N the
 * orthonormal N-point DCT-II. Expanding the cosines,
 *
 *     K_N[i][j] = g(i - j) + g(i + j + 1),
 *     g(m) = (1/2N)·(1 + 2·Σ_{k=1}^{N-1} exp(-t(πk/N)²)·cos(πkm/N)),
 *
 * g even and 2N-periodic (the periodised heat kernel): the second term is the
 * Neumann reflection. g is computed in double (O(N²) per size and t; kernels
 * are cached) and each entry of K rounded to float once, from a formula
 * symmetric in i and j, so the float matrix is exactly symmetric.
 *
 * For moderate t, g decays like a Gaussian of width √(2t) and K_N is banded:
 * the half bandwidth bw is the smallest with 4·Σ_{m>bw} |g(m)| <= 2^-26, a
 * bound on the absolute row sum of what is dropped (rows of K sum to 1). That
 * is below what rounding K's entries to float already costs (up to
 * 2^-24·Σ_j |K[i][j]| >= 2^-24 per row), so the result stays exact to float
 * precision. Entries are dropped as g values (g(m) taken as 0 for
 * fold(m) > bw), the same for (i,j) and (j,i): symmetry stays exact. When no
 * bw < N-1 qualifies, K is kept whole, with nothing dropped (small t, where
 * the spectrum is cut off at Nyquist, and large t). When K is near the
 * identity (small t), K - I is stored and the identity added after the sum,
 * so the float rounding scales with |K - I|.
 *
 * Pass 1 (along H): S[i][:] = Σ_j K_H[i][j]·X[j][:], rows of S padded with
 * bw_W zeros on both sides; pass 2 (along W): out[r][l] = Σ_d K_W[l][l+d]·
 * S[r][l+d], vectorised over l with the band stored by diagonals. Each output
 * value comes from the same sequence of operations whatever the thread count
 * or the batch split. Where the band is estimated slower than the DCTs (wide
 * bands on large images, see the cost model) heat.c keeps its DCT path. */
#include "ops/heat_band.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Register blocking of the AVX-512 passes: VR rows by VQ vectors of BAND_V
 * floats in pass 1, HR by HQ in pass 2 (4×2 measured as good as 8×2, 4×4, ...). */
#define VR 4
#define VQ 2
#define HR 4
#define HQ 2
#define BAND_V 16
#define VCOLS (VQ * BAND_V)
#define HCOLS (HQ * BAND_V)
/* Bound on the absolute row sum of the dropped entries. */
#define BAND_TOL 0x1p-26
/* Kernels kept for later calls: at most CACHE_SIZE, CACHE_BYTES of tables. */
#define CACHE_SIZE 16
#define CACHE_BYTES ((size_t)64 << 20)
/* Larger sizes go through the DCTs (g costs O(n²) to build). */
#define BAND_MAX_N 4096
/* Below this estimated single-thread time (ns) one thread does all the work:
 * shorter parallel regions gain little and, on a loaded machine, wait for a
 * descheduled worker. */
#define BAND_PARALLEL_MIN_NS 100000.0

/* Cost model, single thread, measured on Zen 5 (per value): the banded passes
 * take tap_ns[isa] per multiply-add of the two passes together, the DCT path
 * about 0.75 ns·(log2 H + log2 W) (more for small and for large images). The
 * band is used where it is estimated cheaper. isa: 0 portable, 1 AVX2, 2 AVX-512. */
static const double tap_ns[3] = {0.11, 0.075, 0.022};
#define DCT_NS_PER_LOG2 0.75

static double log2_size(int64_t n) { return n > 1 ? log2((double)n) : 0.0; }

typedef struct band_kernel {
    int n;
    double t;
    int bw;          /* K[i][j] = 0 for |i-j| > bw */
    int np;          /* n rounded up to HCOLS */
    int cstride;     /* 2·bw + 1 + 2·(VR-1) */
    double work;     /* average multiply-adds per value of one pass */
    int split;       /* the tables hold K - I (K is near the identity) */
    float *dg;       /* (2bw+1) × np: dg[(d+bw)·np + i] = K[i][i+d], 0 outside */
    float *coef;     /* (n+VR) × cstride: coef[i·cstride + VR-1 + bw + d] = K[i][i+d] */
    size_t bytes;    /* of the tables */
    int users;       /* calls holding it */
    int cached;      /* in the cache table */
    unsigned long stamp;
} band_kernel;

static band_kernel *cache[CACHE_SIZE];
static size_t cache_bytes;
static unsigned long cache_clock;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* 2: AVX-512, 1: AVX2 with FMA, 0: portable. SS_HEAT_BAND_ISA caps it (tests). */
static int band_isa(void)
{
    int v = __builtin_cpu_supports("avx512f") ? 2
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
#ifdef SS_HEAT_BAND_ISA
    if (v > SS_HEAT_BAND_ISA) v = SS_HEAT_BAND_ISA;
#endif
    return v;
}

static void kernel_free(band_kernel *k)
{
    if (!k) return;
    ss_free(k->dg);
    ss_free(k->coef);
    ss_free(k);
}

/* m folded into [0, n] by g's evenness and 2n-periodicity. */
static int64_t fold(int64_t m, int64_t n)
{
    if (m < 0) m = -m;
    m %= 2 * n;
    return m > n ? 2 * n - m : m;
}

/* g(0..n) in double; NULL with the error set when out of memory. */
static double *heat_g(int n, double t)
{
    double *g = ss_alloc((size_t)(n + 1) * sizeof(double), "a heat kernel");
    double *e = ss_alloc((size_t)n * sizeof(double), "a heat kernel");
    double *ct = ss_alloc((size_t)(2 * n) * sizeof(double), "a heat kernel");
    if (!g || !e || !ct) {
        ss_free(g), ss_free(e), ss_free(ct);
        return NULL;
    }
    int kmax = 1; /* e[k] = 0 for k >= kmax */
    for (int k = 1; k < n; k++) {
        double a = PI * (double)k / (double)n;
        e[k] = exp(-t * (a * a));
        if (e[k] > 0) kmax = k + 1;
    }
    for (int j = 0; j < 2 * n; j++) ct[j] = cos(PI * (double)j / (double)n);
    /* four m at a time: independent sums keep the FP adder busy */
    for (int m0 = 0; m0 <= n; m0 += 4) {
        double s[4] = {0, 0, 0, 0};
        int64_t idx[4] = {0, 0, 0, 0}; /* k·m mod 2n */
        for (int k = 1; k < kmax; k++)
            for (int u = 0; u < 4; u++) {
                idx[u] += m0 + u;
                if (idx[u] >= 2 * n) idx[u] -= 2 * n;
                s[u] += e[k] * ct[idx[u]];
            }
        for (int u = 0; u < 4 && m0 + u <= n; u++) g[m0 + u] = (1 + 2 * s[u]) / (2.0 * n);
    }
    ss_free(e), ss_free(ct);
    return g;
}

/* The kernel for size n and time t. The tables are left out (NULL) when the
 * band alone is too wide for heat_band to use it. */
static band_kernel *kernel_build(int n, double t)
{
    band_kernel *k = ss_alloc(sizeof *k, "a heat kernel");
    if (!k) return NULL;
    memset(k, 0, sizeof *k);
    k->n = n, k->t = t;
    double *g = heat_g(n, t);
    if (!g) {
        ss_free(k);
        return NULL;
    }
    /* smallest bw < n-1 with 4·Σ_{m>bw} |g(m)| <= tol; none: keep all (bw = n-1) */
    double tail = fabs(g[n]);
    int bw = n - 1;
    for (int b = n - 2; b >= 0; b--) {
        tail += fabs(g[b + 1]); /* Σ_{m=b+1}^{n} |g(m)| */
        if (4 * tail > BAND_TOL) break;
        bw = b;
    }
    const int64_t keep = bw < n - 1 ? bw : n; /* largest fold(m) kept */
    /* Near the identity (small t), K - I is stored and x added back: the float
     * rounding then scales with |K - I| instead of |K|. */
    k->split = 1;
    for (int i = 0; i < n; i++) {
        int64_t b = fold(2 * (int64_t)i + 1, n);
        if (g[0] + (b <= keep ? g[b] : 0.0) < 0.5) k->split = 0;
    }
    int64_t nnz = 0;
    for (int i = 0; i < n; i++) nnz += (i + bw < n ? i + bw : n - 1) - (i - bw > 0 ? i - bw : 0) + 1;
    k->bw = bw;
    k->work = (double)nnz / n;
    k->np = (n + HCOLS - 1) / HCOLS * HCOLS;
    k->cstride = 2 * bw + 1 + 2 * (VR - 1);
    /* heat_band cannot use a band this wide, whatever the other axis */
    if (k->work * tap_ns[band_isa()] > DCT_NS_PER_LOG2 * (log2_size(n) + log2_size(BAND_MAX_N))) {
        ss_free(g);
        return k;
    }
    const int taps = 2 * bw + 1, np = k->np, cs = k->cstride, pad = VR - 1;
    k->dg = ss_alloc((size_t)taps * (size_t)np * sizeof(float), "a heat kernel");
    k->coef = ss_alloc((size_t)(n + VR) * (size_t)cs * sizeof(float), "a heat kernel");
    if (!k->dg || !k->coef) {
        ss_free(g);
        kernel_free(k);
        return NULL;
    }
    k->bytes = ((size_t)taps * (size_t)np + (size_t)(n + VR) * (size_t)cs) * sizeof(float);
    memset(k->dg, 0, (size_t)taps * (size_t)np * sizeof(float));
    memset(k->coef, 0, (size_t)(n + VR) * (size_t)cs * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int j = i - bw < 0 ? 0 : i - bw; j <= i + bw && j < n; j++) {
            int64_t a = fold(i - j, n), b = fold(i + j + 1, n);
            /* the same double sum for (i,j) and (j,i): exactly symmetric */
            double v = (a <= keep ? g[a] : 0.0) + (b <= keep ? g[b] : 0.0);
            if (i == j && k->split) v -= 1;
            float f = (float)v;
            int d = j - i;
            k->dg[(int64_t)(d + bw) * np + i] = f;
            k->coef[(int64_t)i * cs + pad + bw + d] = f;
        }
    ss_free(g);
    return k;
}

static band_kernel *kernel_get(int n, double t)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SIZE; i++) {
        band_kernel *c = cache[i];
        if (c && c->n == n && c->t == t) {
            c->users++, c->stamp = ++cache_clock;
            pthread_mutex_unlock(&cache_lock);
            return c;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    band_kernel *k = kernel_build(n, t); /* outside the lock: O(n²) */
    if (!k) return NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SIZE; i++) {
        band_kernel *c = cache[i];
        if (c && c->n == n && c->t == t) { /* another thread was faster */
            c->users++, c->stamp = ++cache_clock;
            pthread_mutex_unlock(&cache_lock);
            kernel_free(k);
            return c;
        }
    }
    /* evict the least recently used kernels nobody holds until k fits */
    band_kernel *victims[CACHE_SIZE];
    int nvictims = 0, slot = -1;
    for (;;) {
        int lru = -1, nfree = 0;
        for (int i = 0; i < CACHE_SIZE; i++) {
            band_kernel *c = cache[i];
            if (!c) slot = slot < 0 ? i : slot, nfree++;
            else if (c->users == 0 && (lru < 0 || c->stamp < cache[lru]->stamp)) lru = i;
        }
        if (k->bytes > CACHE_BYTES || (nfree > 0 && cache_bytes + k->bytes <= CACHE_BYTES) || lru < 0) break;
        victims[nvictims++] = cache[lru];
        cache_bytes -= cache[lru]->bytes;
        cache[lru] = NULL;
    }
    if (slot >= 0 && k->bytes <= CACHE_BYTES && cache_bytes + k->bytes <= CACHE_BYTES) {
        cache[slot] = k, cache_bytes += k->bytes, k->cached = 1;
    }
    k->users = 1, k->stamp = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
    for (int i = 0; i < nvictims; i++) kernel_free(victims[i]); /* users == 0: nobody holds them */
    return k;
}

static band_kernel *kernel_ref(band_kernel *k)
{
    pthread_mutex_lock(&cache_lock);
    k->users++;
    pthread_mutex_unlock(&cache_lock);
    return k;
}

static void kernel_put(band_kernel *k)
{
    pthread_mutex_lock(&cache_lock);
    int drop = --k->users == 0 && !k->cached;
    pthread_mutex_unlock(&cache_lock);
    if (drop) kernel_free(k);
}

/* ------------------------------------------------------------ passes */

/* Pass 1 for output rows i0..i0+VR-1 (those < kh->n stored):
 * s[i][bw_w + c] = Σ_j K_H[i][j]·x[j][c] for c < w; x rows have stride w,
 * s rows stride ss. Portable version, written for the auto-vectoriser. */
static inline __attribute__((always_inline)) void vpass_body(const band_kernel *kh, const float *x, int64_t w,
                                                             float *s, int64_t ss, int bw_w, int i0)
{
    const int n = kh->n, bw = kh->bw, cs = kh->cstride;
    const int rows = n - i0 < VR ? n - i0 : VR;
    for (int r = 0; r < rows; r++) {
        const int i = i0 + r;
        const int jlo = i - bw < 0 ? 0 : i - bw, jhi = i + bw < n ? i + bw : n - 1;
        const float *cr = kh->coef + (int64_t)i * cs + (VR - 1) + bw - i;
        float *restrict o = s + (int64_t)i * ss + bw_w;
        for (int64_t c = 0; c < w; c++) o[c] = 0;
        for (int j = jlo; j <= jhi; j++) {
            const float cf = cr[j];
            const float *restrict xr = x + (int64_t)j * w;
            for (int64_t c = 0; c < w; c++) o[c] += cf * xr[c];
        }
        if (kh->split) {
            const float *restrict xi = x + (int64_t)i * w;
            for (int64_t c = 0; c < w; c++) o[c] += xi[c];
        }
    }
}

/* Pass 2 for rows r0..r0+rows-1 of s: out[r][l] = Σ_d K_W[l][l+d]·s[r][bw + l + d]
 * (s's zero padding makes every l valid for every d). Portable version. */
static inline __attribute__((always_inline)) void hpass_body(const band_kernel *kw, const float *s, int64_t ss,
                                                             float *out, int r0, int rows)
{
    const int n = kw->n, bw = kw->bw, np = kw->np;
    for (int r = r0; r < r0 + rows; r++) {
        const float *restrict sr = s + (int64_t)r * ss + bw;
        float *restrict o = out + (int64_t)r * n;
        for (int l = 0; l < n; l++) o[l] = 0;
        for (int d = -bw; d <= bw; d++) {
            const float *restrict g = kw->dg + (int64_t)(d + bw) * np;
            for (int l = 0; l < n; l++) o[l] += g[l] * sr[l + d];
        }
        if (kw->split)
            for (int l = 0; l < n; l++) o[l] += sr[l];
    }
}

static void vpass_generic(const band_kernel *kh, const float *x, int64_t w, float *s, int64_t ss, int bw_w, int i0)
{
    vpass_body(kh, x, w, s, ss, bw_w, i0);
}

static void hpass_generic(const band_kernel *kw, const float *s, int64_t ss, float *out, int r0, int rows)
{
    hpass_body(kw, s, ss, out, r0, rows);
}

/* The same loops compiled for AVX2 with FMA. */
__attribute__((target("avx2,fma"))) static void vpass_avx2(const band_kernel *kh, const float *x, int64_t w,
                                                            float *s, int64_t ss, int bw_w, int i0)
{
    vpass_body(kh, x, w, s, ss, bw_w, i0);
}

__attribute__((target("avx2,fma"))) static void hpass_avx2(const band_kernel *kw, const float *s, int64_t ss,
                                                            float *out, int r0, int rows)
{
    hpass_body(kw, s, ss, out, r0, rows);
}

static __mmask16 tail_mask(int64_t c, int64_t w)
{
    return c >= w ? 0 : c + BAND_V <= w ? (__mmask16)0xFFFF : (__mmask16)((1u << (w - c)) - 1);
}

__attribute__((target("avx512f"))) static void vpass_avx512(const band_kernel *kh, const float *x, int64_t w,
                                                             float *s, int64_t ss, int bw_w, int i0)
{
    const int n = kh->n, bw = kh->bw, cs = kh->cstride;
    const int rows = n - i0 < VR ? n - i0 : VR;
    const int jlo = i0 - bw < 0 ? 0 : i0 - bw, jhi = i0 + VR - 1 + bw < n ? i0 + VR - 1 + bw : n - 1;
    const float *cr[VR];
    for (int r = 0; r < VR; r++) cr[r] = kh->coef + (int64_t)(i0 + r) * cs + (VR - 1) + bw - (i0 + r);
    for (int64_t c0 = 0; c0 < w; c0 += VCOLS) {
        __mmask16 m[VQ];
        for (int q = 0; q < VQ; q++) m[q] = tail_mask(c0 + q * BAND_V, w);
        __m512 acc[VR][VQ];
        for (int r = 0; r < VR; r++)
            for (int q = 0; q < VQ; q++) acc[r][q] = _mm512_setzero_ps();
        for (int j = jlo; j <= jhi; j++) {
            const float *xr = x + (int64_t)j * w + c0;
            __m512 xv[VQ];
            for (int q = 0; q < VQ; q++) xv[q] = _mm512_maskz_loadu_ps(m[q], xr + q * BAND_V);
            for (int r = 0; r < VR; r++) {
                const __m512 cf = _mm512_set1_ps(cr[r][j]);
                for (int q = 0; q < VQ; q++) acc[r][q] = _mm512_fmadd_ps(cf, xv[q], acc[r][q]);
            }
        }
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < VQ; q++) {
                __m512 v = acc[r][q];
                if (kh->split) /* the identity part last: the sum above stays small */
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[q], x + (int64_t)(i0 + r) * w + c0 + q * BAND_V));
                _mm512_mask_storeu_ps(s + (int64_t)(i0 + r) * ss + bw_w + c0 + q * BAND_V, m[q], v);
            }
    }
}

__attribute__((target("avx512f"))) static void hpass_avx512(const band_kernel *kw, const float *s, int64_t ss,
                                                             float *out, int r0, int rows)
{
    const int n = kw->n, bw = kw->bw, np = kw->np;
    const float *sr[HR];
    for (int r = 0; r < HR; r++) sr[r] = s + (int64_t)(r0 + (r < rows ? r : rows - 1)) * ss + bw;
    for (int c0 = 0; c0 < n; c0 += HCOLS) {
        __mmask16 m[HQ];
        for (int q = 0; q < HQ; q++) m[q] = tail_mask(c0 + q * BAND_V, n);
        __m512 acc[HR][HQ];
        for (int r = 0; r < HR; r++)
            for (int q = 0; q < HQ; q++) acc[r][q] = _mm512_setzero_ps();
        const int dlo = -(c0 + HCOLS - 1) > -bw ? -(c0 + HCOLS - 1) : -bw;
        const int dhi = n - 1 - c0 < bw ? n - 1 - c0 : bw;
        for (int d = dlo; d <= dhi; d++) {
            const float *dg = kw->dg + (int64_t)(d + bw) * np + c0;
            __m512 gv[HQ];
            for (int q = 0; q < HQ; q++) gv[q] = _mm512_load_ps(dg + q * BAND_V);
            for (int r = 0; r < HR; r++)
                for (int q = 0; q < HQ; q++)
                    acc[r][q] = _mm512_fmadd_ps(gv[q], _mm512_loadu_ps(sr[r] + c0 + d + q * BAND_V), acc[r][q]);
        }
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < HQ; q++) {
                __m512 v = acc[r][q];
                if (kw->split) v = _mm512_add_ps(v, _mm512_loadu_ps(sr[r] + c0 + q * BAND_V));
                _mm512_mask_storeu_ps(out + (int64_t)(r0 + r) * n + c0 + q * BAND_V, m[q], v);
            }
    }
}

static void vpass(int isa, const band_kernel *kh, const float *x, int64_t w, float *s, int64_t ss, int bw_w,
                  int i0)
{
    if (isa == 2) vpass_avx512(kh, x, w, s, ss, bw_w, i0);
    else if (isa == 1) vpass_avx2(kh, x, w, s, ss, bw_w, i0);
    else vpass_generic(kh, x, w, s, ss, bw_w, i0);
}

static void hpass(int isa, const band_kernel *kw, const float *s, int64_t ss, float *out, int r0, int rows)
{
    if (isa == 2) hpass_avx512(kw, s, ss, out, r0, rows);
    else if (isa == 1) hpass_avx2(kw, s, ss, out, r0, rows);
    else hpass_generic(kw, s, ss, out, r0, rows);
}

/* ------------------------------------------------------------ apply */

/* One image: x (h×w) -> s (padded rows) -> out (h×w). */
static void band_image(int isa, const band_kernel *kh, const band_kernel *kw, const float *x, float *s,
                       int64_t ss, float *out)
{
    const int h = kh->n;
    for (int i0 = 0; i0 < h; i0 += VR) vpass(isa, kh, x, kw->n, s, ss, kw->bw, i0);
    for (int r0 = 0; r0 < h; r0 += HR) hpass(isa, kw, s, ss, out, r0, h - r0 < HR ? h - r0 : HR);
}

int ss_heat_band(float *out, const float *in, int64_t b, int64_t h, int64_t w, double t, const char *op)
{
    /* Building g is O(n²) per size and t: only where it costs less than the
     * transform itself, whether or not it is cached (the choice of path must
     * not depend on what ran before). */
    if (h > BAND_MAX_N || w > BAND_MAX_N || h * h + w * w > 8 * b * h * w) return 0;
    band_kernel *kh = kernel_get((int)h, t);
    band_kernel *kw = !kh ? NULL : w == h ? kernel_ref(kh) : kernel_get((int)w, t);
    if (!kw) {
        if (kh) kernel_put(kh);
        return SS_ERR_NOMEM;
    }
    int rc = 1;
    const int isa = band_isa();
    const double taps = kh->work + kw->work;
    if (taps * tap_ns[isa] > DCT_NS_PER_LOG2 * (log2_size(h) + log2_size(w)) || !kh->dg || !kw->dg) {
        /* the DCTs are cheaper (no tables: kernel_build saw that already) */
        kernel_put(kh), kernel_put(kw);
        return 0;
    }
    /* scratch rows: bw_w zeros, w values, zeros up to np + 2·bw_w */
    const int64_t ss = kw->np + 2 * (int64_t)kw->bw, img = h * ss, hw = h * w, vblocks = (h + VR - 1) / VR,
                  hblocks = (h + HR - 1) / HR;
    const int nt = ss_get_num_threads() > 1 ? ss_get_num_threads() : 1;
    const int small = (double)(b * hw) * taps * tap_ns[isa] < BAND_PARALLEL_MIN_NS;
    /* whole images per thread (each through its own scratch) when they split
     * evenly enough; else both passes over row blocks of all images */
    const int per_image = small || nt == 1 || b >= 2 * nt || b % nt == 0;
    const int chunks = small ? 1 : per_image && b < nt ? (int)b : nt;
    const int64_t nscratch = per_image ? chunks : b;
    float *scratch = ss_alloc((size_t)(nscratch * img) * sizeof(float), "heat scratch");
    if (!scratch) {
        rc = SS_FAIL(SS_ERR_NOMEM, "%s: out of memory for the scratch images", op);
    } else {
        memset(scratch, 0, (size_t)(nscratch * img) * sizeof(float)); /* the padding stays 0 */
        if (per_image) {
#pragma omp parallel for schedule(static) num_threads(chunks) if (chunks > 1)
            for (int64_t i = 0; i < b; i++)
                band_image(isa, kh, kw, in + i * hw, scratch + (chunks > 1 ? omp_get_thread_num() : 0) * img, ss,
                           out + i * hw);
        } else {
#pragma omp parallel num_threads(nt)
            {
#pragma omp for schedule(static)
                for (int64_t u = 0; u < b * vblocks; u++)
                    vpass(isa, kh, in + u / vblocks * hw, w, scratch + u / vblocks * img, ss, kw->bw,
                          (int)(u % vblocks) * VR);
                /* the implicit barrier: all of s is written before pass 2 reads it */
#pragma omp for schedule(static)
                for (int64_t u = 0; u < b * hblocks; u++) {
                    int r0 = (int)(u % hblocks) * HR;
                    hpass(isa, kw, scratch + u / hblocks * img, ss, out + u / hblocks * hw, r0,
                          h - r0 < HR ? (int)h - r0 : HR);
                }
            }
        }
    }
    ss_free(scratch);
    kernel_put(kh), kernel_put(kw);
    return rc;
}
