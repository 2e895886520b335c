/* osmosis.c — linear osmosis filtering (Weickert et al. 2013; Vogel et al. 2013):
 * ∂_t u = Δu − div(d u) with reflecting boundaries, on positive images.
 *
 * Staggered grid of size h. The drift lives on the faces between neighbouring
 * pixels: d1 (...,H−1,W) is its y-component on the face between rows i and
 * i+1, d2 (...,H,W−1) its x-component on the face between columns j and j+1.
 * Boundary faces carry no drift and no flux (a 1-row image has no d1, a
 * 1-column image no d2). For the face between pixel a (the lower index) and
 * pixel b (the higher index), with the arithmetic mean of u across the face,
 *
 *     F = (u_b − u_a)/h² − d (u_a + u_b)/(2h) = p·u_b − q·u_a,
 *     p = 1/h² − d/(2h),   q = 1/h² + d/(2h),
 *
 * and (A u)_a += F, (A u)_b −= F. So A has the off-diagonal entries
 * A[a][b] = p, A[b][a] = q and the diagonal A[a][a] −= q, A[b][b] −= p: every
 * column sums to zero (Σ A u = 0, the mean grey value is kept), and the flux
 * of the canonical drift of v vanishes on every face (A v = 0).
 *
 * The adjoint is the transpose of that matrix: per face, (Aᵀy)_a += q·(y_b − y_a)
 * and (Aᵀy)_b += p·(y_a − y_b). The forward evaluates each face flux once into
 * a row buffer and adds it to one pixel and subtracts it from the other, so the
 * two contributions cancel exactly in the sum; the adjoint is a gather per
 * output pixel over its at most four faces. Both run on independent blocks of
 * rows with branch-free inner loops that vectorise. I − τA, applied many times
 * by the iterations of an implicit step (ss_linop_osmosis, ss_osmosis_step_linop),
 * first computes its face coefficients once (see "face coefficients").
 *
 * Explicit stability: u + τAu = (I + τA)u. Its off-diagonal entries τp, τq are
 * >= 0 whenever |d| <= 2/h (always true for the canonical drift of a positive
 * image: |v_b − v_a| < v_a + v_b), and its diagonal 1 − τ·o_i is >= 0 for
 * τ <= 1/max_i o_i, where o_i is the sum of pixel i's outgoing coefficients
 * (q on faces where it is the lower pixel, p where it is the higher one;
 * o_i = |A[i][i]|). Then I + τA is entrywise non-negative with unit column
 * sums: it keeps positivity and the mean and is stable in the l1 norm. That
 * bound, computed with |p| and |q|, is ss_osmosis_explicit_limit; without drift
 * it is the classical h²/4, in the worst case h²/8.
 *
 * Operators (ss_linop_osmosis, _generator) hold a context with copies of the
 * drift (and, for ss_linop_osmosis, its face coefficients: four more floats per
 * drift pixel), released by their table's destroy with the last reference. The
 * implicit step's operator (ss_osmosis_step_linop, for pde/osmosis_implicit.c)
 * borrows the caller's drift instead.
 *
 * On the GPU (kernels/osmosis.cu) one thread computes one output pixel from the
 * faces around it, the face coefficients of I − τA computed on the fly in the
 * form the CPU stores them; the explicit-step bounds are a max-reduction there. */
#include "core/par.h"
#include "ops/image_op.h"
#include "ops/linop_impl.h"
#include "ops/osmosis.h"
#include "kernels/osmosis.h"
#ifdef SS_WITH_CUDA
#include "core/cuda.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ shapes */

/* The drift of one image operator: geometry and data, borrowed or owned. */
typedef struct osm_ctx {
    const ss_tensor *d1, *d2; /* (…,H−1,W) and (…,H,W−1); NULL when H = 1 (W = 1) */
    ss_tensor *own1, *own2;   /* the copies an ss_linop owns, else NULL */
    int64_t h_img, w_img;     /* image size */
    int shared;               /* 1: one drift for every image (no leading dims or all 1) */
    float h;                  /* grid size */
    float alpha, beta;        /* out = alpha·u + beta·(A u), or the adjoint */
    int faced;                /* 1: the face-coefficient form (osm_use_faces) */
    float *faces;             /* NULL, or the face coefficients of beta·A (osm_faces_build) */
} osm_ctx;

static int64_t lead_numel(const ss_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim - 2; d++) n *= t->shape[d];
    return n;
}

/* 1 when t's leading dimensions equal img's. */
static int same_lead(const ss_tensor *t, const ss_tensor *img)
{
    if (t->ndim != img->ndim) return 0;
    for (int d = 0; d < t->ndim - 2; d++)
        if (t->shape[d] != img->shape[d]) return 0;
    return 1;
}

static const char *device_name(int dev) { return dev == SS_CUDA ? "cuda" : "cpu"; }

/* SS_ERR_DEVICE unless drift d (named role) is on the device of the image it acts on. */
static int check_drift_device(const char *fn, const char *role, const ss_tensor *d, const ss_tensor *img)
{
    if (d->device == img->device) return SS_OK;
    return SS_FAIL(SS_ERR_DEVICE, "%s: tensors on different devices (drift %s on %s, the image on %s) in one op; "
                   "move them with :to() first", fn, role, device_name(d->device), device_name(img->device));
}

static int check_grid(const char *fn, float h)
{
    if (!(h > 0) || !isfinite(h))
        return SS_FAIL(SS_ERR_ARG, "%s: grid size h must be finite and > 0, got %g", fn, (double)h);
    return SS_OK;
}

/* One drift component: NULL exactly when the image has no such faces, else a
 * tensor (…,fh,fw) on img's device with img's leading dimensions (exact: set `exact`) or
 * leading dimensions whose product is 1. `role` names it, e.g. "d1". */
