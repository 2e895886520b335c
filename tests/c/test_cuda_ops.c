/* test_cuda_ops.c — CPU-versus-CUDA parity of the linear operators and the Krylov
 * solvers: the orthonormal DCT, heat, blur, diag_dct and the heat frequencies, the
 * Laplacian, resize in every mode, osmosis (drift, A and Aᵀ, explicit bounds and
 * step, implicit step), forward and adjoint, out of place and in place; composite
 * operators; the dot-product test on the GPU; CG, BiCGSTAB, Lanczos and the power
 * iteration on cuda vectors against the CPU's solution and iteration count; and the
 * errors for tensors on mixed devices. Without a GPU it prints SKIP and exits 77. */
#include "cuda_check.h"
#include "ops/linop_impl.h"
#include "solvers/solve.h"

#include <stdint.h>

static uint64_t seed = 20240613u;
static ss_rng rng;

/* Tolerances, relative to max(1, max |cpu|) (cuda_close):
 * GEMM_TOL   the DCT-based ops and resize: cuBLAS sums each output over a whole
 *            row of the per-axis matrix (up to 64 terms) in its own order, FFTW
 *            and the CPU's tap loops in theirs; float rounding of one pass is
 *            ~√K·6e-8 ≈ 5e-7, up to four passes (heat): a few 1e-6.
 * STENCIL_TOL  laplace, osmosis: the same per-pixel formula on both sides, only
 *            FMA contraction may differ: a few ulps of the largest term.
 * EXACT_TOL  the drift and the heat frequencies: the same double arithmetic
 *            rounded once to float; equal, up to an FMA in a*a + c*c.
 * SOLVE_TOL  solutions of two solves that each stop at ‖r‖ <= 1e-6‖b‖ for
 *            operators with ‖A⁻¹‖ <= 1: ‖x_cpu − x_gpu‖₂ <= 2e-6‖b‖₂, which is
 *            ~1e-5 of max|x| spread over the vector; the float iterations
 *            themselves round differently.
 * DOT_TOL    the dot-product test on the GPU: as the CPU's 1e-6, with room for
 *            the GEMMs' accumulation order differing between A and Aᵀ. */
#define GEMM_TOL 1e-5
#define STENCIL_TOL 1e-5
#define EXACT_TOL 1e-6
#define SOLVE_TOL 2e-4
#define DOT_TOL 1e-5

static const int64_t sizes[][2] = {{28, 28}, {32, 32}, {64, 64}, {12, 20}};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])

static ss_tensor *randn(int nd, const int64_t *s)
{
    ss_tensor *t = cpu_empty(nd, s);
    CHECK_OK(ss_rng_normal(&rng, t, 0.0f, 1.0f));
    return t;
}

static ss_tensor *uniform(int nd, const int64_t *s, float lo, float hi)
{
    ss_tensor *t = cpu_empty(nd, s);
    CHECK_OK(ss_rng_uniform(&rng, t, lo, hi));
    return t;
}

static const char *shape_of(char *buf, const ss_tensor *t)
{
    int k = 0;
    for (int d = 0; d < t->ndim; d++) k += snprintf(buf + k, 64 - k, d ? "x%lld" : "%lld", (long long)t->shape[d]);
    return buf;
}

/* ------------------------------------------------------------ parity of one op */

/* out = op(in); ctx carries what the op needs (a CPU and a cuda version of its
 * data where it has any, picked by in's device). */
typedef int (*op_fn)(ss_tensor *out, const ss_tensor *in, const void *ctx);

/* f on the CPU and on a cuda copy of in, out of shape oshape; then in place on the
 * GPU where the shapes allow. */
