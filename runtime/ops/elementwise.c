/* elementwise.c — binary ops with numpy broadcasting, scalar and unary maps.
 *
 * Broadcasting right-aligns shapes; a size-1 dimension of an operand repeats.
 * Adjacent dimensions that are contiguous for every operand are merged first, so
 * the common cases (same shape; (N,1,1,1) against (N,C,H,W)) run as a few long
 * rows that the compiler vectorises. Cuda tensors run kernels/elementwise.cu on
 * the same merged dimensions. */
#include "core/internal.h"
#include "kernels/elementwise.h"
#include "core/par.h"

#include <math.h>
#include <string.h>

/* The op codes (SS_BIN_*, SS_MAP_*) are kernels/elementwise.h's, shared with the GPU. */
static const char *const bin_names[] = {"ss_add", "ss_sub", "ss_mul", "ss_div", "ss_pow", "ss_maximum", "ss_minimum"};

static inline float bin_apply(int op, float x, float y)
{
    switch (op) {
    case SS_BIN_ADD: return x + y;
    case SS_BIN_SUB: return x - y;
    case SS_BIN_MUL: return x * y;
    case SS_BIN_DIV: return x / y;
    case SS_BIN_POW: return powf(x, y);
    case SS_BIN_MAX: return x > y || isnan(x) ? x : y;
    default: return x < y || isnan(x) ? x : y;
    }
}

/* out[i] = a[i*sa] op b[i*sb], strides 0 or 1; the branches let GCC vectorise. Inlined
 * with a constant op (bin_row below), so the switch in bin_apply folds away: a switch per
 * element made ss_add 12x slower than ss_axpby. */
static inline __attribute__((always_inline)) void bin_row_op(const int op, float *restrict o, const float *a,
                                                             int64_t sa, const float *b, int64_t sb, int64_t n)
{
    if (sa == 1 && sb == 1)
        for (int64_t i = 0; i < n; i++) o[i] = bin_apply(op, a[i], b[i]);
    else if (sa == 1) {
        const float y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = bin_apply(op, a[i], y);
    } else if (sb == 1) {
        const float x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = bin_apply(op, x, b[i]);
    } else {
        const float v = bin_apply(op, a[0], b[0]);
        for (int64_t i = 0; i < n; i++) o[i] = v;
    }
}

static void bin_row(int op, float *restrict o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n)
{
    switch (op) {
    case SS_BIN_ADD: bin_row_op(SS_BIN_ADD, o, a, sa, b, sb, n); break;
    case SS_BIN_SUB: bin_row_op(SS_BIN_SUB, o, a, sa, b, sb, n); break;
    case SS_BIN_MUL: bin_row_op(SS_BIN_MUL, o, a, sa, b, sb, n); break;
    case SS_BIN_DIV: bin_row_op(SS_BIN_DIV, o, a, sa, b, sb, n); break;
    case SS_BIN_POW: bin_row_op(SS_BIN_POW, o, a, sa, b, sb, n); break;
    case SS_BIN_MAX: bin_row_op(SS_BIN_MAX, o, a, sa, b, sb, n); break;
    default: bin_row_op(SS_BIN_MIN, o, a, sa, b, sb, n); break;
    }
}

/* Right-aligned 4-D strides of x against the output shape; 0 where x broadcasts. */
static int bcast_strides(const char *op, const ss_tensor *out, const ss_tensor *x, int64_t st[4])
{
    int64_t xs[4] = {1, 1, 1, 1};
    int off = 4 - x->ndim, ooff = 4 - out->ndim;
    if (x->ndim > out->ndim) goto bad;
    for (int d = 0; d < x->ndim; d++) xs[off + d] = x->shape[d];
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
        int64_t osz = d >= ooff ? out->shape[d - ooff] : 1;
        if (xs[d] == osz) st[d] = osz == 1 ? 0 : stride;
        else if (xs[d] == 1) st[d] = 0;
        else goto bad;
        stride *= xs[d];
    }
    return SS_OK;
bad: {
    char so[96], sx[96];
    return SS_FAIL(SS_ERR_ARG, "%s: shape %s does not broadcast to the output shape %s", op,
                   ss_shape_str(sx, sizeof sx, x), ss_shape_str(so, sizeof so, out));
}
}

/* Rows of a broadcast binary op: row r of the output against the rows of a, b
 * that its index selects in the merged dimensions. */