static int check_component(const char *fn, const char *role, const ss_tensor *d, const ss_tensor *img, int64_t fh,
                           int64_t fw, int exact, int *shared)
{
    char sd[96], si[96];
    ss_shape_str(si, sizeof si, img);
    const char *axis = role[1] == '1' ? "rows" : "columns";
    if (fh == 0 || fw == 0) {
        if (d)
            return SS_FAIL(SS_ERR_ARG, "%s: image %s has a single %s, so it has no faces for drift %s; pass NULL, "
                           "not %s", fn, si, role[1] == '1' ? "row" : "column", role, ss_shape_str(sd, sizeof sd, d));
        return SS_OK;
    }
    if (!d)
        return SS_FAIL(SS_ERR_ARG, "%s: drift %s is NULL but image %s has faces between its %s", fn, role, si, axis);
    if (!d->storage) return SS_FAIL(SS_ERR_ARG, "%s: drift %s was freed", fn, role);
    SS_TRY(check_drift_device(fn, role, d, img));
    ss_shape_str(sd, sizeof sd, d);
    int nd = d->ndim;
    int fits = nd >= 2 && d->shape[nd - 2] == fh && d->shape[nd - 1] == fw;
    int lead = fits && (same_lead(d, img) || (!exact && lead_numel(d) == 1));
    if (!lead)
        return SS_FAIL(SS_ERR_ARG, "%s: drift %s %s does not fit image %s: expected (...,%lld,%lld) with the image's "
                       "leading dimensions%s", fn, role, sd, si, (long long)fh, (long long)fw,
                       exact ? "" : " or none (one drift for every image)");
    *shared = lead_numel(d) == 1 && lead_numel(img) > 1;
    return SS_OK;
}

/* d1, d2 fit img (…,H,W); fills the geometry of ctx (not h, alpha, beta). */
static int check_drift(const char *fn, osm_ctx *c, const ss_tensor *d1, const ss_tensor *d2, const ss_tensor *img,
                       int exact)
{
    int64_t H = img->shape[img->ndim - 2], W = img->shape[img->ndim - 1];
    int s1 = -1, s2 = -1;
    SS_TRY(check_component(fn, "d1", d1, img, H - 1, W, exact, &s1));
    SS_TRY(check_component(fn, "d2", d2, img, H, W - 1, exact, &s2));
    if (s1 >= 0 && s2 >= 0 && s1 != s2) {
        char a[96], b[96];
        return SS_FAIL(SS_ERR_ARG, "%s: drift d1 %s and d2 %s must both have the image's leading dimensions or "
                       "both have none", fn, ss_shape_str(a, sizeof a, d1), ss_shape_str(b, sizeof b, d2));
    }
    c->d1 = d1, c->d2 = d2;
    c->h_img = H, c->w_img = W;
    c->shared = s1 >= 0 ? s1 : s2 >= 0 ? s2 : 0;
    c->faced = 0;
    c->faces = NULL;
    return SS_OK;
}

/* 1 when t is a CPU tensor without NaN or Inf (a fast scan; otherwise
 * ss_tensor_check_finite finds the element and words the error). */
static int fast_finite(const ss_tensor *t)
{
    return t && t->storage && t->device == SS_CPU && ss_all_finite(t->data, ss_tensor_numel(t));
}

static int check_drift_finite(const char *fn, const ss_tensor *d1, const ss_tensor *d2)
{
    if ((!d1 || fast_finite(d1)) && (!d2 || fast_finite(d2))) return SS_OK;
    char what[128];
    if (d1) {
        snprintf(what, sizeof what, "%s: drift d1", fn);
        SS_TRY(ss_tensor_check_finite(d1, what));
    }
    if (d2) {
        snprintf(what, sizeof what, "%s: drift d2", fn);
        SS_TRY(ss_tensor_check_finite(d2, what));
    }
    return SS_OK;
}

/* SS_ERR_NUMERIC naming fn and the role when u holds NaN or Inf. */
static int check_image_finite(const char *fn, const char *role, const ss_tensor *u)
{
    if (fast_finite(u)) return SS_OK;
    char what[128];
    snprintf(what, sizeof what, "%s: %s", fn, role);
    return ss_tensor_check_finite(u, what);
}

/* ------------------------------------------------------------ kernel */

/* The kernel works on blocks of rows (and, in the forward, strips of columns),
 * every one of which is computed the same way whatever the split, so results do
 * not depend on the thread count. Below OSM_PAR_MIN pixels it runs in the
 * calling thread, one block per image. */
#define OSM_PAR_MIN 65536
#define OSM_ROWS 32     /* rows per block when the blocks run in parallel */
#define OSM_STRIP 1024  /* columns per forward strip: its three flux rows live on the stack */

/* Face fluxes F[k] = p·ub[k] − q·ua[k] = (cc − e·d[k])·ub[k] − (cc + e·d[k])·ua[k]. */
static inline void flux_row(float *restrict F, const float *restrict ua, const float *restrict ub,
                            const float *restrict d, int64_t n, float cc, float e)
{
    for (int64_t k = 0; k < n; k++) F[k] = (cc - e * d[k]) * ub[k] - (cc + e * d[k]) * ua[k];
}

/* Forward on rows [i0, i1) and columns [j0, j1) of one H×W image u (d1, d2 its
 * drift, NULL when it has no such faces): each face flux is evaluated once per
 * row into a buffer (vertical faces below the row in dn, above it in up — the
 * previous row's dn —, the row's faces in fh, fh[k] left of column j0 + k, 0
 * at the image border) and added to one pixel and subtracted from the other,
 * so the two contributions cancel exactly: Σ A u = 0 up to the rounding of the
 * sum. The pixel sum is ((F_dn − F_up) + F_rt) − F_lt, the branch-free loops
 * vectorise. */
