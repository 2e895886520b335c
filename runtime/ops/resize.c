/* resize.c — separable image resizing and its exact adjoint.
 *
 * Every mode is a pair of 1-D linear maps, one per axis: output position i
 * reads input positions first[i] .. first[i]+count[i]-1 with weights w[i][·].
 * The tables are built per call (O(out · taps), negligible) by the rule of the
 * library each mode must agree with:
 *   bilinear_aa  PyTorch 1.13 interpolate(mode="bilinear", antialias=True,
 *                align_corners=False): Pillow's precompute-coefficients scheme
 *                with a triangle filter, support scaled by max(in/out, 1),
 *                weights renormalised at the borders, in PyTorch's mixed
 *                float/double arithmetic term by term;
 *   bicubic      Pillow's float-image resize(BICUBIC) (clean-fid), a = -0.5,
 *                in double as Pillow does;
 *   area         PyTorch mode="area", adaptive average pooling over
 *                [floor(i·in/out), ceil((i+1)·in/out));
 *   nearest      PyTorch mode="nearest", src = floor(i·in/out).
 * The forward gathers: one pass per axis through a per-thread intermediate,
 * the order picked by cost (the passes act on different axes, so they commute
 * exactly; only float rounding differs from PyTorch's and Pillow's
 * horizontal-first order, at the 1e-7 level). The adjoint runs the transposed
 * loops with the same tables in the reverse order: each pass scatters where
 * the forward gathers. An axis whose size does not change is the identity in
 * every mode, and its pass is skipped. On the GPU each table becomes a dense
 * (out, in) matrix, cached on the device, and the passes are GEMMs
 * (kernels/resize.cu); the adjoint multiplies by the same matrices transposed. */
#include "ops/image_op.h"
#include "ops/linop_impl.h"
#include "kernels/resize.h"
#ifdef SS_WITH_CUDA
#include "core/cuda.h"
#endif

#include <math.h>
#include <omp.h>
#include <string.h>

/* Below this much work (multiply-adds) a call stays on one thread. */
#define RESIZE_PARALLEL_MIN 32768
/* Column block of the vertical passes when one image is split over threads. */
#define RESIZE_COL_BLOCK 64

typedef struct resize_axis {
    int64_t in, out, taps; /* taps: room per output position in w */
    int identity;
    int64_t *first;        /* [out] first input index */
    int64_t *count;        /* [out] number of taps used */
    float *w;              /* [out][taps] weights, zero past count */
} resize_axis;

static const char *const mode_names[] = {"bilinear_aa", "bicubic", "area", "nearest"};

/* PyTorch's antialias triangle filter (HelperInterpLinear::aa_filter<float>). */
static float aa_triangle(float x)
{
    if (x < 0.0f) x = -x;
    return x < 1.0f ? (float)(1.0 - (double)x) : 0.0f;
}

/* Pillow's bicubic_filter with a = -0.5. */
static double pillow_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* The number of taps per output position each mode needs at most. */
static int64_t axis_taps(int mode, int64_t in, int64_t out)
{
    switch (mode) {
    case SS_RESIZE_BILINEAR_AA: {
        float scale = (float)in / (float)out;
        float support = scale >= 1.0f ? (float)(1.0 * (double)scale) : 1.0f;
        return (int64_t)ceilf(support) * 2 + 1;
    }
    case SS_RESIZE_BICUBIC: {
        double scale = (double)in / (double)out;
        return (int64_t)ceil(2.0 * (scale < 1.0 ? 1.0 : scale)) * 2 + 1;
    }
    case SS_RESIZE_AREA: return (in + out - 1) / out + 2; /* ceil(in/out) + 1, and one for float rounding */
    default: return 1;
    }
}

/* _compute_indices_min_size_weights_aa for scalar_t = float: center, support
 * and the filter argument round to float where PyTorch's do, so the tap ranges
 * and weights come out the same. */
