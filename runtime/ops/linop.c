/* linop.c — linear operators as values: built-ins, external callbacks and
 * composites, so Krylov solvers can run A∘B, a·A, A + B and Aᵀ without
 * calling back into Lua for the built-in parts.
 *
 * An ss_linop holds an apply and an adjoint callback with a context. Built-in
 * operators point ctx at themselves and read their parameters from the struct;
 * composites hold references to their children. Reference counts use atomics
 * so operators may be shared between threads; applying never mutates one. */
#include "ops/dct.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ lifetime */

static void name_set(ss_linop *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void name_set(ss_linop *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->name, sizeof op->name, fmt, ap); /* truncates long composite names */
    va_end(ap);
}

static ss_linop *linop_alloc(const char *fn, int kind, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w)
{
    if (in_h < 1 || in_w < 1 || out_h < 1 || out_w < 1)
        return SS_FAIL_NULL(SS_ERR_ARG, "%s: image sizes must be >= 1, got %lldx%lld -> %lldx%lld", fn,
                            (long long)in_h, (long long)in_w, (long long)out_h, (long long)out_w);
    ss_linop *op = calloc(1, sizeof *op);
    if (!op) return SS_FAIL_NULL(SS_ERR_NOMEM, "%s: out of memory for an operator", fn);
    op->kind = kind;
    op->in_h = in_h, op->in_w = in_w, op->out_h = out_h, op->out_w = out_w;
    op->refcount = 1;
    op->ctx = op;
    return op;
}

ss_linop *ss_linop_retain(ss_linop *op)
{
    if (op) __atomic_fetch_add(&op->refcount, 1, __ATOMIC_RELAXED);
    return op;
}

void ss_linop_free(ss_linop *op)
{
    if (!op || __atomic_fetch_sub(&op->refcount, 1, __ATOMIC_ACQ_REL) != 1) return;
    ss_linop_free(op->a);
    ss_linop_free(op->b);
    ss_tensor_free(op->tensor);
    if (op->destroy) op->destroy(op->ctx);
    free(op);
}

/* ------------------------------------------------------------ apply */

/* out and in fit op (its adjoint when `adjoint`): last two dims, same leading dims. */
static int linop_check(const char *fn, const ss_linop *op, const ss_tensor *out, const ss_tensor *in, int adjoint)
{
    if (!op) return SS_FAIL(SS_ERR_ARG, "%s: operator is NULL", fn);
    const ss_tensor *ts[2] = {out, in};
    SS_TRY(ss_common_device(fn, 2, ts));
    int64_t ih = adjoint ? op->out_h : op->in_h, iw = adjoint ? op->out_w : op->in_w;
    int64_t oh = adjoint ? op->in_h : op->out_h, ow = adjoint ? op->in_w : op->out_w;
    int nd = in->ndim;
    int in_ok = nd >= 2 && in->shape[nd - 2] == ih && in->shape[nd - 1] == iw;
    int out_ok = out->ndim == nd && out->shape[nd - 2] == oh && out->shape[nd - 1] == ow;
    int lead_ok = 1;
    for (int d = 0; in_ok && out_ok && d < nd - 2; d++) lead_ok &= out->shape[d] == in->shape[d];
    if (in_ok && out_ok && lead_ok) return SS_OK;
    /* Shapes are formatted only here: this check runs on every apply of a solver. */
    char si[96], so[96];
    ss_shape_str(si, sizeof si, in);
    ss_shape_str(so, sizeof so, out);
    if (!in_ok)
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' takes (...,%lld,%lld), got input %s", fn, op->name,
                       (long long)ih, (long long)iw, si);
    if (!out_ok)
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' gives (...,%lld,%lld), got output %s for input %s", fn,
                       op->name, (long long)oh, (long long)ow, so, si);
    return SS_FAIL(SS_ERR_ARG, "%s: output %s and input %s of operator '%s' differ in their leading dimensions", fn,
                   so, si, op->name);
}

