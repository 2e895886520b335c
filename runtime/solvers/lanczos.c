/* lanczos.c — f(A) v for symmetric A by the Lanczos process, and the power
 * iteration for λ_max.
 *
 * k steps of the three-term recurrence build an orthonormal basis V_k of the
 * Krylov space of (A, v) and the tridiagonal T_k = V_kᵀ A V_k (α on the
 * diagonal, β beside it), so f(A) v ≈ ‖v‖ V_k f(T_k) e₁. f(T_k) comes from the
 * eigendecomposition T_k = Q Λ Qᵀ (LAPACKE_dstev, double), f applied to the
 * Ritz values Λ. This is how Scale Space Diffusion draws (I − ρMᵀM)^{1/2} ε
 * (40 steps, no re-orthogonalisation). The basis is stored: k + 1 tensors of
 * v's size (the last one is the scratch of the final step). Without
 * re-orthogonalisation the basis loses orthogonality once Ritz values
 * converge; f(T_k) e₁ stays accurate for smooth f (Greenbaum's backward
 * stability), and reorth = 1 restores it at O(k²·numel) extra cost. */
#include "core/device.h"
#include "solvers/solve.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const FN = "ss_lanczos_apply";

/* β_{j+1} <= BREAKDOWN·‖T_j‖: the Krylov space is invariant up to float32
 * rounding, stop. A q is computed in float32, so w = A q − α q − β q' carries
 * rounding noise of about 1e-7·‖A‖ even when the exact w is 0 (e.g. A = I):
 * a smaller β is noise, and the basis vector it would give is noise too. */
#define BREAKDOWN 1e-6
/* Ritz values within NEG_TOL·max|θ| below zero count as 0 for SQRT: the
 * operator's float32 output carries rounding of about 1e-7 of its size. */
#define NEG_TOL 1e-6

static int lanczos_check(const ss_tensor *out, const ss_linop *A, const ss_tensor *v, int fn, int32_t k,
                         double (*custom)(void *, double))
{
    SS_TRY(ss_operand_check(FN, A, out, "out", v, "v"));
    if (fn < SS_LANCZOS_SQRT || fn > SS_LANCZOS_CUSTOM)
        return SS_FAIL(SS_ERR_ARG, "%s: unknown function %d (0 sqrt, 1 invsqrt, 2 exp, 3 custom)", FN, fn);
    if (fn == SS_LANCZOS_CUSTOM && !custom)
        return SS_FAIL(SS_ERR_ARG, "%s: fn = SS_LANCZOS_CUSTOM needs a custom function, got NULL", FN);
    if (k < 1) return SS_FAIL(SS_ERR_ARG, "%s: the number of Lanczos steps k must be >= 1, got %d", FN, (int)k);
    return ss_tensor_check_finite(v, "ss_lanczos_apply: v");
}

/* f(θ) for one Ritz value; theta_max = max|θ| sets the tolerance. */
static int ritz_f(double *f, double theta, double theta_max, int fn, double (*custom)(void *, double), void *ctx)
{
    const double tiny = NEG_TOL * theta_max;
    switch (fn) {
    case SS_LANCZOS_SQRT:
        if (theta < -tiny)
            return SS_FAIL(SS_ERR_NUMERIC, "%s: sqrt of a negative Ritz value %.6g (largest |value| %.6g): the "
                           "operator is not positive semidefinite", FN, theta, theta_max);
        *f = theta > 0 ? sqrt(theta) : 0.0;
        return SS_OK;
    case SS_LANCZOS_INVSQRT:
        if (!(theta > tiny))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: invsqrt of a Ritz value %.6g that is not positive (largest |value| "
                           "%.6g): the operator is not positive definite", FN, theta, theta_max);
        *f = 1.0 / sqrt(theta);
        return SS_OK;
    case SS_LANCZOS_EXP: *f = exp(theta); break;
    default: *f = custom(ctx, theta); break;
    }
    if (!isfinite(*f))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: %s(%.6g) = %g is not finite", FN, fn == SS_LANCZOS_EXP ? "exp" : "custom f",
                       theta, *f);
    return SS_OK;
}

/* The Lanczos recurrence into q[0..m] (q[0] = v/‖v‖ on entry), alpha[0..),
 * beta[1..); *steps the number of columns of T. */
