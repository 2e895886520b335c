/* shape.c — the shape ops: permute, narrow, flip, roll, crop, cat and split (strided
 * copies), pad, row gathers, per-sample flips, reductions over one dimension, where.
 *
 * Tensors are contiguous, so every rearrangement is a copy. One routine, box_copy,
 * moves a box of up to 4 dimensions between two strided layouts: a transpose, a
 * permute, a narrow, a flip, a segment of a roll, a crop window or a part of a cat
 * is only a choice of box, start and strides. The box is simplified first (size-1
 * dimensions dropped, dimensions that are one run on both sides merged), so a
 * narrow or a cat part runs as a few long memcpy's. Cuda tensors run the same boxes
 * through kernels/shape.cu. Every check comes before anything is written. */
#include "core/internal.h"
#include "kernels/shape.h"
#include "core/par.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ boxes */

/* Right-aligned view of t in 4 dimensions: its sizes (1 in front) and row-major
 * strides (0 in front). Index a = 4 − ndim + d is t's dimension d. */
static void box_sizes(int64_t size[4], const ss_tensor *t)
{
    for (int a = 0; a < 4; a++) size[a] = a < 4 - t->ndim ? 1 : t->shape[a - (4 - t->ndim)];
}

static void box_strides(int64_t st[4], const ss_tensor *t)
{
    int64_t s = 1;
    for (int a = 3; a >= 0; a--) {
        st[a] = a < 4 - t->ndim ? 0 : s;
        s *= a < 4 - t->ndim ? 1 : t->shape[a - (4 - t->ndim)];
    }
}

/* Drops size-1 dimensions and merges a dimension into the next inner one when both
 * layouts walk them as one run; the result is right-aligned again. */
static void box_simplify(ss_box *b)
{
    ss_box r = {{1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    int k = 4; /* r's dimensions k..3 are set */
    for (int d = 3; d >= 0; d--) {
        if (b->size[d] == 1) continue;
        if (k < 4 && b->dst[d] == r.dst[k] * r.size[k] && b->src[d] == r.src[k] * r.size[k]) {
            r.size[k] *= b->size[d];
            continue;
        }
        k--;
        r.size[k] = b->size[d], r.dst[k] = b->dst[d], r.src[k] = b->src[d];
    }
    *b = r;
}

typedef struct box_job {
    float *dst;
    const float *src;
    ss_box b;
} box_job;

/* Rows r in [lo, hi) of the box: r indexes dimensions 0..2, a row runs along 3. */
static void box_rows(void *ctx, int64_t lo, int64_t hi)
{
    const box_job *jb = ctx;
    const ss_box *b = &jb->b;
    for (int64_t r = lo; r < hi; r++) {
        const int64_t i2 = r % b->size[2], t = r / b->size[2], i1 = t % b->size[1], i0 = t / b->size[1];
        float *d = jb->dst + i0 * b->dst[0] + i1 * b->dst[1] + i2 * b->dst[2];
        const float *s = jb->src + i0 * b->src[0] + i1 * b->src[1] + i2 * b->src[2];
        if (b->dst[3] == 1 && b->src[3] == 1) {
            memcpy(d, s, sizeof(float) * (size_t)b->size[3]);
        } else {
            const int64_t ds = b->dst[3], ss = b->src[3];
            for (int64_t j = 0; j < b->size[3]; j++) d[j * ds] = s[j * ss];
        }
    }
}

/* The copy of box b from src to dst (element (0,0,0,0) of each) on device dev. */
static int box_copy(const char *op, int dev, float *dst, const float *src, ss_box b)
{
    box_simplify(&b);
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_box_copy_forward(dst, src, &b));
    const int64_t rows = b.size[0] * b.size[1] * b.size[2];
    box_job jb = {dst, src, b};
    ss_par_ranges(rows, rows * b.size[3] > SS_PAR_MIN, box_rows, &jb);
    return SS_OK;
}

/* ------------------------------------------------------------ checks */

/* out and x given, on one device, not sharing memory; returns the device. */
static int copy_check(const char *op, const ss_tensor *out, const ss_tensor *x)
{
    const ss_tensor *ts[2] = {out, x};
    static const char *const names[1] = {"x"};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_no_overlap(op, "out", out, 1, ts + 1, names));
    return dev;
}

