/* test_solvers.c — BiCGSTAB, CG, Lanczos f(A)v and the power iteration.
 *
 * Reference fixtures (tests/reference/solvers/<name>.ssfx, from make_solver_fixtures.py:
 * numpy.linalg.solve and eigh on dense matrices) are wrapped here as ss_linop
 * callbacks that multiply in double: BiCGSTAB and CG solutions match the dense
 * solve to 1e-5 relative; the stopping rule, warm starts, SS_ERR_NOTCONV,
 * restarts and breakdowns behave as documented; Lanczos sqrt/invsqrt/exp and a
 * custom f match the dense eigendecomposition (the error against k is printed);
 * Scale Space Diffusion's (I − ρMᵀM)^{1/2} v matches a dense reference built
 * here from the resize operator (Jacobi eigendecomposition in double); bad
 * arguments fail with a message. The seed is printed; SS_TEST_SEED=<n> reruns
 * with another one (it drives the random vectors drawn here, not the fixtures). */
#include "check.h"
#include "fixture.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t seed = 20240612u;
static ss_rng rng;

/* Expects a failure with status `code` whose message names both needles. */
#define CHECK_FAILS_CODE(call, code, n1, n2)                                                 \
    do {                                                                                     \
        int rc2_ = (call);                                                                   \
        CHECK(rc2_ == (code), "%s returned %d, expected %d (%s)", #call, rc2_, (code),        \
              ss_last_error());                                                              \
        CHECK(strstr(ss_last_error(), (n1)) && strstr(ss_last_error(), (n2)),                \
              "%s: message \"%s\" lacks \"%s\" or \"%s\"", #call, ss_last_error(), (n1), (n2)); \
    } while (0)

static ss_tensor *empty_like(const ss_tensor *t)
{
    return need(ss_tensor_empty(t->ndim, t->shape, SS_CPU), "a tensor");
}

static ss_tensor *randn(int ndim, const int64_t *shape)
{
    ss_tensor *t = need(ss_tensor_empty(ndim, shape, SS_CPU), "a tensor");
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, 1.0f));
    return t;
}

/* ‖a − b‖₂ / ‖b‖₂ in double. */
static double rel_err(const ss_tensor *a, const ss_tensor *b)
{
    if (!ss_tensor_same_shape(a, b)) return INFINITY;
    double num = 0, den = 0;
    for (int64_t i = 0, n = ss_tensor_numel(b); i < n; i++) {
        double d = (double)a->data[i] - (double)b->data[i];
        num += d * d;
        den += (double)b->data[i] * b->data[i];
    }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1.0);
}

static double elapsed_ms(struct timespec t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
}

/* ------------------------------------------------------------ test operators */

/* A dense n x n matrix (row-major, double) applied to each n-pixel image. */
typedef struct dense_ctx {
    int64_t n;
    double *a;
} dense_ctx;

static int dense_run(const dense_ctx *c, ss_tensor *out, const ss_tensor *in, int transpose)
{
    int64_t n = c->n, nb = ss_tensor_numel(in) / n;
    for (int64_t b = 0; b < nb; b++) {
        const float *x = in->data + b * n;
        float *y = out->data + b * n;
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) s += (transpose ? c->a[k * n + i] : c->a[i * n + k]) * x[k];
            y[i] = (float)s;
        }
    }
    return SS_OK;
}

static int dense_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return dense_run(ctx, out, in, 0); }
static int dense_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return dense_run(ctx, out, in, 1); }

/* c X + Q1 (d ⊙ (P1ᵀ X P2)) Q2ᵀ on 16 x 16 images: the dense (Q1⊗Q2) diag(d) (P1⊗P2)ᵀ + cI. */
typedef struct kron_ctx {
    double q1[256], q2[256], p1[256], p2[256], d[256], c;
} kron_ctx;

/* y = c x + L1 (d ⊙ (R1ᵀ x R2)) L2ᵀ for one 16 x 16 image. */
static void kron_image(float *y, const float *x, const double *l1, const double *l2, const double *r1,
                       const double *r2, const double *d, double c)
{
    double t1[256], t2[256];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            double s = 0;
            for (int k = 0; k < 16; k++) s += r1[k * 16 + i] * x[k * 16 + j];
            t1[i * 16 + j] = s;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            double s = 0;
            for (int k = 0; k < 16; k++) s += t1[i * 16 + k] * r2[k * 16 + j];
            t2[i * 16 + j] = s * d[i * 16 + j];
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            double s = 0;
            for (int k = 0; k < 16; k++) s += l1[i * 16 + k] * t2[k * 16 + j];
            t1[i * 16 + j] = s;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            double s = c * x[i * 16 + j];
            for (int k = 0; k < 16; k++) s += t1[i * 16 + k] * l2[j * 16 + k];
            y[i * 16 + j] = (float)s;
        }
}

static int kron_run(const kron_ctx *c, ss_tensor *out, const ss_tensor *in, int transpose)
{
    for (int64_t b = 0, nb = ss_tensor_numel(in) / 256; b < nb; b++) {
        if (transpose) kron_image(out->data + b * 256, in->data + b * 256, c->p1, c->p2, c->q1, c->q2, c->d, c->c);
        else kron_image(out->data + b * 256, in->data + b * 256, c->q1, c->q2, c->p1, c->p2, c->d, c->c);
    }
    return SS_OK;
}

static int kron_apply(void *ctx, ss_tensor *out, const ss_tensor *in) { return kron_run(ctx, out, in, 0); }
static int kron_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in) { return kron_run(ctx, out, in, 1); }

/* Rotation by 90° of each pixel pair: skew-symmetric, <x, A x> = 0 for all x. */
static int skew_apply(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    for (int64_t i = 0, n = ss_tensor_numel(in); i + 1 < n; i += 2) {
        float a = in->data[i], b = in->data[i + 1];
        out->data[i] = b;
        out->data[i + 1] = -a;
    }
    return SS_OK;
}

