/* solve.c — the argument checks every linear solve shares (BiCGSTAB, CG). */
#include "core/internal.h"
#include "core/par.h"
#include "solvers/solve.h"

#include <math.h>
#include <stdio.h>

/* Arguments of a linear solve; *o (holding the defaults) gets *opts unless opts is NULL. */
int ss_square_op_check(const char *fn, const ss_linop *A)
{
    if (!A) return SS_FAIL(SS_ERR_ARG, "%s: operator A is NULL", fn);
    int64_t s[4];
    SS_TRY(ss_linop_size(A, s));
    if (s[0] != s[2] || s[1] != s[3])
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' maps (...,%lld,%lld) to (...,%lld,%lld); it needs a square "
                       "operator (input size = output size)", fn, ss_linop_name(A), (long long)s[0], (long long)s[1],
                       (long long)s[2], (long long)s[3]);
    return SS_OK;
}

int ss_operand_check(const char *fn, const ss_linop *A, const ss_tensor *out, const char *out_name,
                     const ss_tensor *in, const char *in_name)
{
    SS_TRY(ss_check_tensor(out, fn, out_name));
    SS_TRY(ss_check_tensor(in, fn, in_name));
    SS_TRY(ss_square_op_check(fn, A));
    const ss_tensor *ts[2] = {out, in};
    SS_TRY(ss_common_device(fn, 2, ts));
    int64_t s[4];
    SS_TRY(ss_linop_size(A, s));
    int nd = in->ndim;
    int fits = nd >= 2 && in->shape[nd - 2] == s[0] && in->shape[nd - 1] == s[1];
    if (fits && ss_tensor_same_shape(out, in)) return SS_OK;
    char si[96], so[96];
    ss_shape_str(si, sizeof si, in);
    ss_shape_str(so, sizeof so, out);
    if (!fits)
        return SS_FAIL(SS_ERR_ARG, "%s: operator '%s' takes (...,%lld,%lld) but %s is %s", fn, ss_linop_name(A),
                       (long long)s[0], (long long)s[1], in_name, si);
    return SS_FAIL(SS_ERR_ARG, "%s: %s %s and %s %s must have the same shape", fn, out_name, so, in_name, si);
}

int ss_solve_check(const char *fn, const ss_tensor *x, const ss_linop *A, const ss_tensor *b,
                   const ss_solve_opts *opts, ss_solve_opts *o)
{
    SS_TRY(ss_operand_check(fn, A, x, "x", b, "b"));
    if (ss_tensors_overlap(x, b)) return SS_FAIL(SS_ERR_ARG, "%s: x and b share memory; pass separate tensors", fn);
    if (opts) *o = *opts;
    if (!(o->tol >= 0 && isfinite(o->tol)) || !(o->abs_tol >= 0 && isfinite(o->abs_tol)))
        return SS_FAIL(SS_ERR_ARG, "%s: tolerances must be finite and >= 0, got tol = %g, abs_tol = %g", fn,
                       o->tol, o->abs_tol);
    if (o->maxiter < 0) return SS_FAIL(SS_ERR_ARG, "%s: maxiter must be >= 0, got %d", fn, (int)o->maxiter);
    char what[64];
    snprintf(what, sizeof what, "%s: right-hand side b", fn);
    /* The host scan is a fast path for CPU tensors; ss_tensor_check_finite scans any device. */
    if (b->device != SS_CPU || !ss_all_finite(b->data, ss_tensor_numel(b))) SS_TRY(ss_tensor_check_finite(b, what));
    if (o->warm_start) {
        snprintf(what, sizeof what, "%s: initial guess x", fn);
        if (x->device != SS_CPU || !ss_all_finite(x->data, ss_tensor_numel(x)))
            SS_TRY(ss_tensor_check_finite(x, what));
    }
    return SS_OK;
}