static int linop_call(const char *fn, const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    SS_TRY(linop_check(fn, op, out, in, adjoint));
    ss_linop_fn f = adjoint ? op->adjoint : op->apply;
    if (op->kind != SS_LINOP_EXTERNAL) return f(op->ctx, out, in);
    /* A callback may fail without a message of its own: supply one. */
    ss_clear_error();
    int rc = f(op->ctx, out, in);
    if (rc < 0 && ss_last_error()[0] == '\0')
        return SS_FAIL(rc, "%s: the %s callback of operator '%s' failed with status %d", fn,
                       adjoint ? "adjoint" : "apply", op->name, rc);
    return rc < 0 ? rc : SS_OK;
}

int ss_linop_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return linop_call("ss_linop_apply", op, out, in, 0);
}

int ss_linop_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return linop_call("ss_linop_adjoint", op, out, in, 1);
}

/* A tensor with in's leading dimensions and an h×w image, for intermediates. */
static ss_tensor *tensor_like(const ss_tensor *in, int64_t h, int64_t w)
{
    int64_t shape[4];
    memcpy(shape, in->shape, sizeof shape);
    shape[in->ndim - 2] = h;
    shape[in->ndim - 1] = w;
    return ss_tensor_empty(in->ndim, shape, in->device);
}

/* ------------------------------------------------------------ built-ins */

static int identity_fn(void *ctx, ss_tensor *out, const ss_tensor *in) { return ss_tensor_copy(out, in); }
static int dct_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return ss_dct2_forward(out, in); }
static int dct_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return ss_dct2_inverse(out, in); }
static int laplace_fn(void *ctx, ss_tensor *out, const ss_tensor *in) { return ss_laplace_forward(out, in); }

static int heat_fn(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return ss_heat_forward(out, in, (float)op->param);
}

static int blur_fn(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return ss_blur_forward(out, in, (float)op->param);
}

static int diag_fn(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return ss_diag_dct_forward(out, in, op->tensor);
}

static int resize_apply(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return ss_resize_forward(out, in, op->mode);
}

static int resize_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return ss_resize_adjoint(out, in, op->mode);
}

static ss_linop *builtin(const char *fn, int kind, int64_t h, int64_t w, ss_linop_fn apply, ss_linop_fn adjoint)
{
    ss_linop *op = linop_alloc(fn, kind, h, w, h, w);
    if (op) op->apply = apply, op->adjoint = adjoint;
    return op;
}

ss_linop *ss_linop_identity(int64_t h, int64_t w)
{
    ss_linop *op = builtin("ss_linop_identity", SS_LINOP_IDENTITY, h, w, identity_fn, identity_fn);
    if (op) name_set(op, "identity");
    return op;
}

ss_linop *ss_linop_dct2(int64_t h, int64_t w)
{
    ss_linop *op = builtin("ss_linop_dct2", SS_LINOP_DCT2, h, w, dct_apply, dct_adjoint);
    if (op) name_set(op, "dct2");
    return op;
}

