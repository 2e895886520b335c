/* bicgstab.c — unpreconditioned BiCGSTAB (van der Vorst 1992), matrix-free on
 * an ss_linop, as the osmosis reference code runs it: restart with r̂₀ ← r,
 * p ← r when <r̂₀, r> nearly vanishes, stop on ‖r‖₂ <= max(tol·‖b‖₂, abs_tol).
 *
 * Vectors are whole float32 tensors; inner products and norms come from
 * ss_dot in double, updates from ss_axpby (both OpenMP-parallel). The solve
 * allocates its five work tensors once. The updated residual drifts from the
 * true one in float32, so when it passes the stopping rule the true residual
 * b − A x is computed (one extra operator application) and decides; if it
 * fails, the iteration restarts from it, and gives up with SS_ERR_NOTCONV when
 * that repeats without progress (a tolerance float32 cannot reach). */
#include "core/internal.h"

#include <math.h>
#include <stdio.h>

/* Near-breakdown threshold: |<r̂₀, r>| < BREAKDOWN·‖r̂₀‖‖r‖ restarts. */
#define BREAKDOWN 1e-12
/* Give up (SS_ERR_NOTCONV) after this many restarts from a true residual that
 * did not halve since the previous one: the tolerance is below what float32
 * can reach for this system. */
#define STALLS 5

static const char *const FN = "ss_bicgstab_solve";

/* 1 when the float ranges of a and b share memory. */
static int overlap(const ss_tensor *a, const ss_tensor *b)
{
    const float *a0 = a->data, *a1 = a0 + ss_tensor_numel(a);
    const float *b0 = b->data, *b1 = b0 + ss_tensor_numel(b);
    return a0 < b1 && b0 < a1;
}

/* Arguments of a linear solve; *o (holding the defaults) gets *opts unless opts is NULL. */
static int solve_check(const char *fn, const ss_tensor *x, const ss_linop *A, const ss_tensor *b,
                       const ss_solve_opts *opts, ss_solve_opts *o)
{
    SS_TRY(ss_check_tensor(x, fn, "x"));
    SS_TRY(ss_check_tensor(b, fn, "b"));
    if (!A) return SS_FAIL(SS_ERR_ARG, "%s: operator A is NULL", fn);
    const ss_tensor *ts[2] = {x, b};
    int dev = ss_common_device(fn, 2, ts);
    if (dev < 0) return dev;
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
    if (overlap(x, b)) return SS_FAIL(SS_ERR_ARG, "%s: x and b share memory; pass separate tensors", fn);
    if (opts) *o = *opts;
    if (!(o->tol >= 0 && isfinite(o->tol)) || !(o->abs_tol >= 0 && isfinite(o->abs_tol)))
        return SS_FAIL(SS_ERR_ARG, "%s: tolerances must be finite and >= 0, got tol = %g, abs_tol = %g", fn,
                       o->tol, o->abs_tol);
    if (o->maxiter < 0) return SS_FAIL(SS_ERR_ARG, "%s: maxiter must be >= 0, got %d", fn, (int)o->maxiter);
    char what[64];
    snprintf(what, sizeof what, "%s: right-hand side b", fn);
    SS_TRY(ss_tensor_check_finite(b, what));
    if (o->warm_start) {
        snprintf(what, sizeof what, "%s: initial guess x", fn);
        SS_TRY(ss_tensor_check_finite(x, what));
    }
    return SS_OK;
}

static int norm2(double *n, const ss_tensor *t)
{
    double d;
    SS_TRY(ss_dot(&d, t, t));
    *n = sqrt(d);
    return SS_OK;
}

/* res = b − A x (tmp: A x) and its norm. */
static int true_residual(double *nrm, ss_tensor *res, ss_tensor *tmp, const ss_linop *A, const ss_tensor *x,
                         const ss_tensor *b)
{
    SS_TRY(ss_linop_apply(A, tmp, x));
    SS_TRY(ss_axpby(res, 1.0f, b, -1.0f, tmp));
    return norm2(nrm, res);
}

typedef struct work {
    ss_tensor *r, *rhat, *p, *v, *t;
} work;