static void parity(const char *name, op_fn f, const void *ctx, const ss_tensor *in, const int64_t *oshape, double tol)
{
    const int nd = in->ndim;
    ss_tensor *oc = cpu_empty(nd, oshape), *ig = cuda_copy(in), *og = gpu_empty(nd, oshape);
    char label[128], s[64];
    snprintf(label, sizeof label, "%s %s", name, shape_of(s, in));
    CHECK_OK(f(oc, in, ctx));
    CHECK_OK(f(og, ig, ctx));
    cuda_close(label, oc, og, tol);
    if (ss_tensor_same_shape(oc, in)) {
        snprintf(label, sizeof label, "%s %s in place", name, shape_of(s, in));
        CHECK_OK(f(ig, ig, ctx));
        cuda_close(label, oc, ig, tol);
    }
    ss_tensor_free(oc);
    ss_tensor_free(ig);
    ss_tensor_free(og);
}

static int dct_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_dct2_forward(o, i); }
static int dct_inv(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_dct2_inverse(o, i); }
static int dct_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_dct2_adjoint(o, i); }
static int heat_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_heat_forward(o, i, *(const float *)c); }
static int heat_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_heat_adjoint(o, i, *(const float *)c); }
static int blur_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_blur_forward(o, i, *(const float *)c); }
static int blur_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_blur_adjoint(o, i, *(const float *)c); }
static int lap_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_laplace_forward(o, i); }
static int lap_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_laplace_adjoint(o, i); }
static int resize_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_resize_forward(o, i, *(const int *)c); }
static int resize_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_resize_adjoint(o, i, *(const int *)c); }
static int linop_fwd(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_linop_apply(c, o, i); }
static int linop_adj(ss_tensor *o, const ss_tensor *i, const void *c) { return ss_linop_adjoint(c, o, i); }

/* diag_dct: ctx is {scale on the cpu, scale on cuda}. */
static int diag_fwd(ss_tensor *o, const ss_tensor *i, const void *c)
{
    return ss_diag_dct_forward(o, i, ((ss_tensor *const *)c)[i->device == SS_CUDA]);
}

static int diag_adj(ss_tensor *o, const ss_tensor *i, const void *c)
{
    return ss_diag_dct_adjoint(o, i, ((ss_tensor *const *)c)[i->device == SS_CUDA]);
}

/* osmosis: the drift on each device, the grid size and the explicit step. */
typedef struct osm_pair {
    ss_tensor *d1[2], *d2[2]; /* [cpu], [cuda] */
    float h, tau;
} osm_pair;

static int osm_fwd(ss_tensor *o, const ss_tensor *i, const void *c)
{
    const osm_pair *p = c;
    const int g = i->device == SS_CUDA;
    return ss_osmosis_forward(o, i, p->d1[g], p->d2[g], p->h);
}

static int osm_adj(ss_tensor *o, const ss_tensor *i, const void *c)
{
    const osm_pair *p = c;
    const int g = i->device == SS_CUDA;
    return ss_osmosis_adjoint(o, i, p->d1[g], p->d2[g], p->h);
}

static int osm_explicit(ss_tensor *o, const ss_tensor *i, const void *c)
{
    const osm_pair *p = c;
    const int g = i->device == SS_CUDA;
    return ss_osmosis_explicit_step(o, i, p->d1[g], p->d2[g], p->h, p->tau);
}

/* ------------------------------------------------------------ the operators */

