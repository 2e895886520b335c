/* linop_external.c — operators made of a caller's apply and adjoint callbacks
 * (ss_linop_new): LuaJIT FFI callbacks (lua/scalespace/op.lua) and C code
 * outside the runtime. The caller's ctx stays the caller's unless
 * ss_linop_set_destroy hands it over. */
#include "ops/linop_impl.h"

typedef struct external {
    ss_linop_fn apply, adjoint;
    void *ctx;                  /* the caller's, passed to the callbacks */
    void (*destroy)(void *ctx); /* NULL: the caller keeps ctx */
} external;

static int external_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    const external *e = op->ctx;
    return e->apply(e->ctx, out, in);
}

static int external_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    const external *e = op->ctx;
    return e->adjoint(e->ctx, out, in);
}

static void external_destroy(ss_linop *op)
{
    external *e = op->ctx;
    if (e->destroy) e->destroy(e->ctx);
}

/* The callbacks' data is the caller's business: no device of its own. */
static const ss_linop_vtable external_vt = {
    .apply = external_apply,
    .adjoint = external_adjoint,
    .destroy = external_destroy,
};

ss_linop *ss_linop_new(ss_linop_fn apply, ss_linop_fn adjoint, void *ctx, int64_t in_h, int64_t in_w, int64_t out_h,
                       int64_t out_w, const char *name)
{
    if (!apply || !adjoint)
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_linop_new: both the apply and the adjoint callback are needed");
    ss_linop *op = ss_linop_create("ss_linop_new", &external_vt, sizeof(external), in_h, in_w, out_h, out_w, "%s",
                                   name && *name ? name : "external");
    if (!op) return NULL;
    external *e = op->ctx;
    e->apply = apply, e->adjoint = adjoint, e->ctx = ctx;
    return op;
}

int ss_linop_set_destroy(ss_linop *op, void (*destroy)(void *ctx))
{
    if (!op) return SS_FAIL(SS_ERR_ARG, "ss_linop_set_destroy: operator is NULL");
    if (op->vt != &external_vt)
        return SS_FAIL(SS_ERR_ARG, "ss_linop_set_destroy: '%s' is a built-in operator; only ss_linop_new ones own a ctx",
                       op->name);
    ((external *)op->ctx)->destroy = destroy;
    return SS_OK;
}
