/* conv2d.c — 2-D convolution (cross-correlation, PyTorch's conv2d with zero
 * padding, groups = dilation = 1), forward and backward, and the workspace that
 * holds its scratch buffers.
 *
 * Shapes: in (N,Cin,H,W), weight (Cout,Cin,kh,kw), bias (Cout), out
 * (N,Cout,Ho,Wo) with Ho = (H + 2ph − kh)/sh + 1, Wo likewise. Below, K = Cin·kh·kw
 * (one column of the unrolled input), P = Ho·Wo (output pixels per image).
 *
 * Three CPU paths, chosen per call by shape (conv_via; SS_CPU_CONV forces one):
 *   Winograd  F(2x2,3x3) (conv2d_winograd.c) for 3x3 stride-1 kernels with Cin >= 8 and
 *             outputs at least CONV_WINOGRAD_MIN_WIDTH wide, unless oneDNN runs AVX-512
 *             kernels (ours are 8-wide; unmeasured against 16-wide ones);
 *   oneDNN    direct convolutions (conv2d_onednn.c) for the other shapes, when built
 *             with it;
 *   im2col    + OpenBLAS sgemm, below, for 1x1 stride-1 kernels (a plain product),
 *             the backward of convolutions with Cin < 8, and everything in a build
 *             without oneDNN that Winograd does not take.
 * The rules come from bench/conv.lua's per-layer timings of the UNet's shapes
 * (docs/design-notes.md, "Convolutions on the CPU"): at one thread on the Zen 2 VM,
 * oneDNN's jit:avx2 runs 3x3 convolutions at 80-97 GFLOP/s against im2col's 35-55,
 * and Winograd at 90-130 (direct-form flops) at 28x28 and 14x14 but 45-85 at 7x7.
 * All paths keep this file's contract: NCHW in and out, `=` for grad_in, `+=` for
 * grad_weight and grad_bias (the bias gradient is always the double sum below).
 *
 * 1x1 kernels with stride 1 and no padding are plain products, one sgemm per
 * image on the tensors themselves: out_n (Cout,P) = weight (Cout,Cin) · in_n (Cin,P).
 *
 * On the im2col path, other kernels unroll a chunk of nb images into col (K, nb·P), where
 * column n·P + y·Wo + x holds the K input values under output pixel (y,x) of
 * image n, and multiply once for the whole chunk:
 *   forward      tmp (Cout, nb·P) = weight (Cout,K) · col, then out = tmp
 *                                  transposed to (nb,Cout,P), plus bias
 *   grad_weight  (Cout,K)        += G (Cout, nb·P) · colᵀ
 *   grad_in      col             = weightᵀ (K,Cout) · G, then col2im adds each
 *                                  column back onto the pixels it came from
 * where G is the chunk's grad_out transposed to (Cout, nb·P).
 *
 * Threads (im2col path). A batch of at least as many images as threads is split over the
 * OpenMP team, each thread running the whole pipeline (copies and products) on
 * its share of the images, in chunks of CONV_THREAD_FLOATS of scratch (sized to
 * stay in the core's L2 cache), with OpenBLAS set to one thread meanwhile;
 * grad_weight is summed per thread and the partial sums are added in thread
 * order. A smaller batch runs in the calling thread with OpenBLAS threading
 * each (larger, CONV_CHUNK_FLOATS) product. Mixing the two kinds of thread in
 * one call is what to avoid: the OpenMP workers spin for milliseconds after a
 * parallel region (libgomp's default wait policy) and take the cores OpenBLAS's
 * own threads need, which made OpenMP-parallel copies around threaded products
 * twice as slow on two cores. Calls on less than CONV_PAR_MIN multiply-adds,
 * and calls from inside a parallel region, stay on the calling thread. Results
 * depend on the thread count only through the grouping of the grad_weight sums
 * (and OpenBLAS's own rounding); everything else is computed in a fixed order. */