static void axis_bilinear_aa(resize_axis *ax)
{
    const int64_t in = ax->in, taps = ax->taps;
    const float scale = (float)in / (float)ax->out;
    const float support = scale >= 1.0f ? (float)(1.0 * (double)scale) : 1.0f;
    const float invscale = scale >= 1.0f ? (float)(1.0 / (double)scale) : 1.0f;
    for (int64_t i = 0; i < ax->out; i++) {
        float center = (float)((double)scale * ((double)i + 0.5));
        int64_t xmin = (int64_t)((double)(center - support) + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t)((double)(center + support) + 0.5);
        if (xmax > in) xmax = in;
        int64_t n = xmax - xmin;
        n = n < 0 ? 0 : n > taps ? taps : n;
        float *w = ax->w + i * taps, total = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            float d = (float)(j + xmin) - center;
            w[j] = aa_triangle((float)(((double)d + 0.5) * (double)invscale));
            total += w[j];
        }
        if (total != 0.0f)
            for (int64_t j = 0; j < n; j++) w[j] /= total;
        ax->first[i] = xmin;
        ax->count[i] = n;
    }
}

/* Pillow's precompute_coeffs (Resample.c) with the bicubic filter, in double. */
static void axis_bicubic(resize_axis *ax)
{
    const int64_t in = ax->in, taps = ax->taps;
    const double scale = (double)in / (double)ax->out;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 2.0 * filterscale, ss = 1.0 / filterscale;
    for (int64_t i = 0; i < ax->out; i++) {
        double center = ((double)i + 0.5) * scale;
        int64_t xmin = (int64_t)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t)(center + support + 0.5);
        if (xmax > in) xmax = in;
        int64_t n = xmax - xmin;
        n = n < 0 ? 0 : n > taps ? taps : n;
        /* The filter is evaluated twice rather than kept in a scratch array:
         * the sum must be known before the first weight is stored in float. */
        double ww = 0.0;
        for (int64_t j = 0; j < n; j++) ww += pillow_bicubic(((double)(j + xmin) - center + 0.5) * ss);
        float *w = ax->w + i * taps;
        for (int64_t j = 0; j < n; j++) {
            double k = pillow_bicubic(((double)(j + xmin) - center + 0.5) * ss);
            w[j] = (float)(ww != 0.0 ? k / ww : k);
        }
        ax->first[i] = xmin;
        ax->count[i] = n;
    }
}

/* AdaptivePooling.h start_index/end_index (float division, as PyTorch). */
static void axis_area(resize_axis *ax)
{
    const int64_t in = ax->in, out = ax->out;
    for (int64_t i = 0; i < out; i++) {
        int64_t s = (int64_t)floorf((float)(i * in) / (float)out);
        int64_t e = (int64_t)ceilf((float)((i + 1) * in) / (float)out);
        if (e > in) e = in;
        if (e - s > ax->taps) e = s + ax->taps;
        float *w = ax->w + i * ax->taps;
        for (int64_t j = 0; j < e - s; j++) w[j] = (float)(1.0 / (double)(e - s));
        ax->first[i] = s;
        ax->count[i] = e - s;
    }
}

/* UpSample.h nearest_idx: a float scale, floorf, clamped to the last pixel. */
static void axis_nearest(resize_axis *ax)
{
    const int64_t in = ax->in, out = ax->out;
    const float scale = (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        int64_t s = out == 2 * in ? i >> 1 : (int64_t)floorf((float)i * scale);
        ax->first[i] = s < in - 1 ? s : in - 1;
        ax->count[i] = 1;
        ax->w[i] = 1.0f;
    }
}

static void axis_free(resize_axis *ax)
{
    ss_free(ax->first);
    ax->first = NULL;
}

/* Builds the table of one axis; equal sizes give the identity in every mode. */
static int axis_build(resize_axis *ax, int mode, int64_t in, int64_t out)
{
    ax->in = in;
    ax->out = out;
    ax->identity = in == out;
    ax->taps = ax->identity ? 1 : axis_taps(mode, in, out);
    /* One block: first, count, then the weights. */
    size_t bytes = (size_t)out * (2 * sizeof(int64_t) + (size_t)ax->taps * sizeof(float));
    ax->first = ss_alloc(bytes, "resize tables");
    if (!ax->first) return SS_ERR_NOMEM;
    ax->count = ax->first + out;
    ax->w = (float *)(ax->count + out);
    memset(ax->w, 0, (size_t)(out * ax->taps) * sizeof(float));
    if (ax->identity) {
        for (int64_t i = 0; i < out; i++) ax->first[i] = i, ax->count[i] = 1, ax->w[i] = 1.0f;
        return SS_OK;
    }
    switch (mode) {
    case SS_RESIZE_BILINEAR_AA: axis_bilinear_aa(ax); break;
    case SS_RESIZE_BICUBIC: axis_bicubic(ax); break;
    case SS_RESIZE_AREA: axis_area(ax); break;
    default: axis_nearest(ax); break;
    }
    return SS_OK;
}

