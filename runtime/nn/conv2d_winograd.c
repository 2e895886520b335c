/* conv2d_winograd.c — 3x3 stride-1 convolutions by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin & Gray 2016), forward and both backward passes, for conv2d.c
 * (see there for when they run). Each 2x2 block of outputs ("tile") comes from a 4x4
 * block of input d and the 3x3 kernel g as
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,
 *     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 *     Aᵀ = [1 1 1 0; 0 1 −1 −1],
 * 16 multiplications per tile and channel pair where the direct form needs 36; every
 * transform entry is 0, ±1 or ±½, so the transforms add no rounding beyond their sums.
 * Summed over input channels, the element-wise products become 16 matrix products per
 * chunk of tiles (ξ = 0..15 the position in the 4x4 block):
 *     M[ξ] (Cout, T) = U[ξ] (Cout, Cin) · V[ξ] (Cin, T),   U = G g Gᵀ,  V = Bᵀ d B.
 * The backward pass for the input is the same computation on grad_out with the kernel
 * flipped and its channels swapped (padding 2 − p); the one for the weights is its
 * adjoint in U:
 *     dU[ξ] (Cout, Cin) = Σ_tiles (A dY Aᵀ)[ξ] (Cout, T) · V[ξ]ᵀ,   dW = Gᵀ dU G.
 *
 * Layout and loops. Tiles are numbered along rows of an image; a chunk is a few tile
 * rows of one image, sized so that V and M stay in the core's L2 cache. The input
 * transform reads each input row split into its even and odd columns, so that 8
 * horizontally adjacent tiles are contiguous vector loads, and writes V[ξ][ci][t] with
 * t contiguous; the products run a 6x16 register-blocked kernel (6 output channels,
 * 16 tiles, Cin long); the output transform interleaves the tiles' two columns back
 * into rows. Vectors are GCC's 8-float vector extension (AVX on x86; other targets get
 * whatever the compiler makes of it). Chunks are split over the OpenMP threads; the
 * weight gradient is summed per thread and the partial sums added in thread order. */
#include "core/internal.h"
#include "nn/conv2d.h"

#include <omp.h>
#include <string.h>

/* Without AVX (a portable or sanitizer build) GCC splits the 8-float vectors in two and
 * warns that such a vector changes the ABI of functions returning it; they are all static. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float vf __attribute__((vector_size(32)));
typedef float vfu __attribute__((vector_size(32), aligned(4))); /* for unaligned loads and stores */

static inline vf load(const float *p) { return *(const vfu *)p; }
static inline void store(float *p, vf v) { *(vfu *)p = v; }
static inline vf splat(float x) { return (vf){x, x, x, x, x, x, x, x}; }
/* Two-vector shuffles with constant indices (0-7: a, 8-15: b): GCC's __builtin_shuffle,
 * clang's __builtin_shufflevector (the fuzz build is clang's). */
#if defined(__clang__)
#define SHUFFLE2(a, b, i0, i1, i2, i3, i4, i5, i6, i7) __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#else
#define SHUFFLE2(a, b, i0, i1, i2, i3, i4, i5, i6, i7)                                                            \
    __builtin_shuffle(a, b, (vi8){i0, i1, i2, i3, i4, i5, i6, i7})
typedef int vi8 __attribute__((vector_size(32)));
#endif
/* v, made to live in a register: without it GCC folds the loads into every product that
 * uses them, and a kernel that is meant to be bound by its multiply-adds is bound by loads. */
static inline vf in_register(vf v)
{
#if defined(__GNUC__) && defined(__AVX__)
    __asm__("" : "+x"(v));
#endif
    return v;
}

/* Scratch per thread for V and M of a chunk, in floats: 1 MiB, about the L2 of a core on
 * the machines measured (docs/design-notes.md). The weight gradient takes 4 MiB chunks:
 * its products sweep one ξ at a time (V[ξ] and dM[ξ], a sixteenth, stay in L2) and add
 * up their vector partial sums once per chunk, so longer chunks cost less. */
#define WINO_CHUNK_FLOATS ((int64_t)1 << 18)
#define WINO_GRAD_CHUNK_FLOATS ((int64_t)1 << 20)
#define NR 16 /* tiles per block of the product kernel */
#define MR 6  /* output channels per block: 12 accumulators, 2 columns and a broadcast fill AVX2's 16 registers */
#define ROWBUF_SPLITS 18 /* row buffers per thread, in units of split floats (see padded_row) */