static void osm_forward_block(float *restrict out, const float *restrict u, const float *d1, const float *d2,
                              int64_t H, int64_t W, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float cc, float e,
                              float alpha, float beta)
{
    float bufa[OSM_STRIP], bufb[OSM_STRIP], fh[OSM_STRIP + 1];
    float *up = bufa, *dn = bufb;
    const int64_t m = j1 - j0;
    const int64_t f_lo = j0 > 0 ? j0 - 1 : 0, f_hi = j1 < W ? j1 - 1 : W - 2; /* the strip's faces f|f+1 */
    if (i0 > 0) flux_row(up, u + (i0 - 1) * W + j0, u + i0 * W + j0, d1 + (i0 - 1) * W + j0, m, cc, e);
    else memset(up, 0, (size_t)m * sizeof *up);
    for (int64_t i = i0; i < i1; i++) {
        const float *ui = u + i * W;
        if (i + 1 < H) flux_row(dn, ui + j0, ui + W + j0, d1 + i * W + j0, m, cc, e);
        else memset(dn, 0, (size_t)m * sizeof *dn);
        fh[0] = fh[m] = 0.0f;
        if (f_hi >= f_lo)
            flux_row(fh + (f_lo - j0 + 1), ui + f_lo, ui + f_lo + 1, d2 + i * (W - 1) + f_lo, f_hi - f_lo + 1, cc, e);
        float *restrict o = out + i * W + j0;
        const float *restrict ua = ui + j0;
        if (alpha == 0.0f)
            for (int64_t k = 0; k < m; k++) o[k] = beta * (((dn[k] - up[k]) + fh[k + 1]) - fh[k]);
        else
            for (int64_t k = 0; k < m; k++) o[k] = alpha * ua[k] + beta * (((dn[k] - up[k]) + fh[k + 1]) - fh[k]);
        float *t = up;
        up = dn, dn = t;
    }
}

/* Adjoint of pixel j of a row: q·(y_b − y_a) over the faces where it is a,
 * p·(y_a − y_b) where it is b (up, dn: d1 rows above and below it, NULL at
 * the image border; rt: the row's d2, NULL when W = 1). */
static inline float adj_pixel(const float *y, const float *yu, const float *yd, const float *up, const float *dn,
                              const float *rt, int64_t j, int64_t W, float cc, float e)
{
    const float ya = y[j];
    float s = 0.0f;
    if (dn) s += (cc + e * dn[j]) * (yd[j] - ya);
    if (up) s += (cc - e * up[j]) * (yu[j] - ya);
    if (rt && j + 1 < W) s += (cc + e * rt[j]) * (y[j + 1] - ya);
    if (rt && j > 0) s += (cc - e * rt[j - 1]) * (y[j - 1] - ya);
    return s;
}

/* Columns 1..W−2 of an adjoint row, the flags constant at each call so every
 * variant is a branch-free loop. */
static inline __attribute__((always_inline)) void adj_interior(float *restrict o, const float *restrict y,
                                                               const float *restrict yu, const float *restrict yd,
                                                               const float *restrict up, const float *restrict dn,
                                                               const float *restrict rt, int64_t W, float cc, float e,
                                                               float alpha, float beta, const int has_up,
                                                               const int has_dn, const int has_alpha)
{
    for (int64_t j = 1; j + 1 < W; j++) {
        const float ya = y[j];
        float s = 0.0f; /* the order of adj_pixel */
        if (has_dn) s += (cc + e * dn[j]) * (yd[j] - ya);
        if (has_up) s += (cc - e * up[j]) * (yu[j] - ya);
        s += (cc + e * rt[j]) * (y[j + 1] - ya);
        s += (cc - e * rt[j - 1]) * (y[j - 1] - ya);
        o[j] = has_alpha ? alpha * ya + beta * s : beta * s;
    }
}

/* Adjoint on rows [i0, i1) of one H×W image y. */
static void osm_adjoint_block(float *restrict out, const float *restrict y, const float *d1, const float *d2,
                              int64_t H, int64_t W, int64_t i0, int64_t i1, float cc, float e, float alpha, float beta)
{
    const int ha = alpha != 0.0f;
    for (int64_t i = i0; i < i1; i++) {
        const float *yi = y + i * W, *yu = i > 0 ? yi - W : NULL, *yd = i + 1 < H ? yi + W : NULL;
        const float *up = i > 0 ? d1 + (i - 1) * W : NULL, *dn = i + 1 < H ? d1 + i * W : NULL;
        const float *rt = W > 1 ? d2 + i * (W - 1) : NULL;
        float *o = out + i * W;
        const int64_t edges[2] = {0, W - 1};
        for (int k = 0; k < (W > 1 ? 2 : 1); k++) {
            const int64_t j = edges[k];
            const float s = adj_pixel(yi, yu, yd, up, dn, rt, j, W, cc, e);
            o[j] = ha ? alpha * yi[j] + beta * s : beta * s;
        }
        if (W < 3) continue;
        if (up && dn) {
            if (ha) adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 1, 1, 1);
            else adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 1, 1, 0);
        } else if (up) {
            if (ha) adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 1, 0, 1);
            else adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 1, 0, 0);
        } else if (dn) {
            if (ha) adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 0, 1, 1);
            else adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 0, 1, 0);
        } else {
            if (ha) adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 0, 0, 1);
            else adj_interior(o, yi, yu, yd, up, dn, rt, W, cc, e, alpha, beta, 0, 0, 0);
        }
    }
}

/* ------------------------------------------------------------ face coefficients */