static void test_dct_family(void)
{
    printf("dct2, heat, blur, diag_dct, heat frequencies, laplace\n");
    for (int k = 0; k < NSIZES; k++) {
        const int64_t h = sizes[k][0], w = sizes[k][1], shape[4] = {3, 2, h, w};
        ss_tensor *x = randn(4, shape);
        parity("dct2_forward", dct_fwd, NULL, x, shape, GEMM_TOL);
        parity("dct2_inverse", dct_inv, NULL, x, shape, GEMM_TOL);
        parity("dct2_adjoint", dct_adj, NULL, x, shape, GEMM_TOL);
        const float ts[3] = {0.3f, 4.0f, INFINITY}; /* near the identity, a blur, the mean */
        for (int j = 0; j < 3; j++) {
            char name[64];
            snprintf(name, sizeof name, "heat_forward(t=%g)", (double)ts[j]);
            parity(name, heat_fwd, &ts[j], x, shape, GEMM_TOL);
        }
        const float t = 2.5f, sigma = 1.7f;
        parity("heat_adjoint(t=2.5)", heat_adj, &t, x, shape, GEMM_TOL);
        parity("blur_forward(sigma=1.7)", blur_fwd, &sigma, x, shape, GEMM_TOL);
        parity("blur_adjoint(sigma=1.7)", blur_adj, &sigma, x, shape, GEMM_TOL);
        /* a scale per image (3,2,h,w), and one broadcast over the channels (3,1,h,w) */
        const int64_t s1[4] = {3, 1, h, w};
        ss_tensor *scales[2] = {uniform(4, shape, 0.0f, 1.0f), uniform(4, s1, 0.0f, 1.0f)};
        for (int j = 0; j < 2; j++) {
            ss_tensor *sc[2] = {scales[j], cuda_copy(scales[j])};
            parity(j ? "diag_dct_forward(scale 3x1)" : "diag_dct_forward", diag_fwd, sc, x, shape, GEMM_TOL);
            parity(j ? "diag_dct_adjoint(scale 3x1)" : "diag_dct_adjoint", diag_adj, sc, x, shape, GEMM_TOL);
            ss_tensor_free(sc[1]);
            ss_tensor_free(scales[j]);
        }
        parity("laplace_forward", lap_fwd, NULL, x, shape, STENCIL_TOL);
        parity("laplace_adjoint", lap_adj, NULL, x, shape, STENCIL_TOL);
        ss_tensor *fc = cpu_empty(4, shape), *fg = gpu_empty(4, shape);
        CHECK_OK(ss_heat_frequencies(fc));
        CHECK_OK(ss_heat_frequencies(fg));
        cuda_close("heat_frequencies", fc, fg, EXACT_TOL);
        ss_tensor_free(fc);
        ss_tensor_free(fg);
        ss_tensor_free(x);
    }
    /* A partial overlap is still refused on the GPU. */
    const int64_t s[3] = {4, 8, 8};
    ss_tensor *g = gpu_empty(3, s), *a = need(ss_tensor_narrow(g, 0, 3), "a view"),
              *b = need(ss_tensor_narrow(g, 1, 3), "a view");
    CHECK_FAILS(ss_dct2_forward(b, a), "partly overlaps");
    ss_tensor_free(a);
    ss_tensor_free(b);
    ss_tensor_free(g);
}

static void test_resize(void)
{
    printf("resize, every mode, down and up, forward and adjoint\n");
    /* (from, to): down, up, non-square both ways, one axis unchanged */
    static const int64_t pairs[][4] = {{64, 64, 28, 28}, {28, 28, 64, 64}, {32, 32, 12, 20},
                                       {12, 20, 32, 32}, {32, 32, 32, 20}};
    for (int mode = SS_RESIZE_BILINEAR_AA; mode <= SS_RESIZE_NEAREST; mode++)
        for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
            const int64_t in_s[4] = {3, 2, pairs[k][0], pairs[k][1]}, out_s[4] = {3, 2, pairs[k][2], pairs[k][3]};
            char name[64];
            ss_tensor *x = randn(4, in_s), *y = randn(4, out_s);
            snprintf(name, sizeof name, "resize_forward(%s)->%lldx%lld", ss_resize_mode_name(mode),
                     (long long)out_s[2], (long long)out_s[3]);
            parity(name, resize_fwd, &mode, x, out_s, GEMM_TOL);
            snprintf(name, sizeof name, "resize_adjoint(%s)->%lldx%lld", ss_resize_mode_name(mode),
                     (long long)in_s[2], (long long)in_s[3]);
            parity(name, resize_adj, &mode, y, in_s, GEMM_TOL);
            ss_tensor_free(x);
            ss_tensor_free(y);
        }
}