typedef struct bin_job {
    int op, m;
    int64_t rowlen, ra, rb, msz[4], ma[4], mb[4];
    float *o;
    const float *pa, *pb;
} bin_job;

static void bin_rows(void *ctx, int64_t lo, int64_t hi)
{
    const bin_job *jb = ctx;
    for (int64_t r = lo; r < hi; r++) {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = jb->m - 2; d >= 0; d--) {
            int64_t i = rem % jb->msz[d];
            rem /= jb->msz[d];
            oa += i * jb->ma[d];
            ob += i * jb->mb[d];
        }
        bin_row(jb->op, jb->o + r * jb->rowlen, jb->pa + oa, jb->ra, jb->pb + ob, jb->rb, jb->rowlen);
    }
}

static int binary(int op, ss_tensor *out, const ss_tensor *a, const ss_tensor *b)
{
    const char *name = bin_names[op];
    const ss_tensor *ts[3] = {out, a, b};
    int dev = ss_common_device(name, 3, ts);
    if (dev < 0) return dev;
    int64_t sa[4], sb[4], sz[4] = {1, 1, 1, 1};
    SS_TRY(bcast_strides(name, out, a, sa));
    SS_TRY(bcast_strides(name, out, b, sb));
    for (int d = 0; d < out->ndim; d++) sz[4 - out->ndim + d] = out->shape[d];
    /* Merge dimension d into d+1 when both operands walk them as one run. */
    int64_t msz[4], ma[4], mb[4];
    int m = 0;
    for (int d = 0; d < 4; d++) {
        if (sz[d] == 1) continue;
        if (m > 0 && ma[m - 1] == sa[d] * sz[d] && mb[m - 1] == sb[d] * sz[d]) {
            msz[m - 1] *= sz[d];
            ma[m - 1] = sa[d];
            mb[m - 1] = sb[d];
        } else {
            msz[m] = sz[d], ma[m] = sa[d], mb[m] = sb[d];
            m++;
        }
    }
    if (m == 0) msz[0] = 1, ma[0] = 0, mb[0] = 0, m = 1;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(name, ss_cuda_binary_forward(out->data, a->data, b->data, op, m, msz, ma, mb));
    /* Rows are the last merged dimension; the rest is a flat loop over rows. */
    int64_t rowlen = msz[m - 1], nrows = 1;
    for (int d = 0; d < m - 1; d++) nrows *= msz[d];
    bin_job jb = {op, m, rowlen, ma[m - 1], mb[m - 1], {0}, {0}, {0}, out->data, a->data, b->data};
    memcpy(jb.msz, msz, sizeof msz), memcpy(jb.ma, ma, sizeof ma), memcpy(jb.mb, mb, sizeof mb);
    ss_par_ranges(nrows, nrows * rowlen > SS_PAR_MIN, bin_rows, &jb);
    return SS_OK;
}

int ss_add(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_ADD, out, a, b); }
int ss_sub(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_SUB, out, a, b); }
int ss_mul(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_MUL, out, a, b); }
int ss_div(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_DIV, out, a, b); }
int ss_pow(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_POW, out, a, b); }
int ss_maximum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_MAX, out, a, b); }
int ss_minimum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(SS_BIN_MIN, out, a, b); }

/* Shape and device checks shared by the same-shape maps below; returns the device. */
static int map_check(const char *op, const ss_tensor *out, const ss_tensor *x)
{
    const ss_tensor *ts[2] = {out, x};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_same_shape(op, out, x));
    return dev;
}

/* The same-shape maps: out[i] = f(x[i], y[i]) over one contiguous range per
 * thread, or in the calling thread below SS_PAR_MIN elements (map_run). out
 * may be x or y itself (the same index only), hence `omp simd`. */
typedef struct map_job {
    int kind;
    float *o;
    const float *x, *y;
    float a, b;
} map_job;

static void map_range(void *ctx, int64_t lo, int64_t hi)
{
    const map_job *jb = ctx;
    float *o = jb->o;
    const float *x = jb->x, *y = jb->y;
    const float a = jb->a, b = jb->b;
    switch (jb->kind) {
    case SS_MAP_AXPBY:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] = a * x[i] + b * y[i];
        break;
    case SS_MAP_AFFINE:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] = a * x[i] + b;
        break;
    case SS_MAP_CLAMP:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            float v = x[i];
            o[i] = v < a ? a : v > b ? b : v; /* NaN passes through */
        }
        break;
    case SS_MAP_POW:
        for (int64_t i = lo; i < hi; i++) o[i] = powf(x[i], a);
        break;
    default: /* SS_MAP_RDIV */
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] = a / x[i];
        break;
    }
}

