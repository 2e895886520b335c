/* linop_algebra.c — the algebra of operators: the identity, A∘B, a·A, A + B and
 * Aᵀ. Composites hold references to their children and run them through
 * ss_linop_call, so a failing child reports under the public call that reached
 * it; their data's device is their children's. */
#include "ops/linop_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A tensor with in's leading dimensions and an h×w image, for intermediates. */
static ss_tensor *tensor_like(const ss_tensor *in, int64_t h, int64_t w)
{
    int64_t shape[4];
    memcpy(shape, in->shape, sizeof shape);
    shape[in->ndim - 2] = h;
    shape[in->ndim - 1] = w;
    return ss_tensor_empty(in->ndim, shape, in->device);
}

static const char *call_name(int adjoint) { return adjoint ? "ss_linop_adjoint" : "ss_linop_apply"; }

/* ------------------------------------------------------------ identity */

static int identity_fn(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return ss_tensor_copy(out, in); }

static const ss_linop_vtable identity_vt = {.apply = identity_fn, .adjoint = identity_fn};

ss_linop *ss_linop_identity(int64_t h, int64_t w)
{
    return ss_linop_create("ss_linop_identity", &identity_vt, 0, h, w, h, w, "identity");
}

/* ------------------------------------------------------------ composites */

/* Children of a composite: compose(a, b) = a∘b and sum use both, scale and
 * transpose only a; alpha is scale's factor. */
typedef struct composite {
    ss_linop *a, *b;
    float alpha;
} composite;

static void composite_destroy(ss_linop *op)
{
    composite *c = op->ctx;
    ss_linop_free(c->a);
    ss_linop_free(c->b);
}

/* A child's device, or the other's when it holds no data; a CUDA one wins over
 * the CPU (mixed devices fail when applied anyway). */
static int composite_device(const ss_linop *op)
{
    const composite *c = op->ctx;
    int da = ss_linop_device(c->a), db = ss_linop_device(c->b);
    if (da == SS_LINOP_NO_DEVICE || (da == SS_CPU && db != SS_LINOP_NO_DEVICE)) return db;
    return da;
}

static ss_linop *composite_new(const char *fn, const ss_linop_vtable *vt, ss_linop *a, ss_linop *b, int64_t in_h,
                               int64_t in_w, int64_t out_h, int64_t out_w, const char *name)
{
    ss_linop *op = ss_linop_create(fn, vt, sizeof(composite), in_h, in_w, out_h, out_w, "%s", name);
    if (!op) return NULL;
    composite *c = op->ctx;
    c->a = ss_linop_retain(a);
    c->b = ss_linop_retain(b);
    return op;
}

/* compose(A, B) = A∘B: B first, through an intermediate at B's output size. */
static int compose_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const composite *c = op->ctx;
    const ss_linop *first = adjoint ? c->a : c->b, *second = adjoint ? c->b : c->a;
    ss_tensor *mid = tensor_like(in, c->b->out_h, c->b->out_w);
    if (!mid) return ss_last_status();
    int rc = ss_linop_call(call_name(adjoint), first, mid, in, adjoint);
    if (rc == SS_OK) rc = ss_linop_call(call_name(adjoint), second, out, mid, adjoint);
    ss_tensor_free(mid);
    return rc;
}

static int compose_apply(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return compose_run(op, o, i, 0); }
static int compose_adjoint(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return compose_run(op, o, i, 1); }

static int scale_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const composite *c = op->ctx;
    SS_TRY(ss_linop_call(call_name(adjoint), c->a, out, in, adjoint));
    return ss_affine(out, out, c->alpha, 0.0f);
}

static int scale_apply(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return scale_run(op, o, i, 0); }
static int scale_adjoint(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return scale_run(op, o, i, 1); }