static int skew_adjoint(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    for (int64_t i = 0, n = ss_tensor_numel(in); i + 1 < n; i += 2) {
        float a = in->data[i], b = in->data[i + 1];
        out->data[i] = -b;
        out->data[i + 1] = a;
    }
    return SS_OK;
}

/* Identity, except that it writes a NaN into pixel 3. */
static int nan_apply(void *ctx, ss_tensor *out, const ss_tensor *in)
{
    int rc = ss_tensor_copy(out, in);
    out->data[3] = NAN;
    return rc;
}

/* A dense operator from fixture array "<case>.A"; ctx must stay alive. */
static ss_linop *dense_op(const fixture *fx, const char *c, dense_ctx *ctx, int64_t h, int64_t w)
{
    char name[160];
    snprintf(name, sizeof name, "%s.A", c);
    const fixture_array *a = fixture_find(fx, name);
    if (!a || a->ndim != 2 || a->shape[0] != h * w || a->shape[1] != h * w) {
        CHECK(0, "%s: no (%lld,%lld) matrix A in the fixture", c, (long long)(h * w), (long long)(h * w));
        return NULL;
    }
    ctx->n = h * w;
    ctx->a = malloc(sizeof(double) * (size_t)(h * w * h * w));
    for (int64_t i = 0; i < a->numel; i++) ctx->a[i] = a->data[i];
    return ss_linop_new(dense_apply, dense_adjoint, ctx, h, w, h, w, c);
}

static ss_linop *kron_op(const fixture *fx, const char *c, kron_ctx *ctx)
{
    static const char *roles[] = {"q1", "q2", "p1", "p2", "d", "c"};
    double *dst[] = {ctx->q1, ctx->q2, ctx->p1, ctx->p2, ctx->d, &ctx->c};
    for (int r = 0; r < 6; r++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s", c, roles[r]);
        const fixture_array *a = fixture_find(fx, name);
        if (!a || a->numel != (r == 5 ? 1 : 256)) {
            CHECK(0, "%s: fixture array %s missing or of the wrong size", c, name);
            return NULL;
        }
        for (int64_t i = 0; i < a->numel; i++) dst[r][i] = a->data[i];
    }
    return ss_linop_new(kron_apply, kron_adjoint, ctx, 16, 16, 16, 16, c);
}

static ss_linop *fixture_op(const fixture *fx, const char *c, dense_ctx *dc, kron_ctx *kc)
{
    return strstr(c, "dense12") ? dense_op(fx, c, dc, 12, 12) : kron_op(fx, c, kc);
}

/* ------------------------------------------------------------ linear solves */

typedef int (*solver_fn)(ss_tensor *, const ss_linop *, const ss_tensor *, const ss_solve_opts *, ss_solve_info *);

/* One fixture system: solve, compare, warm start, iteration cap. */
static void solve_case(const fixture *fx, const char *c, const char *sname, solver_fn solve, double tol)
{
    dense_ctx dc = {0};
    kron_ctx *kc = calloc(1, sizeof *kc);
    ss_linop *A = fixture_op(fx, c, &dc, kc);
    ss_tensor *b = fixture_get(fx, c, "b"), *want = fixture_get(fx, c, "x");
    CHECK(A && b && want, "%s: fixture arrays missing", c);
    if (!A || !b || !want) goto done;
    double err, dt;
    ss_tensor *x = empty_like(b);
    ss_solve_opts o = {tol, 0.0, 500, 0};
    ss_solve_info info;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(solve(x, A, b, &o, &info));
    dt = elapsed_ms(t0);
    err = rel_err(x, want);
    double bnorm = info.initial_residual; /* cold start: ‖b‖ */
    printf("  %-6s %-14s tol %.0e: %3d iterations, %d restarts, |r|/|b| = %.2e (initial %.3g), "
           "|x - x_ref|/|x_ref| = %.2e  (%.1f ms)\n", sname, c, tol, info.iterations, info.restarts,
           info.residual / info.initial_residual, info.initial_residual, err, dt);
    CHECK(info.converged == 1 && info.residual <= tol * info.initial_residual, "%s: info says converged %d, "
          "residual %.3g", c, info.converged, info.residual);
    CHECK(err <= 1e-5, "%s %s: relative error %.3g > 1e-5 against numpy.linalg.solve", sname, c, err);

    /* Warm start from the computed solution: nothing to do. */
    o.warm_start = 1;
    CHECK_OK(solve(x, A, b, &o, &info));
    CHECK(info.iterations == 0 && info.converged == 1, "%s warm start from the solution: %d iterations, converged %d",
          c, info.iterations, info.converged);
    /* Warm start from the reference solution (float32-rounded, so its residual
     * is ~1e-7·cond relative: tested at tol 1e-5). */
    ss_tensor *x2 = need(ss_tensor_clone(want), "x2");
    ss_solve_opts o5 = {1e-5, 0.0, 500, 1};
    CHECK_OK(solve(x2, A, b, &o5, &info));
    printf("  %-6s %-14s warm start from x_ref: %d iterations, |b - A x_ref|/|b| = %.2e\n", sname, c,
           info.iterations, info.residual / bnorm);
    CHECK(info.iterations == 0 && info.converged == 1, "%s warm start from x_ref: %d iterations", c, info.iterations);

    /* An impossible tolerance with 3 iterations: SS_ERR_NOTCONV, info filled, x the last iterate. */
    ss_solve_opts hard = {1e-30, 0.0, 3, 0};
    CHECK_FAILS_CODE(solve(x2, A, b, &hard, &info), SS_ERR_NOTCONV, "3 iterations", c);
    printf("  %-6s %-14s maxiter 3, tol 1e-30: rc SS_ERR_NOTCONV, converged %d, %d iterations, |r|/|b| = %.2e\n"
           "         message: %s\n", sname, c, info.converged, info.iterations, info.residual / info.initial_residual,
           ss_last_error());
    CHECK(info.converged == 0 && info.iterations == 3 && info.residual < info.initial_residual &&
          info.residual > 0, "%s NOTCONV info: converged %d, iterations %d, residual %.3g, initial %.3g", c,
          info.converged, info.iterations, info.residual, info.initial_residual);
    double xn;
    CHECK_OK(ss_reduce(&xn, x2, SS_RED_NORM));
    CHECK(isfinite(xn) && xn > 0, "%s: the last iterate should be kept, |x| = %g", c, xn);

    /* A tolerance below float32's reach stops early (stagnation), not at maxiter. */
    ss_solve_opts tight = {1e-10, 0.0, 5000, 0};
    CHECK_FAILS_CODE(solve(x2, A, b, &tight, &info), SS_ERR_NOTCONV, "stagnates", c);
    printf("  %-6s %-14s tol 1e-10 (maxiter 5000): SS_ERR_NOTCONV after %d iterations (%d restarts), |r|/|b| = "
           "%.2e\n", sname, c, info.iterations, info.restarts, info.residual / bnorm);
    CHECK(info.iterations < 5000 && info.converged == 0, "%s tol 1e-10: %d iterations", c, info.iterations);
    /* opts = NULL: defaults (tol 1e-6, cold start). */
    CHECK_OK(solve(x2, A, b, NULL, &info));
    CHECK(info.converged && info.residual <= 1e-6 * info.initial_residual, "%s defaults: converged %d", c,
          info.converged);
    /* abs_tol alone (the osmosis rule ‖r‖ <= ε·n): stops once ‖r‖ <= abs_tol. */
    double abs_tol = 1e-4 * info.initial_residual;
    ss_solve_opts ab = {0.0, abs_tol, 500, 0};
    CHECK_OK(solve(x2, A, b, &ab, &info));
    CHECK(info.converged && info.residual <= abs_tol && info.residual > 1e-3 * abs_tol,
          "%s abs_tol %.3g: residual %.3g", c, abs_tol, info.residual);
    ss_tensor_free(x);
    ss_tensor_free(x2);
done:
    ss_linop_free(A);
    ss_tensor_free(b);
    ss_tensor_free(want);
    free(dc.a);
    free(kc);
}