/* "<op>: out (..) does not fit x (..): <why>" */
static int shape_error(const char *op, const ss_tensor *out, const ss_tensor *x, const char *why)
{
    char so[96], sx[96];
    return SS_FAIL(SS_ERR_ARG, "%s: out %s does not fit x %s: %s", op, ss_shape_str(so, sizeof so, out),
                   ss_shape_str(sx, sizeof sx, x), why);
}

static int dim_check(const char *op, const ss_tensor *x, int dim)
{
    if (dim < 0 || dim >= x->ndim)
        return SS_FAIL(SS_ERR_ARG, "%s: dim %d is not a dimension of a %d-dimensional tensor (0..%d)", op, dim,
                       x->ndim, x->ndim - 1);
    return SS_OK;
}

/* out has x's shape except, when skip >= 0, along dimension skip. */
static int same_but(const ss_tensor *out, const ss_tensor *x, int skip)
{
    if (out->ndim != x->ndim) return 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != skip && out->shape[d] != x->shape[d]) return 0;
    return 1;
}

/* ------------------------------------------------------------ permute, narrow, flip, roll */

int ss_permute(ss_tensor *out, const ss_tensor *x, const int *perm)
{
    const char *op = "ss_permute";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    if (!perm) return SS_FAIL(SS_ERR_ARG, "%s: perm is NULL", op);
    const int nd = x->ndim;
    unsigned seen = 0;
    for (int d = 0; d < nd; d++) {
        if (perm[d] < 0 || perm[d] >= nd || (seen & (1u << perm[d])))
            return SS_FAIL(SS_ERR_ARG, "%s: perm is not a permutation of 0..%d (perm[%d] = %d)", op, nd - 1, d,
                           perm[d]);
        seen |= 1u << perm[d];
    }
    int ok = out->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = out->shape[d] == x->shape[perm[d]];
    if (!ok) return shape_error(op, out, x, "out dimension d must have the size of x dimension perm[d]");
    int64_t xs[4];
    box_strides(xs, x);
    ss_box b;
    box_sizes(b.size, out);
    box_strides(b.dst, out);
    for (int a = 0; a < 4; a++) b.src[a] = a < 4 - nd ? 0 : xs[4 - nd + perm[a - (4 - nd)]];
    return box_copy(op, dev, out->data, x->data, b);
}

int ss_narrow(ss_tensor *out, const ss_tensor *x, int dim, int64_t first)
{
    const char *op = "ss_narrow";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    SS_TRY(dim_check(op, x, dim));
    if (!same_but(out, x, dim)) return shape_error(op, out, x, "the sizes must be equal except along dim");
    const int64_t n = out->shape[dim], N = x->shape[dim];
    if (first < 0 || first > N - n)
        return SS_FAIL(SS_ERR_ARG, "%s: rows %lld..%lld of dim %d are outside 0..%lld", op, (long long)first,
                       (long long)(first + n - 1), dim, (long long)(N - 1));
    ss_box b;
    int64_t xs[4];
    box_strides(xs, x);
    box_sizes(b.size, out);
    box_strides(b.dst, out);
    memcpy(b.src, xs, sizeof xs);
    return box_copy(op, dev, out->data, x->data + first * xs[4 - x->ndim + dim], b);
}

int ss_flip(ss_tensor *out, const ss_tensor *x, int dims)
{
    const char *op = "ss_flip";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    if (dims < 0 || dims >= (1 << x->ndim))
        return SS_FAIL(SS_ERR_ARG, "%s: dims 0x%x names a dimension beyond the %d of x", op, (unsigned)dims, x->ndim);
    if (!same_but(out, x, -1)) return shape_error(op, out, x, "the shapes must be equal");
    ss_box b;
    box_sizes(b.size, x);
    box_strides(b.dst, out);
    box_strides(b.src, x);
    const float *src = x->data;
    for (int d = 0; d < x->ndim; d++) {
        if (!(dims & (1 << d))) continue;
        const int a = 4 - x->ndim + d;
        src += (b.size[a] - 1) * b.src[a]; /* start at the last row, walk backwards */
        b.src[a] = -b.src[a];
    }
    return box_copy(op, dev, out->data, src, b);
}