/* For the operators that are applied many times (I − τA in an implicit step) the face
 * coefficients are computed once: per drift image four planes of H×W floats in
 * the image's own layout, so one flat loop over pixels indexes them:
 *   FACE_PV, FACE_QV  beta·p, beta·q of the face between pixel a and a + W
 *                     (0 in row H − 1)
 *   FACE_PH, FACE_QH  beta·p, beta·q of the face between a and a + 1
 *                     (0 in column W − 1)
 * The application keeps the per-face form of the kernel above (each flux
 * P·u_b − Q·u_a evaluated on its own before the sum, so the large q·u terms of
 * a face cancel within it, which a stencil with a merged diagonal would not
 * do, and an iterative method can reach tolerances near float32 accuracy). The forward
 * evaluates every face flux from both sides by the same expression, so the two
 * contributions are the same float. Rows 1..H−2 run as one flat branch-free
 * loop that vectorises, reading all four neighbours (in bounds; the zero
 * coefficients at the borders silence the neighbours across the row ends for
 * finite inputs, and columns 0 and W − 1 are recomputed after it from the faces
 * that exist, so non-finite inputs behave as in the kernel above); rows 0 and
 * H − 1 have their own loops. The adjoint uses the same coefficients,
 * transposed: Q·(y_b − y_a) to a, P·(y_a − y_b) to b. */
enum { FACE_PV, FACE_QV, FACE_PH, FACE_QH, FACE_PLANES };

typedef struct face_job {
    const osm_ctx *c;
    float *planes;
} face_job;

/* Coefficient rows [lo, hi) over the drift's images (row r: image r / H, row r % H). */
static void face_rows(void *ctx, int64_t lo, int64_t hi)
{
    const face_job *jb = ctx;
    const osm_ctx *c = jb->c;
    const int64_t H = c->h_img, W = c->w_img, hw = H * W;
    const float cc = 1.0f / (c->h * c->h), e = 0.5f / c->h, beta = c->beta;
    for (int64_t r = lo; r < hi; r++) {
        const int64_t m = r / H, i = r % H;
        float *base = jb->planes + m * FACE_PLANES * hw + i * W;
        float *PV = base + FACE_PV * hw, *QV = base + FACE_QV * hw, *PH = base + FACE_PH * hw,
              *QH = base + FACE_QH * hw;
        for (int64_t j = 0; j < W; j++) PV[j] = QV[j] = PH[j] = QH[j] = 0.0f;
        if (i + 1 < H) {
            const float *d = c->d1->data + m * (H - 1) * W + i * W;
            for (int64_t j = 0; j < W; j++) PV[j] = beta * (cc - e * d[j]), QV[j] = beta * (cc + e * d[j]);
        }
        if (W > 1) {
            const float *d = c->d2->data + m * H * (W - 1) + i * (W - 1);
            for (int64_t j = 0; j + 1 < W; j++) PH[j] = beta * (cc - e * d[j]), QH[j] = beta * (cc + e * d[j]);
        }
    }
}

/* Sets c->faces for the drift images of c (h, beta set); freed with ss_free. */
static int osm_faces_build(osm_ctx *c)
{
    const ss_tensor *d = c->d1 ? c->d1 : c->d2;
    const int64_t nimg = d ? lead_numel(d) : 1, H = c->h_img, W = c->w_img;
    c->faces = ss_alloc(sizeof(float) * (size_t)(FACE_PLANES * nimg * H * W), "the osmosis face coefficients");
    if (!c->faces) return ss_last_status();
    face_job jb = {c, c->faces};
    ss_par_ranges(nimg * H, nimg * H * W > OSM_PAR_MIN, face_rows, &jb);
    return SS_OK;
}

/* Switches c (h, beta set) to the face-coefficient form, for an operator applied
 * many times: the CPU stores the coefficients once, the GPU kernel recomputes them
 * (a read of the drift costs what a read of stored coefficients would). */
static int osm_use_faces(osm_ctx *c)
{
    const ss_tensor *d = c->d1 ? c->d1 : c->d2;
    c->faced = 1;
    return d && d->device == SS_CUDA ? SS_OK : osm_faces_build(c);
}

/* Scaled flux P·ub − Q·ua of the face with coefficients at index f of the planes. */
#define FACE_FLUX(P, Q, f, ua, ub) ((P)[f] * (ub) - (Q)[f] * (ua))

/* Pixel a of one image from the planes f (hw apart): forward
 * alpha·u_a + (((F_dn − F_up) + F_rt) − F_lt), adjoint alpha·y_a + (((Q_dn·(y_dn −
 * y_a) + P_up·(y_up − y_a)) + Q_rt·(…)) + P_lt·(…)), the orders of the kernel
 * above; the flags say which neighbours exist. */
static inline __attribute__((always_inline)) float face_at(const float *restrict u, const float *restrict f,
                                                           int64_t hw, int64_t a, int64_t W, float alpha,
                                                           const int adjoint, const int has_up, const int has_dn,
                                                           const int has_l, const int has_r)
{
    const float *PV = f + FACE_PV * hw, *QV = f + FACE_QV * hw, *PH = f + FACE_PH * hw, *QH = f + FACE_QH * hw;
    const float ua = u[a];
    float s = 0.0f;
    if (!adjoint) {
        if (has_dn) s = FACE_FLUX(PV, QV, a, ua, u[a + W]);
        if (has_up) s -= FACE_FLUX(PV, QV, a - W, u[a - W], ua);
        if (has_r) s += FACE_FLUX(PH, QH, a, ua, u[a + 1]);
        if (has_l) s -= FACE_FLUX(PH, QH, a - 1, u[a - 1], ua);
    } else {
        if (has_dn) s = QV[a] * (u[a + W] - ua);
        if (has_up) s += PV[a - W] * (u[a - W] - ua);
        if (has_r) s += QH[a] * (u[a + 1] - ua);
        if (has_l) s += PH[a - 1] * (u[a - 1] - ua);
    }
    return alpha * ua + s;
}

/* Pixels [a0, a1) that all have both horizontal neighbours and the vertical
 * ones the flags name. */
static inline __attribute__((always_inline)) void face_run(float *restrict o, const float *restrict u,
                                                           const float *restrict f, int64_t hw, int64_t a0,
                                                           int64_t a1, int64_t W, float alpha, const int adjoint,
                                                           const int has_up, const int has_dn)
{
    for (int64_t a = a0; a < a1; a++) o[a] = face_at(u, f, hw, a, W, alpha, adjoint, has_up, has_dn, 1, 1);
}