/* ------------------------------------------------------------ passes */

/* The horizontal passes work on RB rows at a time, transposed into a small
 * (width, RB) block so the inner loops run across rows in SIMD lanes; each
 * row's arithmetic (taps in order, from 0) is the same as one row alone. */
#define RB 8

/* Horizontal, forward: rows [y0,y1) of src (·, W) into dst (·, Wo).
 * blk holds RB·(W + Wo) floats. */
static void h_forward(float *restrict dst, const float *restrict src, const resize_axis *ax, int64_t y0, int64_t y1,
                      float *restrict blk)
{
    const int64_t W = ax->in, Wo = ax->out, taps = ax->taps;
    int64_t y = y0;
    for (; y + RB <= y1; y += RB) {
        float *bi = blk, *bo = blk + RB * W;
        for (int r = 0; r < RB; r++) {
            const float *s = src + (y + r) * W;
            for (int64_t x = 0; x < W; x++) bi[x * RB + r] = s[x];
        }
        for (int64_t j = 0; j < Wo; j++) {
            const float *w = ax->w + j * taps, *p = bi + ax->first[j] * RB;
            float acc[RB] = {0};
            for (int64_t k = 0; k < ax->count[j]; k++)
                for (int r = 0; r < RB; r++) acc[r] += w[k] * p[k * RB + r];
            for (int r = 0; r < RB; r++) bo[j * RB + r] = acc[r];
        }
        for (int r = 0; r < RB; r++) {
            float *d = dst + (y + r) * Wo;
            for (int64_t j = 0; j < Wo; j++) d[j] = bo[j * RB + r];
        }
    }
    for (; y < y1; y++) { /* the last rows, one at a time */
        const float *s = src + y * W;
        float *d = dst + y * Wo;
        for (int64_t j = 0; j < Wo; j++) {
            const float *w = ax->w + j * taps, *p = s + ax->first[j];
            float acc = 0.0f;
            for (int64_t k = 0; k < ax->count[j]; k++) acc += w[k] * p[k];
            d[j] = acc;
        }
    }
}

/* Horizontal, adjoint: rows [y0,y1) of src (·, Wo) scattered into dst (·, W):
 * the transposed loop of h_forward. blk holds RB·(W + Wo) floats. */
static void h_adjoint(float *restrict dst, const float *restrict src, const resize_axis *ax, int64_t y0, int64_t y1,
                      float *restrict blk)
{
    const int64_t W = ax->in, Wo = ax->out, taps = ax->taps;
    int64_t y = y0;
    for (; y + RB <= y1; y += RB) {
        float *bi = blk, *bo = blk + RB * Wo;
        for (int r = 0; r < RB; r++) {
            const float *s = src + (y + r) * Wo;
            for (int64_t j = 0; j < Wo; j++) bi[j * RB + r] = s[j];
        }
        memset(bo, 0, (size_t)(RB * W) * sizeof(float));
        for (int64_t j = 0; j < Wo; j++) {
            const float *w = ax->w + j * taps, *v = bi + j * RB;
            float *p = bo + ax->first[j] * RB;
            for (int64_t k = 0; k < ax->count[j]; k++)
                for (int r = 0; r < RB; r++) p[k * RB + r] += w[k] * v[r];
        }
        for (int r = 0; r < RB; r++) {
            float *d = dst + (y + r) * W;
            for (int64_t x = 0; x < W; x++) d[x] = bo[x * RB + r];
        }
    }
    for (; y < y1; y++) {
        const float *s = src + y * Wo;
        float *d = dst + y * W;
        memset(d, 0, (size_t)W * sizeof(float));
        for (int64_t j = 0; j < Wo; j++) {
            const float *w = ax->w + j * taps;
            float *p = d + ax->first[j], v = s[j];
            for (int64_t k = 0; k < ax->count[j]; k++) p[k] += w[k] * v;
        }
    }
}

