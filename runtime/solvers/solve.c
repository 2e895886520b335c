/* solve.c — the argument checks every linear solve shares (BiCGSTAB, CG). */
#include "core/internal.h"
#include "ops/par.h"
#include "solvers/solve.h"

#include <math.h>
#include <stdio.h>

/* Arguments of a linear solve; *o (holding the defaults) gets *opts unless opts is NULL. */
int ss_solve_check(const char *fn, const ss_tensor *x, const ss_linop *A, const ss_tensor *b,
                   const ss_solve_opts *opts, ss_solve_opts *o)
{
    SS_TRY(ss_check_tensor(x, fn, "x"));
    SS_TRY(ss_check_tensor(b, fn, "b"));
    if (!A) return SS_FAIL(SS_ERR_ARG, "%s: operator A is NULL", fn);
    const ss_tensor *ts[2] = {x, b};
    int dev = ss_common_device(fn, 2, ts);
    if (dev < 0) return dev;
    if (dev != SS_CPU) return ss_cuda_missing(fn);
    if (A->in_h != A->out_h || A->in_w != A->out_w)
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' maps (...,%lld,%lld) to (...,%lld,%lld); a solve needs a "
                       "square operator (input size = output size)", fn, A->name, (long long)A->in_h,
                       (long long)A->in_w, (long long)A->out_h, (long long)A->out_w);
    char sb[96], sx[96];
    ss_shape_str(sb, sizeof sb, b);
    ss_shape_str(sx, sizeof sx, x);
    int nd = b->ndim;
    if (nd < 2 || b->shape[nd - 2] != A->in_h || b->shape[nd - 1] != A->in_w)
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' takes (...,%lld,%lld) but b is %s", fn, A->name,
                       (long long)A->in_h, (long long)A->in_w, sb);
    if (!ss_tensor_same_shape(x, b))
        return SS_FAIL(SS_ERR_ARG, "%s: x %s and b %s must have the same shape", fn, sx, sb);
    if (ss_tensors_overlap(x, b)) return SS_FAIL(SS_ERR_ARG, "%s: x and b share memory; pass separate tensors", fn);
    if (opts) *o = *opts;
    if (!(o->tol >= 0 && isfinite(o->tol)) || !(o->abs_tol >= 0 && isfinite(o->abs_tol)))
        return SS_FAIL(SS_ERR_ARG, "%s: tolerances must be finite and >= 0, got tol = %g, abs_tol = %g", fn,
                       o->tol, o->abs_tol);
    if (o->maxiter < 0) return SS_FAIL(SS_ERR_ARG, "%s: maxiter must be >= 0, got %d", fn, (int)o->maxiter);
    char what[64];
    snprintf(what, sizeof what, "%s: right-hand side b", fn);
    if (!ss_all_finite(b->data, ss_tensor_numel(b))) SS_TRY(ss_tensor_check_finite(b, what));
    if (o->warm_start) {
        snprintf(what, sizeof what, "%s: initial guess x", fn);
        if (!ss_all_finite(x->data, ss_tensor_numel(x))) SS_TRY(ss_tensor_check_finite(x, what));
    }
    return SS_OK;
}
