/* linop_impl.h — what an operator is made of, for the files that define one; not
 * part of the API (callers use the public ss_linop_* functions).
 *
 * An operator is a table of functions (one static const ss_linop_vtable per kind
 * of operator), its sizes, a reference count, a name and the kind's state (ctx).
 * Each built-in's table lives beside its op (dct.c, heat.c, laplace.c, resize.c,
 * osmosis.c), the algebra's in linop_algebra.c and ss_linop_new's in
 * linop_external.c; linop.c knows none of them. A new C operator is its file,
 * its constructor's declaration in scalespace.h and a line in op.lua. */
#ifndef SS_OPS_LINOP_IMPL_H
#define SS_OPS_LINOP_IMPL_H

#include "core/internal.h"

#include <stddef.h>

typedef struct ss_linop_vtable {
    /* out = A in and out = Aᵀ in (=). ss_linop_apply/_adjoint have checked that
     * the image sizes fit, out has in's leading dimensions and both share a device. */
    int (*apply)(const ss_linop *op, ss_tensor *out, const ss_tensor *in);
    int (*adjoint)(const ss_linop *op, ss_tensor *out, const ss_tensor *in);
    /* The device of the operator's own data (a tensor it keeps, or its
     * children's), or SS_LINOP_NO_DEVICE when it holds none. NULL: none. */
    int (*device)(const ss_linop *op);
    /* A new reference to Aᵀ for an operator that knows it (a transpose's child),
     * NULL with the error set on failure. NULL entry: ss_linop_transpose wraps A. */
    ss_linop *(*transpose)(ss_linop *op);
    /* Releases what ctx holds (tensors, children's references, a caller's
     * context) when the last reference goes; the ctx memory goes with the
     * operator. Must cope with a ctx left zero by a constructor that failed
     * half-way. NULL: nothing to release. */
    void (*destroy)(ss_linop *op);
} ss_linop_vtable;

struct ss_linop {
    const ss_linop_vtable *vt;
    void *ctx;                        /* the kind's state: ctx_mem, zeroed at creation */
    int64_t in_h, in_w, out_h, out_w; /* maps (...,in_h,in_w) to (...,out_h,out_w) */
    int32_t refcount;                 /* atomic */
    char name[64];                    /* e.g. "heat(t=2)"; names the operator in errors */
    max_align_t ctx_mem[];
};

/* A new operator (one reference) of table vt with ctx_size zeroed bytes of state
 * at op->ctx, named printf(fmt, ...) (long names are cut). NULL with the error set
 * (naming fn) when a size is < 1 or memory runs out. */
ss_linop *ss_linop_create(const char *fn, const ss_linop_vtable *vt, size_t ctx_size, int64_t in_h, int64_t in_w,
                          int64_t out_h, int64_t out_w, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* ss_linop_apply (adjoint = 0) or ss_linop_adjoint (1) with fn naming the public
 * call in errors: how composites run their children. */
int ss_linop_call(const char *fn, const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint);

/* ss_linop_dot_test with the vectors on `device` (drawn on the CPU and copied, so
 * every device tests with the same numbers). */
int ss_linop_dot_test_on(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed, int device);

#endif