#include "core/internal.h"
#include "kernels/conv2d.h"
#include "core/par.h"
#include "nn/conv2d.h"
#include "nn/layer_check.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>

/* Scratch per chunk of one thread of the batch-parallel path, in floats (col + tmp):
 * 2 MiB. From 256 KiB to 8 MiB the speed changes by less than 5%. */
#define CONV_THREAD_FLOATS ((int64_t)1 << 19)
/* Scratch per chunk of the single-caller path (OpenBLAS threads the products): 32 MiB. */
#define CONV_CHUNK_FLOATS ((int64_t)1 << 23)
/* Below this many multiply-adds (N·Cout·P·K) a call stays on one thread. */
#define CONV_PAR_MIN ((int64_t)1 << 21)
/* Convolutions with fewer input channels run their backward on im2col (oneDNN's and the
 * Winograd kernels are 2-3x slower there: a UNet's 1-channel input layer), and their
 * forward on oneDNN rather than Winograd (whose products are Cin long). */
#define CONV_MIN_CIN_BACKWARD 8
/* Winograd needs outputs at least this wide to beat oneDNN (its 8-tile vectors are half
 * empty at 7x7; measured in docs/design-notes.md). */
#define CONV_WINOGRAD_MIN_WIDTH 12

/* ------------------------------------------------------------ workspace */

struct ss_nn_workspace {
    float *buf;
    int64_t cap; /* floats */
};

ss_nn_workspace *ss_nn_workspace_new(void)
{
    ss_nn_workspace *ws = ss_alloc(sizeof *ws, "an nn workspace");
    if (ws) ws->buf = NULL, ws->cap = 0;
    return ws;
}

void ss_nn_workspace_free(ss_nn_workspace *ws)
{
    if (!ws) return;
    ss_free(ws->buf);
    ss_free(ws);
}

int64_t ss_nn_workspace_bytes(const ss_nn_workspace *ws) { return ws ? ws->cap * (int64_t)sizeof(float) : 0; }

void *ss_nn_workspace_reserve(ss_nn_workspace *ws, int64_t bytes)
{
    const int64_t n = (bytes + (int64_t)sizeof(float) - 1) / (int64_t)sizeof(float);
    if (n <= ws->cap) return ws->buf;
    ss_free(ws->buf);
    ws->cap = 0;
    ws->buf = ss_alloc((size_t)n * sizeof(float), "the conv2d workspace");
    if (ws->buf) ws->cap = n;
    return ws->buf;
}

/* ------------------------------------------------------------ shapes */