int ss_roll(ss_tensor *out, const ss_tensor *x, const int64_t *shift)
{
    const char *op = "ss_roll";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    if (!shift) return SS_FAIL(SS_ERR_ARG, "%s: shift is NULL", op);
    if (!same_but(out, x, -1)) return shape_error(op, out, x, "the shapes must be equal");
    const int nd = x->ndim;
    int64_t s[4] = {0, 0, 0, 0}, st[4];
    box_strides(st, x);
    for (int d = 0; d < nd; d++) s[4 - nd + d] = (shift[d] % x->shape[d] + x->shape[d]) % x->shape[d];
    /* Along a dimension rolled by s of N, out rows s..N-1 come from x rows 0..N-s-1
     * (segment 0) and out rows 0..s-1 from x rows N-s..N-1 (segment 1): one box per
     * choice of segment in every rolled dimension. */
    for (int pick = 0; pick < 16; pick++) {
        ss_box b;
        box_sizes(b.size, x);
        memcpy(b.dst, st, sizeof st), memcpy(b.src, st, sizeof st);
        int64_t od = 0, os = 0, skip = 0;
        for (int a = 0; a < 4; a++) {
            const int seg = (pick >> a) & 1;
            if (s[a] == 0) {
                skip |= seg; /* an unrolled dimension has segment 0 only */
                continue;
            }
            const int64_t N = b.size[a];
            b.size[a] = seg ? s[a] : N - s[a];
            od += (seg ? 0 : s[a]) * st[a];
            os += (seg ? N - s[a] : 0) * st[a];
        }
        if (!skip) SS_TRY(box_copy(op, dev, out->data + od, x->data + os, b));
    }
    return SS_OK;
}

/* ------------------------------------------------------------ pad, crop */

/* The source index of padded position k (relative to the first data row) in a
 * dimension of n, or −1 where the constant fills. */
static inline int64_t pad_source(int64_t k, int64_t n, int mode)
{
    if (k >= 0 && k < n) return k;
    if (mode == SS_PAD_REPLICATE) return k < 0 ? 0 : n - 1;
    if (mode == SS_PAD_REFLECT) return k < 0 ? -k : 2 * (n - 1) - k;
    return -1;
}

typedef struct pad_job {
    float *out;
    const float *x;
    int64_t H, W, Ho, Wo, top, left;
    int mode;
    float value;
} pad_job;

/* Output rows r in [lo, hi) of all planes (r = plane·Ho + row). */
static void pad_rows(void *ctx, int64_t lo, int64_t hi)
{
    const pad_job *jb = ctx;
    for (int64_t r = lo; r < hi; r++) {
        const int64_t p = r / jb->Ho, i = r % jb->Ho, si = pad_source(i - jb->top, jb->H, jb->mode);
        float *o = jb->out + r * jb->Wo;
        if (si < 0) {
            for (int64_t j = 0; j < jb->Wo; j++) o[j] = jb->value;
            continue;
        }
        const float *row = jb->x + (p * jb->H + si) * jb->W;
        for (int64_t j = 0; j < jb->left; j++) {
            const int64_t sj = pad_source(j - jb->left, jb->W, jb->mode);
            o[j] = sj < 0 ? jb->value : row[sj];
        }
        memcpy(o + jb->left, row, sizeof(float) * (size_t)jb->W);
        for (int64_t j = jb->left + jb->W; j < jb->Wo; j++) {
            const int64_t sj = pad_source(j - jb->left, jb->W, jb->mode);
            o[j] = sj < 0 ? jb->value : row[sj];
        }
    }
}