static void test_osmosis(void)
{
    printf("osmosis: drift, A, Aᵀ, explicit bounds and step\n");
    for (int k = 0; k < NSIZES; k++) {
        const int64_t h = sizes[k][0], w = sizes[k][1], shape[4] = {3, 2, h, w};
        const int64_t s1[4] = {3, 2, h - 1, w}, s2[4] = {3, 2, h, w - 1};
        ss_tensor *v = uniform(4, shape, 0.5f, 2.0f), *vg = cuda_copy(v);
        osm_pair p = {{cpu_empty(4, s1), gpu_empty(4, s1)}, {cpu_empty(4, s2), gpu_empty(4, s2)}, 1.0f, 0.0f};
        CHECK_OK(ss_osmosis_drift(p.d1[0], p.d2[0], v, p.h));
        CHECK_OK(ss_osmosis_drift(p.d1[1], p.d2[1], vg, p.h));
        cuda_close("osmosis_drift d1", p.d1[0], p.d1[1], EXACT_TOL);
        cuda_close("osmosis_drift d2", p.d2[0], p.d2[1], EXACT_TOL);
        /* the operators from the CPU's drift on both sides: their own parity */
        ss_tensor_free(p.d1[1]);
        ss_tensor_free(p.d2[1]);
        p.d1[1] = cuda_copy(p.d1[0]), p.d2[1] = cuda_copy(p.d2[0]);
        parity("osmosis_forward", osm_fwd, &p, v, shape, STENCIL_TOL);
        ss_tensor *y = randn(4, shape);
        parity("osmosis_adjoint", osm_adj, &p, y, shape, STENCIL_TOL);
        double lc = 0, lg = 0;
        CHECK_OK(ss_osmosis_explicit_limit(&lc, p.d1[0], p.d2[0], p.h));
        CHECK_OK(ss_osmosis_explicit_limit(&lg, p.d1[1], p.d2[1], p.h));
        printf("  cuda %-44s cpu %.9g, cuda %.9g\n", "osmosis_explicit_limit", lc, lg);
        CHECK(fabs(lc - lg) <= 1e-12 * lc, "explicit limit: cpu %.17g vs cuda %.17g", lc, lg);
        p.tau = (float)(0.9 * lc);
        parity("osmosis_explicit_step", osm_explicit, &p, v, shape, STENCIL_TOL);
        /* one drift (no leading dimensions) for every image */
        const int64_t t1[2] = {h - 1, w}, t2[2] = {h, w - 1}, vs[2] = {h, w};
        ss_tensor *v1 = uniform(2, vs, 0.5f, 2.0f);
        osm_pair q = {{cpu_empty(2, t1), NULL}, {cpu_empty(2, t2), NULL}, 0.5f, 0.0f};
        CHECK_OK(ss_osmosis_drift(q.d1[0], q.d2[0], v1, q.h));
        q.d1[1] = cuda_copy(q.d1[0]), q.d2[1] = cuda_copy(q.d2[0]);
        parity("osmosis_forward(shared drift, h=0.5)", osm_fwd, &q, v, shape, STENCIL_TOL);
        parity("osmosis_adjoint(shared drift, h=0.5)", osm_adj, &q, y, shape, STENCIL_TOL);
        for (int g = 0; g < 2; g++) {
            ss_tensor_free(p.d1[g]), ss_tensor_free(p.d2[g]);
            ss_tensor_free(q.d1[g]), ss_tensor_free(q.d2[g]);
        }
        ss_tensor_free(v1);
        ss_tensor_free(y);
        ss_tensor_free(v);
        ss_tensor_free(vg);
    }
    /* A bad guidance value is found and named on the GPU too. */
    const int64_t s[3] = {2, 5, 6}, s1[3] = {2, 4, 6}, s2[3] = {2, 5, 5};
    ss_tensor *v = uniform(3, s, 0.5f, 2.0f);
    v->data[37] = -1.0f;
    v->data[45] = NAN;
    ss_tensor *vg = cuda_copy(v), *d1 = gpu_empty(3, s1), *d2 = gpu_empty(3, s2);
    CHECK_FAILS2(ss_osmosis_drift(d1, d2, vg, 1.0f), "> 0 everywhere", "flat index 37 (image 1, row 1, column 1)");
    ss_tensor_free(v);
    ss_tensor_free(vg);
    ss_tensor_free(d1);
    ss_tensor_free(d2);
}