static void test_bicgstab(void)
{
    printf("BiCGSTAB against numpy.linalg.solve (nonsymmetric):\n");
    fixture *fx = fixture_load("tests/reference/solvers/bicgstab.ssfx");
    CHECK(fx != NULL, "bicgstab fixture missing");
    solve_case(fx, "bicg_dense12", "bicg", ss_bicgstab_solve, 1e-6);
    solve_case(fx, "bicg_kron16", "bicg", ss_bicgstab_solve, 1e-6);
    fixture_free(fx);

    /* A system built so that <r̂₀, r₁> = 0 exactly after the first step (float
     * arithmetic is exact here): the solver must restart and still converge. */
    double a3[9] = {1, 1, 1, 1, 2, 1, -1, 0, 3};
    dense_ctx d3 = {3, a3};
    ss_linop *A3 = ss_linop_new(dense_apply, dense_adjoint, &d3, 1, 3, 1, 3, "restart3x3");
    int64_t s3[2] = {1, 3};
    ss_tensor *b3 = need(ss_tensor_zeros(2, s3, SS_CPU), "b3"), *x3 = need(ss_tensor_zeros(2, s3, SS_CPU), "x3");
    b3->data[0] = 1.0f;
    ss_solve_opts o = {1e-6, 0.0, 50, 0};
    ss_solve_info info;
    CHECK_OK(ss_bicgstab_solve(x3, A3, b3, &o, &info));
    /* The residual b - A3 x, row by row. */
    double r0 = 1 - (x3->data[0] + x3->data[1] + x3->data[2]);
    double r1 = -(x3->data[0] + 2 * x3->data[1] + x3->data[2]);
    double r2 = -(-x3->data[0] + 3 * x3->data[2]);
    printf("  restart case (<r0, r1> = 0 exactly): %d iterations, %d restarts, |b - Ax| = %.2e\n", info.iterations,
           info.restarts, sqrt(r0 * r0 + r1 * r1 + r2 * r2));
    CHECK(info.restarts >= 1 && info.converged, "restart case: %d restarts, converged %d", info.restarts,
          info.converged);
    CHECK(sqrt(r0 * r0 + r1 * r1 + r2 * r2) <= 1e-5, "restart case: residual %.3g", sqrt(r0 * r0 + r1 * r1 + r2 * r2));

    /* Skew-symmetric: <r, A r> = 0 always, a breakdown no restart cures. */
    ss_linop *S = ss_linop_new(skew_apply, skew_adjoint, NULL, 4, 4, 4, 4, "skew");
    int64_t s4[3] = {1, 4, 4};
    ss_tensor *b4 = randn(3, s4), *x4 = need(ss_tensor_zeros(3, s4, SS_CPU), "x4");
    CHECK_FAILS_CODE(ss_bicgstab_solve(x4, S, b4, &o, &info), SS_ERR_NUMERIC, "breakdown", "skew");
    printf("  skew operator: %s\n", ss_last_error());
    CHECK(info.converged == 0, "skew: converged should be 0");
    /* An operator that returns NaN. */
    ss_linop *N = ss_linop_new(nan_apply, nan_apply, NULL, 4, 4, 4, 4, "nan_op");
    CHECK_FAILS_CODE(ss_bicgstab_solve(x4, N, b4, &o, &info), SS_ERR_NUMERIC, "NaN", "nan_op");
    CHECK_FAILS_CODE(ss_cg_solve(x4, N, b4, &o, &info), SS_ERR_NUMERIC, "NaN", "nan_op");
    /* b = 0: x = 0 at once. */
    CHECK_OK(ss_tensor_fill(b4, 0.0f));
    CHECK_OK(ss_bicgstab_solve(x4, S, b4, &o, &info));
    CHECK(info.iterations == 0 && info.converged, "b = 0: %d iterations", info.iterations);
    ss_linop_free(A3), ss_linop_free(S), ss_linop_free(N);
    ss_tensor_free(b3), ss_tensor_free(x3), ss_tensor_free(b4), ss_tensor_free(x4);
}