/* Fills g from in and weight and checks what they alone determine. */
static int conv_geom_init(conv_geom *g, const char *op, const ss_tensor *in, const ss_tensor *weight, int stride_h,
                          int stride_w, int pad_h, int pad_w)
{
    char sa[96];
    SS_TRY(ss_check_tensor(in, op, "in"));
    SS_TRY(ss_check_tensor(weight, op, "weight"));
    if (in->ndim != 4)
        return SS_FAIL(SS_ERR_ARG, "%s: in must be (N,Cin,H,W), got %s", op, ss_shape_str(sa, sizeof sa, in));
    if (weight->ndim != 4)
        return SS_FAIL(SS_ERR_ARG, "%s: weight must be (Cout,Cin,kh,kw), got %s", op,
                       ss_shape_str(sa, sizeof sa, weight));
    if (weight->shape[1] != in->shape[1])
        return SS_FAIL(SS_ERR_ARG, "%s: weight has %lld input channels, input has %lld", op,
                       (long long)weight->shape[1], (long long)in->shape[1]);
    if (stride_h < 1 || stride_w < 1)
        return SS_FAIL(SS_ERR_ARG, "%s: stride must be >= 1, got (%d,%d)", op, stride_h, stride_w);
    if (pad_h < 0 || pad_w < 0)
        return SS_FAIL(SS_ERR_ARG, "%s: padding must be >= 0, got (%d,%d)", op, pad_h, pad_w);
    g->n = in->shape[0], g->cin = in->shape[1], g->h = in->shape[2], g->w = in->shape[3];
    g->cout = weight->shape[0], g->kh = weight->shape[2], g->kw = weight->shape[3];
    g->sh = stride_h, g->sw = stride_w, g->ph = pad_h, g->pw = pad_w;
    if (g->h + 2 * g->ph < g->kh || g->w + 2 * g->pw < g->kw)
        return SS_FAIL(SS_ERR_ARG, "%s: kernel %lldx%lld is larger than the padded input %lldx%lld (padding (%d,%d))",
                       op, (long long)g->kh, (long long)g->kw, (long long)(g->h + 2 * g->ph),
                       (long long)(g->w + 2 * g->pw), pad_h, pad_w);
    g->ho = (g->h + 2 * g->ph - g->kh) / g->sh + 1;
    g->wo = (g->w + 2 * g->pw - g->kw) / g->sw + 1;
    g->k = g->cin * g->kh * g->kw;
    g->np = g->ho * g->wo;
    if (g->k > INT_MAX || g->np > INT_MAX || g->cout > INT_MAX || g->cin * g->h * g->w > INT_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: sizes too large for BLAS (int) indices", op);
    return SS_OK;
}

/* SS_ERR_ARG naming `arg` unless t (when given) is (a,b,c,d), or (a) when nd = 1. */
static int check_shape(const char *op, const char *arg, const ss_tensor *t, int nd, int64_t a, int64_t b, int64_t c,
                       int64_t d)
{
    if (!t) return SS_OK;
    SS_TRY(ss_check_tensor(t, op, arg));
    int64_t want[4] = {a, b, c, d};
    int ok = t->ndim == nd;
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == want[i];
    if (ok) return SS_OK;
    char sa[96];
    if (nd == 1)
        return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld)", op, arg, ss_shape_str(sa, sizeof sa, t),
                       (long long)a);
    return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld,%lld,%lld,%lld)", op, arg,
                   ss_shape_str(sa, sizeof sa, t), (long long)a, (long long)b, (long long)c, (long long)d);
}

/* ------------------------------------------------------------ copies */

/* Columns [lo, hi) of an output row: those whose input column x·sw − pw + j lies in [0, W). */
static inline void valid_cols(const conv_geom *g, int64_t j, int64_t *lo, int64_t *hi)
{
    const int64_t s = g->sw;
    int64_t a = g->pw - j; /* need x·s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = g->w - 1 + g->pw - j; /* need x·s <= b */
    int64_t h = b < 0 ? 0 : b / s + 1;
    if (h > g->wo) h = g->wo;
    if (l > h) l = h;
    *lo = l, *hi = h;
}

/* col (K, nb·P): col[(c,i,j)][n·P + y·Wo + x] = in[n][c][y·sh−ph+i][x·sw−pw+j], 0 outside.
 * in: the nb images (nb,Cin,H,W). */
static void im2col(const conv_geom *g, float *col, const float *in, int64_t nb)
{
    const int64_t P = g->np, L = nb * P, s = g->sw;
    for (int64_t r = 0; r < g->k; r++) {
        const int64_t c = r / (g->kh * g->kw), i = r / g->kw % g->kh, j = r % g->kw;
        int64_t x0, x1;
        valid_cols(g, j, &x0, &x1);
        for (int64_t n = 0; n < nb; n++) {
            const float *plane = in + (n * g->cin + c) * g->h * g->w;
            float *d = col + r * L + n * P;
            for (int64_t y = 0; y < g->ho; y++, d += g->wo) {
                const int64_t iy = y * g->sh - g->ph + i;
                if (iy < 0 || iy >= g->h || x0 == x1) {
                    memset(d, 0, (size_t)g->wo * sizeof(float));
                    continue;
                }
                const float *row = plane + iy * g->w - g->pw + j; /* row[x·s]: input column x·s − pw + j */
                for (int64_t x = 0; x < x0; x++) d[x] = 0.0f;
                if (s == 1) memcpy(d + x0, row + x0, (size_t)(x1 - x0) * sizeof(float));
                else
                    for (int64_t x = x0; x < x1; x++) d[x] = row[x * s];
                for (int64_t x = x1; x < g->wo; x++) d[x] = 0.0f;
            }
        }
    }
}

