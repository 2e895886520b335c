/* pool.c — max and average pooling over kh×kw windows with strides and zero padding
 * (torch.nn.functional.max_pool2d / avg_pool2d, floor mode, dilation 1), and the global
 * average pool; forward and backward (on cuda in kernels/pool.cu).
 *
 * Output sizes Ho = (H + 2·ph − kh)/sh + 1, Wo likewise (rounded down). Window (y, x)
 * covers input rows y·sh − ph .. y·sh − ph + kh − 1 and the matching columns; the rows
 * and columns that fall inside the input are [y0, y1) × [x0, x1). Planes (one image's
 * channel) are independent, so every loop runs over planes, on the OpenMP team when
 * there is enough work. */
#include "core/internal.h"
#include "kernels/pool.h"
#include "core/par.h"

#include <math.h>
#include <string.h>

typedef struct pool_geom {
    int64_t planes, h, w; /* N·C planes of H×W */
    int64_t ho, wo;
    int kh, kw, sh, sw, ph, pw;
} pool_geom;

/* Fills g from in's shape and the window and checks them (PyTorch's rules: padding at most
 * half the kernel, so that every window holds an input value). */
static int pool_geom_init(pool_geom *g, const char *op, const ss_tensor *in, int kh, int kw, int sh, int sw, int ph,
                          int pw)
{
    char sa[96];
    SS_TRY(ss_check_tensor(in, op, "in"));
    if (in->ndim != 4)
        return SS_FAIL(SS_ERR_ARG, "%s: in must be (N,C,H,W), got %s", op, ss_shape_str(sa, sizeof sa, in));
    if (kh < 1 || kw < 1) return SS_FAIL(SS_ERR_ARG, "%s: kernel must be >= 1, got %dx%d", op, kh, kw);
    if (sh < 1 || sw < 1) return SS_FAIL(SS_ERR_ARG, "%s: stride must be >= 1, got (%d,%d)", op, sh, sw);
    if (ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw)
        return SS_FAIL(SS_ERR_ARG, "%s: padding (%d,%d) must be >= 0 and at most half the kernel %dx%d", op, ph, pw,
                       kh, kw);
    g->planes = in->shape[0] * in->shape[1], g->h = in->shape[2], g->w = in->shape[3];
    g->kh = kh, g->kw = kw, g->sh = sh, g->sw = sw, g->ph = ph, g->pw = pw;
    if (g->h + 2 * ph < kh || g->w + 2 * pw < kw)
        return SS_FAIL(SS_ERR_ARG, "%s: kernel %dx%d is larger than the padded input %lldx%lld", op, kh, kw,
                       (long long)(g->h + 2 * ph), (long long)(g->w + 2 * pw));
    g->ho = (g->h + 2 * ph - kh) / sh + 1;
    g->wo = (g->w + 2 * pw - kw) / sw + 1;
    return SS_OK;
}

/* SS_ERR_ARG unless out (the pooled side) is (N,C,Ho,Wo) for in (N,C,H,W); the device of both. */
static int pool_check(const char *op, const char *name, const ss_tensor *out, const ss_tensor *in, const pool_geom *g)
{
    SS_TRY(ss_check_tensor(out, op, name));
    const ss_tensor *ts[2] = {out, in};
    const int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    if (out->ndim != 4 || out->shape[0] != in->shape[0] || out->shape[1] != in->shape[1] || out->shape[2] != g->ho ||
        out->shape[3] != g->wo) {
        char a[96];
        return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld,%lld,%lld,%lld)", op, name,
                       ss_shape_str(a, sizeof a, out), (long long)in->shape[0], (long long)in->shape[1],
                       (long long)g->ho, (long long)g->wo);
    }
    return dev;
}

/* SS_ERR_ARG when the output o shares memory with a or b (b may be NULL). */
static int check_apart(const char *op, const char *name, const ss_tensor *o, const ss_tensor *a, const ss_tensor *b)
{
    if (ss_tensors_overlap(o, a) || (b && ss_tensors_overlap(o, b)))
        return SS_FAIL(SS_ERR_ARG, "%s: %s shares memory with an input", op, name);
    return SS_OK;
}