/* A x + B x; x is copied first when out shares its memory. */
static int sum_run(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const composite *c = op->ctx;
    const char *fn = call_name(adjoint);
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
    int rc = ss_linop_call(fn, c->a, out, in, adjoint);
    if (rc == SS_OK) rc = ss_linop_call(fn, c->b, tmp, in, adjoint);
    if (rc == SS_OK) rc = ss_add(out, out, tmp);
    ss_tensor_free(tmp);
    ss_tensor_free(copy);
    return rc;
}

static int sum_apply(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return sum_run(op, o, i, 0); }
static int sum_adjoint(const ss_linop *op, ss_tensor *o, const ss_tensor *i) { return sum_run(op, o, i, 1); }

/* Aᵀ runs A's adjoint as its apply and A's apply as its adjoint. */
static int transpose_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    const composite *c = op->ctx;
    return ss_linop_call("ss_linop_apply", c->a, out, in, 1);
}

static int transpose_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    const composite *c = op->ctx;
    return ss_linop_call("ss_linop_adjoint", c->a, out, in, 0);
}

/* (Aᵀ)ᵀ = A. */
static ss_linop *transpose_transpose(ss_linop *op)
{
    const composite *c = op->ctx;
    return ss_linop_retain(c->a);
}

static const ss_linop_vtable compose_vt = {
    .apply = compose_apply, .adjoint = compose_adjoint, .device = composite_device, .destroy = composite_destroy,
};
static const ss_linop_vtable scale_vt = {
    .apply = scale_apply, .adjoint = scale_adjoint, .device = composite_device, .destroy = composite_destroy,
};
static const ss_linop_vtable sum_vt = {
    .apply = sum_apply, .adjoint = sum_adjoint, .device = composite_device, .destroy = composite_destroy,
};
static const ss_linop_vtable transpose_vt = {
    .apply = transpose_apply,
    .adjoint = transpose_adjoint,
    .device = composite_device,
    .transpose = transpose_transpose,
    .destroy = composite_destroy,
};

ss_linop *ss_linop_compose(ss_linop *a, ss_linop *b)
{
    if (!a || !b) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_compose: operator %s is NULL", a ? "B" : "A");
    if (a->in_h != b->out_h || a->in_w != b->out_w)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_compose: compose(A, B) applies B first and needs A's input to be B's output, but A '%s' takes "
                            "(...,%lld,%lld) and B '%s' gives (...,%lld,%lld)", a->name, (long long)a->in_h,
                            (long long)a->in_w, b->name, (long long)b->out_h, (long long)b->out_w);
    char name[160];
    snprintf(name, sizeof name, "compose(%s,%s)", a->name, b->name);
    return composite_new("ss_linop_compose", &compose_vt, a, b, b->in_h, b->in_w, a->out_h, a->out_w, name);
}

ss_linop *ss_linop_scale(float alpha, ss_linop *a)
{
    if (!a) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_scale: operator is NULL");
    if (!isfinite(alpha)) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_scale: the factor must be finite, got %g", (double)alpha);
    char name[160];
    snprintf(name, sizeof name, "scale(%g,%s)", (double)alpha, a->name);
    ss_linop *op = composite_new("ss_linop_scale", &scale_vt, a, NULL, a->in_h, a->in_w, a->out_h, a->out_w, name);
    if (op) ((composite *)op->ctx)->alpha = alpha;
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
    char name[160];
    snprintf(name, sizeof name, "sum(%s,%s)", a->name, b->name);
    return composite_new("ss_linop_sum", &sum_vt, a, b, a->in_h, a->in_w, a->out_h, a->out_w, name);
}

ss_linop *ss_linop_transpose(ss_linop *a)
{
    if (!a) return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_transpose: operator is NULL");
    if (a->vt->transpose) return a->vt->transpose(a);
    char name[160];
    snprintf(name, sizeof name, "transpose(%s)", a->name);
    return composite_new("ss_linop_transpose", &transpose_vt, a, NULL, a->out_h, a->out_w, a->in_h, a->in_w, name);
}