/* The transpose of im2col: grad_in (nb,Cin,H,W) = the sum of col's values put back
 * where im2col took them, per plane in the order (i, j, y, x). */
static void col2im(const conv_geom *g, float *grad_in, const float *col, int64_t nb)
{
    const int64_t P = g->np, L = nb * P, HW = g->h * g->w, s = g->sw;
    for (int64_t n = 0; n < nb; n++)
        for (int64_t c = 0; c < g->cin; c++) {
            float *plane = grad_in + (n * g->cin + c) * HW;
            memset(plane, 0, (size_t)HW * sizeof(float));
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t j = 0; j < g->kw; j++) {
                    const float *src = col + ((c * g->kh + i) * g->kw + j) * L + n * P;
                    int64_t x0, x1;
                    valid_cols(g, j, &x0, &x1);
                    for (int64_t y = 0; y < g->ho; y++) {
                        const int64_t iy = y * g->sh - g->ph + i;
                        if (iy < 0 || iy >= g->h) continue;
                        float *row = plane + iy * g->w - g->pw + j;
                        const float *sr = src + y * g->wo;
                        if (s == 1)
                            for (int64_t x = x0; x < x1; x++) row[x] += sr[x];
                        else
                            for (int64_t x = x0; x < x1; x++) row[x * s] += sr[x];
                    }
                }
        }
}

/* out (nb,Cout,P) = tmp (Cout, nb·P) transposed, plus bias[o] (bias may be NULL). */
static void unpack(const conv_geom *g, float *out, const float *tmp, const float *bias, int64_t nb)
{
    const int64_t P = g->np, L = nb * P;
    for (int64_t n = 0; n < nb; n++)
        for (int64_t o = 0; o < g->cout; o++) {
            const float *s = tmp + o * L + n * P;
            float *d = out + (n * g->cout + o) * P;
            const float b = bias ? bias[o] : 0.0f;
            for (int64_t k = 0; k < P; k++) d[k] = s[k] + b;
        }
}

/* G (Cout, nb·P) = grad_out (nb,Cout,P) transposed. */
static void pack(const conv_geom *g, float *gmat, const float *grad_out, int64_t nb)
{
    const int64_t P = g->np, L = nb * P;
    for (int64_t n = 0; n < nb; n++)
        for (int64_t o = 0; o < g->cout; o++)
            memcpy(gmat + o * L + n * P, grad_out + (n * g->cout + o) * P, (size_t)P * sizeof(float));
}

/* grad_bias[o] += Σ_{n,k} grad_out[n][o][k] in double: fixed lanes per plane, planes in order of n. */
typedef struct bias_job {
    const conv_geom *g;
    float *grad_bias;
    const float *grad_out;
} bias_job;

/* Channels [lo, hi) of bias_grad: each channel's sum is the same whoever computes it. */
static void bias_grad_channels(void *ctx, int64_t lo, int64_t hi)
{
    const bias_job *j = ctx;
    const conv_geom *g = j->g;
    const int64_t P = g->np;
    for (int64_t o = lo; o < hi; o++) {
        double total = 0.0;
        for (int64_t n = 0; n < g->n; n++) {
            const float *x = j->grad_out + (n * g->cout + o) * P;
            double sum[1];
#define BIAS_TERMS(k, acc, l) acc[0][l] += (double)x[k]
            SS_LANE_SUM(1, 0, P, sum, BIAS_TERMS);
#undef BIAS_TERMS
            total += sum[0];
        }
        j->grad_bias[o] = (float)((double)j->grad_bias[o] + total);
    }
}