/* The window of output (y, x) clipped to the input: rows [y0, y1), columns [x0, x1). */
static inline void window(const pool_geom *g, int64_t y, int64_t x, int64_t *y0, int64_t *y1, int64_t *x0,
                          int64_t *x1)
{
    const int64_t ys = y * g->sh - g->ph, xs = x * g->sw - g->pw;
    *y0 = ys < 0 ? 0 : ys, *x0 = xs < 0 ? 0 : xs;
    *y1 = ys + g->kh < g->h ? ys + g->kh : g->h;
    *x1 = xs + g->kw < g->w ? xs + g->kw : g->w;
}

/* ------------------------------------------------------------ max pooling */

/* The index in the plane of the maximum of window (y, x): the first in row-major order,
 * or the last NaN (PyTorch's CPU rule: val > max || isnan(val)). */
static inline int64_t argmax(const pool_geom *g, const float *plane, int64_t y, int64_t x)
{
    int64_t y0, y1, x0, x1;
    window(g, y, x, &y0, &y1, &x0, &x1);
    int64_t best = y0 * g->w + x0;
    float m = -INFINITY;
    for (int64_t i = y0; i < y1; i++)
        for (int64_t j = x0; j < x1; j++) {
            const float v = plane[i * g->w + j];
            if (v > m || isnan(v)) m = v, best = i * g->w + j;
        }
    return best;
}

typedef struct pool_job {
    const pool_geom *g;
    float *dst;
    const float *src, *aux; /* aux: the forward's input, for the max pool's backward */
    int count_include_pad;
} pool_job;

static void maxpool_forward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const pool_job *j = ctx;
    const pool_geom *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->src + p * g->h * g->w;
        float *y = j->dst + p * g->ho * g->wo;
        for (int64_t oy = 0; oy < g->ho; oy++)
            for (int64_t ox = 0; ox < g->wo; ox++) y[oy * g->wo + ox] = x[argmax(g, x, oy, ox)];
    }
}

/* grad_in: zeros, then each grad_out value added at its window's argmax (windows overlap
 * when the stride is below the kernel), in the order of the outputs. */
static void maxpool_backward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const pool_job *j = ctx;
    const pool_geom *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->aux + p * g->h * g->w, *dy = j->src + p * g->ho * g->wo;
        float *dx = j->dst + p * g->h * g->w;
        memset(dx, 0, (size_t)(g->h * g->w) * sizeof(float));
        for (int64_t oy = 0; oy < g->ho; oy++)
            for (int64_t ox = 0; ox < g->wo; ox++) dx[argmax(g, x, oy, ox)] += dy[oy * g->wo + ox];
    }
}

int ss_maxpool2d_forward(ss_tensor *out, const ss_tensor *in, int kh, int kw, int stride_h, int stride_w, int pad_h,
                         int pad_w)
{
    const char *op = "ss_maxpool2d_forward";
    pool_geom g;
    SS_TRY(pool_geom_init(&g, op, in, kh, kw, stride_h, stride_w, pad_h, pad_w));
    const int dev = pool_check(op, "out", out, in, &g);
    if (dev < 0) return dev;
    SS_TRY(check_apart(op, "out", out, in, NULL));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_maxpool2d_forward(out->data, in->data, g.planes, g.h, g.w, kh, kw, stride_h,
                                                          stride_w, pad_h, pad_w));
    pool_job j = {.g = &g, .dst = out->data, .src = in->data};
    ss_par_ranges(g.planes, g.planes * g.ho * g.wo * kh * kw > SS_PAR_MIN, maxpool_forward_planes, &j);
    return SS_OK;
}