static int lanczos_run(ss_tensor **q, double *alpha, double *beta, int32_t m, int reorth, const ss_linop *A,
                       int32_t *steps)
{
    double tnorm = 0;
    for (int32_t j = 0; j < m; j++) {
        ss_tensor *w = q[j + 1];
        double a, b;
        SS_TRY(ss_interrupt_check());
        SS_TRY(ss_linop_apply(A, w, q[j]));
        SS_TRY(ss_dot(&a, q[j], w));
        SS_TRY(ss_axpby(w, 1.0f, w, (float)-a, q[j]));
        if (j > 0) SS_TRY(ss_axpby(w, 1.0f, w, (float)-beta[j], q[j - 1]));
        for (int pass = 0; reorth && pass < 2; pass++)
            for (int32_t i = 0; i <= j; i++) {
                double c;
                SS_TRY(ss_dot(&c, q[i], w));
                SS_TRY(ss_axpby(w, 1.0f, w, (float)-c, q[i]));
            }
        SS_TRY(ss_dot(&b, w, w));
        b = sqrt(b);
        if (!isfinite(a) || !isfinite(b))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at Lanczos step %d (operator '%s' gave a non-finite value)",
                           FN, (int)j + 1, ss_linop_name(A));
        alpha[j] = a;
        *steps = j + 1;
        tnorm = fmax(tnorm, fabs(a) + b + (j > 0 ? beta[j] : 0.0));
        if (j == m - 1 || b <= BREAKDOWN * tnorm) break; /* done, or an invariant subspace */
        beta[j + 1] = b;
        SS_TRY(ss_affine(w, w, (float)(1.0 / b), 0.0f));
    }
    return SS_OK;
}

/* out = ‖v‖ V f(T) e₁ from the m x m tridiagonal T. */
static int lanczos_finish(ss_tensor *out, ss_tensor **q, double *alpha, double *beta, int32_t m, double vnorm, int fn,
                          double (*custom)(void *, double), void *ctx)
{
    double *z = malloc(sizeof(double) * (size_t)m * (size_t)m), *e = malloc(sizeof(double) * (size_t)m);
    int rc = z && e ? SS_OK : SS_FAIL(SS_ERR_NOMEM, "%s: out of memory for a %d-step tridiagonal", FN, (int)m);
    if (rc == SS_OK) {
        for (int32_t j = 0; j + 1 < m; j++) e[j] = beta[j + 1];
        lapack_int info = LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', m, alpha, e, z, m);
        if (info != 0)
            rc = SS_FAIL(SS_ERR_NUMERIC, "%s: LAPACKE_dstev failed on the %d x %d tridiagonal (info %d)", FN, (int)m,
                         (int)m, (int)info);
    }
    double theta_max = 0;
    for (int32_t i = 0; rc == SS_OK && i < m; i++) theta_max = fmax(theta_max, fabs(alpha[i]));
    /* alpha now holds the Ritz values; e becomes the weights f(θ_i)·Q[0,i]. */
    for (int32_t i = 0; rc == SS_OK && i < m; i++) {
        double f = 0;
        rc = ritz_f(&f, alpha[i], theta_max, fn, custom, ctx);
        e[i] = f * z[(size_t)i * (size_t)m];
    }
    for (int32_t j = 0; rc == SS_OK && j < m; j++) {
        double y = 0; /* (Q f(Λ) Qᵀ e₁)_j */
        for (int32_t i = 0; i < m; i++) y += z[(size_t)i * (size_t)m + (size_t)j] * e[i];
        y *= vnorm;
        rc = j == 0 ? ss_affine(out, q[0], (float)y, 0.0f) : ss_axpby(out, 1.0f, out, (float)y, q[j]);
    }
    free(z);
    free(e);
    return rc;
}