int ss_pad(ss_tensor *out, const ss_tensor *x, int64_t top, int64_t left, int mode, float value)
{
    const char *op = "ss_pad";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    if (mode < SS_PAD_CONSTANT || mode > SS_PAD_REPLICATE)
        return SS_FAIL(SS_ERR_ARG, "%s: unknown mode %d (0 constant, 1 reflect, 2 replicate)", op, mode);
    const int nd = x->ndim;
    if (nd < 2) return SS_FAIL(SS_ERR_ARG, "%s: x needs at least 2 dimensions (..., H, W), got %d", op, nd);
    int ok = out->ndim == nd;
    for (int d = 0; ok && d < nd - 2; d++) ok = out->shape[d] == x->shape[d];
    if (!ok) return shape_error(op, out, x, "the leading sizes must be equal");
    const int64_t H = x->shape[nd - 2], W = x->shape[nd - 1], Ho = out->shape[nd - 2], Wo = out->shape[nd - 1];
    const int64_t bottom = Ho - H - top, right = Wo - W - left;
    if (top < 0 || left < 0 || bottom < 0 || right < 0)
        return SS_FAIL(SS_ERR_ARG, "%s: pads must be >= 0: left %lld, right %lld, top %lld, bottom %lld", op,
                       (long long)left, (long long)right, (long long)top, (long long)bottom);
    if (mode == SS_PAD_REFLECT && (top >= H || bottom >= H || left >= W || right >= W))
        return SS_FAIL(SS_ERR_ARG,
                       "%s: reflect needs each pad smaller than its size: left %lld, right %lld < W = %lld, "
                       "top %lld, bottom %lld < H = %lld",
                       op, (long long)left, (long long)right, (long long)W, (long long)top, (long long)bottom,
                       (long long)H);
    const int64_t planes = ss_tensor_numel(x) / (H * W);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_pad_forward(out->data, x->data, planes, H, W, Ho, Wo, top, left, mode, value));
    pad_job jb = {out->data, x->data, H, W, Ho, Wo, top, left, mode, value};
    ss_par_ranges(planes * Ho, planes * Ho * Wo > SS_PAR_MIN, pad_rows, &jb);
    return SS_OK;
}

int ss_crop(ss_tensor *out, const ss_tensor *x, int64_t top, int64_t left)
{
    const char *op = "ss_crop";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    const int nd = x->ndim;
    int ok = nd >= 2 && out->ndim == nd;
    for (int d = 0; ok && d < nd - 2; d++) ok = out->shape[d] == x->shape[d];
    const int64_t H = ok ? x->shape[nd - 2] : 0, W = ok ? x->shape[nd - 1] : 0;
    const int64_t h = ok ? out->shape[nd - 2] : 0, w = ok ? out->shape[nd - 1] : 0;
    if (!ok || top < 0 || left < 0 || top + h > H || left + w > W) {
        char so[96], sx[96];
        return SS_FAIL(SS_ERR_ARG, "%s: a %s window at (%lld,%lld) does not fit in %s", op,
                       ss_shape_str(so, sizeof so, out), (long long)top, (long long)left,
                       ss_shape_str(sx, sizeof sx, x));
    }
    ss_box b;
    box_sizes(b.size, out);
    box_strides(b.dst, out);
    box_strides(b.src, x);
    return box_copy(op, dev, out->data, x->data + top * W + left, b);
}

/* ------------------------------------------------------------ cat / split */

/* Checks that the n parts stack along dim into whole on one device, without sharing
 * memory with it. */