int ss_maxpool2d_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in, int kh, int kw,
                          int stride_h, int stride_w, int pad_h, int pad_w)
{
    const char *op = "ss_maxpool2d_backward";
    pool_geom g;
    SS_TRY(pool_geom_init(&g, op, in, kh, kw, stride_h, stride_w, pad_h, pad_w));
    const int dev = pool_check(op, "grad_out", grad_out, in, &g);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(grad_in, op, "grad_in"));
    if (!ss_tensor_same_shape(grad_in, in)) {
        char a[96], b[96];
        return SS_FAIL(SS_ERR_ARG, "%s: grad_in has shape %s, expected in's %s", op, ss_shape_str(a, sizeof a, grad_in),
                       ss_shape_str(b, sizeof b, in));
    }
    const ss_tensor *ts[2] = {grad_in, in};
    if (ss_common_device(op, 2, ts) < 0) return SS_ERR_DEVICE;
    SS_TRY(check_apart(op, "grad_in", grad_in, in, grad_out));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_maxpool2d_backward(grad_in->data, grad_out->data, in->data, g.planes, g.h, g.w,
                                                           kh, kw, stride_h, stride_w, pad_h, pad_w));
    pool_job j = {.g = &g, .dst = grad_in->data, .src = grad_out->data, .aux = in->data};
    ss_par_ranges(g.planes, g.planes * g.ho * g.wo * kh * kw > SS_PAR_MIN, maxpool_backward_planes, &j);
    return SS_OK;
}

/* ------------------------------------------------------------ average pooling */

/* The divisor of window (y, x): kh·kw with count_include_pad, else the input positions it covers. */
static inline float divisor(const pool_geom *g, int include_pad, int64_t y0, int64_t y1, int64_t x0, int64_t x1)
{
    return include_pad ? (float)(g->kh * g->kw) : (float)((y1 - y0) * (x1 - x0));
}

static void avgpool_forward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const pool_job *j = ctx;
    const pool_geom *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->src + p * g->h * g->w;
        float *y = j->dst + p * g->ho * g->wo;
        for (int64_t oy = 0; oy < g->ho; oy++)
            for (int64_t ox = 0; ox < g->wo; ox++) {
                int64_t y0, y1, x0, x1;
                window(g, oy, ox, &y0, &y1, &x0, &x1);
                float s = 0.0f;
                for (int64_t i = y0; i < y1; i++)
                    for (int64_t k = x0; k < x1; k++) s += x[i * g->w + k];
                y[oy * g->wo + ox] = s / divisor(g, j->count_include_pad, y0, y1, x0, x1);
            }
    }
}

/* grad_in: zeros, then each window's grad_out/divisor added over the window. */
static void avgpool_backward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const pool_job *j = ctx;
    const pool_geom *g = j->g;
    for (int64_t p = lo; p < hi; p++) {
        const float *dy = j->src + p * g->ho * g->wo;
        float *dx = j->dst + p * g->h * g->w;
        memset(dx, 0, (size_t)(g->h * g->w) * sizeof(float));
        for (int64_t oy = 0; oy < g->ho; oy++)
            for (int64_t ox = 0; ox < g->wo; ox++) {
                int64_t y0, y1, x0, x1;
                window(g, oy, ox, &y0, &y1, &x0, &x1);
                const float v = dy[oy * g->wo + ox] / divisor(g, j->count_include_pad, y0, y1, x0, x1);
                for (int64_t i = y0; i < y1; i++)
                    for (int64_t k = x0; k < x1; k++) dx[i * g->w + k] += v;
            }
    }
}

int ss_avgpool2d_forward(ss_tensor *out, const ss_tensor *in, int kh, int kw, int stride_h, int stride_w, int pad_h,
                         int pad_w, int count_include_pad)
{
    const char *op = "ss_avgpool2d_forward";
    pool_geom g;
    SS_TRY(pool_geom_init(&g, op, in, kh, kw, stride_h, stride_w, pad_h, pad_w));
    const int dev = pool_check(op, "out", out, in, &g);
    if (dev < 0) return dev;
    SS_TRY(check_apart(op, "out", out, in, NULL));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_avgpool2d_forward(out->data, in->data, g.planes, g.h, g.w, kh, kw, stride_h,
                                                          stride_w, pad_h, pad_w, count_include_pad != 0));
    pool_job j = {.g = &g, .dst = out->data, .src = in->data, .count_include_pad = count_include_pad != 0};
    ss_par_ranges(g.planes, g.planes * g.ho * g.wo * kh * kw > SS_PAR_MIN, avgpool_forward_planes, &j);
    return SS_OK;
}