/* Pixel (i, j) with the neighbours of its place in the image (branches). */
static float face_edge(const float *u, const float *f, int64_t H, int64_t W, int64_t i, int64_t j, float alpha,
                       int adjoint)
{
    return face_at(u, f, H * W, i * W + j, W, alpha, adjoint, i > 0, i + 1 < H, j > 0, j + 1 < W);
}

/* Rows [i0, i1) of one H×W image u through its face planes f into out. */
static void osm_faces_block(float *restrict out, const float *restrict u, const float *f, int64_t H, int64_t W,
                            int64_t i0, int64_t i1, float alpha, int adjoint)
{
    const int64_t hw = H * W;
    /* rows [r0, r1) with neighbours above and below, as one flat run */
    const int64_t r0 = i0 > 1 ? i0 : 1, r1 = i1 < H - 1 ? i1 : H - 1;
    if (r0 < r1 && W >= 3) {
        if (adjoint) face_run(out, u, f, hw, r0 * W, r1 * W, W, alpha, 1, 1, 1);
        else face_run(out, u, f, hw, r0 * W, r1 * W, W, alpha, 0, 1, 1);
    }
    for (int64_t i = i0; i < i1; i++) {
        if (W >= 3 && (i < r0 || i >= r1)) { /* the first or last row: columns 1..W−2 */
            const int64_t a0 = i * W + 1, a1 = i * W + W - 1;
            const int up = i > 0, dn = i + 1 < H;
#define FR(adj) up && dn ? face_run(out, u, f, hw, a0, a1, W, alpha, adj, 1, 1)   \
                : up     ? face_run(out, u, f, hw, a0, a1, W, alpha, adj, 1, 0)   \
                : dn     ? face_run(out, u, f, hw, a0, a1, W, alpha, adj, 0, 1)   \
                         : face_run(out, u, f, hw, a0, a1, W, alpha, adj, 0, 0)
            if (adjoint) FR(1);
            else FR(0);
#undef FR
        }
        out[i * W] = face_edge(u, f, H, W, i, 0, alpha, adjoint);
        if (W > 1) out[i * W + W - 1] = face_edge(u, f, H, W, i, W - 1, alpha, adjoint);
    }
}

typedef struct osm_job {
    float *out;
    const float *in;
    const osm_ctx *c;
    int64_t rows, nchunk, nstrip; /* block: rows per block, blocks per image, column strips (forward) */
    int adjoint;
} osm_job;

static void osm_blocks(void *ctx, int64_t lo, int64_t hi)
{
    const osm_job *jb = ctx;
    const osm_ctx *c = jb->c;
    const int64_t H = c->h_img, W = c->w_img;
    const float cc = 1.0f / (c->h * c->h), e = 0.5f / c->h;
    for (int64_t t = lo; t < hi; t++) {
        const int64_t s = t % jb->nstrip, ch = t / jb->nstrip % jb->nchunk, n = t / (jb->nstrip * jb->nchunk);
        const float *u = jb->in + n * H * W;
        float *o = jb->out + n * H * W;
        const float *d1 = c->d1 ? c->d1->data + (c->shared ? 0 : n * (H - 1) * W) : NULL;
        const float *d2 = c->d2 ? c->d2->data + (c->shared ? 0 : n * H * (W - 1)) : NULL;
        const int64_t i0 = ch * jb->rows, i1 = i0 + jb->rows < H ? i0 + jb->rows : H;
        if (c->faces) {
            osm_faces_block(o, u, c->faces + (c->shared ? 0 : n * FACE_PLANES * H * W), H, W, i0, i1, c->alpha,
                            jb->adjoint);
        } else if (jb->adjoint) {
            osm_adjoint_block(o, u, d1, d2, H, W, i0, i1, cc, e, c->alpha, c->beta);
        } else {
            const int64_t j0 = s * OSM_STRIP, j1 = j0 + OSM_STRIP < W ? j0 + OSM_STRIP : W;
            osm_forward_block(o, u, d1, d2, H, W, i0, i1, j0, j1, cc, e, c->alpha, c->beta);
        }
    }
}

/* out = alpha·in + beta·(A in), or with Aᵀ when `adjoint`, over `nimg`
 * contiguous H×W images; out must not overlap in. */
static void osm_kernel(float *restrict out, const float *restrict in, const osm_ctx *c, int64_t nimg, int adjoint)
{
    const int64_t H = c->h_img, W = c->w_img;
    const int par = nimg * H * W > OSM_PAR_MIN;
    osm_job jb = {out, in, c, par ? OSM_ROWS : H, 0, adjoint || c->faces ? 1 : (W + OSM_STRIP - 1) / OSM_STRIP,
                  adjoint};
    jb.nchunk = (H + jb.rows - 1) / jb.rows;
    ss_par_ranges(nimg * jb.nchunk * jb.nstrip, par, osm_blocks, &jb);
}

#ifdef SS_WITH_CUDA
/* osm_kernel on the GPU: the same arguments, the drift on the device. */
static int osm_cuda(float *out, const float *in, const osm_ctx *c, int64_t nimg, int adjoint)
{
    const float cc = 1.0f / (c->h * c->h), e = 0.5f / c->h;
    const float *d1 = c->d1 ? c->d1->data : NULL, *d2 = c->d2 ? c->d2->data : NULL;
    return (adjoint ? ss_cuda_osmosis_adjoint : ss_cuda_osmosis_forward)(out, in, d1, d2, nimg, c->h_img, c->w_img,
                                                                         c->shared, cc, e, c->alpha, c->beta,
                                                                         c->faced);
}
#endif

