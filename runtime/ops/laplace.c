/* laplace.c — 5-point discrete Laplacian with reflecting (Neumann) boundaries.
 *
 * Grid size 1: (Δu)_ij = Σ over the existing 4-neighbours of (u_nb − u_ij).
 * A neighbour outside the image is mirrored onto u_ij itself, so its term
 * vanishes and the boundary flux is zero. Each edge {p,q} of the pixel grid
 * adds (u_q − u_p) to p and (u_p − u_q) to q: the matrix is the negated graph
 * Laplacian, symmetric, so the adjoint is the same loop. */
#include "ops/image_op.h"
#include "ops/linop_impl.h"
#include "kernels/laplace.h"

#include <string.h>

/* One output row i of an h×w image: up/down rows are NULL at the border. */
static void laplace_row(float *restrict o, const float *restrict r, const float *restrict up,
                        const float *restrict dn, int64_t w)
{
    for (int64_t j = 0; j < w; j++) o[j] = 0.0f;
    if (up)
        for (int64_t j = 0; j < w; j++) o[j] += up[j] - r[j];
    if (dn)
        for (int64_t j = 0; j < w; j++) o[j] += dn[j] - r[j];
    for (int64_t j = 1; j < w; j++) o[j] += r[j - 1] - r[j];
    for (int64_t j = 0; j + 1 < w; j++) o[j] += r[j + 1] - r[j];
}

static int laplace_run(const char *op, ss_tensor *out, const ss_tensor *in)
{
    int64_t b, h, w;
    int dev = ss_image_op_check(op, out, in, 0, 0, &b, &h, &w);
    if (dev < 0) return dev;
    /* The stencil reads neighbours after writing: work from a copy if out
     * shares memory with in. */
    ss_tensor *copy = NULL;
    if (ss_tensors_overlap(out, in)) {
        copy = ss_tensor_clone(in);
        if (!copy) return ss_last_status();
        in = copy;
    }
    if (dev == SS_CUDA) {
        int rc = SS_CUDA_CALL(op, ss_cuda_laplace_forward(out->data, in->data, b, h, w));
        ss_tensor_free(copy); /* the kernel is queued before the copy's memory can be reused */
        return rc;
    }
    const float *u = in->data;
    float *o = out->data;
#pragma omp parallel for schedule(static) if (b * h * w > 65536)
    for (int64_t r = 0; r < b * h; r++) {
        int64_t i = r % h;
        const float *row = u + r * w;
        laplace_row(o + r * w, row, i > 0 ? row - w : NULL, i + 1 < h ? row + w : NULL, w);
    }
    ss_tensor_free(copy);
    return SS_OK;
}

/* out, in: (...,H,W); out may be in. */
int ss_laplace_forward(ss_tensor *out, const ss_tensor *in) { return laplace_run("ss_laplace_forward", out, in); }

/* The 5-point Neumann Laplacian is symmetric (see the top of the file). */
int ss_laplace_adjoint(ss_tensor *out, const ss_tensor *in) { return laplace_run("ss_laplace_adjoint", out, in); }

/* The stencil is symmetric: one function for both directions. */
static int laplace_fn(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return ss_laplace_forward(out, in); }

static const ss_linop_vtable laplace_vt = {.apply = laplace_fn, .adjoint = laplace_fn};

ss_linop *ss_linop_laplace(int64_t h, int64_t w)
{
    return ss_linop_create("ss_linop_laplace", &laplace_vt, 0, h, w, h, w, "laplace");
}