static int map_run(const char *op, int dev, int kind, ss_tensor *out, const ss_tensor *x, const ss_tensor *y, float a,
                   float b)
{
    const int64_t n = ss_tensor_numel(out);
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_map_forward(out->data, x->data, y ? y->data : NULL, n, kind, a, b));
    map_job jb = {kind, out->data, x->data, y ? y->data : NULL, a, b};
    ss_par_ranges(n, n > SS_PAR_MIN, map_range, &jb);
    return SS_OK;
}

int ss_axpby(ss_tensor *out, float alpha, const ss_tensor *x, float beta, const ss_tensor *y)
{
    int dev = map_check("ss_axpby", out, x);
    if (dev < 0) return dev;
    SS_TRY(map_check("ss_axpby", out, y));
    return map_run("ss_axpby", dev, SS_MAP_AXPBY, out, x, y, alpha, beta);
}

int ss_affine(ss_tensor *out, const ss_tensor *x, float a, float b)
{
    int dev = map_check("ss_affine", out, x);
    if (dev < 0) return dev;
    return map_run("ss_affine", dev, SS_MAP_AFFINE, out, x, NULL, a, b);
}

int ss_clamp(ss_tensor *out, const ss_tensor *x, float lo, float hi)
{
    int dev = map_check("ss_clamp", out, x);
    if (dev < 0) return dev;
    if (!(lo <= hi)) return SS_FAIL(SS_ERR_ARG, "ss_clamp: lower bound %g is above upper bound %g", lo, hi);
    return map_run("ss_clamp", dev, SS_MAP_CLAMP, out, x, NULL, lo, hi);
}

int ss_pow_scalar(ss_tensor *out, const ss_tensor *x, float e)
{
    if (e == 2.0f) return ss_unary(out, x, SS_SQUARE);
    if (e == 0.5f) return ss_unary(out, x, SS_SQRT);
    int dev = map_check("ss_pow_scalar", out, x);
    if (dev < 0) return dev;
    return map_run("ss_pow_scalar", dev, SS_MAP_POW, out, x, NULL, e, 0.0f);
}

int ss_rdiv_scalar(ss_tensor *out, float s, const ss_tensor *x)
{
    int dev = map_check("ss_rdiv_scalar", out, x);
    if (dev < 0) return dev;
    return map_run("ss_rdiv_scalar", dev, SS_MAP_RDIV, out, x, NULL, s, 0.0f);
}

static inline float un_apply(int op, float v)
{
    switch (op) {
    case SS_EXP: return expf(v);
    case SS_LOG: return logf(v);
    case SS_SQRT: return sqrtf(v);
    case SS_ABS: return fabsf(v);
    case SS_NEG: return -v;
    case SS_SQUARE: return v * v;
    case SS_SIN: return sinf(v);
    case SS_COS: return cosf(v);
    case SS_TANH: return tanhf(v);
    case SS_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SS_FLOOR: return floorf(v);
    default: return nearbyintf(v);
    }
}

typedef struct un_job {
    int op;
    float *o;
    const float *x;
} un_job;

static void un_range(void *ctx, int64_t lo, int64_t hi)
{
    const un_job *jb = ctx;
    float *o = jb->o;
    const float *p = jb->x;
    const int op = jb->op;
    for (int64_t i = lo; i < hi; i++) o[i] = un_apply(op, p[i]);
}

int ss_unary(ss_tensor *out, const ss_tensor *x, int op)
{
    int dev = map_check("ss_unary", out, x);
    if (dev < 0) return dev;
    if (op < SS_EXP || op > SS_ROUND) return SS_FAIL(SS_ERR_ARG, "ss_unary: unknown op %d", op);
    const int64_t n = ss_tensor_numel(out);
    if (dev == SS_CUDA) return SS_CUDA_CALL("ss_unary", ss_cuda_unary_forward(out->data, x->data, n, op));
    un_job jb = {op, out->data, x->data};
    ss_par_ranges(n, n > 16384, un_range, &jb); /* transcendental maps pay for threads sooner */
    return SS_OK;
}

int ss_exp(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_EXP); }
int ss_log(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_LOG); }
int ss_sqrt(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_SQRT); }
int ss_abs(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_ABS); }