/* Runs the kernel on (…,H,W) tensors, through a copy when out shares memory with in. */
static int osm_run(const osm_ctx *c, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    ss_tensor *copy = NULL;
    if (ss_tensors_overlap(out, in)) {
        copy = ss_tensor_clone(in);
        if (!copy) return ss_last_status();
        in = copy;
    }
    const int64_t nimg = ss_tensor_numel(in) / (c->h_img * c->w_img);
    int rc = SS_OK;
    if (in->device == SS_CUDA) rc = SS_CUDA_CALL("osmosis", osm_cuda(out->data, in->data, c, nimg, adjoint));
    else osm_kernel(out->data, in->data, c, nimg, adjoint);
    ss_tensor_free(copy); /* on the GPU after queuing the kernel: the allocator reuses it in stream order */
    return rc;
}

/* ------------------------------------------------------------ drift */

/* The error for guidance value x at flat index k of v (…,H,W): NaN/Inf or not > 0. */
static int bad_guidance(const char *fn, float x, int64_t k, int64_t H, int64_t W)
{
    long long img = (long long)(k / (H * W)), i = (long long)(k / W % H), j = (long long)(k % W);
    if (isnan(x) || isinf(x))
        return SS_FAIL(SS_ERR_NUMERIC, "%s: guidance v contains %s at flat index %lld (image %lld, row %lld, "
                       "column %lld)", fn, isnan(x) ? "NaN" : "Inf", (long long)k, img, i, j);
    return SS_FAIL(SS_ERR_ARG, "%s: guidance v must be > 0 everywhere (osmosis needs positive images: add "
                   "an offset such as 1), but v = %g at flat index %lld (image %lld, row %lld, column %lld)",
                   fn, (double)x, (long long)k, img, i, j);
}

#ifdef SS_WITH_CUDA
/* The drift on the GPU: the scan for the first bad guidance value, then the kernel. */
static int drift_cuda(const char *fn, ss_tensor *d1, ss_tensor *d2, const ss_tensor *v, int64_t H, int64_t W,
                      double s)
{
    const int64_t n = ss_tensor_numel(v);
    int64_t k;
    SS_TRY(ss_cuda_osmosis_first_bad_forward(&k, v->data, n));
    if (k < n) {
        float x;
        SS_TRY(ss_cuda_memcpy(&x, v->data + k, sizeof x, SS_COPY_D2H));
        return bad_guidance(fn, x, k, H, W);
    }
    return ss_cuda_osmosis_drift_forward(d1 ? d1->data : NULL, d2 ? d2->data : NULL, v->data, n / (H * W), H, W, s);
}
#endif

/* d1: (…,H−1,W) (NULL when H = 1), d2: (…,H,W−1) (NULL when W = 1), v: (…,H,W) > 0. */
int ss_osmosis_drift(ss_tensor *d1, ss_tensor *d2, const ss_tensor *v, float h)
{
    const char *fn = "ss_osmosis_drift";
    SS_TRY(ss_check_tensor(v, fn, "guidance v"));
    char sv[96];
    if (v->ndim < 2)
        return SS_FAIL(SS_ERR_ARG, "%s: guidance v %s needs 2 to 4 dimensions (...,H,W)", fn,
                       ss_shape_str(sv, sizeof sv, v));
    SS_TRY(check_grid(fn, h));
    osm_ctx c;
    SS_TRY(check_drift(fn, &c, d1, d2, v, 1));
    if ((d1 && ss_tensors_overlap(d1, v)) || (d2 && ss_tensors_overlap(d2, v)) ||
        (d1 && d2 && ss_tensors_overlap(d1, d2)))
        return SS_FAIL(SS_ERR_ARG, "%s: the drift outputs d1, d2 and the guidance v must not share memory", fn);
    const int64_t H = c.h_img, W = c.w_img, n = ss_tensor_numel(v);
    const double s = 2.0 / h;
    if (v->device == SS_CUDA) return SS_CUDA_CALL(fn, drift_cuda(fn, d1, d2, v, H, W, s));
    const float *p = v->data;
    for (int64_t k = 0; k < n; k++)
        if (!(p[k] > 0) || !isfinite(p[k])) return bad_guidance(fn, p[k], k, H, W);
    const int64_t nimg = n / (H * W);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t r = 0; r < nimg * H; r++) {
        const int64_t m = r / H, i = r % H;
        const float *a = p + r * W;
        if (d1 && i + 1 < H) {
            float *o = d1->data + (m * (H - 1) + i) * W;
            for (int64_t j = 0; j < W; j++) o[j] = (float)(s * ((double)a[j + W] - a[j]) / ((double)a[j + W] + a[j]));
        }
        if (d2) {
            float *o = d2->data + r * (W - 1);
            for (int64_t j = 0; j + 1 < W; j++) o[j] = (float)(s * ((double)a[j + 1] - a[j]) / ((double)a[j + 1] + a[j]));
        }
    }
    return SS_OK;
}

/* ------------------------------------------------------------ the operator A */

static int osm_apply_checked(const char *fn, ss_tensor *out, const ss_tensor *in, const ss_tensor *d1,
                             const ss_tensor *d2, float h, int adjoint)
{
    int64_t b, H, W;
    SS_TRY(ss_image_op_check(fn, out, in, 0, 0, &b, &H, &W));
    SS_TRY(check_grid(fn, h));
    osm_ctx c;
    SS_TRY(check_drift(fn, &c, d1, d2, in, 0));
    SS_TRY(check_drift_finite(fn, d1, d2));
    c.h = h, c.alpha = 0.0f, c.beta = 1.0f;
    c.own1 = c.own2 = NULL;
    return osm_run(&c, out, in, adjoint);
}

/* out = A u; out, u: (…,H,W); out may be u. */
int ss_osmosis_forward(ss_tensor *out, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h)
{
    return osm_apply_checked("ss_osmosis_forward", out, u, d1, d2, h, 0);
}

/* out = Aᵀ y, the transposed loop; out, y: (…,H,W); out may be y. */
int ss_osmosis_adjoint(ss_tensor *out, const ss_tensor *y, const ss_tensor *d1, const ss_tensor *d2, float h)
{
    return osm_apply_checked("ss_osmosis_adjoint", out, y, d1, d2, h, 1);
}

/* ------------------------------------------------------------ explicit steps */

