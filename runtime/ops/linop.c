/* linop.c — the generic machinery of operators as values: creation, reference
 * counts, the checked apply and adjoint, the accessors, the device an operator's
 * data lives on, and the dot-product test.
 *
 * An operator is a table of functions (ops/linop_impl.h) with its sizes and
 * state; this file calls the table and knows no kind of operator. Reference
 * counts use atomics so operators may be shared between threads; applying
 * never mutates one. */
#include "ops/linop_impl.h"
#include "core/device.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ lifetime */

ss_linop *ss_linop_create(const char *fn, const ss_linop_vtable *vt, size_t ctx_size, int64_t in_h, int64_t in_w,
                          int64_t out_h, int64_t out_w, const char *fmt, ...)
{
    if (in_h < 1 || in_w < 1 || out_h < 1 || out_w < 1)
        return SS_FAIL_NULL(SS_ERR_ARG, "%s: image sizes must be >= 1, got %lldx%lld -> %lldx%lld", fn,
                            (long long)in_h, (long long)in_w, (long long)out_h, (long long)out_w);
    ss_linop *op = calloc(1, sizeof *op + ctx_size);
    if (!op) return SS_FAIL_NULL(SS_ERR_NOMEM, "%s: out of memory for an operator", fn);
    op->vt = vt;
    op->ctx = op->ctx_mem;
    op->in_h = in_h, op->in_w = in_w, op->out_h = out_h, op->out_w = out_w;
    op->refcount = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->name, sizeof op->name, fmt, ap); /* truncates long composite names */
    va_end(ap);
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
    if (op->vt->destroy) op->vt->destroy(op);
    free(op);
}

/* ------------------------------------------------------------ accessors */

int ss_linop_size(const ss_linop *op, int64_t size[4])
{
    if (!op || !size) return SS_FAIL(SS_ERR_ARG, "ss_linop_size: %s is NULL", op ? "size" : "operator");
    size[0] = op->in_h, size[1] = op->in_w, size[2] = op->out_h, size[3] = op->out_w;
    return SS_OK;
}

const char *ss_linop_name(const ss_linop *op) { return op ? op->name : ""; }

int ss_linop_device(const ss_linop *op)
{
    return op && op->vt->device ? op->vt->device(op) : SS_LINOP_NO_DEVICE;
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
    /* Shapes are formatted only here: this check runs on every apply, many times per iterative method. */
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

int ss_linop_call(const char *fn, const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    SS_TRY(linop_check(fn, op, out, in, adjoint));
    /* An implementation may fail without a message of its own (a C callback
     * given to ss_linop_new): supply one naming the operator. */
    ss_clear_error();
    int rc = adjoint ? op->vt->adjoint(op, out, in) : op->vt->apply(op, out, in);
    if (rc < 0 && ss_last_error()[0] == '\0')
        return SS_FAIL(rc, "%s: the %s callback of operator '%s' failed with status %d", fn,
                       adjoint ? "adjoint" : "apply", op->name, rc);
    return rc < 0 ? rc : SS_OK;
}

int ss_linop_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_linop_call("ss_linop_apply", op, out, in, 0);
}

int ss_linop_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in)
{
    return ss_linop_call("ss_linop_adjoint", op, out, in, 1);
}

/* ------------------------------------------------------------ dot-product test */

/* Where an operator's test vectors live: with its data, on the CPU when it holds none. */
static int test_device(const ss_linop *op)
{
    int dev = ss_linop_device(op);
    return dev == SS_LINOP_NO_DEVICE ? SS_CPU : dev;
}

int ss_linop_dot_test(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed)
{
    return ss_linop_dot_test_on(rel_err, op, batch, seed, test_device(op));
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