static void test_cg(void)
{
    printf("CG against numpy.linalg.solve (SPD):\n");
    fixture *fx = fixture_load("tests/reference/solvers/cg.ssfx");
    CHECK(fx != NULL, "cg fixture missing");
    solve_case(fx, "cg_dense12", "cg", ss_cg_solve, 1e-6);
    solve_case(fx, "cg_kron16", "cg", ss_cg_solve, 1e-6);
    /* The same SPD system through BiCGSTAB. */
    solve_case(fx, "cg_kron16", "bicg", ss_bicgstab_solve, 1e-6);

    /* Not SPD: −I fails at the first step; an indefinite kron operator too. */
    ss_linop *I = ss_linop_identity(16, 16), *negI = ss_linop_scale(-1.0f, I);
    int64_t s[3] = {2, 16, 16};
    ss_tensor *b = randn(3, s), *x = need(ss_tensor_zeros(3, s, SS_CPU), "x");
    ss_solve_info info;
    CHECK_FAILS_CODE(ss_cg_solve(x, negI, b, NULL, &info), SS_ERR_NUMERIC, "not symmetric positive definite",
                     "scale(-1,identity)");
    printf("  CG on -I: %s\n", ss_last_error());
    kron_ctx *kc = calloc(1, sizeof *kc);
    ss_linop *K = kron_op(fx, "cg_kron16", kc);
    for (int i = 0; i < 256; i++) kc->d[i] = i % 2 ? kc->d[i] : -kc->d[i]; /* half the eigenvalues negative */
    CHECK_FAILS_CODE(ss_cg_solve(x, K, b, NULL, &info), SS_ERR_NUMERIC, "not symmetric positive definite", "p'Ap");
    printf("  CG on an indefinite operator: failed at iteration %d: %s\n", info.iterations, ss_last_error());
    /* For information: BiCGSTAB on this strongly indefinite spectrum (±[0.01, 1])
     * converges slowly, as expected of it; it must still end cleanly. */
    ss_solve_opts o = {1e-6, 0, 500, 0};
    int rc = ss_bicgstab_solve(x, K, b, &o, &info);
    printf("  BiCGSTAB on the same indefinite operator: rc %d, %d iterations, %d restarts, |r|/|b| = %.2e\n", rc,
           info.iterations, info.restarts, info.residual / info.initial_residual);
    CHECK(rc == SS_OK || rc == SS_ERR_NOTCONV, "BiCGSTAB on an indefinite symmetric operator: %s", ss_last_error());
    CHECK(info.residual < info.initial_residual, "BiCGSTAB on the indefinite operator made no progress");
    ss_linop_free(I), ss_linop_free(negI), ss_linop_free(K);
    ss_tensor_free(b), ss_tensor_free(x);
    free(kc);
    fixture_free(fx);
}

/* ------------------------------------------------------------ Lanczos */

static double square_fn(void *ctx, double lambda)
{
    (*(int *)ctx)++;
    return lambda * lambda;
}

static double nan_fn(void *ctx, double lambda) { return lambda > 0 ? NAN : 0.0; }