/* max over pixels of the sum of outgoing coefficients |q| (pixel is a) and |p|
 * (pixel is b), and max |d|·h/2 (<= 1 keeps the off-diagonals >= 0). */
static int osm_bounds(const osm_ctx *c, double *max_out, double *max_dh)
{
    const int64_t H = c->h_img, W = c->w_img;
    const int64_t nimg = c->d1 ? lead_numel(c->d1) : c->d2 ? lead_numel(c->d2) : 1; /* the drift's own images */
    const ss_tensor *d = c->d1 ? c->d1 : c->d2;
    if (d && d->device == SS_CUDA)
        return SS_CUDA_CALL("osmosis", ss_cuda_osmosis_bounds_forward(max_out, max_dh, c->d1 ? c->d1->data : NULL,
                                                                      c->d2 ? c->d2->data : NULL, nimg, H, W, c->h));
    const double cc = 1.0 / ((double)c->h * c->h), e = 0.5 / c->h;
    const float *d1 = c->d1 ? c->d1->data : NULL, *d2 = c->d2 ? c->d2->data : NULL;
    double mo = 0, md = 0;
#pragma omp parallel for schedule(static) reduction(max : mo, md) if (nimg * H * W > 65536)
    for (int64_t r = 0; r < nimg * H; r++) {
        const int64_t n = r / H, i = r % H;
        const float *dn = i + 1 < H ? d1 + n * (H - 1) * W + i * W : NULL;
        const float *up = i > 0 ? d1 + n * (H - 1) * W + (i - 1) * W : NULL;
        const float *rt = W > 1 ? d2 + n * H * (W - 1) + i * (W - 1) : NULL;
        for (int64_t j = 0; j < W; j++) {
            double o = 0;
            if (dn) o += fabs(cc + e * dn[j]), md = fmax(md, fabs(dn[j]) * c->h * 0.5);
            if (up) o += fabs(cc - e * up[j]);
            if (rt && j + 1 < W) o += fabs(cc + e * rt[j]), md = fmax(md, fabs(rt[j]) * c->h * 0.5);
            if (rt && j > 0) o += fabs(cc - e * rt[j - 1]);
            mo = fmax(mo, o);
        }
    }
    *max_out = mo;
    *max_dh = md;
    return SS_OK;
}

/* The drift alone decides the image size: H from d1 (1 when NULL), W from d2. */
static int drift_image(const char *fn, ss_tensor *img, const ss_tensor *d1, const ss_tensor *d2)
{
    const ss_tensor *d = d1 ? d1 : d2;
    if (!d) return SS_FAIL(SS_ERR_ARG, "%s: drifts d1 and d2 are both NULL (a 1x1 image has no faces)", fn);
    SS_TRY(ss_check_tensor(d, fn, d1 ? "drift d1" : "drift d2"));
    char sd[96];
    if (d->ndim < 2)
        return SS_FAIL(SS_ERR_ARG, "%s: drift %s %s needs 2 to 4 dimensions", fn, d1 ? "d1" : "d2",
                       ss_shape_str(sd, sizeof sd, d));
    memset(img, 0, sizeof *img);
    img->ndim = d->ndim;
    memcpy(img->shape, d->shape, sizeof img->shape);
    img->shape[d->ndim - 2] += d1 ? 1 : 0;
    img->shape[d->ndim - 1] += d1 ? 0 : 1;
    img->device = d->device;
    return SS_OK;
}

int ss_osmosis_explicit_limit(double *tau_max, const ss_tensor *d1, const ss_tensor *d2, float h)
{
    const char *fn = "ss_osmosis_explicit_limit";
    if (!tau_max) return SS_FAIL(SS_ERR_ARG, "%s: tau_max is NULL", fn);
    SS_TRY(check_grid(fn, h));
    ss_tensor img;
    SS_TRY(drift_image(fn, &img, d1, d2));
    osm_ctx c;
    SS_TRY(check_drift(fn, &c, d1, d2, &img, 1));
    SS_TRY(check_drift_finite(fn, d1, d2));
    c.h = h;
    c.shared = 0;
    double mo, md;
    SS_TRY(osm_bounds(&c, &mo, &md));
    *tau_max = mo > 0 ? 1.0 / mo : INFINITY;
    return SS_OK;
}

static int check_tau(const char *fn, float tau)
{
    if (!(tau >= 0) || !isfinite(tau))
        return SS_FAIL(SS_ERR_ARG, "%s: time step tau must be finite and >= 0, got %g", fn, (double)tau);
    return SS_OK;
}

int ss_osmosis_explicit_step(ss_tensor *u_next, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h,
                             float tau)
{
    const char *fn = "ss_osmosis_explicit_step";
    int64_t b, H, W;
    SS_TRY(ss_image_op_check(fn, u_next, u, 0, 0, &b, &H, &W));
    SS_TRY(check_grid(fn, h));
    SS_TRY(check_tau(fn, tau));
    osm_ctx c;
    SS_TRY(check_drift(fn, &c, d1, d2, u, 0));
    SS_TRY(check_drift_finite(fn, d1, d2));
    SS_TRY(check_image_finite(fn, "image u", u));
    c.h = h, c.alpha = 1.0f, c.beta = tau;
    c.own1 = c.own2 = NULL;
    double mo, md;
    SS_TRY(osm_bounds(&c, &mo, &md));
    if (md > 1.0 + 1e-6)
        return SS_FAIL(SS_ERR_ARG, "%s: drift magnitude %g exceeds 2/h = %g (h = %g): the explicit scheme keeps "
                       "positivity for no tau > 0 (the canonical drift of a positive image stays below 2/h; was the "
                       "drift made with another h?); use ss_osmosis_implicit_step", fn, 2.0 * md / h, 2.0 / h,
                       (double)h);
    double limit = mo > 0 ? 1.0 / mo : INFINITY;
    if ((double)tau > limit)
        return SS_FAIL(SS_ERR_ARG, "%s: tau = %.9g exceeds the explicit stability limit %.9g = 1/max_i |a_ii| of this "
                       "drift (h = %g); take tau <= %.9g or use ss_osmosis_implicit_step", fn, (double)tau, limit,
                       (double)h, limit);
    return osm_run(&c, u_next, u, 0);
}