/* ------------------------------------------------------------ composites, dot tests */

static void dot_on_gpu(ss_linop *op, int64_t batch)
{
    CHECK(op != NULL, "operator construction failed: %s", ss_last_error());
    if (!op) return;
    double err = 1;
    CHECK_OK(ss_linop_dot_test_on(&err, op, batch, seed + 17, SS_CUDA));
    printf("  cuda dot test %-52.52s rel err = %.3g (tol %.0e)\n", ss_linop_name(op), err, DOT_TOL);
    CHECK(err <= DOT_TOL, "cuda dot test of %s: %g > %g", ss_linop_name(op), err, DOT_TOL);
}

static void test_linops(void)
{
    printf("operators as values: composites and the dot-product test on cuda\n");
    const int64_t h = 32, w = 32, hs = 12, ws = 20, shape[4] = {3, 2, h, w};
    ss_linop *lap = ss_linop_laplace(h, w), *id = ss_linop_identity(h, w), *heat = ss_linop_heat(h, w, 2.0f);
    ss_linop *blur = ss_linop_blur(h, w, 1.5f), *dct = ss_linop_dct2(h, w);
    ss_linop *down = ss_linop_resize(h, w, hs, ws, SS_RESIZE_BICUBIC), *half_lap = ss_linop_scale(-0.5f, lap);
    ss_linop *ops[] = {
        dct, heat, blur, lap, down,
        ss_linop_resize(hs, ws, h, w, SS_RESIZE_BILINEAR_AA), ss_linop_resize(h, w, hs, ws, SS_RESIZE_AREA),
        ss_linop_resize(h, w, hs, ws, SS_RESIZE_NEAREST),
        ss_linop_compose(down, blur),                      /* resize after blur */
        ss_linop_scale(-0.75f, heat),
        ss_linop_sum(id, half_lap),                        /* I − Δ/2 */
        ss_linop_transpose(down),
    };
    const int n = (int)(sizeof ops / sizeof ops[0]);
    ss_tensor *x = randn(4, shape);
    for (int i = 0; i < n; i++) {
        if (!ops[i]) {
            CHECK(0, "operator %d: %s", i, ss_last_error());
            continue;
        }
        int64_t sz[4];
        CHECK_OK(ss_linop_size(ops[i], sz));
        const int64_t os[4] = {3, 2, sz[2], sz[3]}, is[4] = {3, 2, sz[0], sz[1]};
        ss_tensor *xi = randn(4, is), *yo = randn(4, os);
        char name[96];
        snprintf(name, sizeof name, "apply %s", ss_linop_name(ops[i]));
        parity(name, linop_fwd, ops[i], xi, os, GEMM_TOL);
        snprintf(name, sizeof name, "adjoint %s", ss_linop_name(ops[i]));
        parity(name, linop_adj, ops[i], yo, is, GEMM_TOL);
        dot_on_gpu(ops[i], 3);
        ss_tensor_free(xi);
        ss_tensor_free(yo);
    }
    /* diag_dct and osmosis operators holding cuda data: the public dot test runs there */
    const int64_t ss2[2] = {h, w}, t1[2] = {h - 1, w}, t2[2] = {h, w - 1};
    ss_tensor *sc = uniform(2, ss2, 0.0f, 1.0f), *scg = cuda_copy(sc);
    ss_tensor *v = uniform(2, ss2, 0.5f, 2.0f), *vg = cuda_copy(v), *d1 = gpu_empty(2, t1), *d2 = gpu_empty(2, t2);
    CHECK_OK(ss_osmosis_drift(d1, d2, vg, 1.0f));
    ss_linop *held[3] = {ss_linop_diag_dct(h, w, scg), ss_linop_osmosis_generator(d1, d2, 1.0f),
                         ss_linop_osmosis(d1, d2, 1.0f, 2.0f)};
    for (int i = 0; i < 3; i++) {
        CHECK(held[i] && ss_linop_device(held[i]) == SS_CUDA, "operator %d should hold cuda data: %s", i,
              ss_last_error());
        double err = 1;
        if (held[i]) CHECK_OK(ss_linop_dot_test(&err, held[i], 3, seed));
        printf("  cuda dot test %-52.52s rel err = %.3g (tol %.0e)\n", held[i] ? ss_linop_name(held[i]) : "?", err,
               DOT_TOL);
        CHECK(err <= DOT_TOL, "cuda dot test of operator %d: %g", i, err);
    }
    /* a composite finds the cuda data of its child through the table's device function */
    ss_linop *heat_diag = ss_linop_compose(heat, held[0]), *heat_diag_t = ss_linop_transpose(heat_diag);
    CHECK(ss_linop_device(heat_diag) == SS_CUDA && ss_linop_device(heat_diag_t) == SS_CUDA,
          "compose(heat, diag_dct on cuda) and its transpose should report cuda, got %d and %d",
          ss_linop_device(heat_diag), ss_linop_device(heat_diag_t));
    ss_linop_free(heat_diag_t), ss_linop_free(heat_diag);
    /* Mixed devices are refused with the usual message. */
    const int64_t is2[3] = {2, h, w};
    ss_tensor *xg = cuda_copy(x), *oc = cpu_empty(4, shape), *x2 = randn(3, is2), *o2 = cpu_empty(3, is2);
    ss_tensor *x2g = cuda_copy(x2), *d1c = need(ss_tensor_to(d1, SS_CPU), "a cpu drift");
    CHECK_FAILS(ss_linop_apply(heat, oc, xg), "different devices");
    CHECK_FAILS(ss_linop_apply(held[1], o2, x2), "different devices");
    CHECK_FAILS(ss_diag_dct_forward(xg, xg, sc), "different devices");
    CHECK_FAILS(ss_osmosis_forward(x2g, x2g, d1c, d2, 1.0f), "different devices");
    CHECK_FAILS(ss_osmosis_drift(d1, d2, v, 1.0f), "different devices");
    for (int i = 0; i < 3; i++) ss_linop_free(held[i]);
    for (int i = 0; i < n; i++) ss_linop_free(ops[i]);
    ss_linop_free(id), ss_linop_free(half_lap);
    ss_tensor_free(sc), ss_tensor_free(scg), ss_tensor_free(v), ss_tensor_free(vg), ss_tensor_free(d1);
    ss_tensor_free(d2), ss_tensor_free(x), ss_tensor_free(xg), ss_tensor_free(oc), ss_tensor_free(x2);
    ss_tensor_free(o2), ss_tensor_free(x2g), ss_tensor_free(d1c);
}