ss_linop *ss_linop_heat(int64_t h, int64_t w, float t)
{
    if (!(t >= 0)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_heat: diffusion time t must be >= 0, got %g", (double)t);
    ss_linop *op = builtin("ss_linop_heat", SS_LINOP_HEAT, h, w, heat_fn, heat_fn);
    if (op) op->param = t, name_set(op, "heat(t=%g)", (double)t);
    return op;
}

ss_linop *ss_linop_blur(int64_t h, int64_t w, float sigma)
{
    if (!(sigma >= 0)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_blur: sigma must be >= 0, got %g", (double)sigma);
    ss_linop *op = builtin("ss_linop_blur", SS_LINOP_BLUR, h, w, blur_fn, blur_fn);
    if (op) op->param = sigma, name_set(op, "blur(sigma=%g)", (double)sigma);
    return op;
}

ss_linop *ss_linop_diag_dct(int64_t h, int64_t w, const ss_tensor *scale)
{
    if (!scale) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_diag_dct: scale is NULL");
    char s[96];
    int nd = scale->ndim;
    if (nd < 2 || scale->shape[nd - 2] != h || scale->shape[nd - 1] != w)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_diag_dct: scale %s does not end in the image size (%lld,%lld)",
                            ss_shape_str(s, sizeof s, scale), (long long)h, (long long)w);
    ss_linop *op = builtin("ss_linop_diag_dct", SS_LINOP_DIAG_DCT, h, w, diag_fn, diag_fn);
    if (!op) return NULL;
    op->tensor = ss_tensor_clone(scale);
    if (!op->tensor) {
        ss_linop_free(op);
        return NULL;
    }
    name_set(op, "diag_dct");
    return op;
}

ss_linop *ss_linop_laplace(int64_t h, int64_t w)
{
    ss_linop *op = builtin("ss_linop_laplace", SS_LINOP_LAPLACE, h, w, laplace_fn, laplace_fn);
    if (op) name_set(op, "laplace");
    return op;
}

ss_linop *ss_linop_resize(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, int mode)
{
    if (mode < SS_RESIZE_BILINEAR_AA || mode > SS_RESIZE_NEAREST)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_resize: unknown resize mode %d (0 bilinear_aa, 1 bicubic, "
                            "2 area, 3 nearest)", mode);
    ss_linop *op = linop_alloc("ss_linop_resize", SS_LINOP_RESIZE, in_h, in_w, out_h, out_w);
    if (!op) return NULL;
    op->apply = resize_apply;
    op->adjoint = resize_adjoint;
    op->mode = mode;
    name_set(op, "resize_%s(%lldx%lld->%lldx%lld)", ss_resize_mode_name(mode), (long long)in_h, (long long)in_w,
             (long long)out_h, (long long)out_w);
    return op;
}

ss_linop *ss_linop_new(ss_linop_fn apply, ss_linop_fn adjoint, void *ctx, int64_t in_h, int64_t in_w, int64_t out_h,
                       int64_t out_w, const char *name)
{
    if (!apply || !adjoint)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_new: both the apply and the adjoint callback are needed");
    ss_linop *op = linop_alloc("ss_linop_new", SS_LINOP_EXTERNAL, in_h, in_w, out_h, out_w);
    if (!op) return NULL;
    op->apply = apply;
    op->adjoint = adjoint;
    op->ctx = ctx;
    name_set(op, "%s", name && *name ? name : "external");
    return op;
}

int ss_linop_set_destroy(ss_linop *op, void (*destroy)(void *ctx))
{
    if (!op) return SS_FAIL(SS_ERR_ARG, "ss_linop_set_destroy: operator is NULL");
    if (op->kind != SS_LINOP_EXTERNAL)
        return SS_FAIL(SS_ERR_ARG, "ss_linop_set_destroy: '%s' is a built-in operator; only ss_linop_new ones own a ctx",
                       op->name);
    op->destroy = destroy;
    return SS_OK;
}

/* ------------------------------------------------------------ composites */

/* compose(A, B) = A∘B: B first, through an intermediate at B's output size. */
static int compose_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const ss_linop *first = adjoint ? op->a : op->b, *second = adjoint ? op->b : op->a;
    ss_tensor *mid = tensor_like(in, op->b->out_h, op->b->out_w);
    if (!mid) return ss_last_status();
    int rc = linop_call(adjoint ? "ss_linop_adjoint" : "ss_linop_apply", first, mid, in, adjoint);
    if (rc == SS_OK) rc = linop_call(adjoint ? "ss_linop_adjoint" : "ss_linop_apply", second, out, mid, adjoint);
    ss_tensor_free(mid);
    return rc;
}

static int compose_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return compose_run(ctx, out, in, 0); }
static int compose_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return compose_run(ctx, out, in, 1); }

static int scale_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    SS_TRY(linop_call(adjoint ? "ss_linop_adjoint" : "ss_linop_apply", op->a, out, in, adjoint));
    return ss_affine(out, out, (float)op->param, 0.0f);
}

static int scale_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return scale_run(ctx, out, in, 0); }
static int scale_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return scale_run(ctx, out, in, 1); }