static void bias_grad(const conv_geom *g, float *grad_bias, const float *grad_out)
{
    bias_job j = {g, grad_bias, grad_out};
    ss_par_ranges(g->cout, g->n * g->cout * g->np > SS_PAR_MIN, bias_grad_channels, &j);
}

/* ------------------------------------------------------------ one thread's images */

/* What a run over images [n0, n1) reads and writes; one per call. */
typedef struct conv_run {
    const conv_geom *g;
    const float *in, *weight, *bias, *grad_out;
    float *out, *grad_in;
    float *grad_weight;     /* the call's grad_weight, or (batch-parallel) a thread's partial sum */
    int64_t chunk;          /* images per chunk */
    int64_t slice;          /* floats of scratch per thread */
    int64_t part;           /* offset of the grad_weight partial sum in a thread's scratch */
    float *scratch;         /* thread t's: scratch + t·slice: col (K, chunk·P), then tmp/G (Cout, chunk·P),
                               then (batch-parallel backward) its grad_weight partial (Cout,K) */
} conv_run;

static int is_pointwise(const conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

static void forward_images(const conv_run *r, float *scratch, int64_t n0, int64_t n1)
{
    const conv_geom *g = r->g;
    const int64_t P = g->np;
    if (is_pointwise(g)) {
        /* out_n (Cout,P) = weight (Cout,Cin) · in_n (Cin,P) [+ bias, filled first] */
        for (int64_t n = n0; n < n1; n++) {
            float *o = r->out + n * g->cout * P;
            if (r->bias)
                for (int64_t c = 0; c < g->cout; c++)
                    for (int64_t k = 0; k < P; k++) o[c * P + k] = r->bias[c];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)P, (int)g->cin, 1.0f,
                        r->weight, (int)g->cin, r->in + n * g->cin * P, (int)P, r->bias ? 1.0f : 0.0f, o, (int)P);
        }
        return;
    }
    float *col = scratch, *tmp = scratch + g->k * r->chunk * P;
    for (int64_t c0 = n0; c0 < n1; c0 += r->chunk) {
        if (ss_interrupt_requested()) break; /* the caller reports it */
        const int64_t nb = n1 - c0 < r->chunk ? n1 - c0 : r->chunk, L = nb * P;
        im2col(g, col, r->in + c0 * g->cin * g->h * g->w, nb);
        /* tmp (Cout, nb·P) = weight (Cout,K) · col (K, nb·P) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)L, (int)g->k, 1.0f, r->weight,
                    (int)g->k, col, (int)L, 0.0f, tmp, (int)L);
        unpack(g, r->out + c0 * g->cout * P, tmp, r->bias, nb);
    }
}

/* grad_in (=) and grad_weight (+= into gw) for images [n0, n1); either may be NULL. */
static void backward_images(const conv_run *r, float *scratch, float *gw, int64_t n0, int64_t n1)
{
    const conv_geom *g = r->g;
    const int64_t P = g->np;
    if (is_pointwise(g)) {
        for (int64_t n = n0; n < n1; n++) {
            const float *go = r->grad_out + n * g->cout * P;
            /* gw (Cout,Cin) += grad_out_n (Cout,P) · in_nᵀ (P,Cin) */
            if (gw)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)g->cin, (int)P, 1.0f, go,
                            (int)P, r->in + n * g->cin * P, (int)P, 1.0f, gw, (int)g->cin);
            /* grad_in_n (Cin,P) = weightᵀ (Cin,Cout) · grad_out_n (Cout,P) */
            if (r->grad_in)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->cin, (int)P, (int)g->cout, 1.0f,
                            r->weight, (int)g->cin, go, (int)P, 0.0f, r->grad_in + n * g->cin * P, (int)P);
        }
        return;
    }
    float *col = scratch, *gmat = scratch + g->k * r->chunk * P;
    for (int64_t c0 = n0; c0 < n1; c0 += r->chunk) {
        if (ss_interrupt_requested()) break; /* the caller reports it */
        const int64_t nb = n1 - c0 < r->chunk ? n1 - c0 : r->chunk, L = nb * P;
        pack(g, gmat, r->grad_out + c0 * g->cout * P, nb);
        if (gw) {
            /* col = im2col(in chunk); gw (Cout,K) += G (Cout, nb·P) · colᵀ (nb·P, K) */
            im2col(g, col, r->in + c0 * g->cin * g->h * g->w, nb);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)g->k, (int)L, 1.0f, gmat, (int)L,
                        col, (int)L, 1.0f, gw, (int)g->k);
        }
        if (r->grad_in) {
            /* col (K, nb·P) = weightᵀ (K,Cout) · G; grad_in chunk = col2im(col) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->k, (int)L, (int)g->cout, 1.0f, r->weight,
                        (int)g->k, gmat, (int)L, 0.0f, col, (int)L);
            col2im(g, r->grad_in + c0 * g->cin * g->h * g->w, col, nb);
        }
    }
}

/* ------------------------------------------------------------ calls */

/* Threads for the batch-parallel path: the team size, or 1 when the batch is
 * smaller than the team, the work too small, or the call already in a parallel region. */
static int batch_threads(const conv_geom *g)
{
    const int nt = omp_get_max_threads();
    if (nt < 2 || omp_in_parallel() || g->n < nt || g->n * g->cout * g->np * g->k < CONV_PAR_MIN) return 1;
    return nt;
}

/* Chunk size and scratch of a run on nt threads (nt = 1: the single-caller path);
 * partial = 1 when each thread also keeps a grad_weight partial sum. */
static int conv_plan(conv_run *r, ss_nn_workspace *ws, int nt, int partial)
{
    const conv_geom *g = r->g;
    const int64_t per = is_pointwise(g) ? 0 : (g->k + g->cout) * g->np; /* scratch per image */
    const int64_t share = nt > 1 ? (g->n + nt - 1) / nt : g->n;
    int64_t chunk = per ? (nt > 1 ? CONV_THREAD_FLOATS : CONV_CHUNK_FLOATS) / per : share;
    if (chunk < 1) chunk = 1;
    if (chunk > share) chunk = share;
    while (chunk > 1 && chunk * g->np > INT_MAX) chunk--;
    r->chunk = chunk;
    r->part = per * chunk;
    r->slice = (r->part + (partial ? g->cout * g->k : 0) + 15) / 16 * 16; /* whole cache lines */
    r->scratch = NULL;
    if (r->slice == 0) return SS_OK;
    r->scratch = ss_nn_workspace_reserve(ws, r->slice * nt * (int64_t)sizeof(float));
    if (!r->scratch) return SS_ERR_NOMEM;
    for (int t = 0; partial && t < nt; t++)
        memset(r->scratch + t * r->slice + r->part, 0, (size_t)(g->cout * g->k) * sizeof(float));
    return SS_OK;
}

/* Runs forward (grad = 0) or backward (grad = 1) over the batch on nt threads. */
static void conv_run_batch(const conv_run *r, int nt, int grad)
{
    if (nt == 1) {
        if (grad) backward_images(r, r->scratch, r->grad_weight, 0, r->g->n);
        else forward_images(r, r->scratch, 0, r->g->n);
        return;
    }
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt)
    {
        const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
        const int64_t n0 = r->g->n * t / team, n1 = r->g->n * (t + 1) / team;
        float *mine = r->scratch ? r->scratch + t * r->slice : NULL; /* NULL: 1x1 forward, no scratch */
        if (grad) backward_images(r, mine, r->grad_weight ? mine + r->part : NULL, n0, n1);
        else forward_images(r, mine, n0, n1);
    }
    openblas_set_num_threads(blas_threads);
    /* grad_weight += the partial sums (zeroed by conv_plan), in thread order */
    if (grad && r->grad_weight) {
        const int64_t m = r->g->cout * r->g->k;
        for (int t = 0; t < nt; t++) {
            const float *part = r->scratch + t * r->slice + r->part;
            for (int64_t i = 0; i < m; i++) r->grad_weight[i] += part[i];
        }
    }
}