/* Vertical, forward: columns [c0,c1) of dst (out, width) from src (in, width). */
static void v_forward(float *restrict dst, const float *restrict src, const resize_axis *ay, int64_t width,
                      int64_t c0, int64_t c1)
{
    for (int64_t i = 0; i < ay->out; i++) {
        float *d = dst + i * width;
        const float *w = ay->w + i * ay->taps;
        for (int64_t c = c0; c < c1; c++) d[c] = 0.0f;
        for (int64_t k = 0; k < ay->count[i]; k++) {
            const float *s = src + (ay->first[i] + k) * width, wk = w[k];
            for (int64_t c = c0; c < c1; c++) d[c] += wk * s[c];
        }
    }
}

/* Vertical, adjoint: columns [c0,c1) of src (out, width) scattered into dst
 * (in, width), the transposed loop of v_forward. */
static void v_adjoint(float *restrict dst, const float *restrict src, const resize_axis *ay, int64_t width,
                      int64_t c0, int64_t c1)
{
    for (int64_t y = 0; y < ay->in; y++)
        for (int64_t c = c0; c < c1; c++) dst[y * width + c] = 0.0f;
    for (int64_t i = 0; i < ay->out; i++) {
        const float *s = src + i * width, *w = ay->w + i * ay->taps;
        for (int64_t k = 0; k < ay->count[i]; k++) {
            float *d = dst + (ay->first[i] + k) * width, wk = w[k];
            for (int64_t c = c0; c < c1; c++) d[c] += wk * s[c];
        }
    }
}

/* The horizontal pass over `rows` rows; split spreads blocks of RB rows over
 * the threads, each with its own block buffer (blksz floats apart). */
static void pass_h(float *d, const float *s, const resize_axis *ax, int64_t rows, float *blk, int64_t blksz,
                   int adjoint, int split)
{
    if (!split) {
        if (adjoint) h_adjoint(d, s, ax, 0, rows, blk);
        else h_forward(d, s, ax, 0, rows, blk);
        return;
    }
    const int64_t nblk = (rows + RB - 1) / RB;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < nblk; r++) {
        int64_t y0 = r * RB, y1 = y0 + RB < rows ? y0 + RB : rows;
        float *b = blk + blksz * omp_get_thread_num();
        if (adjoint) h_adjoint(d, s, ax, y0, y1, b);
        else h_forward(d, s, ax, y0, y1, b);
    }
}

/* The vertical pass over images `width` columns wide; split spreads column
 * blocks over the threads. */
static void pass_v(float *d, const float *s, const resize_axis *ay, int64_t width, int adjoint, int split)
{
    if (!split) {
        if (adjoint) v_adjoint(d, s, ay, width, 0, width);
        else v_forward(d, s, ay, width, 0, width);
        return;
    }
    const int64_t nblk = (width + RESIZE_COL_BLOCK - 1) / RESIZE_COL_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t c0 = b * RESIZE_COL_BLOCK, c1 = c0 + RESIZE_COL_BLOCK < width ? c0 + RESIZE_COL_BLOCK : width;
        if (adjoint) v_adjoint(d, s, ay, width, c0, c1);
        else v_forward(d, s, ay, width, c0, c1);
    }
}

/* One image. Forward: x (H,W) -> o (Ho,Wo); adjoint: x (Ho,Wo) -> o (H,W).
 * The two axes commute, so the forward may run either pass first: vfirst
 * picks the vertical one (cheaper when the height shrinks, as the costlier
 * horizontal pass then sees fewer rows). The adjoint runs the transposed
 * passes in the reverse order. tmp holds the intermediate (H·Wo or Ho·W
 * floats), blk the row blocks of pass_h. */
