/* bicgstab.c — unpreconditioned BiCGSTAB (van der Vorst 1992), matrix-free on
 * an ss_linop, as the osmosis reference code runs it: restart with r̂₀ ← r,
 * p ← r when <r̂₀, r> nearly vanishes, stop on ‖r‖₂ <= max(tol·‖b‖₂, abs_tol).
 *
 * Vectors are whole float32 tensors. Each iteration makes five fused passes
 * over them (see "fused vector passes"): every update computes the inner
 * products that follow it in the same pass, in double, in fixed blocks and
 * lanes, so results do not depend on the thread count. The solve allocates its
 * five work tensors once. The updated residual drifts from the true one in
 * float32, so when it passes the stopping rule the true residual b − A x is
 * computed (one extra operator application) and decides; if it fails, the
 * iteration restarts from it, and gives up with SS_ERR_NOTCONV when that
 * repeats without progress (a tolerance float32 cannot reach). Vectors on the
 * GPU run the same iteration, each pass one kernel (kernels/krylov.cu) whose
 * sums come back to the host. */
#include "core/internal.h"
#include "kernels/krylov.h"
#include "core/par.h"
#include "solvers/solve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Near-breakdown threshold: |<r̂₀, r>| < BREAKDOWN·‖r̂₀‖‖r‖ restarts. */
#define BREAKDOWN 1e-12
/* Give up (SS_ERR_NOTCONV) after this many restarts from a true residual that
 * did not halve since the previous one: the tolerance is below what float32
 * can reach for this system. */
#define STALLS 5

static const char *const FN = "ss_bicgstab_solve";


/* ------------------------------------------------------------ fused vector passes */

/* Each iteration makes five passes over the vectors, each fusing its updates
 * with the inner products that follow them (the kinds are enum ss_krylov_pass,
 * shared with the GPU's passes). Sums run in double over fixed
 * blocks of BLOCK elements (SS_LANE_SUM lanes inside a block, block sums added
 * in order), so they do not depend on the thread count; the blocks run in
 * parallel only above SS_PAR_MIN elements. */
#define BLOCK 8192

typedef struct vpass {
    int kind;
    int64_t n;
    float *x, *r, *p;
    const float *b, *rhat, *v, *t;
    float alpha, omega, beta;
    double *part; /* two sums per block */
} vpass;

#define T_NORM(k, a, l) a[0][l] += (double)b[k] * b[k]
#define T_RES(k, a, l)                      \
    do {                                    \
        const float rv_ = b[k] - v[k];      \
        r[k] = rv_;                         \
        a[0][l] += (double)rv_ * rv_;       \
    } while (0)
#define T_DOT(k, a, l) a[0][l] += (double)rhat[k] * r[k]
#define T_VV(k, a, l)                       \
    do {                                    \
        const double vd_ = v[k];            \
        a[0][l] += rhat[k] * vd_;           \
        a[1][l] += vd_ * vd_;               \
    } while (0)
#define T_S(k, a, l)                        \
    do {                                    \
        const float sv_ = r[k] - al * v[k]; \
        r[k] = sv_;                         \
        a[0][l] += (double)sv_ * sv_;       \
    } while (0)
#define T_TS(k, a, l)                       \
    do {                                    \
        const double td_ = t[k];            \
        a[0][l] += td_ * r[k];              \
        a[1][l] += td_ * td_;               \
    } while (0)
#define T_XR(k, a, l)                               \
    do {                                            \
        const float sv_ = r[k];                     \
        x[k] = (x[k] + al * p[k]) + om * sv_;       \
        const float rv_ = sv_ - om * t[k];          \
        r[k] = rv_;                                 \
        a[0][l] += (double)rv_ * rv_;               \
        a[1][l] += rhat[k] * (double)rv_;           \
    } while (0)