/* ------------------------------------------------------------ path */

enum { VIA_IM2COL = 0, VIA_ONEDNN = 1, VIA_WINOGRAD = 2 };

/* The path of this call: SS_CPU_CONV (read at each call, so a program or test can
 * switch with setenv: onednn or im2col for every shape, winograd wherever it applies
 * and the choice by shape elsewhere), else by shape (see the top of the file); or the
 * error. */
static int conv_via(const char *op, const conv_geom *g, int backward)
{
    const char *v = getenv("SS_CPU_CONV");
    if (v && *v) {
        if (strcmp(v, "im2col") == 0) return VIA_IM2COL;
        if (strcmp(v, "winograd") == 0) {
            if (conv2d_winograd_applies(g)) return VIA_WINOGRAD;
        } else if (strcmp(v, "onednn") == 0) {
            if (!conv2d_onednn_available())
                return SS_FAIL(SS_ERR_ARG, "%s: SS_CPU_CONV=onednn, but libscalespace was built without oneDNN", op);
            return VIA_ONEDNN;
        } else {
            return SS_FAIL(SS_ERR_ARG, "%s: SS_CPU_CONV must be onednn, winograd or im2col, got \"%s\"", op, v);
        }
    }
    if (is_pointwise(g) || (backward && g->cin < CONV_MIN_CIN_BACKWARD)) return VIA_IM2COL;
    const int onednn = conv2d_onednn_available();
    const int wide = onednn && strstr(conv2d_onednn_describe(), "avx512") != NULL;
    if (conv2d_winograd_applies(g) && g->cin >= CONV_MIN_CIN_BACKWARD && !wide &&
        (g->wo >= CONV_WINOGRAD_MIN_WIDTH || !onednn))
        return VIA_WINOGRAD;
    return onednn ? VIA_ONEDNN : VIA_IM2COL;
}