/* A x + B x; x is copied first when out shares its memory. */
static int sum_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const char *fn = adjoint ? "ss_linop_adjoint" : "ss_linop_apply";
    ss_tensor *copy = NULL, *tmp = tensor_like(out, out->shape[out->ndim - 2], out->shape[out->ndim - 1]);
    if (!tmp) return ss_last_status();
    if (ss_tensors_overlap(out, in)) {
        copy = ss_tensor_clone(in);
        if (!copy) {
            ss_tensor_free(tmp);
            return ss_last_status();
        }
        in = copy;
    }
    int rc = linop_call(fn, op->a, out, in, adjoint);
    if (rc == SS_OK) rc = linop_call(fn, op->b, tmp, in, adjoint);
    if (rc == SS_OK) rc = ss_add(out, out, tmp);
    ss_tensor_free(tmp);
    ss_tensor_free(copy);
    return rc;
}

static int sum_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return sum_run(ctx, out, in, 0); }
static int sum_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return sum_run(ctx, out, in, 1); }

static int transpose_apply(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return linop_call("ss_linop_apply", op->a, out, in, 1);
}

static int transpose_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    const ss_linop *op = ctx;
    return linop_call("ss_linop_adjoint", op->a, out, in, 0);
}

ss_linop *ss_linop_compose(ss_linop *a, ss_linop *b)
{
    if (!a || !b) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_compose: operator %s is NULL", a ? "B" : "A");
    if (a->in_h != b->out_h || a->in_w != b->out_w)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_compose: compose(A, B) applies B first and needs A's input to be B's output, but A '%s' takes "
                            "(...,%lld,%lld) and B '%s' gives (...,%lld,%lld)", a->name, (long long)a->in_h,
                            (long long)a->in_w, b->name, (long long)b->out_h, (long long)b->out_w);
    ss_linop *op = linop_alloc("ss_linop_compose", SS_LINOP_COMPOSE, b->in_h, b->in_w, a->out_h, a->out_w);
    if (!op) return NULL;
    op->apply = compose_apply;
    op->adjoint = compose_adjoint;
    op->a = ss_linop_retain(a);
    op->b = ss_linop_retain(b);
    name_set(op, "compose(%s,%s)", a->name, b->name);
    return op;
}

ss_linop *ss_linop_scale(float alpha, ss_linop *a)
{
    if (!a) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_scale: operator is NULL");
    if (!isfinite(alpha)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_scale: the factor must be finite, got %g", (double)alpha);
    ss_linop *op = linop_alloc("ss_linop_scale", SS_LINOP_SCALE, a->in_h, a->in_w, a->out_h, a->out_w);
    if (!op) return NULL;
    op->apply = scale_apply;
    op->adjoint = scale_adjoint;
    op->param = alpha;
    op->a = ss_linop_retain(a);
    name_set(op, "scale(%g,%s)", (double)alpha, a->name);
    return op;
}

ss_linop *ss_linop_sum(ss_linop *a, ss_linop *b)
{
    if (!a || !b) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_sum: operator %s is NULL", a ? "B" : "A");
    if (a->in_h != b->in_h || a->in_w != b->in_w || a->out_h != b->out_h || a->out_w != b->out_w)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_sum: A '%s' maps (...,%lld,%lld) -> (...,%lld,%lld) but B '%s' "
                            "maps (...,%lld,%lld) -> (...,%lld,%lld)", a->name, (long long)a->in_h,
                            (long long)a->in_w, (long long)a->out_h, (long long)a->out_w, b->name,
                            (long long)b->in_h, (long long)b->in_w, (long long)b->out_h, (long long)b->out_w);
    ss_linop *op = linop_alloc("ss_linop_sum", SS_LINOP_SUM, a->in_h, a->in_w, a->out_h, a->out_w);
    if (!op) return NULL;
    op->apply = sum_apply;
    op->adjoint = sum_adjoint;
    op->a = ss_linop_retain(a);
    op->b = ss_linop_retain(b);
    name_set(op, "sum(%s,%s)", a->name, b->name);
    return op;
}