/* ------------------------------------------------------------ solvers */

typedef int (*solve_fn)(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *o,
                        ss_solve_info *info);

/* One solve with the CPU's operator and b, one with the GPU's: the same status,
 * iteration counts within ±1, solutions within SOLVE_TOL. */
static void solve_parity(const char *label, solve_fn solve, const ss_linop *ac, const ss_linop *ag,
                         const ss_tensor *b, const ss_solve_opts *o)
{
    ss_tensor *xc = cpu_empty(b->ndim, b->shape), *xg = gpu_empty(b->ndim, b->shape), *bg = cuda_copy(b);
    if (o->warm_start) { /* the guess: b itself */
        CHECK_OK(ss_tensor_copy(xc, b));
        CHECK_OK(ss_tensor_copy(xg, bg));
    }
    ss_solve_info ic, ig;
    int rc = solve(xc, ac, b, o, &ic), rg = solve(xg, ag, bg, o, &ig);
    CHECK(rc == SS_OK, "%s on the cpu: %s", label, ss_last_error());
    CHECK(rg == rc, "%s on cuda returned %d (cpu %d): %s", label, rg, rc, ss_last_error());
    printf("  %-50s iterations cpu %d, cuda %d; residual cpu %.3g, cuda %.3g\n", label, (int)ic.iterations,
           (int)ig.iterations, ic.residual, ig.residual);
    CHECK(abs(ic.iterations - ig.iterations) <= 1, "%s: %d iterations on the cpu, %d on cuda", label,
          (int)ic.iterations, (int)ig.iterations);
    CHECK(ig.converged == ic.converged, "%s: converged cpu %d, cuda %d", label, ic.converged, ig.converged);
    cuda_close(label, xc, xg, SOLVE_TOL);
    ss_tensor_free(xc);
    ss_tensor_free(xg);
    ss_tensor_free(bg);
}