const char *ss_conv2d_cpu_path(void)
{
    static char text[192];
    const char *v = getenv("SS_CPU_CONV");
    const char *dnnl = conv2d_onednn_describe();
    if (v && strcmp(v, "im2col") == 0) return "im2col + OpenBLAS sgemm (SS_CPU_CONV)";
    if (v && strcmp(v, "onednn") == 0 && dnnl) {
        snprintf(text, sizeof text, "%s (SS_CPU_CONV)", dnnl);
        return text;
    }
    snprintf(text, sizeof text, "by shape: Winograd F(2x2,3x3)%s, %s, im2col + OpenBLAS sgemm",
             v && *v ? " (SS_CPU_CONV)" : "", dnnl ? dnnl : "no oneDNN");
    return text;
}

int ss_conv2d_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *weight, const ss_tensor *bias,
                      int stride_h, int stride_w, int pad_h, int pad_w, ss_nn_workspace *ws)
{
    const char *op = "ss_conv2d_forward";
    conv_geom g;
    SS_TRY(ss_check_tensor(out, op, "out"));
    SS_TRY(conv_geom_init(&g, op, in, weight, stride_h, stride_w, pad_h, pad_w));
    SS_TRY(check_shape(op, "out", out, 4, g.n, g.cout, g.ho, g.wo));
    SS_TRY(check_shape(op, "bias", bias, 1, g.cout, 0, 0, 0));
    int dev = ss_check_layer_forward(op, out, in, weight, bias);
    if (dev < 0) return dev;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_conv2d_forward(out->data, in->data, weight->data, bias ? bias->data : NULL,
                                                       g.n, g.cin, g.h, g.w, g.cout, g.kh, g.kw, stride_h, stride_w,
                                                       pad_h, pad_w));
    if (g.n * g.cout * g.np == 0) return SS_OK;
    const int via = conv_via(op, &g, 0);
    if (via < 0) return via;

    ss_nn_workspace own = {NULL, 0};
    int rc;
    if (via == VIA_WINOGRAD) {
        rc = conv2d_winograd_forward(&g, out->data, in->data, weight->data, bias ? bias->data : NULL, ws ? ws : &own);
    } else if (via == VIA_ONEDNN) {
        rc = conv2d_onednn_forward(&g, out->data, in->data, weight->data, bias ? bias->data : NULL, ws ? ws : &own);
    } else {
        conv_run r = {.g = &g, .in = in->data, .weight = weight->data, .bias = bias ? bias->data : NULL,
                      .out = out->data};
        const int nt = batch_threads(&g);
        rc = conv_plan(&r, ws ? ws : &own, nt, 0);
        if (rc == SS_OK) conv_run_batch(&r, nt, 0);
        if (rc == SS_OK) rc = ss_interrupt_check(); /* a chunk loop stopped early */
    }
    ss_free(own.buf);
    return rc;
}