#define T_XR0(k, a, l)                              \
    do {                                            \
        const float sv_ = r[k];                     \
        x[k] = x[k] + al * p[k];                    \
        const float rv_ = sv_ - om * t[k];          \
        r[k] = rv_;                                 \
        a[0][l] += (double)rv_ * rv_;               \
        a[1][l] += rhat[k] * (double)rv_;           \
    } while (0)

/* Elements [i0, i1) of one pass; the vectors are distinct (restrict). */
static void pass_block(int kind, float *restrict x, float *restrict r, float *restrict p, const float *restrict b,
                       const float *restrict rhat, const float *restrict v, const float *restrict t, float al,
                       float om, float be, int64_t i0, int64_t i1, double *restrict out)
{
    out[0] = out[1] = 0.0;
    switch (kind) {
    case SS_KRYLOV_NORM: SS_LANE_SUM(1, i0, i1, out, T_NORM); break;
    case SS_KRYLOV_RES: SS_LANE_SUM(1, i0, i1, out, T_RES); break;
    case SS_KRYLOV_DOT: SS_LANE_SUM(1, i0, i1, out, T_DOT); break;
    case SS_KRYLOV_P:
        for (int64_t k = i0; k < i1; k++) p[k] = r[k] + be * (p[k] - om * v[k]);
        break;
    case SS_KRYLOV_VV: SS_LANE_SUM(2, i0, i1, out, T_VV); break;
    case SS_KRYLOV_S: SS_LANE_SUM(1, i0, i1, out, T_S); break;
    case SS_KRYLOV_TS: SS_LANE_SUM(2, i0, i1, out, T_TS); break;
    case SS_KRYLOV_XR: SS_LANE_SUM(2, i0, i1, out, T_XR); break;
    case SS_KRYLOV_XR0: SS_LANE_SUM(2, i0, i1, out, T_XR0); break;
    default:
        for (int64_t k = i0; k < i1; k++) x[k] = x[k] + al * p[k];
        break;
    }
}

static void vpass_blocks(void *ctx, int64_t lo, int64_t hi)
{
    const vpass *q = ctx;
    for (int64_t blk = lo; blk < hi; blk++) {
        const int64_t i0 = blk * BLOCK, i1 = i0 + BLOCK < q->n ? i0 + BLOCK : q->n;
        pass_block(q->kind, q->x, q->r, q->p, q->b, q->rhat, q->v, q->t, q->alpha, q->omega, q->beta, i0, i1,
                   q->part + 2 * blk);
    }
}

typedef struct work {
    ss_tensor *r, *rhat, *p, *v, *t;
    double *part; /* 2 per block of the vectors */
} work;

/* One pass of `kind`; its sums (two at most) in sums[]. */
static int vpass_run(const work *w, int kind, ss_tensor *x, const ss_tensor *b, float alpha, float omega, float beta,
                     double sums[2])
{
    const int64_t n = ss_tensor_numel(w->r), nb = (n + BLOCK - 1) / BLOCK;
    vpass q = {kind, n, x ? x->data : NULL, w->r->data, w->p->data, b ? b->data : NULL, w->rhat->data,
               w->v->data, w->t->data, alpha, omega, beta, w->part};
    if (w->r->device == SS_CUDA) {
        double dev_sums[2] = {0, 0};
        SS_TRY(SS_CUDA_CALL(FN, ss_cuda_krylov_pass_forward(dev_sums, kind, n, q.x, q.r, q.p, q.b, q.rhat, q.v, q.t,
                                                            alpha, omega, beta)));
        if (sums) sums[0] = dev_sums[0], sums[1] = dev_sums[1];
        return SS_OK;
    }
    ss_par_ranges(nb, n > SS_PAR_MIN, vpass_blocks, &q);
    double s0 = 0, s1 = 0;
    for (int64_t blk = 0; blk < nb; blk++) s0 += w->part[2 * blk], s1 += w->part[2 * blk + 1];
    if (sums) sums[0] = s0, sums[1] = s1;
    return SS_OK;
}