static double square(void *ctx, double lambda) { return lambda * lambda; }

static void test_solvers(void)
{
    printf("solvers on cuda vectors\n");
    for (int k = 0; k < NSIZES; k++) {
        const int64_t h = sizes[k][0], w = sizes[k][1], shape[4] = {3, 2, h, w};
        ss_linop *lap = ss_linop_laplace(h, w), *id = ss_linop_identity(h, w), *neg = ss_linop_scale(-1.0f, lap);
        ss_linop *spd = ss_linop_sum(id, neg); /* I − Δ, eigenvalues in [1, 9] */
        ss_tensor *b = randn(4, shape);
        char label[96], s[64];
        shape_of(s, b);
        const ss_solve_opts rel = {1e-6, 0.0, 500, 0}, warm = {1e-6, 0.0, 500, 1};
        snprintf(label, sizeof label, "cg I - laplace %s", s);
        solve_parity(label, ss_cg_solve, spd, spd, b, &rel);
        snprintf(label, sizeof label, "cg I - laplace %s warm", s);
        solve_parity(label, ss_cg_solve, spd, spd, b, &warm);
        snprintf(label, sizeof label, "bicgstab I - laplace %s", s);
        solve_parity(label, ss_bicgstab_solve, spd, spd, b, &rel);

        /* nonsymmetric: the implicit osmosis step, operator and function */
        const int64_t t1[4] = {3, 2, h - 1, w}, t2[4] = {3, 2, h, w - 1};
        ss_tensor *v = uniform(4, shape, 0.5f, 2.0f), *u = uniform(4, shape, 0.5f, 2.0f);
        ss_tensor *d1 = cpu_empty(4, t1), *d2 = cpu_empty(4, t2);
        CHECK_OK(ss_osmosis_drift(d1, d2, v, 1.0f));
        ss_tensor *d1g = cuda_copy(d1), *d2g = cuda_copy(d2), *ug = cuda_copy(u);
        ss_linop *mc = ss_linop_osmosis(d1, d2, 1.0f, 5.0f), *mg = ss_linop_osmosis(d1g, d2g, 1.0f, 5.0f);
        const ss_solve_opts osm = {0.0, 1e-5 * (double)ss_tensor_numel(u), 500, 1};
        snprintf(label, sizeof label, "bicgstab osmosis I - 5A %s", s);
        solve_parity(label, ss_bicgstab_solve, mc, mg, u, &osm);
        ss_tensor *nc = cpu_empty(4, shape), *ng = gpu_empty(4, shape);
        ss_solve_info ic, ig;
        CHECK_OK(ss_osmosis_implicit_step(nc, u, d1, d2, 1.0f, 5.0f, 1e-5, 500, &ic));
        CHECK_OK(ss_osmosis_implicit_step(ng, ug, d1g, d2g, 1.0f, 5.0f, 1e-5, 500, &ig));
        snprintf(label, sizeof label, "osmosis_implicit_step %s", s);
        printf("  %-50s iterations cpu %d, cuda %d\n", label, (int)ic.iterations, (int)ig.iterations);
        CHECK(abs(ic.iterations - ig.iterations) <= 1, "%s: iterations %d vs %d", label, (int)ic.iterations,
              (int)ig.iterations);
        cuda_close(label, nc, ng, SOLVE_TOL);
        CHECK_OK(ss_osmosis_implicit_step(ug, ug, d1g, d2g, 1.0f, 5.0f, 1e-5, 500, &ig)); /* in place */
        snprintf(label, sizeof label, "osmosis_implicit_step %s in place", s);
        cuda_close(label, nc, ug, SOLVE_TOL);

        /* Lanczos on I − Δ: sqrt with and without re-orthogonalisation, a custom f */
        static const struct { int fn, reorth; const char *name; } lz[] = {
            {SS_LANCZOS_SQRT, 0, "sqrt"}, {SS_LANCZOS_SQRT, 1, "sqrt reorth"}, {SS_LANCZOS_INVSQRT, 0, "invsqrt"},
            {SS_LANCZOS_CUSTOM, 1, "square"}};
        ss_tensor *bg = cuda_copy(b);
        for (size_t j = 0; j < sizeof lz / sizeof lz[0]; j++) {
            ss_tensor *oc = cpu_empty(4, shape), *og = gpu_empty(4, shape);
            int32_t sc = 0, sg = 0;
            CHECK_OK(ss_lanczos_apply(oc, spd, b, lz[j].fn, 30, lz[j].reorth, square, NULL, &sc));
            CHECK_OK(ss_lanczos_apply(og, spd, bg, lz[j].fn, 30, lz[j].reorth, square, NULL, &sg));
            snprintf(label, sizeof label, "lanczos %s %s", lz[j].name, s);
            CHECK(abs(sc - sg) <= 1, "%s: %d steps on the cpu, %d on cuda", label, (int)sc, (int)sg);
            cuda_close(label, oc, og, SOLVE_TOL);
            ss_tensor_free(oc);
            ss_tensor_free(og);
        }

        /* power iteration: λ_max of −Δ (< 8) from the same start */
        double lc = 0, lg = 0;
        CHECK_OK(ss_power_iteration_on(&lc, neg, 100, seed, SS_CPU));
        CHECK_OK(ss_power_iteration_on(&lg, neg, 100, seed, SS_CUDA));
        printf("  %-50s cpu %.9g, cuda %.9g\n", "power_iteration -laplace", lc, lg);
        CHECK(fabs(lc - lg) <= 1e-5 * fabs(lc), "power iteration: cpu %.9g vs cuda %.9g", lc, lg);

        /* mixed devices and non-finite right-hand sides on the GPU */
        ss_tensor *xg = gpu_empty(4, shape);
        CHECK_FAILS(ss_cg_solve(xg, spd, b, NULL, NULL), "different devices");
        b->data[5] = NAN;
        ss_tensor *bad = cuda_copy(b);
        CHECK_FAILS(ss_bicgstab_solve(xg, spd, bad, NULL, NULL), "NaN");

        ss_linop_free(neg);
        ss_tensor_free(xg), ss_tensor_free(bad), ss_tensor_free(bg), ss_tensor_free(nc), ss_tensor_free(ng);
        ss_linop_free(mc), ss_linop_free(mg);
        ss_tensor_free(d1), ss_tensor_free(d2), ss_tensor_free(d1g), ss_tensor_free(d2g);
        ss_tensor_free(v), ss_tensor_free(u), ss_tensor_free(ug), ss_tensor_free(b);
        ss_linop_free(spd), ss_linop_free(lap), ss_linop_free(id);
    }
}

int main(void)
{
    if (test_seed("test_cuda_ops", &seed, &rng)) return 2;
    cuda_skip_unless_device("test_cuda_ops", "dct2, heat, blur, diag_dct, heat frequencies, laplace, resize (all "
                            "modes), osmosis, linop composites and dot tests, cg, bicgstab, lanczos, power iteration");
    test_dct_family();
    test_resize();
    test_osmosis();
    test_linops();
    test_solvers();
    return test_summary("test_cuda_ops");
}
