/* cg.c — conjugate gradients for symmetric positive definite operators,
 * matrix-free on an ss_linop, with the stopping rule and contract of
 * ss_bicgstab_solve: ‖r‖₂ <= max(tol·‖b‖₂, abs_tol) on the true residual,
 * SS_ERR_NOTCONV when maxiter runs out, pᵀAp <= 0 is SS_ERR_NUMERIC.
 *
 * Three work tensors (r, p, q = A p), allocated once; inner products in double
 * (ss_dot), updates with ss_axpby. When the updated residual passes the rule,
 * the true residual b − A x decides; if it fails, CG restarts from it (and
 * gives up with SS_ERR_NOTCONV when that repeats without progress). */
#include "core/internal.h"
#include "solvers/solve.h"

#include <math.h>
#include <stdio.h>

static const char *const FN = "ss_cg_solve";
/* Restarts from a true residual that did not halve before giving up (as in bicgstab.c). */
#define STALLS 5

/* r = b − A x (q: scratch), *rr = <r, r>. */
static int true_residual(double *rr, ss_tensor *r, ss_tensor *q, const ss_linop *A, const ss_tensor *x,
                         const ss_tensor *b)
{
    SS_TRY(ss_linop_apply(A, q, x));
    SS_TRY(ss_axpby(r, 1.0f, b, -1.0f, q));
    return ss_dot(rr, r, r);
}

static int cg_run(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *o, ss_solve_info *inf,
                  ss_tensor *r, ss_tensor *p, ss_tensor *q)
{
    double bb, rr;
    SS_TRY(ss_dot(&bb, b, b));
    const double bnorm = sqrt(bb), thr = fmax(o->tol * bnorm, o->abs_tol);
    if (o->warm_start) {
        SS_TRY(true_residual(&rr, r, q, A, x, b));
    } else {
        SS_TRY(ss_tensor_fill(x, 0.0f));
        SS_TRY(ss_tensor_copy(r, b));
        rr = bb;
    }
    if (!isfinite(rr))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: the initial residual b - A x is not finite (operator '%s' gave NaN/Inf)",
                       FN, ss_linop_name(A));
    inf->initial_residual = inf->residual = sqrt(rr);
    int r_is_true = 1, fresh = 1, stalls = 0;
    double best_false = INFINITY;
    for (;;) {
        SS_TRY(ss_interrupt_check());
        if (sqrt(rr) <= thr) {
            if (r_is_true) {
                inf->converged = 1;
                break;
            }
            SS_TRY(true_residual(&rr, r, q, A, x, b));
            r_is_true = 1;
            if (!isfinite(rr))
                return SS_FAIL(SS_ERR_NUMERIC, "%s: the residual b - A x became NaN/Inf at iteration %d "
                               "(operator '%s')", FN, (int)inf->iterations, ss_linop_name(A));
            if (sqrt(rr) <= thr) {
                inf->converged = 1;
                break;
            }
            /* Restart from the true residual, unless that repeats without
             * progress (float32 accuracy of A x reached). */
            if (sqrt(rr) < 0.5 * best_false) best_false = sqrt(rr), stalls = 0;
            else if (++stalls >= STALLS) break;
            fresh = 1;
            inf->restarts++;
        }
        if (inf->iterations >= o->maxiter) break;
        if (fresh) SS_TRY(ss_tensor_copy(p, r));
        fresh = 0;
        SS_TRY(ss_linop_apply(A, q, p));
        double pq;
        SS_TRY(ss_dot(&pq, p, q));
        if (!isfinite(pq))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: p'Ap is NaN/Inf at iteration %d (operator '%s' gave a non-finite "
                           "value)", FN, (int)inf->iterations, ss_linop_name(A));
        if (pq <= 0)
            return SS_FAIL(SS_ERR_NUMERIC, "%s: operator '%s' is not symmetric positive definite: p'Ap = %.4g <= 0 "
                           "at iteration %d (|r| = %.4g); use ss_bicgstab_solve for other operators", FN,
                           ss_linop_name(A), pq, (int)inf->iterations, sqrt(rr));
        double alpha = rr / pq, rr_new;
        SS_TRY(ss_axpby(x, 1.0f, x, (float)alpha, p));
        SS_TRY(ss_axpby(r, 1.0f, r, (float)-alpha, q));
        SS_TRY(ss_dot(&rr_new, r, r));
        inf->iterations++;
        r_is_true = 0;
        if (!isfinite(rr_new))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: the residual became NaN/Inf at iteration %d (operator '%s')", FN,
                           (int)inf->iterations, ss_linop_name(A));
        SS_TRY(ss_axpby(p, 1.0f, r, (float)(rr_new / rr), p)); /* p = r + β p */
        rr = rr_new;
    }
    if (!r_is_true) SS_TRY(true_residual(&rr, r, q, A, x, b));
    inf->residual = sqrt(rr);
    if (inf->converged) return SS_OK;
    if (stalls >= STALLS)
        return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence: after %d iterations the true residual |b - A x| "
                       "stagnates at %.4g > max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s' (the "
                       "float32 accuracy of A x limits it; loosen the tolerance); x holds the last iterate", FN,
                       (int)inf->iterations, inf->residual, o->tol, bnorm, o->abs_tol, ss_linop_name(A));
    return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence in %d iterations (%d restarts): |b - A x| = %.4g > "
                   "max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s'; x holds the last iterate", FN,
                   (int)inf->iterations, (int)inf->restarts, inf->residual, o->tol, bnorm, o->abs_tol,
                   ss_linop_name(A));
}

int ss_cg_solve(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *opts, ss_solve_info *info)
{
    ss_solve_info inf = {0};
    if (info) *info = inf;
    ss_solve_opts o = {1e-6, 0.0, 1000, 0}; /* the defaults for opts = NULL */
    SS_TRY(ss_solve_check(FN, x, A, b, opts, &o));
    ss_tensor *r = ss_tensor_empty(b->ndim, b->shape, b->device);
    ss_tensor *p = r ? ss_tensor_empty(b->ndim, b->shape, b->device) : NULL;
    ss_tensor *q = p ? ss_tensor_empty(b->ndim, b->shape, b->device) : NULL;
    int rc = q ? cg_run(x, A, b, &o, &inf, r, p, q) : ss_last_status();
    ss_tensor_free(r);
    ss_tensor_free(p);
    ss_tensor_free(q);
    if (info) *info = inf;
    return rc;
}