/* r = b − A x (v: A x) and its norm. */
static int true_residual(double *nrm, const work *w, const ss_linop *A, ss_tensor *x, const ss_tensor *b)
{
    SS_TRY(ss_linop_apply(A, w->v, x));
    double s[2];
    SS_TRY(vpass_run(w, SS_KRYLOV_RES, x, b, 0, 0, 0, s));
    *nrm = sqrt(s[0]);
    return SS_OK;
}

static int bicgstab_run(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *o, ss_solve_info *inf,
                        work *w)
{
    ss_tensor *r = w->r, *rhat = w->rhat, *p = w->p, *v = w->v, *t = w->t;
    double bnorm, rnorm, sums[2];
    SS_TRY(vpass_run(w, SS_KRYLOV_NORM, x, b, 0, 0, 0, sums));
    bnorm = sqrt(sums[0]);
    const double thr = fmax(o->tol * bnorm, o->abs_tol);
    if (o->warm_start) {
        SS_TRY(true_residual(&rnorm, w, A, x, b));
    } else {
        SS_TRY(ss_tensor_fill(x, 0.0f));
        SS_TRY(ss_tensor_copy(r, b));
        rnorm = bnorm;
    }
    if (!isfinite(rnorm))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: the initial residual b - A x is not finite (operator '%s' gave NaN/Inf)",
                       FN, ss_linop_name(A));
    inf->initial_residual = inf->residual = rnorm;

    double rho_old = 1, alpha = 1, omega = 1, rhat_norm = 0;
    double rho_next = 0; /* <r̂₀, r> from the pass that made r, when rho_ok */
    int rho_ok = 0;
    int fresh = 1;        /* p <- r next (start or restart): r̂₀ is set from r then */
    int r_is_true = 1;    /* r is the true residual b − A x, not an updated one */
    double best_false = INFINITY;
    int stalls = 0;
    for (;;) {
        SS_TRY(ss_interrupt_check());
        if (rnorm <= thr) {
            if (r_is_true) {
                inf->converged = 1;
                break;
            }
            SS_TRY(true_residual(&rnorm, w, A, x, b)); /* the updated residual may have drifted */
            rho_ok = 0;
            r_is_true = 1;
            if (!isfinite(rnorm))
                return SS_FAIL(SS_ERR_NUMERIC, "%s: the residual b - A x became NaN/Inf at iteration %d "
                               "(operator '%s')", FN, (int)inf->iterations, ss_linop_name(A));
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
            if (rho_ok) {
                rho = rho_next;
            } else {
                SS_TRY(vpass_run(w, SS_KRYLOV_DOT, x, b, 0, 0, 0, sums));
                rho = sums[0];
            }
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
            SS_TRY(vpass_run(w, SS_KRYLOV_P, x, b, 0, (float)omega, (float)beta, NULL));
        }
        SS_TRY(ss_linop_apply(A, v, p));
        double rv, vnorm;
        SS_TRY(vpass_run(w, SS_KRYLOV_VV, x, b, 0, 0, 0, sums));
        rv = sums[0], vnorm = sqrt(sums[1]);
        if (!isfinite(rv) || !isfinite(vnorm) || !isfinite(rho))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at iteration %d (operator '%s' gave a non-finite value, "
                           "or the iteration overflowed)", FN, (int)inf->iterations, ss_linop_name(A));
        if (!(fabs(rv) > BREAKDOWN * rhat_norm * vnorm)) { /* <r̂₀, A p> vanishes: α undefined */
            if (fresh)
                return SS_FAIL(SS_ERR_NUMERIC, "%s: breakdown at iteration %d: <r, A r> = %.3g is 0 relative to "
                               "|r|*|A r| = %.3g even after a restart (operator '%s' is skew or indefinite along "
                               "the residual); |r| = %.3g", FN, (int)inf->iterations, rv, rhat_norm * vnorm,
                               ss_linop_name(A), rnorm);
            fresh = 1;
            inf->restarts++;
            continue;
        }
        fresh = 0;
        alpha = rho / rv;
        SS_TRY(vpass_run(w, SS_KRYLOV_S, x, b, (float)alpha, 0, 0, sums)); /* s = r − α v, kept in r */
        rho_ok = 0;
        const double snorm = sqrt(sums[0]);
        inf->iterations++;
        r_is_true = 0;
        if (snorm <= thr) { /* converged at the half step */
            SS_TRY(vpass_run(w, SS_KRYLOV_X, x, b, (float)alpha, 0, 0, NULL));
            rnorm = snorm;
            continue;
        }
        SS_TRY(ss_linop_apply(A, t, r));
        SS_TRY(vpass_run(w, SS_KRYLOV_TS, x, b, 0, 0, 0, sums));
        const double ts = sums[0], tt = sums[1];
        omega = tt > 0 ? ts / tt : 0.0;
        /* x = x + α p + ω s, r = s − ω t, with ‖r‖ and the next <r̂₀, r> */
        SS_TRY(vpass_run(w, omega != 0 ? SS_KRYLOV_XR : SS_KRYLOV_XR0, x, b, (float)alpha, (float)omega, 0, sums));
        rnorm = sqrt(sums[0]);
        rho_next = sums[1], rho_ok = 1;
        if (!isfinite(rnorm) || !isfinite(omega))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at iteration %d (operator '%s' gave a non-finite value, "
                           "or the iteration overflowed)", FN, (int)inf->iterations, ss_linop_name(A));
        rho_old = rho;
        if (omega == 0) { /* stagnation: β would divide by ω */
            fresh = 1;
            inf->restarts++;
        }
    }
    if (!r_is_true) SS_TRY(true_residual(&rnorm, w, A, x, b));
    inf->residual = rnorm;
    if (inf->converged) return SS_OK;
    if (stalls >= STALLS)
        return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence: after %d iterations the true residual |b - A x| "
                       "stagnates at %.4g > max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s' (the "
                       "float32 accuracy of A x limits it; loosen the tolerance); x holds the last iterate", FN,
                       (int)inf->iterations, rnorm, o->tol, bnorm, o->abs_tol, ss_linop_name(A));
    return SS_FAIL(SS_ERR_NOTCONV, "%s: no convergence in %d iterations (%d restarts): |b - A x| = %.4g > "
                   "max(tol*|b|, abs_tol) = max(%.3g*%.4g, %.3g) for operator '%s'; x holds the last iterate", FN,
                   (int)inf->iterations, (int)inf->restarts, rnorm, o->tol, bnorm, o->abs_tol, ss_linop_name(A));
}