static void resize_image(float *o, const float *x, float *tmp, float *blk, int64_t blksz, const resize_axis *ay,
                         const resize_axis *ax, int vfirst, int adjoint, int split)
{
    const int64_t H = ay->in, W = ax->in, Ho = ay->out, Wo = ax->out;
    if (ax->identity && ay->identity) memcpy(o, x, (size_t)(H * W) * sizeof(float));
    else if (ax->identity) pass_v(o, x, ay, W, adjoint, split);
    else if (ay->identity) pass_h(o, x, ax, H, blk, blksz, adjoint, split);
    else if (!adjoint && vfirst) {
        pass_v(tmp, x, ay, W, 0, split);             /* (Ho, W) */
        pass_h(o, tmp, ax, Ho, blk, blksz, 0, split); /* (Ho, Wo) */
    } else if (!adjoint) {
        pass_h(tmp, x, ax, H, blk, blksz, 0, split); /* (H, Wo) */
        pass_v(o, tmp, ay, Wo, 0, split);             /* (Ho, Wo) */
    } else if (vfirst) {
        pass_h(tmp, x, ax, Ho, blk, blksz, 1, split); /* (Ho, W) */
        pass_v(o, tmp, ay, W, 1, split);              /* (H, W) */
    } else {
        pass_v(tmp, x, ay, Wo, 1, split);             /* (H, Wo) */
        pass_h(o, tmp, ax, H, blk, blksz, 1, split);  /* (H, W) */
    }
}

#ifdef SS_WITH_CUDA
/* The dense matrix (rows = out, cols = in positions) of one axis of mode *ctx. */
static int axis_dense(float *m, int64_t rows, int64_t cols, void *ctx)
{
    resize_axis ax = {0};
    SS_TRY(axis_build(&ax, *(const int *)ctx, cols, rows));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < ax.count[i]; k++) m[i * cols + ax.first[i] + k] = ax.w[i * ax.taps + k];
    axis_free(&ax);
    return SS_OK;
}

/* The GPU path: the matrices of the axes that change size, then the GEMM pair. */
static int resize_cuda(ss_tensor *out, const ss_tensor *in, int mode, int adjoint, int64_t b, int64_t H, int64_t W,
                       int64_t Ho, int64_t Wo)
{
    const float *mh = NULL, *mw = NULL;
    int own_h = 0, own_w = 0, rc = SS_OK;
    if (H != Ho) rc = ss_cuda_matrix_get(&mh, &own_h, SS_CUDA_MATRIX_RESIZE + mode, Ho, H, axis_dense, &mode);
    if (rc == SS_OK && W != Wo)
        rc = ss_cuda_matrix_get(&mw, &own_w, SS_CUDA_MATRIX_RESIZE + mode, Wo, W, axis_dense, &mode);
    if (rc == SS_OK)
        rc = adjoint ? ss_cuda_resize_adjoint(out->data, in->data, b, H, W, Ho, Wo, mh, mw)
                     : ss_cuda_resize_forward(out->data, in->data, b, H, W, Ho, Wo, mh, mw);
    if (own_h) ss_cuda_free((void *)mh); /* after queuing: the allocator reuses it in stream order */
    if (own_w) ss_cuda_free((void *)mw);
    return rc;
}
#endif

/* out and in carry the same leading dimensions; the forward maps in's image
 * to out's size, the adjoint maps in (resized) back to out (original). Returns
 * the device, or the error. */
static int resize_check(const char *op, const ss_tensor *out, const ss_tensor *in, int mode, int64_t *b)
{
    const ss_tensor *ts[2] = {out, in};
    SS_TRY(ss_common_device(op, 2, ts));
    if (mode < SS_RESIZE_BILINEAR_AA || mode > SS_RESIZE_NEAREST)
        return SS_FAIL(SS_ERR_ARG, "%s: unknown resize mode %d (0 bilinear_aa, 1 bicubic, 2 area, 3 nearest)", op,
                       mode);
    if (out->ndim < 2) {
        char so[96];
        return SS_FAIL(SS_ERR_ARG, "%s: output %s needs 2 to 4 dimensions (...,H,W)", op,
                       ss_shape_str(so, sizeof so, out));
    }
    int64_t h, w;
    return ss_image_op_check(op, out, in, out->shape[out->ndim - 2], out->shape[out->ndim - 1], b, &h, &w);
}