ss_linop *ss_linop_transpose(ss_linop *a)
{
    if (!a) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_transpose: operator is NULL");
    if (a->kind == SS_LINOP_TRANSPOSE) return ss_linop_retain(a->a); /* (Aᵀ)ᵀ = A */
    ss_linop *op = linop_alloc("ss_linop_transpose", SS_LINOP_TRANSPOSE, a->out_h, a->out_w, a->in_h, a->in_w);
    if (!op) return NULL;
    op->apply = transpose_apply;
    op->adjoint = transpose_adjoint;
    op->a = ss_linop_retain(a);
    name_set(op, "transpose(%s)", a->name);
    return op;
}

/* ------------------------------------------------------------ devices */

int ss_linop_device(const ss_linop *op)
{
    if (!op) return SS_CPU;
    if (op->tensor) return op->tensor->device;
    int dev = ss_osmosis_linop_device(op);
    if (dev >= 0) return dev;
    dev = ss_linop_device(op->a);
    return dev != SS_CPU ? dev : ss_linop_device(op->b);
}

int ss_tensor_move(ss_tensor **t, int device)
{
    if ((*t)->device == device) return SS_OK;
    ss_tensor *moved = ss_tensor_to(*t, device);
    if (!moved) return ss_last_status();
    ss_tensor_free(*t);
    *t = moved;
    return SS_OK;
}

/* ------------------------------------------------------------ dot-product test */

int ss_linop_dot_test(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed)
{
    return ss_linop_dot_test_on(rel_err, op, batch, seed, ss_linop_device(op));
}

int ss_linop_dot_test_on(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed, int device)
{
    if (!rel_err) return SS_FAIL(SS_ERR_ARG, "ss_linop_dot_test: rel_err is NULL");
    if (!op) return SS_FAIL(SS_ERR_ARG, "ss_linop_dot_test: operator is NULL");
    if (batch < 1) return SS_FAIL(SS_ERR_ARG, "ss_linop_dot_test: batch must be >= 1, got %lld", (long long)batch);
    int64_t sx[3] = {batch, op->in_h, op->in_w}, sy[3] = {batch, op->out_h, op->out_w};
    ss_tensor *x = ss_tensor_empty(3, sx, SS_CPU), *aty = ss_tensor_empty(3, sx, device);
    ss_tensor *y = ss_tensor_empty(3, sy, SS_CPU), *ax = ss_tensor_empty(3, sy, device);
    int rc = x && aty && y && ax ? SS_OK : ss_last_status();
    ss_rng g;
    double d1 = 0, d2 = 0, nax = 0, ny = 0;
    if (rc == SS_OK) rc = ss_rng_init(&g, seed);
    if (rc == SS_OK) rc = ss_rng_normal(&g, x, 0.0f, 1.0f);
    if (rc == SS_OK) rc = ss_rng_normal(&g, y, 0.0f, 1.0f);
    if (rc == SS_OK) rc = ss_tensor_move(&x, device);
    if (rc == SS_OK) rc = ss_tensor_move(&y, device);
    if (rc == SS_OK) rc = ss_linop_apply(op, ax, x);
    if (rc == SS_OK) rc = ss_linop_adjoint(op, aty, y);
    if (rc == SS_OK) rc = ss_dot(&d1, ax, y);
    if (rc == SS_OK) rc = ss_dot(&d2, x, aty);
    if (rc == SS_OK) rc = ss_reduce(&nax, ax, SS_RED_NORM);
    if (rc == SS_OK) rc = ss_reduce(&ny, y, SS_RED_NORM);
    /* For random y, <Ax,y> is typically ‖Ax‖‖y‖/√m (m values), but it can come
     * out near zero by chance while float rounding leaves an absolute error of
     * order eps·‖Ax‖‖y‖; the floor keeps such a cancellation from reading as an
     * adjoint error. A wrong adjoint still gives errors of order 1/√m. */
    double floor_ = nax * ny / sqrt((double)ss_tensor_numel(y));
    if (rc == SS_OK) *rel_err = fabs(d1 - d2) / fmax(fmax(fabs(d1), floor_), 1e-300);
    ss_tensor_free(x);
    ss_tensor_free(aty);
    ss_tensor_free(y);
    ss_tensor_free(ax);
    return rc;
}