int ss_bicgstab_solve(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *opts,
                      ss_solve_info *info)
{
    ss_solve_info inf = {0};
    if (info) *info = inf;
    ss_solve_opts o = {1e-6, 0.0, 1000, 0}; /* the defaults for opts = NULL */
    SS_TRY(ss_solve_check(FN, x, A, b, opts, &o));
    work w = {0};
    ss_tensor **ws[] = {&w.r, &w.rhat, &w.p, &w.v, &w.t};
    int rc = SS_OK;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0] && rc == SS_OK; i++) {
        *ws[i] = ss_tensor_empty(b->ndim, b->shape, b->device);
        if (!*ws[i]) rc = ss_last_status();
    }
    const int64_t nb = (ss_tensor_numel(b) + BLOCK - 1) / BLOCK;
    double stack[2 * 16];
    if (rc == SS_OK) {
        w.part = nb <= 16 ? stack : malloc(sizeof(double) * 2 * (size_t)nb);
        if (!w.part) rc = SS_FAIL(SS_ERR_NOMEM, "%s: out of memory for %lld block sums", FN, (long long)nb);
    }
    if (rc == SS_OK) rc = bicgstab_run(x, A, b, &o, &inf, &w);
    if (w.part != stack) free(w.part);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) ss_tensor_free(*ws[i]);
    if (info) *info = inf;
    return rc;
}