int ss_avgpool2d_backward(ss_tensor *grad_in, const ss_tensor *grad_out, int kh, int kw, int stride_h, int stride_w,
                          int pad_h, int pad_w, int count_include_pad)
{
    const char *op = "ss_avgpool2d_backward";
    pool_geom g;
    SS_TRY(ss_check_tensor(grad_in, op, "grad_in"));
    SS_TRY(pool_geom_init(&g, op, grad_in, kh, kw, stride_h, stride_w, pad_h, pad_w));
    const int dev = pool_check(op, "grad_out", grad_out, grad_in, &g);
    if (dev < 0) return dev;
    SS_TRY(check_apart(op, "grad_in", grad_in, grad_out, NULL));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_avgpool2d_backward(grad_in->data, grad_out->data, g.planes, g.h, g.w, kh, kw,
                                                           stride_h, stride_w, pad_h, pad_w, count_include_pad != 0));
    pool_job j = {.g = &g, .dst = grad_in->data, .src = grad_out->data, .count_include_pad = count_include_pad != 0};
    ss_par_ranges(g.planes, g.planes * g.ho * g.wo * kh * kw > SS_PAR_MIN, avgpool_backward_planes, &j);
    return SS_OK;
}

/* ------------------------------------------------------------ global average pooling */

/* SS_ERR_ARG unless t (the pooled side) is (N,C) or (N,C,1,1) for x (N,C,H,W); the device of both. */
static int global_check(const char *op, const char *name, const ss_tensor *t, const ss_tensor *x)
{
    char a[96], b[96];
    SS_TRY(ss_check_tensor(t, op, name));
    SS_TRY(ss_check_tensor(x, op, name[0] == 'o' ? "in" : "grad_in"));
    const ss_tensor *ts[2] = {t, x};
    const int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    if (x->ndim != 4) return SS_FAIL(SS_ERR_ARG, "%s: in must be (N,C,H,W), got %s", op, ss_shape_str(a, sizeof a, x));
    const int ok = (t->ndim == 2 || (t->ndim == 4 && t->shape[2] == 1 && t->shape[3] == 1)) &&
                   t->shape[0] == x->shape[0] && t->shape[1] == x->shape[1];
    if (!ok)
        return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (N,C) or (N,C,1,1) for %s", op, name,
                       ss_shape_str(a, sizeof a, t), ss_shape_str(b, sizeof b, x));
    if (ss_tensors_overlap(t, x)) return SS_FAIL(SS_ERR_ARG, "%s: %s shares memory with the other argument", op, name);
    return dev;
}

typedef struct global_job {
    float *dst;
    const float *src;
    int64_t hw;
} global_job;

/* out[p] = the mean of plane p, summed in double in order. */
static void global_forward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const global_job *j = ctx;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->src + p * j->hw;
        double s = 0.0;
        for (int64_t i = 0; i < j->hw; i++) s += x[i];
        j->dst[p] = (float)(s / (double)j->hw);
    }
}

static void global_backward_planes(void *ctx, int64_t lo, int64_t hi)
{
    const global_job *j = ctx;
    for (int64_t p = lo; p < hi; p++) {
        const float v = (float)((double)j->src[p] / (double)j->hw);
        float *dx = j->dst + p * j->hw;
        for (int64_t i = 0; i < j->hw; i++) dx[i] = v;
    }
}

int ss_global_avgpool_forward(ss_tensor *out, const ss_tensor *in)
{
    const char *op = "ss_global_avgpool_forward";
    const int dev = global_check(op, "out", out, in);
    if (dev < 0) return dev;
    const int64_t planes = in->shape[0] * in->shape[1], hw = in->shape[2] * in->shape[3];
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_global_avgpool_forward(out->data, in->data, planes, hw));
    global_job j = {out->data, in->data, hw};
    ss_par_ranges(planes, planes * hw > SS_PAR_MIN, global_forward_planes, &j);
    return SS_OK;
}

int ss_global_avgpool_backward(ss_tensor *grad_in, const ss_tensor *grad_out)
{
    const char *op = "ss_global_avgpool_backward";
    const int dev = global_check(op, "grad_out", grad_out, grad_in);
    if (dev < 0) return dev;
    const int64_t planes = grad_in->shape[0] * grad_in->shape[1], hw = grad_in->shape[2] * grad_in->shape[3];
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_global_avgpool_backward(grad_in->data, grad_out->data, planes, hw));
    global_job j = {grad_in->data, grad_out->data, hw};
    ss_par_ranges(planes, planes * hw > SS_PAR_MIN, global_backward_planes, &j);
    return SS_OK;
}