static int cat_check(const char *op, const ss_tensor *whole, const ss_tensor *const *parts, int n, int dim)
{
    SS_TRY(ss_check_tensor(whole, op, "the concatenated tensor"));
    if (n < 1 || !parts) return SS_FAIL(SS_ERR_ARG, "%s: needs at least one part", op);
    SS_TRY(dim_check(op, whole, dim));
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const ss_tensor *p = parts[i];
        if (!p || !p->storage) return SS_FAIL(SS_ERR_ARG, "%s: part %d is NULL or freed", op, i + 1);
        if (p->device != whole->device)
            return SS_FAIL(SS_ERR_DEVICE, "%s: part %d is on another device than the concatenated tensor", op, i + 1);
        if (!same_but(p, whole, dim)) {
            char sp[96], sw[96];
            return SS_FAIL(SS_ERR_ARG, "%s: part %d has shape %s, which does not stack along dim %d into %s", op,
                           i + 1, ss_shape_str(sp, sizeof sp, p), dim, ss_shape_str(sw, sizeof sw, whole));
        }
        if (ss_tensors_overlap(p, whole))
            return SS_FAIL(SS_ERR_ARG, "%s: part %d shares memory with the concatenated tensor", op, i + 1);
        total += p->shape[dim];
    }
    if (total != whole->shape[dim])
        return SS_FAIL(SS_ERR_ARG, "%s: parts add up to %lld along dim %d, expected %lld", op, (long long)total, dim,
                       (long long)whole->shape[dim]);
    return SS_OK;
}

/* One box per part, at its offset along dim in the whole: to_whole = 1 for cat, 0 for split. */
static int cat_copy(const char *op, ss_tensor *whole, const ss_tensor *const *parts, int n, int dim, int to_whole)
{
    SS_TRY(cat_check(op, whole, parts, n, dim));
    int64_t ws[4];
    box_strides(ws, whole);
    const int64_t step = ws[4 - whole->ndim + dim];
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        ss_box b;
        int64_t ps[4];
        box_sizes(b.size, parts[i]);
        box_strides(ps, parts[i]);
        float *w = whole->data + at * step, *p = parts[i]->data;
        memcpy(to_whole ? b.dst : b.src, ws, sizeof ws);
        memcpy(to_whole ? b.src : b.dst, ps, sizeof ps);
        SS_TRY(box_copy(op, whole->device, to_whole ? w : p, to_whole ? p : w, b));
        at += parts[i]->shape[dim];
    }
    return SS_OK;
}

int ss_cat(ss_tensor *out, const ss_tensor *const *ts, int n, int dim)
{
    return cat_copy("ss_cat", out, ts, n, dim, 1);
}

int ss_split(ss_tensor *const *outs, int n, const ss_tensor *x, int dim)
{
    return cat_copy("ss_split", (ss_tensor *)x, (const ss_tensor *const *)outs, n, dim, 0);
}

/* ------------------------------------------------------------ gather / per-sample flip */

int ss_index_select(ss_tensor *out, const ss_tensor *x, const int64_t *idx, int64_t n)
{
    const char *op = "ss_index_select";
    int dev = copy_check(op, out, x);
    if (dev < 0) return dev;
    if (!idx || n < 1) return SS_FAIL(SS_ERR_ARG, "%s: needs at least one index", op);
    const int64_t row = ss_tensor_numel(x) / x->shape[0];
    if (out->shape[0] != n || ss_tensor_numel(out) != n * row) {
        char so[96], sx[96];
        return SS_FAIL(SS_ERR_ARG, "%s: out %s cannot hold %lld rows of x %s", op, ss_shape_str(so, sizeof so, out),
                       (long long)n, ss_shape_str(sx, sizeof sx, x));
    }
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= x->shape[0])
            return SS_FAIL(SS_ERR_ARG, "%s: idx[%lld] = %lld is outside the rows 0..%lld of x", op, (long long)i,
                           (long long)idx[i], (long long)x->shape[0] - 1);
    if (dev == SS_CUDA) return SS_CUDA_CALL(op, ss_cuda_index_select_forward(out->data, x->data, idx, n, row));
    for (int64_t i = 0; i < n; i++) memcpy(out->data + i * row, x->data + idx[i] * row, sizeof(float) * (size_t)row);
    return SS_OK;
}