/* ------------------------------------------------------------ operators */

/* ss_linop_apply has checked the image size and that out has in's leading
 * dimensions; the drift's leading dimensions must fit in's. */
static int osm_cb(const ss_linop *op, ss_tensor *out, const ss_tensor *in, int adjoint)
{
    const osm_ctx *c = op->ctx;
    const char *fn = adjoint ? "ss_linop_adjoint(osmosis)" : "ss_linop_apply(osmosis)";
    const ss_tensor *d = c->d1 ? c->d1 : c->d2;
    if (d) SS_TRY(check_drift_device(fn, c->d1 ? "d1" : "d2", d, in)); /* ss_linop_apply checked out against in */
    if (!(lead_numel(d) == 1 || same_lead(d, in))) {
        char sd[96], si[96];
        return SS_FAIL(SS_ERR_ARG, "%s: the operator's drift %s does not fit input %s: the input needs the drift's "
                       "leading dimensions", fn, ss_shape_str(sd, sizeof sd, d), ss_shape_str(si, sizeof si, in));
    }
    osm_ctx run = *c;
    run.shared = lead_numel(d) == 1 && lead_numel(in) > 1;
    return osm_run(&run, out, in, adjoint);
}

static int osm_apply_cb(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return osm_cb(op, out, in, 0); }
static int osm_adjoint_cb(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return osm_cb(op, out, in, 1); }

/* The drift's device. */
static int osm_device(const ss_linop *op)
{
    const osm_ctx *c = op->ctx;
    return c->d1 ? c->d1->device : c->d2 ? c->d2->device : SS_CPU;
}

/* The drift copies the operator owns (none when it borrows the caller's) and
 * the face coefficients. */
static void osm_destroy(ss_linop *op)
{
    osm_ctx *c = op->ctx;
    ss_tensor_free(c->own1);
    ss_tensor_free(c->own2);
    ss_free(c->faces);
}

static const ss_linop_vtable osmosis_vt = {
    .apply = osm_apply_cb,
    .adjoint = osm_adjoint_cb,
    .device = osm_device,
    .destroy = osm_destroy,
};

/* An operator over a checked context (geometry, h, alpha, beta set; nothing
 * owned yet): its copies of the drift when `copy`, else the caller's; the face
 * coefficients when alpha != 0 (I − τA is applied many times by iterative methods). */
static ss_linop *osm_linop_from(const char *fn, const osm_ctx *probe, int copy, const char *name)
{
    ss_linop *op = ss_linop_create(fn, &osmosis_vt, sizeof(osm_ctx), probe->h_img, probe->w_img, probe->h_img,
                                   probe->w_img, "%s", name);
    if (!op) return NULL;
    osm_ctx *c = op->ctx;
    *c = *probe;
    c->own1 = c->own2 = NULL;
    c->faces = NULL;
    c->shared = 0; /* decided per call from the input */
    if (copy) {
        c->own1 = c->d1 ? ss_tensor_clone(c->d1) : NULL;
        c->own2 = c->d2 ? ss_tensor_clone(c->d2) : NULL;
        c->d1 = c->own1, c->d2 = c->own2;
        if ((probe->d1 && !c->own1) || (probe->d2 && !c->own2)) {
            ss_linop_free(op);
            return NULL;
        }
    }
    if (c->alpha != 0.0f && osm_use_faces(c) < 0) {
        ss_linop_free(op);
        return NULL;
    }
    return op;
}

/* alpha·I + beta·A over copies of the drift, owning them. */
static ss_linop *osm_linop(const char *fn, const ss_tensor *d1, const ss_tensor *d2, float h, float alpha, float beta,
                           const char *name)
{
    if (check_grid(fn, h) < 0) return NULL;
    ss_tensor img;
    if (drift_image(fn, &img, d1, d2) < 0) return NULL;
    osm_ctx probe;
    if (check_drift(fn, &probe, d1, d2, &img, 1) < 0 || check_drift_finite(fn, d1, d2) < 0) return NULL;
    probe.h = h, probe.alpha = alpha, probe.beta = beta;
    return osm_linop_from(fn, &probe, 1, name);
}

ss_linop *ss_linop_osmosis(const ss_tensor *d1, const ss_tensor *d2, float h, float tau)
{
    const char *fn = "ss_linop_osmosis";
    if (check_tau(fn, tau) < 0) return NULL;
    char name[64];
    snprintf(name, sizeof name, "osmosis_step(tau=%g,h=%g)", (double)tau, (double)h);
    return osm_linop(fn, d1, d2, h, 1.0f, -tau, name);
}

ss_linop *ss_linop_osmosis_generator(const ss_tensor *d1, const ss_tensor *d2, float h)
{
    char name[64];
    snprintf(name, sizeof name, "osmosis(h=%g)", (double)h);
    return osm_linop("ss_linop_osmosis_generator", d1, d2, h, 0.0f, 1.0f, name);
}

ss_linop *ss_osmosis_step_linop(const char *fn, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h,
                                float tau)
{
    if (check_grid(fn, h) < 0 || check_tau(fn, tau) < 0) return NULL;
    osm_ctx probe;
    if (check_drift(fn, &probe, d1, d2, u, 0) < 0 || check_drift_finite(fn, d1, d2) < 0 ||
        check_image_finite(fn, "image u", u) < 0)
        return NULL;
    probe.h = h, probe.alpha = 1.0f, probe.beta = -tau;
    char name[64];
    snprintf(name, sizeof name, "osmosis_step(tau=%g,h=%g)", (double)tau, (double)h);
    return osm_linop_from(fn, &probe, 0, name);
}