/* One Winograd convolution: in (n,cin,h,w) with padding (ph,pw) → out (n,cout,ho,wo). */
typedef struct wino {
    int64_t n, cin, h, w, cout, ph, pw, ho, wo;
    int64_t th, tw;   /* tiles per image along H and W: ⌈ho/2⌉, ⌈wo/2⌉ */
    int64_t rows;     /* tile rows per chunk (a chunk may span images: tile row R is row R % th of image R / th) */
    int64_t chunks;   /* ⌈n·th/rows⌉ */
    int64_t ld;       /* row length of V and M: rows·tw rounded up to NR, plus 8 of slack */
    int64_t cout4;    /* cout rounded up to MR (the name is older than MR = 6) */
    int64_t split;    /* floats of each row buffer (even or odd columns): tw + 9 */
    int64_t du_at;    /* offset of the weight-gradient partial sums in a thread's scratch */
    int64_t slice;    /* floats of scratch per thread */
    int nt;           /* threads */
} wino;

/* The sizes of a call, its threads (the OpenMP team unless the call is inside a parallel
 * region or below 2^21 multiply-adds, as conv2d.c's other paths) and its chunks: as many
 * tile rows as fit the scratch budget, evened out so that every thread gets the same
 * number of chunks of (nearly) the same size. */
static void wino_init(wino *z, int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t ph, int64_t pw,
                      int64_t dw_floats)
{
    const int64_t budget = dw_floats ? WINO_GRAD_CHUNK_FLOATS : WINO_CHUNK_FLOATS;
    z->n = n, z->cin = cin, z->h = h, z->w = w, z->cout = cout, z->ph = ph, z->pw = pw;
    z->ho = h + 2 * ph - 2, z->wo = w + 2 * pw - 2;
    z->th = (z->ho + 1) / 2, z->tw = (z->wo + 1) / 2;
    z->cout4 = (cout + MR - 1) / MR * MR;
    const int64_t per_tile = 16 * (cin + z->cout4), total = n * z->th;
    const int team = omp_get_max_threads();
    z->nt = team < 2 || omp_in_parallel() || total < team || total * z->tw * cin * cout * 16 < ((int64_t)1 << 21)
                ? 1
                : team;
    int64_t most = budget / (per_tile * z->tw);
    if (most < 1) most = 1;
    const int64_t per_thread = (total + z->nt * most - 1) / (z->nt * most); /* chunks */
    z->rows = (total + z->nt * per_thread - 1) / (z->nt * per_thread);
    z->chunks = (total + z->rows - 1) / z->rows;
    z->ld = (z->rows * z->tw + NR - 1) / NR * NR + 8;
    z->split = (z->tw + 9 + 7) / 8 * 8;
    z->du_at = (16 * (cin + z->cout4) * z->ld + ROWBUF_SPLITS * z->split + 15) / 16 * 16;
    z->slice = z->du_at + (dw_floats + 15) / 16 * 16;
}

/* ------------------------------------------------------------ transforms */

/* U packed for the product kernel: U[ξ][co/MR][ci][co%MR] = (G g Gᵀ)[ξ] of g = weight[co][ci]
 * (flip = 0) or of g = weight[ci][co] rotated by 180° (flip = 1: the backward pass for the
 * input, whose "output channels" are the forward's input channels); zero rows up to cout4.
 * weight is (co_fwd, ci_fwd, 3, 3); here cout, cin are the computation's. Rows [co_lo, co_hi)
 * of [0, cout4). */
static void transform_weights(const wino *z, float *u, const float *weight, int flip, int64_t co_lo, int64_t co_hi)
{
    const int64_t blocks = z->cout4 / MR;
    for (int64_t co = co_lo; co < co_hi; co++)
        for (int64_t ci = 0; ci < z->cin; ci++) {
            if (co >= z->cout) { /* padding rows */
                for (int xi = 0; xi < 16; xi++) u[((int64_t)xi * blocks + co / MR) * z->cin * MR + ci * MR + co % MR] = 0.0f;
                continue;
            }
            const float *k = flip ? weight + (ci * z->cout + co) * 9 : weight + (co * z->cin + ci) * 9;
            float g[3][3], t[4][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) g[i][j] = flip ? k[(2 - i) * 3 + 2 - j] : k[i * 3 + j];
            for (int j = 0; j < 3; j++) { /* t = G g */
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) { /* (G g) Gᵀ */
                const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                    t[i][2]};
                for (int j = 0; j < 4; j++)
                    u[((int64_t)(i * 4 + j) * blocks + co / MR) * z->cin * MR + ci * MR + co % MR] = r[j];
            }
        }
}

