/* elementwise.c — binary ops with numpy broadcasting, scalar and unary maps.
 *
 * Broadcasting right-aligns shapes; a size-1 dimension of an operand repeats.
 * Adjacent dimensions that are contiguous for every operand are merged first, so
 * the common cases (same shape; (N,1,1,1) against (N,C,H,W)) run as a few long
 * rows that the compiler vectorises. */
#include "core/internal.h"

#include <math.h>
#include <string.h>

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN };
static const char *const bin_names[] = {"ss_add", "ss_sub", "ss_mul", "ss_div", "ss_pow", "ss_maximum", "ss_minimum"};

static inline float bin_apply(int op, float x, float y)
{
    switch (op) {
    case BIN_ADD: return x + y;
    case BIN_SUB: return x - y;
    case BIN_MUL: return x * y;
    case BIN_DIV: return x / y;
    case BIN_POW: return powf(x, y);
    case BIN_MAX: return x > y || isnan(x) ? x : y;
    default: return x < y || isnan(x) ? x : y;
    }
}

/* out[i] = a[i*sa] op b[i*sb], strides 0 or 1; the branches let GCC vectorise. */
static void bin_row(int op, float *restrict o, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n)
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

static int binary(int op, ss_tensor *out, const ss_tensor *a, const ss_tensor *b)
{
    const char *name = bin_names[op];
    const ss_tensor *ts[3] = {out, a, b};
    int dev = ss_common_device(name, 3, ts);
    if (dev < 0) return dev;
    if (dev != SS_CPU) return ss_cuda_missing(name);
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
    /* Rows are the last merged dimension; the rest is a flat loop over rows. */
    int64_t rowlen = msz[m - 1], nrows = 1;
    for (int d = 0; d < m - 1; d++) nrows *= msz[d];
    int64_t ra = ma[m - 1], rb = mb[m - 1];
    float *o = out->data;
    const float *pa = a->data, *pb = b->data;
#pragma omp parallel for schedule(static) if (nrows * rowlen > 32768)
    for (int64_t r = 0; r < nrows; r++) {
        int64_t rem = r, oa = 0, ob = 0;
        for (int d = m - 2; d >= 0; d--) {
            int64_t i = rem % msz[d];
            rem /= msz[d];
            oa += i * ma[d];
            ob += i * mb[d];
        }
        bin_row(op, o + r * rowlen, pa + oa, ra, pb + ob, rb, rowlen);
    }
    return SS_OK;
}

int ss_add(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_ADD, out, a, b); }
int ss_sub(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_SUB, out, a, b); }
int ss_mul(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_MUL, out, a, b); }
int ss_div(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_DIV, out, a, b); }
int ss_pow(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_POW, out, a, b); }
int ss_maximum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_MAX, out, a, b); }
int ss_minimum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b) { return binary(BIN_MIN, out, a, b); }

/* Shape and device checks shared by the same-shape maps below. */
static int map_check(const char *op, const ss_tensor *out, const ss_tensor *x)
{
    const ss_tensor *ts[2] = {out, x};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_same_shape(op, out, x));
    if (dev != SS_CPU) return ss_cuda_missing(op);
    return SS_OK;
}

int ss_axpby(ss_tensor *out, float alpha, const ss_tensor *x, float beta, const ss_tensor *y)
{
    SS_TRY(map_check("ss_axpby", out, x));
    SS_TRY(map_check("ss_axpby", out, y));
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *px = x->data, *py = y->data;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) o[i] = alpha * px[i] + beta * py[i];
    return SS_OK;
}

int ss_affine(ss_tensor *out, const ss_tensor *x, float a, float b)
{
    SS_TRY(map_check("ss_affine", out, x));
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *p = x->data;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) o[i] = a * p[i] + b;
    return SS_OK;
}

int ss_clamp(ss_tensor *out, const ss_tensor *x, float lo, float hi)
{
    SS_TRY(map_check("ss_clamp", out, x));
    if (!(lo <= hi)) return SS_FAIL(SS_ERR_ARG, "ss_clamp: lower bound %g is above upper bound %g", lo, hi);
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *p = x->data;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float v = p[i];
        o[i] = v < lo ? lo : v > hi ? hi : v; /* NaN passes through */
    }
    return SS_OK;
}

int ss_pow_scalar(ss_tensor *out, const ss_tensor *x, float e)
{
    if (e == 2.0f) return ss_unary(out, x, SS_SQUARE);
    if (e == 0.5f) return ss_unary(out, x, SS_SQRT);
    SS_TRY(map_check("ss_pow_scalar", out, x));
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *p = x->data;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) o[i] = powf(p[i], e);
    return SS_OK;
}

int ss_rdiv_scalar(ss_tensor *out, float s, const ss_tensor *x)
{
    SS_TRY(map_check("ss_rdiv_scalar", out, x));
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *p = x->data;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) o[i] = s / p[i];
    return SS_OK;
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

int ss_unary(ss_tensor *out, const ss_tensor *x, int op)
{
    SS_TRY(map_check("ss_unary", out, x));
    if (op < SS_EXP || op > SS_ROUND) return SS_FAIL(SS_ERR_ARG, "ss_unary: unknown op %d", op);
    int64_t n = ss_tensor_numel(out);
    float *o = out->data;
    const float *p = x->data;
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) o[i] = un_apply(op, p[i]);
    return SS_OK;
}

int ss_exp(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_EXP); }
int ss_log(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_LOG); }
int ss_sqrt(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_SQRT); }
int ss_abs(ss_tensor *out, const ss_tensor *x) { return ss_unary(out, x, SS_ABS); }