static void lanczos_case(const fixture *fx, const char *c, int is_cond10)
{
    kron_ctx *kc = calloc(1, sizeof *kc);
    ss_linop *A = kron_op(fx, c, kc);
    ss_tensor *v = fixture_get(fx, c, "v"), *ws = fixture_get(fx, c, "sqrt"), *wi = fixture_get(fx, c, "invsqrt");
    ss_tensor *we = fixture_get(fx, c, "expneg"), *waa = fixture_get(fx, c, "aav"), *lm = fixture_get(fx, c, "lmax");
    CHECK(A && v && ws && wi && we && waa && lm, "%s: fixture arrays missing", c);
    if (!(A && v && ws && wi && we && waa && lm)) return;
    ss_tensor *out = empty_like(v);
    static const int ks[] = {5, 10, 20, 30, 40};
    double err_sqrt[2][5], err_inv[2][5];
    int32_t steps;
    for (int re = 0; re < 2; re++)
        for (int i = 0; i < 5; i++) {
            CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_SQRT, ks[i], re, NULL, NULL, &steps));
            err_sqrt[re][i] = rel_err(out, ws);
            CHECK(steps == ks[i], "%s: %d steps done for k = %d", c, steps, ks[i]);
            CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_INVSQRT, ks[i], re, NULL, NULL, &steps));
            err_inv[re][i] = rel_err(out, wi);
        }
    printf("  %-12s relative error against the dense eigendecomposition:\n", c);
    printf("    %-22s", "k");
    for (int i = 0; i < 5; i++) printf(" %9d", ks[i]);
    printf("\n");
    const char *lab[4] = {"sqrt(A)v", "sqrt(A)v, reorth", "A^-1/2 v", "A^-1/2 v, reorth"};
    for (int row = 0; row < 4; row++) {
        printf("    %-22s", lab[row]);
        for (int i = 0; i < 5; i++) printf(" %9.2e", row < 2 ? err_sqrt[row][i] : err_inv[row - 2][i]);
        printf("\n");
    }
    /* Assert what holds with margin (see the printed table). */
    if (is_cond10) {
        CHECK(err_sqrt[0][4] <= 1e-5 && err_sqrt[1][4] <= 1e-5, "%s sqrt at k = 40: %.3g / %.3g (reorth) > 1e-5", c,
              err_sqrt[0][4], err_sqrt[1][4]);
        CHECK(err_inv[0][4] <= 1e-5 && err_inv[1][4] <= 1e-5, "%s invsqrt at k = 40: %.3g / %.3g > 1e-5", c,
              err_inv[0][4], err_inv[1][4]);
        CHECK(err_sqrt[0][2] <= 1e-5, "%s sqrt at k = 20: %.3g > 1e-5", c, err_sqrt[0][2]);
    } else {
        CHECK(err_sqrt[0][4] <= 1e-3 && err_sqrt[1][4] <= 1e-3, "%s sqrt at k = 40: %.3g / %.3g > 1e-3", c,
              err_sqrt[0][4], err_sqrt[1][4]);
        CHECK(err_inv[0][4] <= 0.1 && err_inv[1][4] <= 0.1, "%s invsqrt at k = 40: %.3g / %.3g > 0.1", c, err_inv[0][4],
              err_inv[1][4]);
    }
    for (int re = 0; re < 2; re++)
        for (int i = 1; i < 5; i++)
            CHECK(err_sqrt[re][i] <= err_sqrt[re][i - 1] * 1.5 + 1e-6, "%s: sqrt error grows from k = %d to %d", c,
                  ks[i - 1], ks[i]);
    /* More steps for the hard case. */
    if (!is_cond10) {
        CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_SQRT, 100, 0, NULL, NULL, &steps));
        double e100 = rel_err(out, ws);
        CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_SQRT, 100, 1, NULL, NULL, &steps));
        double e100r = rel_err(out, ws);
        CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_INVSQRT, 100, 1, NULL, NULL, &steps));
        double i100r = rel_err(out, wi);
        printf("    k = 100: sqrt %.2e, sqrt reorth %.2e, invsqrt reorth %.2e\n", e100, e100r, i100r);
        CHECK(e100r <= 1e-5, "%s sqrt at k = 100 with reorth: %.3g", c, e100r);
    }

    /* exp(−A) v through the composite scale(−1, A). */
    ss_linop *negA = ss_linop_scale(-1.0f, A);
    CHECK_OK(ss_lanczos_apply(out, negA, v, SS_LANCZOS_EXP, 40, 0, NULL, NULL, &steps));
    double ee = rel_err(out, we);
    CHECK_OK(ss_lanczos_apply(out, negA, v, SS_LANCZOS_EXP, 20, 0, NULL, NULL, &steps));
    double ee20 = rel_err(out, we);
    /* custom f(λ) = λ² against A(Av), from the fixture and from applying A twice here. */
    int calls = 0;
    CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_CUSTOM, 10, 0, square_fn, &calls, &steps));
    double ec = rel_err(out, waa);
    ss_tensor *av = empty_like(v), *aav = empty_like(v);
    CHECK_OK(ss_linop_apply(A, av, v));
    CHECK_OK(ss_linop_apply(A, aav, av));
    double ec2 = rel_err(out, aav);
    printf("    exp(-A)v k=40 %.2e (k=20 %.2e); custom f=l^2 k=10 vs A(Av): fixture %.2e, C %.2e (%d calls)\n", ee,
           ee20, ec, ec2, calls);
    CHECK(ee <= 1e-5 && ee20 <= 1e-5, "%s exp(-A)v: %.3g (k=40), %.3g (k=20)", c, ee, ee20);
    CHECK(ec <= 1e-5 && ec2 <= 1e-5, "%s custom lambda^2: %.3g / %.3g", c, ec, ec2);
    CHECK(calls == 10, "%s: custom f called %d times for 10 Ritz values", c, calls);
    /* sqrt(A)(sqrt(A)v) = Av. */
    ss_tensor *sv = empty_like(v);
    CHECK_OK(ss_lanczos_apply(sv, A, v, SS_LANCZOS_SQRT, 60, 1, NULL, NULL, &steps));
    CHECK_OK(ss_lanczos_apply(out, A, sv, SS_LANCZOS_SQRT, 60, 1, NULL, NULL, &steps));
    double esq = rel_err(out, av);
    printf("    sqrt(A) sqrt(A) v vs A v (k = 60, reorth): %.2e\n", esq);
    CHECK(esq <= (is_cond10 ? 1e-5 : 1e-3), "%s: sqrt(A)^2 v vs Av: %.3g", c, esq);
    /* out may be v itself. */
    ss_tensor *vv = need(ss_tensor_clone(v), "vv");
    CHECK_OK(ss_lanczos_apply(vv, A, vv, SS_LANCZOS_SQRT, 40, 0, NULL, NULL, &steps));
    CHECK_OK(ss_lanczos_apply(out, A, v, SS_LANCZOS_SQRT, 40, 0, NULL, NULL, &steps));
    CHECK(rel_err(vv, out) == 0, "%s: out = v gives a different result", c);

    /* Power iteration. */
    double lmax = lm->data[0];
    printf("    power iteration vs lambda_max = %.6g:", lmax);
    static const int its[] = {20, 100, 300, 1000};
    double perr[4];
    for (int i = 0; i < 4; i++) {
        double l;
        CHECK_OK(ss_power_iteration(&l, A, its[i], seed));
        perr[i] = fabs(l - lmax) / lmax;
        printf("  %d its %.2e", its[i], perr[i]);
        CHECK(l <= lmax * (1 + 1e-6), "%s: Rayleigh quotient %.8g above lambda_max %.8g", c, l, lmax);
    }
    printf("\n");
    /* The Rayleigh quotient converges at the rate of the gap at the top:
     * 10^(-1/255) for condition 10 (slow, and slower for a start vector with
     * little weight there), 10^(-3/255) for condition 1000. */
    int need_its = is_cond10 ? 3 : 2;
    CHECK(perr[need_its] <= 1e-3, "%s: power iteration (%d its) relative error %.3g > 1e-3", c, its[need_its],
          perr[need_its]);
    ss_linop_free(A), ss_linop_free(negA);
    ss_tensor *ts[] = {v, ws, wi, we, waa, lm, out, av, aav, sv, vv};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) ss_tensor_free(ts[i]);
    free(kc);
}

/* Cyclic Jacobi eigendecomposition of the symmetric n x n matrix a (row-major,
 * destroyed): a = Vᵀ diag(w) V with the eigenvectors in the rows of Vt. Each
 * rotation updates rows p and q and mirrors them into the columns. Returns the
 * number of sweeps. */