static int resize_run(const char *op, ss_tensor *out, const ss_tensor *in, int mode, int adjoint)
{
    int64_t b;
    int dev = resize_check(op, out, in, mode, &b);
    if (dev < 0) return dev;
    const ss_tensor *orig = adjoint ? out : in, *small = adjoint ? in : out;
    const int64_t H = orig->shape[orig->ndim - 2], W = orig->shape[orig->ndim - 1];
    const int64_t Ho = small->shape[small->ndim - 2], Wo = small->shape[small->ndim - 1];
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, resize_cuda(out, in, mode, adjoint, b, H, W, Ho, Wo));
    resize_axis ay = {0}, ax = {0};
    ss_tensor *copy = NULL;
    float *bufs = NULL;
    int rc = axis_build(&ay, mode, H, Ho);
    if (rc == SS_OK) rc = axis_build(&ax, mode, W, Wo);
    if (rc == SS_OK && ss_tensors_overlap(out, in)) { /* both passes read in after out is written */
        copy = ss_tensor_clone(in);
        if (copy) in = copy;
        else rc = ss_last_status();
    }
    const int64_t work = b * (H * Wo * ax.taps + Ho * Wo * ay.taps);
    const int nthreads = work >= RESIZE_PARALLEL_MIN ? omp_get_max_threads() : 1;
    const int per_image = b >= nthreads; /* else split each image over the threads */
    const int64_t isz = adjoint ? Ho * Wo : H * W, osz = adjoint ? H * W : Ho * Wo;
    /* Multiply-adds of each order, a horizontal one costing about 4 vertical
     * ones (those run along rows in SIMD lanes). */
    const double hcost = 4.0, hf = (double)H * Wo * ax.taps * hcost + (double)Ho * Wo * ay.taps;
    const double vf = (double)Ho * W * ay.taps + (double)Ho * Wo * ax.taps * hcost;
    const int vfirst = vf < hf;
    /* Per thread: the intermediate (one shared when an image is split) and a
     * row block. */
    const int64_t tmpsz = vfirst ? Ho * W : H * Wo, blksz = RB * (W + Wo);
    const int64_t ntmp = per_image ? nthreads : 1;
    if (rc == SS_OK) {
        bufs = ss_alloc((size_t)(tmpsz * ntmp + blksz * nthreads) * sizeof(float), "resize buffers");
        if (!bufs) rc = SS_ERR_NOMEM;
    }
    if (rc == SS_OK) {
        const float *x = in->data;
        float *o = out->data, *blks = bufs + tmpsz * ntmp;
        if (per_image) {
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
            for (int64_t i = 0; i < b; i++) {
                int t = omp_get_thread_num();
                resize_image(o + i * osz, x + i * isz, bufs + tmpsz * t, blks + blksz * t, blksz, &ay, &ax, vfirst,
                             adjoint, 0);
            }
        } else {
            for (int64_t i = 0; i < b; i++)
                resize_image(o + i * osz, x + i * isz, bufs, blks, blksz, &ay, &ax, vfirst, adjoint, 1);
        }
    }
    ss_free(bufs);
    ss_tensor_free(copy);
    axis_free(&ay);
    axis_free(&ax);
    return rc;
}

/* out: (...,Ho,Wo), in: (...,H,W). */
int ss_resize_forward(ss_tensor *out, const ss_tensor *in, int mode)
{
    return resize_run("ss_resize_forward", out, in, mode, 0);
}

/* out: (...,H,W) the original size, in: (...,Ho,Wo) the resized size. */
int ss_resize_adjoint(ss_tensor *out, const ss_tensor *in, int mode)
{
    return resize_run("ss_resize_adjoint", out, in, mode, 1);
}

const char *ss_resize_mode_name(int mode)
{
    return mode >= 0 && mode <= SS_RESIZE_NEAREST ? mode_names[mode] : "unknown";
}

/* ------------------------------------------------------------ operator */

static int resize_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_resize_forward(out, in, *(const int *)op->ctx);
}

static int resize_transposed(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_resize_adjoint(out, in, *(const int *)op->ctx);
}

static const ss_linop_vtable resize_vt = {.apply = resize_apply, .adjoint = resize_transposed};

/* ctx: the mode. */
ss_linop *ss_linop_resize(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, int mode)
{
    if (mode < SS_RESIZE_BILINEAR_AA || mode > SS_RESIZE_NEAREST)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_resize: unknown resize mode %d (0 bilinear_aa, 1 bicubic, "
                            "2 area, 3 nearest)", mode);
    ss_linop *op = ss_linop_create("ss_linop_resize", &resize_vt, sizeof(int), in_h, in_w, out_h, out_w,
                                   "resize_%s(%lldx%lld->%lldx%lld)", ss_resize_mode_name(mode), (long long)in_h,
                                   (long long)in_w, (long long)out_h, (long long)out_w);
    if (op) *(int *)op->ctx = mode;
    return op;
}