int ss_flip_w_where(ss_tensor *x, const float *flip)
{
    SS_TRY(ss_check_tensor(x, "ss_flip_w_where", "x"));
    if (!flip) return SS_FAIL(SS_ERR_ARG, "ss_flip_w_where: flip mask is NULL");
    int64_t n = x->shape[0], w = x->shape[x->ndim - 1], row = ss_tensor_numel(x) / n;
    if (x->ndim < 2) return SS_FAIL(SS_ERR_ARG, "ss_flip_w_where: x needs a batch and a width dimension");
    if (x->device == SS_CUDA)
        return SS_CUDA_CALL("ss_flip_w_where", ss_cuda_flip_w_where_forward(x->data, flip, n, row, w));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        if (flip[i] == 0.0f) continue;
        for (float *line = x->data + i * row; line < x->data + (i + 1) * row; line += w)
            for (int64_t a = 0, b = w - 1; a < b; a++, b--) {
                float t = line[a];
                line[a] = line[b];
                line[b] = t;
            }
    }
    return SS_OK;
}

/* ------------------------------------------------------------ reduce over one dimension */

#define REDUCE_COLS 64 /* output columns one job accumulates at once */

static inline double reduce_combine(int op, double acc, double v)
{
    if (op == SS_RED_MIN) return isnan(acc) || isnan(v) ? NAN : v < acc ? v : acc;
    if (op == SS_RED_MAX) return isnan(acc) || isnan(v) ? NAN : v > acc ? v : acc;
    return acc + v;
}

typedef struct reduce_job {
    float *out;
    const float *x;
    int64_t len, inner, chunks;
    int op;
} reduce_job;

/* Jobs c in [lo, hi): outer index c / chunks, columns REDUCE_COLS·(c % chunks) onwards.
 * Each output accumulates over k = 0..len-1 in order, whatever thread runs it. */
static void reduce_cols(void *ctx, int64_t lo, int64_t hi)
{
    const reduce_job *jb = ctx;
    const double init = jb->op == SS_RED_MIN ? INFINITY : jb->op == SS_RED_MAX ? -INFINITY : 0.0;
    for (int64_t c = lo; c < hi; c++) {
        const int64_t o = c / jb->chunks, i0 = c % jb->chunks * REDUCE_COLS;
        const int64_t m = jb->inner - i0 < REDUCE_COLS ? jb->inner - i0 : REDUCE_COLS;
        double acc[REDUCE_COLS];
        for (int64_t i = 0; i < m; i++) acc[i] = init;
        const float *x = jb->x + o * jb->len * jb->inner + i0;
        for (int64_t k = 0; k < jb->len; k++, x += jb->inner)
            for (int64_t i = 0; i < m; i++) acc[i] = reduce_combine(jb->op, acc[i], x[i]);
        float *out = jb->out + o * jb->inner + i0;
        for (int64_t i = 0; i < m; i++) out[i] = (float)(jb->op == SS_RED_MEAN ? acc[i] / (double)jb->len : acc[i]);
    }
}

int ss_reduce_dim(ss_tensor *out, const ss_tensor *x, int dim, int op)
{
    const char *name = "ss_reduce_dim";
    int dev = copy_check(name, out, x);
    if (dev < 0) return dev;
    SS_TRY(dim_check(name, x, dim));
    if (op != SS_RED_SUM && op != SS_RED_MEAN && op != SS_RED_MIN && op != SS_RED_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: op %d is not sum, mean, min or max (SS_RED_SUM, _MEAN, _MIN, _MAX)", name, op);
    /* out: x's shape with dim set to 1, or dropped (a 1-D x gives (1) either way). */
    int keep = same_but(out, x, dim) && out->shape[dim] == 1, drop = x->ndim == 1 ? keep : out->ndim == x->ndim - 1;
    for (int d = 0, e = 0; drop && x->ndim > 1 && d < x->ndim; d++)
        if (d != dim) drop = out->shape[e++] == x->shape[d];
    if (!keep && !drop) return shape_error(name, out, x, "out must be x's shape with dim dropped or set to 1");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; d++) outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
    const int64_t len = x->shape[dim];
    if (inner == 1) {
        /* Contiguous rows: the per-sample reductions (blocked lane sums on the cpu, a
         * fixed tree on cuda) are both faster and exact to the same double rounding. */
        int64_t rows[2] = {outer, len};
        ss_tensor *v = ss_tensor_reshape(x, 2, rows);
        if (!v) return ss_last_status();
        int rc = ss_reduce_per_sample(out, v, op);
        ss_tensor_free(v);
        return rc;
    }
    if (dev == SS_CUDA) return SS_CUDA_CALL(name, ss_cuda_reduce_dim_forward(out->data, x->data, outer, len, inner, op));
    const int64_t chunks = (inner + REDUCE_COLS - 1) / REDUCE_COLS;
    reduce_job jb = {out->data, x->data, len, inner, chunks, op};
    ss_par_ranges(outer * chunks, outer * len * inner > SS_PAR_MIN, reduce_cols, &jb);
    return SS_OK;
}