static int jacobi_eig(double *a, double *vt, double *w, int n)
{
    for (int i = 0; i < n * n; i++) vt[i] = 0;
    for (int i = 0; i < n; i++) vt[i * n + i] = 1;
    int sweep;
    for (sweep = 0; sweep < 60; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++) {
            diag += a[i * n + i] * a[i * n + i];
            for (int j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
        }
        if (off <= 1e-24 * diag) break; /* off-diagonal norm 1e-12 of the diagonal's */
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q], app = a[p * n + p], aqq = a[q * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double cs = 1 / sqrt(t * t + 1), sn = t * cs;
                double *rp = a + (size_t)p * n, *rq = a + (size_t)q * n;
                for (int k = 0; k < n; k++) {
                    double xp = rp[k], xq = rq[k];
                    rp[k] = cs * xp - sn * xq;
                    rq[k] = sn * xp + cs * xq;
                }
                rp[p] = app - t * apq;
                rq[q] = aqq + t * apq;
                rp[q] = rq[p] = 0;
                for (int k = 0; k < n; k++)
                    if (k != p && k != q) a[(size_t)k * n + p] = rp[k], a[(size_t)k * n + q] = rq[k];
                double *vp = vt + (size_t)p * n, *vq = vt + (size_t)q * n;
                for (int k = 0; k < n; k++) {
                    double xp = vp[k], xq = vq[k];
                    vp[k] = cs * xp - sn * xq;
                    vq[k] = sn * xp + cs * xq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[i * n + i];
    return sweep;
}

/* Scale Space Diffusion's noise covariance root: (I − ρMᵀM)^{1/2} v with M the
 * 16x16 -> 8x8 antialiased bilinear resize, ρ = 0.9/λ_max(MᵀM). */
static void test_ssd_operator(void)
{
    printf("Scale Space Diffusion: sqrt(I - rho M'M) v, M = resize_bilinear_aa 16x16 -> 8x8:\n");
    enum { N = 256 };
    ss_linop *M = ss_linop_resize(16, 16, 8, 8, SS_RESIZE_BILINEAR_AA), *Mt = ss_linop_transpose(M);
    ss_linop *MtM = ss_linop_compose(Mt, M), *I = ss_linop_identity(16, 16);
    CHECK(M && Mt && MtM && I, "building M'M: %s", ss_last_error());
    double l20, l100, l300;
    CHECK_OK(ss_power_iteration(&l20, MtM, 20, seed));
    CHECK_OK(ss_power_iteration(&l100, MtM, 100, seed));
    CHECK_OK(ss_power_iteration(&l300, MtM, 300, seed));
    double rho = 0.9 / l20;
    ss_linop *negrho = ss_linop_scale((float)-rho, MtM), *B = ss_linop_sum(I, negrho);
    CHECK(B != NULL, "building I - rho M'M: %s", ss_last_error());

    /* Dense M (64 x 256) from unit vectors, then B = I − ρMᵀM in double. */
    int64_t sin_[3] = {N, 16, 16}, sout[3] = {N, 8, 8};
    ss_tensor *E = need(ss_tensor_zeros(3, sin_, SS_CPU), "E"), *ME = need(ss_tensor_empty(3, sout, SS_CPU), "ME");
    for (int i = 0; i < N; i++) E->data[(int64_t)i * N + i] = 1.0f;
    CHECK_OK(ss_linop_apply(M, ME, E)); /* row i of ME = M e_i = column i of M */
    double *Bd = malloc(sizeof(double) * N * N), *Bc = malloc(sizeof(double) * N * N);
    double *V = malloc(sizeof(double) * N * N), w[N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < 64; k++) s += (double)ME->data[i * 64 + k] * ME->data[j * 64 + k];
            Bd[i * N + j] = (i == j) - (double)(float)rho * s; /* ρ as the float the operator uses */
        }
    memcpy(Bc, Bd, sizeof(double) * N * N);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int sweeps = jacobi_eig(Bc, V, w, N);
    double jt = elapsed_ms(t0);
    double wmin = w[0], wmax = w[0], recon = 0;
    for (int i = 1; i < N; i++) wmin = fmin(wmin, w[i]), wmax = fmax(wmax, w[i]);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += V[k * N + i] * w[k] * V[k * N + j];
            recon = fmax(recon, fabs(s - Bd[i * N + j]));
        }
    double lmax_dense = (1 - wmin) / ((double)(float)rho);
    printf("  dense Jacobi eigendecomposition: %d sweeps, %.0f ms, max|V W V' - B| = %.1e, eigenvalues of B in "
           "[%.6f, %.6f]\n", sweeps, jt, recon, wmin, wmax);
    printf("  lambda_max(M'M): dense %.8f; power iteration: 20 its %.8f (rel %.1e), 100 its %.8f (rel %.1e), "
           "300 its %.8f (rel %.1e)\n", lmax_dense, l20, fabs(l20 - lmax_dense) / lmax_dense, l100,
           fabs(l100 - lmax_dense) / lmax_dense, l300, fabs(l300 - lmax_dense) / lmax_dense);
    printf("  (SSD's clamp rho = (1 - 1e-3)/lambda from 20 iterations would give rho*lambda_max = %.4f)\n",
           (1 - 1e-3) / l20 * lmax_dense);
    CHECK(recon <= 1e-10, "Jacobi reconstruction error %.3g", recon);
    CHECK(fabs(l300 - lmax_dense) <= 1e-3 * lmax_dense, "power iteration on M'M: %.8g vs %.8g", l300, lmax_dense);
    CHECK(l20 <= lmax_dense * (1 + 1e-6) && l100 <= lmax_dense * (1 + 1e-6), "Rayleigh quotients above lambda_max");

    int64_t sv[3] = {1, 16, 16};
    ss_tensor *v = randn(3, sv), *out = empty_like(v), *ref = empty_like(v);
    double c[N];
    for (int k = 0; k < N; k++) {
        double s = 0;
        for (int i = 0; i < N; i++) s += V[k * N + i] * v->data[i];
        c[k] = sqrt(fmax(w[k], 0.0)) * s;
    }
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < N; k++) s += V[k * N + i] * c[k];
        ref->data[i] = (float)s;
    }
    int32_t steps;
    static const int ks[] = {10, 20, 40};
    for (int re = 0; re < 2; re++) {
        printf("  Lanczos%s:", re ? " reorth" : "       ");
        for (int i = 0; i < 3; i++) {
            CHECK_OK(ss_lanczos_apply(out, B, v, SS_LANCZOS_SQRT, ks[i], re, NULL, NULL, &steps));
            double e = rel_err(out, ref);
            printf("  k=%d %.2e", ks[i], e);
            if (ks[i] == 40) CHECK(e <= 1e-5, "SSD sqrt at k = 40 (reorth %d): %.3g", re, e);
        }
        printf("\n");
    }
    ss_linop *ops[] = {M, Mt, MtM, I, negrho, B};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) ss_linop_free(ops[i]);
    ss_tensor_free(E), ss_tensor_free(ME), ss_tensor_free(v), ss_tensor_free(out), ss_tensor_free(ref);
    free(Bd), free(Bc), free(V);
}