int ss_conv2d_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                       const ss_tensor *in, const ss_tensor *weight, int stride_h, int stride_w, int pad_h, int pad_w,
                       ss_nn_workspace *ws)
{
    const char *op = "ss_conv2d_backward";
    conv_geom g;
    SS_TRY(ss_check_tensor(grad_out, op, "grad_out"));
    SS_TRY(conv_geom_init(&g, op, in, weight, stride_h, stride_w, pad_h, pad_w));
    SS_TRY(check_shape(op, "grad_out", grad_out, 4, g.n, g.cout, g.ho, g.wo));
    SS_TRY(check_shape(op, "grad_in", grad_in, 4, g.n, g.cin, g.h, g.w));
    SS_TRY(check_shape(op, "grad_weight", grad_weight, 4, g.cout, g.cin, g.kh, g.kw));
    SS_TRY(check_shape(op, "grad_bias", grad_bias, 1, g.cout, 0, 0, 0));
    const int dev = ss_check_layer_backward(op, grad_out, in, weight, grad_in, grad_weight, grad_bias);
    if (dev < 0) return dev;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_conv2d_backward(grad_in ? grad_in->data : NULL,
                                                        grad_weight ? grad_weight->data : NULL,
                                                        grad_bias ? grad_bias->data : NULL, grad_out->data, in->data,
                                                        weight->data, g.n, g.cin, g.h, g.w, g.cout, g.kh, g.kw,
                                                        stride_h, stride_w, pad_h, pad_w));
    const int via = conv_via(op, &g, 1);
    if (via < 0) return via;
    if (grad_bias) bias_grad(&g, grad_bias->data, grad_out->data);
    if ((!grad_in && !grad_weight) || g.n * g.cout * g.np == 0) {
        if (grad_in) memset(grad_in->data, 0, (size_t)ss_tensor_numel(grad_in) * sizeof(float));
        return SS_OK;
    }
    ss_nn_workspace own = {NULL, 0};
    int rc;
    if (via == VIA_WINOGRAD) {
        rc = conv2d_winograd_backward(&g, grad_in ? grad_in->data : NULL, grad_weight ? grad_weight->data : NULL,
                                      grad_out->data, in->data, weight->data, ws ? ws : &own);
    } else if (via == VIA_ONEDNN) {
        rc = conv2d_onednn_backward(&g, grad_in ? grad_in->data : NULL, grad_weight ? grad_weight->data : NULL,
                                    grad_out->data, in->data, weight->data, ws ? ws : &own);
    } else {
        conv_run r = {.g = &g, .in = in->data, .weight = weight->data, .grad_out = grad_out->data,
                      .grad_in = grad_in ? grad_in->data : NULL, .grad_weight = grad_weight ? grad_weight->data : NULL};
        const int nt = batch_threads(&g);
        rc = conv_plan(&r, ws ? ws : &own, nt, nt > 1 && grad_weight);
        if (rc == SS_OK) conv_run_batch(&r, nt, 1);
        if (rc == SS_OK) rc = ss_interrupt_check(); /* a chunk loop stopped early */
    }
    ss_free(own.buf);
    return rc;
}