int ss_lanczos_apply(ss_tensor *out, const ss_linop *A, const ss_tensor *v, int fn, int32_t k, int32_t reorth,
                     double (*custom)(void *ctx, double lambda), void *custom_ctx, int32_t *steps_done)
{
    if (steps_done) *steps_done = 0;
    SS_TRY(lanczos_check(out, A, v, fn, k, custom));
    double vnorm;
    SS_TRY(ss_dot(&vnorm, v, v));
    vnorm = sqrt(vnorm);
    if (vnorm == 0) return ss_tensor_fill(out, 0.0f); /* f(A) 0 = 0 */
    if (isinf((float)(1.0 / vnorm)))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: |v| = %g is too small to normalise in float32; scale v up", FN, vnorm);
    int64_t n = ss_tensor_numel(v);
    int32_t m = (int64_t)k > n ? (int32_t)n : k;
    ss_tensor **q = calloc((size_t)m + 1, sizeof *q);
    double *alpha = malloc(sizeof(double) * (size_t)m), *beta = calloc((size_t)m + 1, sizeof(double));
    int rc = q && alpha && beta ? SS_OK : SS_FAIL(SS_ERR_NOMEM, "%s: out of memory for %d Lanczos steps", FN, (int)m);
    for (int32_t j = 0; rc == SS_OK && j <= m; j++)
        if (!(q[j] = ss_tensor_empty(v->ndim, v->shape, v->device))) rc = ss_last_status();
    int32_t steps = 0;
    if (rc == SS_OK) rc = ss_affine(q[0], v, (float)(1.0 / vnorm), 0.0f);
    if (rc == SS_OK) rc = lanczos_run(q, alpha, beta, m, reorth != 0, A, &steps);
    if (rc == SS_OK) rc = lanczos_finish(out, q, alpha, beta, steps, vnorm, fn, custom, custom_ctx);
    if (rc == SS_OK && steps_done) *steps_done = steps;
    for (int32_t j = 0; q && j <= m; j++) ss_tensor_free(q[j]);
    free(q);
    free(alpha);
    free(beta);
    return rc;
}

int ss_power_iteration(double *lambda_max, const ss_linop *A, int32_t iterations, uint64_t seed)
{
    const int dev = ss_linop_device(A); /* where A's data lives; the CPU when it holds none */
    return ss_power_iteration_on(lambda_max, A, iterations, seed, dev == SS_LINOP_NO_DEVICE ? SS_CPU : dev);
}

int ss_power_iteration_on(double *lambda_max, const ss_linop *A, int32_t iterations, uint64_t seed, int device)
{
    static const char *const PFN = "ss_power_iteration";
    if (!lambda_max) return SS_FAIL(SS_ERR_ARG, "%s: lambda_max is NULL", PFN);
    SS_TRY(ss_square_op_check(PFN, A));
    if (iterations < 1) return SS_FAIL(SS_ERR_ARG, "%s: iterations must be >= 1, got %d", PFN, (int)iterations);
    int64_t s[4];
    SS_TRY(ss_linop_size(A, s));
    int64_t shape[4] = {1, 1, s[0], s[1]};
    /* The start is drawn on the CPU: the same on every device. */
    ss_tensor *x = ss_tensor_empty(4, shape, SS_CPU), *y = x ? ss_tensor_empty(4, shape, device) : NULL;
    int rc = y ? SS_OK : ss_last_status();
    ss_rng g;
    double nrm = 0, lam = 0;
    if (rc == SS_OK) rc = ss_rng_init(&g, seed);
    if (rc == SS_OK) rc = ss_rng_normal(&g, x, 0.0f, 1.0f);
    if (rc == SS_OK) rc = ss_tensor_move(&x, device);
    if (rc == SS_OK) rc = ss_dot(&nrm, x, x);
    if (rc == SS_OK) rc = ss_affine(x, x, (float)(1.0 / sqrt(nrm)), 0.0f);
    for (int32_t it = 0; rc == SS_OK && it < iterations; it++) {
        rc = ss_linop_apply(A, y, x);
        if (rc == SS_OK) rc = ss_dot(&lam, x, y); /* Rayleigh quotient, ‖x‖ = 1 */
        if (rc == SS_OK) rc = ss_dot(&nrm, y, y);
        if (rc != SS_OK) break;
        if (!isfinite(lam) || !isfinite(nrm)) {
            rc = SS_FAIL(SS_ERR_NUMERIC, "%s: NaN/Inf at iteration %d (operator '%s' gave a non-finite value)", PFN,
                         (int)it + 1, ss_linop_name(A));
            break;
        }
        if (nrm == 0) break; /* A x = 0: λ = 0 along x, nothing left to iterate */
        rc = ss_affine(x, y, (float)(1.0 / sqrt(nrm)), 0.0f);
    }
    if (rc == SS_OK) *lambda_max = lam;
    ss_tensor_free(x);
    ss_tensor_free(y);
    return rc;
}