static void test_lanczos(void)
{
    printf("Lanczos f(A)v against numpy.linalg.eigh:\n");
    fixture *fx = fixture_load("tests/reference/solvers/lanczos.ssfx");
    CHECK(fx != NULL, "lanczos fixture missing");
    lanczos_case(fx, "lz_cond10", 1);
    lanczos_case(fx, "lz_cond1000", 0);
    fixture_free(fx);

    /* Breakdown: an invariant Krylov space stops early. */
    int64_t s[3] = {1, 8, 8};
    ss_tensor *v = randn(3, s), *out = empty_like(v), *ones = need(ss_tensor_full(3, s, 1.0f, SS_CPU), "ones");
    ss_linop *I = ss_linop_identity(8, 8), *L = ss_linop_laplace(8, 8), *negL = ss_linop_scale(-1.0f, L);
    int32_t steps = -1, steps_i = -1;
    CHECK_OK(ss_lanczos_apply(out, I, v, SS_LANCZOS_SQRT, 40, 0, NULL, NULL, &steps_i));
    CHECK(steps_i == 1 && rel_err(out, v) <= 1e-6, "sqrt(I)v: %d steps, error %.3g", steps_i, rel_err(out, v));
    CHECK_OK(ss_lanczos_apply(out, negL, ones, SS_LANCZOS_SQRT, 40, 0, NULL, NULL, &steps));
    double on;
    CHECK_OK(ss_reduce(&on, out, SS_RED_NORM));
    printf("  breakdown: sqrt(I)v in %d step(s); sqrt(-Laplace) 1 in %d step(s), |out| = %g\n", steps_i, steps, on);
    CHECK(steps == 1 && on == 0, "sqrt(-Laplace) of a constant: %d steps, |out| = %g", steps, on);
    /* sqrt of the PSD (singular) −Δ on a random v works; invsqrt does not. */
    CHECK_OK(ss_lanczos_apply(out, negL, v, SS_LANCZOS_SQRT, 40, 1, NULL, NULL, &steps));
    /* −Δ on 8x8 has 33 distinct eigenvalues, but rounding keeps β from
     * vanishing there (even in double), so no early stop is expected. */
    printf("  sqrt(-Laplace) v, 8x8, k = 40, reorth: %d steps\n", steps);
    CHECK(steps >= 30 && steps <= 40, "sqrt(-Laplace) v: %d steps", steps);
    CHECK_FAILS_CODE(ss_lanczos_apply(out, negL, v, SS_LANCZOS_INVSQRT, 64, 1, NULL, NULL, &steps), SS_ERR_NUMERIC,
                     "invsqrt", "not positive");
    printf("  invsqrt(-Laplace): %s\n", ss_last_error());
    /* Negative definite with sqrt: the error names the value. */
    CHECK_FAILS_CODE(ss_lanczos_apply(out, L, v, SS_LANCZOS_SQRT, 10, 0, NULL, NULL, &steps), SS_ERR_NUMERIC,
                     "negative Ritz value", "-");
    printf("  sqrt(Laplace): %s\n", ss_last_error());
    CHECK_FAILS_CODE(ss_lanczos_apply(out, negL, v, SS_LANCZOS_CUSTOM, 10, 0, nan_fn, NULL, &steps), SS_ERR_NUMERIC,
                     "custom f", "not finite");
    /* k beyond numel is cut to numel; v = 0 gives 0. */
    CHECK_OK(ss_lanczos_apply(out, negL, v, SS_LANCZOS_EXP, 500, 1, NULL, NULL, &steps));
    CHECK(steps <= 64, "k = 500 on 64 pixels: %d steps", steps);
    CHECK_OK(ss_tensor_fill(ones, 0.0f));
    CHECK_OK(ss_lanczos_apply(out, negL, ones, SS_LANCZOS_INVSQRT, 5, 0, NULL, NULL, &steps));
    CHECK_OK(ss_reduce(&on, out, SS_RED_NORM));
    CHECK(on == 0 && steps == 0, "f(A) 0: |out| = %g, %d steps", on, steps);
    ss_linop_free(I), ss_linop_free(L), ss_linop_free(negL);
    ss_tensor_free(v), ss_tensor_free(out), ss_tensor_free(ones);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    int64_t s[3] = {2, 8, 8}, s2[3] = {3, 8, 8}, s4[3] = {2, 4, 4};
    ss_tensor *b = randn(3, s), *x = need(ss_tensor_zeros(3, s, SS_CPU), "x"), *x3 = need(ss_tensor_zeros(3, s2, SS_CPU), "x3");
    ss_tensor *b4 = randn(3, s4);
    ss_linop *A = ss_linop_identity(8, 8), *R = ss_linop_resize(8, 8, 4, 4, SS_RESIZE_BILINEAR_AA);
    ss_solve_info info;
    ss_solve_opts o = {1e-6, 0, 10, 0};
    solver_fn solvers[2] = {ss_bicgstab_solve, ss_cg_solve};
    const char *names[2] = {"ss_bicgstab_solve", "ss_cg_solve"};
    for (int i = 0; i < 2; i++) {
        solver_fn f = solvers[i];
        CHECK_FAILS_CODE(f(NULL, A, b, &o, &info), SS_ERR_ARG, names[i], "x is NULL");
        CHECK_FAILS_CODE(f(x, NULL, b, &o, &info), SS_ERR_ARG, names[i], "NULL");
        CHECK_FAILS_CODE(f(x, A, NULL, &o, &info), SS_ERR_ARG, names[i], "b is NULL");
        CHECK_FAILS_CODE(f(x3, A, b, &o, &info), SS_ERR_ARG, "(3,8,8)", "(2,8,8)");
        CHECK_FAILS_CODE(f(x, A, b4, &o, &info), SS_ERR_ARG, "(2,4,4)", "(...,8,8)");
        CHECK_FAILS_CODE(f(x, R, b, &o, &info), SS_ERR_ARG, "square", "(...,4,4)");
        CHECK_FAILS_CODE(f(b, A, b, &o, &info), SS_ERR_ARG, "share memory", names[i]);
        ss_solve_opts bad = {-1, 0, 10, 0};
        CHECK_FAILS_CODE(f(x, A, b, &bad, &info), SS_ERR_ARG, "tol", "-1");
        bad = (ss_solve_opts){1e-6, NAN, 10, 0};
        CHECK_FAILS_CODE(f(x, A, b, &bad, &info), SS_ERR_ARG, "abs_tol", "nan");
        bad = (ss_solve_opts){1e-6, 0, -5, 0};
        CHECK_FAILS_CODE(f(x, A, b, &bad, &info), SS_ERR_ARG, "maxiter", "-5");
        b->data[5] = NAN;
        CHECK_FAILS_CODE(f(x, A, b, &o, &info), SS_ERR_NUMERIC, "right-hand side b", "NaN at flat index 5");
        if (i == 0) printf("  NaN in b: %s\n", ss_last_error());
        b->data[5] = INFINITY;
        CHECK_FAILS_CODE(f(x, A, b, &o, &info), SS_ERR_NUMERIC, "right-hand side b", "Inf");
        b->data[5] = 0.5f;
        ss_solve_opts warm = {1e-6, 0, 10, 1};
        x->data[7] = NAN;
        CHECK_FAILS_CODE(f(x, A, b, &warm, &info), SS_ERR_NUMERIC, "initial guess x", "NaN");
        x->data[7] = 0;
        CHECK_OK(f(x, A, b, &o, NULL)); /* info may be NULL */
    }
    printf("  square check: ");
    ss_bicgstab_solve(x, R, b, &o, &info);
    printf("%s\n", ss_last_error());

    ss_tensor *out = empty_like(b);
    int32_t steps;
    CHECK_FAILS_CODE(ss_lanczos_apply(NULL, A, b, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "out", "NULL");
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, NULL, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "v", "NULL");
    CHECK_FAILS_CODE(ss_lanczos_apply(out, NULL, b, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "operator",
                     "NULL");
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, b, SS_LANCZOS_SQRT, 0, 0, NULL, NULL, &steps), SS_ERR_ARG, "k must be",
                     "got 0");
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, b, SS_LANCZOS_SQRT, -3, 0, NULL, NULL, &steps), SS_ERR_ARG, "k must be",
                     "got -3");
    printf("  k < 1: %s\n", ss_last_error());
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, b, 7, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "unknown function", "7");
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, b, SS_LANCZOS_CUSTOM, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "custom",
                     "NULL");
    CHECK_FAILS_CODE(ss_lanczos_apply(x3, A, b, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "(3,8,8)",
                     "(2,8,8)");
    CHECK_FAILS_CODE(ss_lanczos_apply(b4, R, b4, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "square",
                     "resize");
    CHECK_FAILS_CODE(ss_lanczos_apply(b4, A, b4, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_ARG, "(2,4,4)",
                     "(...,8,8)");
    b->data[9] = NAN;
    CHECK_FAILS_CODE(ss_lanczos_apply(out, A, b, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, &steps), SS_ERR_NUMERIC, "v",
                     "NaN at flat index 9");
    b->data[9] = 0;
    CHECK_OK(ss_lanczos_apply(out, A, b, SS_LANCZOS_SQRT, 5, 0, NULL, NULL, NULL)); /* steps_done may be NULL */
    double l;
    CHECK_FAILS_CODE(ss_power_iteration(NULL, A, 10, 1), SS_ERR_ARG, "lambda_max", "NULL");
    CHECK_FAILS_CODE(ss_power_iteration(&l, NULL, 10, 1), SS_ERR_ARG, "operator", "NULL");
    CHECK_FAILS_CODE(ss_power_iteration(&l, A, 0, 1), SS_ERR_ARG, "iterations", "0");
    CHECK_FAILS_CODE(ss_power_iteration(&l, R, 10, 1), SS_ERR_ARG, "square", "(...,4,4)");
    CHECK_OK(ss_power_iteration(&l, A, 3, 1));
    CHECK(fabs(l - 1) < 1e-6, "power iteration on I: %g", l);
    ss_linop_free(A), ss_linop_free(R);
    ss_tensor_free(b), ss_tensor_free(x), ss_tensor_free(x3), ss_tensor_free(b4), ss_tensor_free(out);
}

int main(void)
{
    if (test_seed("test_solvers", &seed, &rng)) return 2;
    test_bicgstab();
    test_cg();
    test_lanczos();
    test_ssd_operator();
    printf("bad input:\n");
    test_bad_input();
    return test_summary("test_solvers");
}