static int bicgstab_run(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *o, ss_solve_info *inf,
                        work *w)
{
    ss_tensor *r = w->r, *rhat = w->rhat, *p = w->p, *v = w->v, *t = w->t;
    double bnorm, rnorm;
    SS_TRY(norm2(&bnorm, b));
    const double thr = fmax(o->tol * bnorm, o->abs_tol);
    if (o->warm_start) {
        SS_TRY(true_residual(&rnorm, r, v, A, x, b));
    } else {
        SS_TRY(ss_tensor_fill(x, 0.0f));
        SS_TRY(ss_tensor_copy(r, b));
        rnorm = bnorm;
    }
    if (!isfinite(rnorm))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: the initial residual b - A x is not finite (operator '%s' gave NaN/Inf)",
                       FN, A->name);
    inf->initial_residual = inf->residual = rnorm;

    double rho_old = 1, alpha = 1, omega = 1, rhat_norm = 0;
    int fresh = 1;        /* p <- r next (start or restart): r̂₀ is set from r then */
    int r_is_true = 1;    /* r is the true residual b − A x, not an updated one */
    double best_false = INFINITY;
    int stalls = 0;
    for (;;) {
        if (rnorm <= thr) {
            if (r_is_true) {
                inf->converged = 1;
                break;
            }
            SS_TRY(true_residual(&rnorm, r, v, A, x, b)); /* the updated residual may have drifted */
            r_is_true = 1;
            if (!isfinite(rnorm))
                return SS_FAIL(SS_ERR_NUMERIC, "%s: the residual b - A x became NaN/Inf at iteration %d "
                               "(operator '%s')", FN, (int)inf->iterations, A->name);
            if (rnorm <= thr) {
                inf->converged = 1;
                break;
            }
            /* The updated residual passed but the true one did not: restart
             * from it, unless that keeps happening without progress (the true
             * residual sits at the float32 accuracy of A x). */
            if (rnorm < 0.5 * best_false) best_false = rnorm, stalls = 0;
            else if (++stalls >= STALLS) break;
            if (!fresh) inf->restarts++;
            fresh = 1;
        }
        if (inf->iterations >= o->maxiter) break;
        double rho;
        if (fresh) {
            SS_TRY(ss_tensor_copy(rhat, r));
            rhat_norm = rnorm;
            rho = rnorm * rnorm;
        } else {
            SS_TRY(ss_dot(&rho, rhat, r));
            if (fabs(rho) < BREAKDOWN * rhat_norm * rnorm) { /* near breakdown: restart from r */
                SS_TRY(ss_tensor_copy(rhat, r));
                rhat_norm = rnorm;
                rho = rnorm * rnorm;
                fresh = 1;
                inf->restarts++;
            }
        }
        if (fresh) {
            SS_TRY(ss_tensor_copy(p, r));
        } else { /* p = r + β (p − ω v) */
            double beta = (rho / rho_old) * (alpha / omega);
            SS_TRY(ss_axpby(p, 1.0f, p, (float)-omega, v));
            SS_TRY(ss_axpby(p, 1.0f, r, (float)beta, p));
        }
        SS_TRY(ss_linop_apply(A, v, p));
        double rv, vnorm;
        SS_TRY(ss_dot(&rv, rhat, v));
        SS_TRY(norm2(&vnorm, v));
        if (!isfinite(rv) || !isfinite(vnorm) || !isfinite(rho))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at iteration %d (operator '%s' gave a non-finite value, "
                           "or the iteration overflowed)", FN, (int)inf->iterations, A->name);
        if (!(fabs(rv) > BREAKDOWN * rhat_norm * vnorm)) { /* <r̂₀, A p> vanishes: α undefined */
            if (fresh)
                return SS_FAIL(SS_ERR_NUMERIC, "%s: breakdown at iteration %d: <r, A r> = %.3g is 0 relative to "
                               "|r|*|A r| = %.3g even after a restart (operator '%s' is skew or indefinite along "
                               "the residual); |r| = %.3g", FN, (int)inf->iterations, rv, rhat_norm * vnorm, A->name,
                               rnorm);
            fresh = 1;
            inf->restarts++;
            continue;
        }
        fresh = 0;
        alpha = rho / rv;
        SS_TRY(ss_axpby(r, 1.0f, r, (float)-alpha, v)); /* s = r − α v, kept in r */
        double snorm;
        SS_TRY(norm2(&snorm, r));
        inf->iterations++;
        r_is_true = 0;
        if (snorm <= thr) { /* converged at the half step */
            SS_TRY(ss_axpby(x, 1.0f, x, (float)alpha, p));
            rnorm = snorm;
            continue;
        }
        SS_TRY(ss_linop_apply(A, t, r));
        double ts, tt;
        SS_TRY(ss_dot(&ts, t, r));
        SS_TRY(ss_dot(&tt, t, t));
        omega = tt > 0 ? ts / tt : 0.0;
        SS_TRY(ss_axpby(x, 1.0f, x, (float)alpha, p));
        if (omega != 0) SS_TRY(ss_axpby(x, 1.0f, x, (float)omega, r));
        SS_TRY(ss_axpby(r, 1.0f, r, (float)-omega, t)); /* r = s − ω t */
        SS_TRY(norm2(&rnorm, r));
        if (!isfinite(rnorm) || !isfinite(omega))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at iteration %d (operator '%s' gave a non-finite value, "
                           "or the iteration overflowed)", FN, (int)inf->iterations, A->name);
        rho_old = rho;
        if (omega == 0) { /* stagnation: β would divide by ω */
            fresh = 1;
            inf->restarts++;
        }
    }
    if (!r_is_true) SS_TRY(true_residual(&rnorm, r, v, A, x, b));
    inf->residual = rnorm;
    if (inf->converged) return SS_OK;
    if (stalls >= STALLS)
        return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence: after %d iterations the true residual |b - A x| "
                       "stagnates at %.4g > max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s' (the "
                       "float32 accuracy of A x limits it; loosen the tolerance); x holds the last iterate", FN,
                       (int)inf->iterations, rnorm, o->tol, bnorm, o->abs_tol, A->name);
    return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence in %d iterations (%d restarts): |b - A x| = %.4g > "
                   "max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s'; x holds the last iterate", FN,
                   (int)inf->iterations, (int)inf->restarts, rnorm, o->tol, bnorm, o->abs_tol, A->name);
}

int ss_bicgstab_solve(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *opts,
                      ss_solve_info *info)
{
    ss_solve_info inf = {0};
    if (info) *info = inf;
    ss_solve_opts o = {1e-6, 0.0, 1000, 0}; /* the defaults for opts = NULL */
    SS_TRY(solve_check(FN, x, A, b, opts, &o));
    work w = {0};
    ss_tensor **ws[] = {&w.r, &w.rhat, &w.p, &w.v, &w.t};
    int rc = SS_OK;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0] && rc == SS_OK; i++) {
        *ws[i] = ss_tensor_empty(b->ndim, b->shape, b->device);
        if (!*ws[i]) rc = ss_last_status();
    }
    if (rc == SS_OK) rc = bicgstab_run(x, A, b, &o, &inf, &w);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) ss_tensor_free(*ws[i]);
    if (info) *info = inf;
    return rc;
}