/* The row buffers of a thread: 4 padded rows (2·split floats each, zero outside the
 * image's columns), one zero row, and the even/odd halves of 4 transformed rows. */
static float *padded_row(const wino *z, float *rowbuf, int r) { return rowbuf + r * 2 * z->split; }
static float *zero_row(const wino *z, float *rowbuf) { return rowbuf + 8 * z->split; }
static float *half_row(const wino *z, float *rowbuf, int i, int odd) { return rowbuf + (10 + 2 * i + odd) * z->split; }

/* even, odd (split floats each) = the even and odd entries of a, b (16 consecutive floats each 8). */
static inline void deinterleave(vf a, vf b, vf *even, vf *odd)
{
    *even = SHUFFLE2(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
    *odd = SHUFFLE2(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
}

/* Which input row each padded row buffer holds (adjacent tile rows share two input rows,
 * so each row is copied once per plane and chunk). */
typedef struct row_cache {
    const float *plane;
    int64_t y[4];
} row_cache;

/* Row y of a plane (height × width) in a padded row buffer at column pad (its zero borders
 * are kept), copied unless the buffer y mod 4 holds it already; the zero row when y is
 * outside. A plain vector loop: rows are a few hundred bytes, where memcpy's call and
 * dispatch cost as much as the copy. */
static const float *load_row(const wino *z, float *rowbuf, row_cache *rc, const float *plane, int64_t y,
                             int64_t height, int64_t width, int64_t pad)
{
    if (y < 0 || y >= height) return zero_row(z, rowbuf);
    const int slot = (int)(y & 3);
    float *dst = padded_row(z, rowbuf, slot);
    if (rc->plane != plane) rc->plane = plane, rc->y[0] = rc->y[1] = rc->y[2] = rc->y[3] = -1;
    if (rc->y[slot] == y) return dst;
    rc->y[slot] = y;
    const float *src = plane + y * width;
    float *d = dst + pad;
    int64_t x = 0;
    for (; x + 8 <= width; x += 8) store(d + x, load(src + x));
    for (; x < width; x++) d[x] = src[x];
    return dst;
}

/* V[ξ][ci][t] for the chunk's tile rows [r0, r1) of src (n images (cin,h,w)), t from 0;
 * rows of V are ld long and the slack past the chunk's tiles is zeroed. The vertical
 * half of Bᵀ d B runs on whole padded rows, which are then split into even and odd
 * columns, so the horizontal half of 8 adjacent tiles reads contiguous vectors. */
static void transform_input(const wino *z, float *v, float *rowbuf, const float *src, int64_t r0, int64_t r1)
{
    const int64_t tc = (r1 - r0) * z->tw, tail = z->ld - tc, step = z->cin * z->ld;
    row_cache rc = {NULL, {-1, -1, -1, -1}};
    memset(rowbuf, 0, (size_t)(ROWBUF_SPLITS * z->split) * sizeof(float));
    for (int64_t ci = 0; ci < z->cin; ci++) {
        for (int64_t R = r0; R < r1; R++) {
            const int64_t img = R / z->th, ty = R % z->th;
            const float *plane = src + (img * z->cin + ci) * z->h * z->w;
            const float *p[4];
            for (int r = 0; r < 4; r++) p[r] = load_row(z, rowbuf, &rc, plane, 2 * ty - z->ph + r, z->h, z->w, z->pw);
            for (int64_t c = 0; c < 2 * z->split; c += 16) { /* Bᵀ d on 16 columns, then split */
                vf t[4][2];
                for (int k = 0; k < 2; k++) {
                    const vf d0 = load(p[0] + c + 8 * k), d1 = load(p[1] + c + 8 * k), d2 = load(p[2] + c + 8 * k),
                             d3 = load(p[3] + c + 8 * k);
                    t[0][k] = d0 - d2, t[1][k] = d1 + d2, t[2][k] = d2 - d1, t[3][k] = d1 - d3;
                }
                for (int i = 0; i < 4; i++) {
                    vf e, o;
                    deinterleave(t[i][0], t[i][1], &e, &o);
                    store(half_row(z, rowbuf, i, 0) + c / 2, e);
                    store(half_row(z, rowbuf, i, 1) + c / 2, o);
                }
            }
            float *dst = v + ci * z->ld + (R - r0) * z->tw;
            for (int64_t tx = 0; tx < z->tw; tx += 8)
                for (int i = 0; i < 4; i++) { /* (Bᵀ d) B, at ξ = 4i + j; a block's spill past the row is overwritten later */
                    const float *e = half_row(z, rowbuf, i, 0), *o = half_row(z, rowbuf, i, 1);
                    const vf d0 = load(e + tx), d1 = load(o + tx), d2 = load(e + tx + 1), d3 = load(o + tx + 1);
                    float *q = dst + tx + (int64_t)(4 * i) * step;
                    store(q, d0 - d2);
                    store(q + step, d1 + d2);
                    store(q + 2 * step, d2 - d1);
                    store(q + 3 * step, d1 - d3);
                }
        }
        for (int xi = 0; xi < 16; xi++) memset(v + (xi * z->cin + ci) * z->ld + tc, 0, (size_t)tail * sizeof(float));
    }
}

/* The output transform of the chunk's tile rows [r0, r1): rows 2ty, 2ty + 1 of every
 * channel of dst (n images (cout,ho,wo)) from M[ξ][co][t], plus bias[co] (may be NULL). */
static void transform_output(const wino *z, float *dst, const float *m, const float *bias, int64_t r0, int64_t r1)
{
    const int64_t step = z->cout4 * z->ld;
    for (int64_t co = 0; co < z->cout; co++) {
        const vf b = splat(bias ? bias[co] : 0.0f);
        for (int64_t R = r0; R < r1; R++) {
            const int64_t img = R / z->th, ty = R % z->th;
            float *plane = dst + (img * z->cout + co) * z->ho * z->wo;
            const float *src = m + co * z->ld + (R - r0) * z->tw;
            for (int64_t tx = 0; tx < z->tw; tx += 8) {
                vf s[2][4]; /* Aᵀ M */
                for (int j = 0; j < 4; j++) {
                    const vf m0 = load(src + tx + (0 + j) * step), m1 = load(src + tx + (4 + j) * step);
                    const vf m2 = load(src + tx + (8 + j) * step), m3 = load(src + tx + (12 + j) * step);
                    s[0][j] = m0 + m1 + m2;
                    s[1][j] = m1 - m2 - m3;
                }
                const int64_t x0 = 2 * tx, nx = z->wo - x0 < 16 ? z->wo - x0 : 16;
                for (int i = 0; i < 2 && 2 * ty + i < z->ho; i++) {
                    /* (Aᵀ M) A: columns 2tx (y0) and 2tx + 1 (y1), interleaved into the row */
                    const vf y0 = s[i][0] + s[i][1] + s[i][2] + b, y1 = s[i][1] - s[i][2] - s[i][3] + b;
                    const vf lo = SHUFFLE2(y0, y1, 0, 8, 1, 9, 2, 10, 3, 11);
                    const vf hi = SHUFFLE2(y0, y1, 4, 12, 5, 13, 6, 14, 7, 15);
                    float *row = plane + (2 * ty + i) * z->wo + x0;
                    if (nx == 16) {
                        store(row, lo);
                        store(row + 8, hi);
                    } else {
                        float buf[16];
                        store(buf, lo);
                        store(buf + 8, hi);
                        for (int64_t k = 0; k < nx; k++) row[k] = buf[k];
                    }
                }
            }
        }
    }
}

/* dM[ξ][co][t] = (A dY Aᵀ)[ξ] of the 2x2 blocks of gout (n images (cout,ho,wo)) in the
 * chunk's tile rows, outputs past ho, wo counting as 0; rows ld long, slack zeroed. */
static void transform_grad_out(const wino *z, float *dm, float *rowbuf, const float *gout, int64_t r0, int64_t r1)
{
    const int64_t tc = (r1 - r0) * z->tw, tail = z->ld - tc, step = z->cout4 * z->ld;
    row_cache rc = {NULL, {-1, -1, -1, -1}};
    memset(rowbuf, 0, (size_t)(ROWBUF_SPLITS * z->split) * sizeof(float));
    for (int64_t co = 0; co < z->cout; co++) {
        for (int64_t R = r0; R < r1; R++) {
            const int64_t img = R / z->th, ty = R % z->th;
            const float *plane = gout + (img * z->cout + co) * z->ho * z->wo;
            for (int r = 0; r < 2; r++) {
                const float *p = load_row(z, rowbuf, &rc, plane, 2 * ty + r, z->ho, z->wo, 0);
                for (int64_t c = 0; c < 2 * z->split; c += 16) {
                    vf e, o;
                    deinterleave(load(p + c), load(p + c + 8), &e, &o);
                    store(half_row(z, rowbuf, r, 0) + c / 2, e);
                    store(half_row(z, rowbuf, r, 1) + c / 2, o);
                }
            }
            float *dst = dm + co * z->ld + (R - r0) * z->tw;
            for (int64_t tx = 0; tx < z->tw; tx += 8) {
                const vf y00 = load(half_row(z, rowbuf, 0, 0) + tx), y01 = load(half_row(z, rowbuf, 0, 1) + tx);
                const vf y10 = load(half_row(z, rowbuf, 1, 0) + tx), y11 = load(half_row(z, rowbuf, 1, 1) + tx);
                /* A dY: rows y0, y0 + y1, y0 − y1, −y1 (A = (Aᵀ)ᵀ), per column */
                const vf r[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
                for (int i = 0; i < 4; i++) { /* (A dY) Aᵀ: columns c0, c0 + c1, c0 − c1, −c1 */
                    float *q = dst + tx + (int64_t)(4 * i) * step;
                    store(q, r[i][0]);
                    store(q + step, r[i][0] + r[i][1]);
                    store(q + 2 * step, r[i][0] - r[i][1]);
                    store(q + 3 * step, -r[i][1]);
                }
            }
        }
    }
    for (int xi = 0; xi < 16; xi++)
        for (int64_t co = 0; co < z->cout4; co++) {
            float *row = dm + (xi * z->cout4 + co) * z->ld;
            if (co < z->cout) memset(row + tc, 0, (size_t)tail * sizeof(float));
            else memset(row, 0, (size_t)z->ld * sizeof(float));
        }
}

/* ------------------------------------------------------------ products */

/* m (MR rows ld apart, NR columns) = u (packed k-major, MR per k) · v (k rows ld apart, NR columns). */
static inline void kernel_mr_nr(float *m, const float *u, const float *v, int64_t ld, int64_t k)
{
    vf c[MR][2];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = splat(0.0f);
    for (int64_t p = 0; p < k; p++) {
        const float *vr = v + p * ld;
        const vf b0 = load(vr), b1 = load(vr + 8);
        for (int r = 0; r < MR; r++) {
            const vf a = splat(u[p * MR + r]);
            c[r][0] += a * b0;
            c[r][1] += a * b1;
        }
    }
    for (int r = 0; r < MR; r++) store(m + r * ld, c[r][0]), store(m + r * ld + 8, c[r][1]);
}

/* M[ξ] = U[ξ] · V[ξ] for the chunk's tc tiles (rounded up to NR; the rest of each row,
 * which the output transform's last block may read, zeroed). */
static void multiply(const wino *z, float *m, const float *u, const float *v, int64_t tc)
{
    const int64_t blocks = z->cout4 / MR, done = (tc + NR - 1) / NR * NR;
    for (int xi = 0; xi < 16; xi++) {
        const float *uxi = u + (int64_t)xi * z->cout4 * z->cin, *vxi = v + (int64_t)xi * z->cin * z->ld;
        float *mxi = m + (int64_t)xi * z->cout4 * z->ld;
        for (int64_t t0 = 0; t0 < tc; t0 += NR)
            for (int64_t b = 0; b < blocks; b++)
                kernel_mr_nr(mxi + b * MR * z->ld + t0, uxi + b * z->cin * MR, vxi + t0, z->ld, z->cin);
        for (int64_t r = 0; r < z->cout4; r++) memset(mxi + r * z->ld + done, 0, (size_t)(z->ld - done) * sizeof(float));
    }
}

/* du[ξ][co][ci] += Σ_t dm[ξ][co][t] · v[ξ][ci][t] over the chunk's ld columns (the slack
 * is zero): blocks of TR output by TC input channels, each a vector of partial sums over
 * t, added up once per chunk: 12 accumulators, the 3 input-channel vectors and one
 * output-channel vector at a time fill AVX2's 16 registers. */
#define TR 4
#define TC 3
static void multiply_transposed(const wino *z, float *du, const float *dm, const float *v)
{
    for (int xi = 0; xi < 16; xi++) {
        const float *dmx = dm + (int64_t)xi * z->cout4 * z->ld, *vx = v + (int64_t)xi * z->cin * z->ld;
        float *dux = du + (int64_t)xi * z->cout * z->cin;
        for (int64_t co = 0; co < z->cout; co += TR)
            for (int64_t ci = 0; ci < z->cin; ci += TC) {
                /* channels past cout and cin are clamped (read again) and not added */
                const int nco = z->cout - co < TR ? (int)(z->cout - co) : TR;
                const int nci = z->cin - ci < TC ? (int)(z->cin - ci) : TC;
                const float *a[TR], *b[TC];
                for (int i = 0; i < TR; i++) a[i] = dmx + (co + (i < nco ? i : 0)) * z->ld;
                for (int j = 0; j < TC; j++) b[j] = vx + (ci + (j < nci ? j : 0)) * z->ld;
                vf acc[TR][TC];
                for (int i = 0; i < TR; i++)
                    for (int j = 0; j < TC; j++) acc[i][j] = splat(0.0f);
                for (int64_t t = 0; t < z->ld; t += 8) {
                    vf y[TC];
                    for (int j = 0; j < TC; j++) y[j] = in_register(load(b[j] + t));
                    for (int i = 0; i < TR; i++) {
                        const vf x = in_register(load(a[i] + t));
                        for (int j = 0; j < TC; j++) acc[i][j] += x * y[j];
                    }
                }
                for (int i = 0; i < nco; i++)
                    for (int j = 0; j < nci; j++) {
                        const vf q = acc[i][j];
                        dux[(co + i) * z->cin + ci + j] += ((q[0] + q[4]) + (q[1] + q[5])) + ((q[2] + q[6]) + (q[3] + q[7]));
                    }
            }
    }
}

/* grad_weight (cout,cin,3,3) += Gᵀ dU G. */
static void transform_weight_grad(const wino *z, float *grad_weight, const float *du, int64_t co_lo, int64_t co_hi)
{
    for (int64_t co = co_lo; co < co_hi; co++)
        for (int64_t ci = 0; ci < z->cin; ci++) {
            float d[4][4], t[3][4];
            for (int xi = 0; xi < 16; xi++) d[xi / 4][xi % 4] = du[((int64_t)xi * z->cout + co) * z->cin + ci];
            for (int j = 0; j < 4; j++) { /* Gᵀ d: rows d0 + ½(d1 + d2), ½(d1 − d2), ½(d1 + d2) + d3 */
                t[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
                t[1][j] = 0.5f * (d[1][j] - d[2][j]);
                t[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
            }
            float *g = grad_weight + (co * z->cin + ci) * 9;
            for (int i = 0; i < 3; i++) {
                g[i * 3 + 0] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
                g[i * 3 + 1] += 0.5f * (t[i][1] - t[i][2]);
                g[i * 3 + 2] += 0.5f * (t[i][1] + t[i][2]) + t[i][3];
            }
        }
}

/* ------------------------------------------------------------ driver */

/* What one call computes: the forward (or the backward for the input) into out, or the
 * weight gradient's dU partial sums from (in, grad_out). */
typedef struct wino_run {
    const wino *z;
    const float *in, *bias, *gout;
    float *u;         /* forward type: U, written by run_all */
    float *out;       /* forward-type: (n,cout,ho,wo) */
    float *scratch;   /* thread t: scratch + t·slice: V, then M (or dM), row buffers, dU partial */
    int weight_grad;  /* 1: accumulate dU instead of writing out */
} wino_run;

static void run_chunks(const wino_run *r, int t, int64_t lo, int64_t hi)
{
    const wino *z = r->z;
    float *v = r->scratch + t * z->slice, *m = v + 16 * z->cin * z->ld, *rowbuf = m + 16 * z->cout4 * z->ld;
    float *du = r->scratch + t * z->slice + z->du_at;
    for (int64_t c = lo; c < hi; c++) {
        const int64_t r0 = c * z->rows, r1 = r0 + z->rows < z->n * z->th ? r0 + z->rows : z->n * z->th;
        transform_input(z, v, rowbuf, r->in, r0, r1);
        if (r->weight_grad) {
            transform_grad_out(z, m, rowbuf, r->gout, r0, r1);
            multiply_transposed(z, du, m, v);
        } else {
            multiply(z, m, r->u, v, (r1 - r0) * z->tw);
            transform_output(z, r->out, m, r->bias, r0, r1);
        }
    }
}

/* Thread t of nt's share [lo, hi) of n items. */
static inline void share(int64_t n, int t, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * t / nt, *hi = n * (t + 1) / nt;
}

/* The whole call on z->nt threads: U from the weights (forward type) or, after the chunks,
 * the threads' dU partial sums added in thread order and turned into grad_weight, each
 * split over the threads by output channel; the chunks in between. */
static void run_all(const wino_run *r, const float *weight, int flip, float *grad_weight)
{
    const wino *z = r->z;
#pragma omp parallel num_threads(z->nt) if (z->nt > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo, hi;
        if (!r->weight_grad) {
            share(z->cout4, t, nt, &lo, &hi);
            transform_weights(z, r->u, weight, flip, lo, hi);
#pragma omp barrier
        }
        share(z->chunks, t, nt, &lo, &hi);
        run_chunks(r, t, lo, hi);
        if (r->weight_grad) {
#pragma omp barrier
            share(z->cout, t, nt, &lo, &hi);
            const int64_t per = z->cout * z->cin;
            float *du = r->scratch + z->du_at;
            for (int xi = 0; xi < 16; xi++)
                for (int k = 1; k < nt; k++) {
                    const float *p = r->scratch + k * z->slice + z->du_at;
                    for (int64_t i = xi * per + lo * z->cin; i < xi * per + hi * z->cin; i++) du[i] += p[i];
                }
            transform_weight_grad(z, grad_weight, du, lo, hi);
        }
    }
}

int conv2d_winograd_applies(const conv_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->ph <= 2 && g->pw <= 2 && g->ho >= 1 &&
           g->wo >= 1;
}

/* A forward-type call (flip = 0: the forward; 1: the backward for the input). */
static int forward_type(const wino *z, float *out, const float *in, const float *weight, const float *bias, int flip,
                        ss_nn_workspace *ws)
{
    const int nt = z->nt;
    const int64_t ufloats = (16 * z->cout4 * z->cin + 15) / 16 * 16;
    float *base = ss_nn_workspace_reserve(ws, (ufloats + nt * z->slice) * (int64_t)sizeof(float));
    if (!base) return SS_ERR_NOMEM;
    const wino_run r = {.z = z, .in = in, .u = base, .bias = bias, .out = out, .scratch = base + ufloats};
    run_all(&r, weight, flip, NULL);
    return SS_OK;
}

int conv2d_winograd_forward(const conv_geom *g, float *out, const float *in, const float *weight, const float *bias,
                            ss_nn_workspace *ws)
{
    wino z;
    wino_init(&z, g->n, g->cin, g->h, g->w, g->cout, g->ph, g->pw, 0);
    return forward_type(&z, out, in, weight, bias, 0, ws);
}

int conv2d_winograd_backward(const conv_geom *g, float *grad_in, float *grad_weight, const float *grad_out,
                             const float *in, const float *weight, ss_nn_workspace *ws)
{
    if (grad_in) {
        /* grad_in = grad_out (n,cout,ho,wo) convolved with the flipped kernel, padding 2 − p */
        wino z;
        wino_init(&z, g->n, g->cout, g->ho, g->wo, g->cin, 2 - g->ph, 2 - g->pw, 0);
        SS_TRY(forward_type(&z, grad_in, grad_out, weight, NULL, 1, ws));
    }
    if (grad_weight) {
        wino z;
        wino_init(&z, g->n, g->cin, g->h, g->w, g->cout, g->ph, g->pw, 16 * g->cout * g->cin);
        const int nt = z.nt;
        float *base = ss_nn_workspace_reserve(ws, nt * z.slice * (int64_t)sizeof(float));
        if (!base) return SS_ERR_NOMEM;
        const int64_t du_at = z.du_at;
        for (int t = 0; t < nt; t++) memset(base + t * z.slice + du_at, 0, (size_t)(16 * z.cout * z.cin) * sizeof(float));
        const wino_run r = {.z = &z, .in = in, .gout = grad_out, .scratch = base, .weight_grad = 1};
        run_all(&r, NULL, 0, grad_weight);
    }
    return SS_OK;
}