/* ------------------------------------------------------------ where */

/* Right-aligned 4-D strides of t against out's shape; 0 where t broadcasts. */
static int bcast_strides(const char *op, const char *arg, const ss_tensor *out, const ss_tensor *t, int64_t st[4])
{
    int64_t ts[4], os[4];
    box_sizes(ts, t);
    box_sizes(os, out);
    int ok = t->ndim <= out->ndim;
    int64_t s = 1;
    for (int a = 3; ok && a >= 0; a--) {
        ok = ts[a] == os[a] || ts[a] == 1;
        st[a] = ts[a] == 1 ? 0 : s;
        s *= ts[a];
    }
    if (ok) return SS_OK;
    char sa[96], so[96];
    return SS_FAIL(SS_ERR_ARG, "%s: %s %s does not broadcast to out %s", op, arg, ss_shape_str(sa, sizeof sa, t),
                   ss_shape_str(so, sizeof so, out));
}

typedef struct where_job {
    float *out;
    const float *m, *a, *b;
    int64_t size[4], sm[4], sa[4], sb[4];
} where_job;

static void where_rows(void *ctx, int64_t lo, int64_t hi)
{
    const where_job *jb = ctx;
    const int64_t W = jb->size[3];
    for (int64_t r = lo; r < hi; r++) {
        const int64_t i2 = r % jb->size[2], t = r / jb->size[2], i1 = t % jb->size[1], i0 = t / jb->size[1];
        const float *m = jb->m + i0 * jb->sm[0] + i1 * jb->sm[1] + i2 * jb->sm[2];
        const float *a = jb->a + i0 * jb->sa[0] + i1 * jb->sa[1] + i2 * jb->sa[2];
        const float *b = jb->b + i0 * jb->sb[0] + i1 * jb->sb[1] + i2 * jb->sb[2];
        float *o = jb->out + r * W;
        for (int64_t j = 0; j < W; j++) {
            const float v = m[j * jb->sm[3]];
            o[j] = v != v ? v : v != 0.0f ? a[j * jb->sa[3]] : b[j * jb->sb[3]];
        }
    }
}

int ss_where(ss_tensor *out, const ss_tensor *mask, const ss_tensor *a, const ss_tensor *b)
{
    const char *op = "ss_where";
    const ss_tensor *ts[4] = {out, mask, a, b};
    static const char *const names[3] = {"mask", "a", "b"};
    int dev = ss_common_device(op, 4, ts);
    if (dev < 0) return dev;
    for (int i = 1; i < 4; i++) /* each element is read before it is written: out may be an input */
        if (ss_tensors_overlap(out, ts[i]) && !(out->data == ts[i]->data && ss_tensor_same_shape(out, ts[i])))
            return SS_FAIL(SS_ERR_ARG, "%s: out shares memory with %s without being it", op, names[i - 1]);
    where_job jb = {out->data, mask->data, a->data, b->data, {0}, {0}, {0}, {0}};
    SS_TRY(bcast_strides(op, "mask", out, mask, jb.sm));
    SS_TRY(bcast_strides(op, "a", out, a, jb.sa));
    SS_TRY(bcast_strides(op, "b", out, b, jb.sb));
    box_sizes(jb.size, out);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_where_forward(out->data, mask->data, a->data, b->data, jb.size, jb.sm, jb.sa,
                                                      jb.sb));
    const int64_t rows = jb.size[0] * jb.size[1] * jb.size[2];
    ss_par_ranges(rows, rows * jb.size[3] > SS_PAR_MIN, where_rows, &jb);
    return SS_OK;
}
