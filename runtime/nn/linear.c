/* linear.c — the fully connected layer (PyTorch's linear), forward and backward.
 *
 * Shapes: in (...,Fin) seen as R = numel/Fin rows, weight (Fout,Fin), bias
 * (Fout), out (...,Fout) with in's leading dimensions. Each product is one
 * sgemm on the row-major buffers (OpenBLAS threads it):
 *   forward      out (R,Fout)        = in (R,Fin) · weightᵀ (Fin,Fout) [+ bias, filled first]
 *   grad_in      (R,Fin)             = grad_out (R,Fout) · weight (Fout,Fin)
 *   grad_weight  (Fout,Fin)         += grad_outᵀ (Fout,R) · in (R,Fin)
 *   grad_bias    (Fout)             += Σ_r grad_out[r], in double, rows in order. */
#include "core/internal.h"
#include "kernels/linear.h"
#include "nn/layer_check.h"

#include <cblas.h>
#include <limits.h>

/* Columns of grad_out summed together in grad_bias (a stack buffer of doubles). */
#define LINEAR_BIAS_BLOCK 256

typedef struct linear_geom {
    int64_t rows, fin, fout;
} linear_geom;

/* Fills g from in and weight: weight (Fout,Fin), in (...,Fin). */
static int linear_geom_init(linear_geom *g, const char *op, const ss_tensor *in, const ss_tensor *weight)
{
    char sa[96];
    SS_TRY(ss_check_tensor(in, op, "in"));
    SS_TRY(ss_check_tensor(weight, op, "weight"));
    if (weight->ndim != 2)
        return SS_FAIL(SS_ERR_ARG, "%s: weight must be (Fout,Fin), got %s", op, ss_shape_str(sa, sizeof sa, weight));
    g->fout = weight->shape[0], g->fin = weight->shape[1];
    if (in->shape[in->ndim - 1] != g->fin)
        return SS_FAIL(SS_ERR_ARG, "%s: weight has %lld input features, input has %lld (in %s)", op,
                       (long long)g->fin, (long long)in->shape[in->ndim - 1], ss_shape_str(sa, sizeof sa, in));
    g->rows = ss_tensor_numel(in) / g->fin;
    if (g->rows > INT_MAX || g->fin > INT_MAX || g->fout > INT_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: sizes too large for BLAS (int) indices", op);
    return SS_OK;
}

/* SS_ERR_ARG naming `arg` unless t (when given) has in's leading dimensions and `last` as its last size. */
static int check_like(const char *op, const char *arg, const ss_tensor *t, const ss_tensor *in, int64_t last)
{
    if (!t) return SS_OK;
    SS_TRY(ss_check_tensor(t, op, arg));
    int ok = t->ndim == in->ndim && t->shape[t->ndim - 1] == last;
    for (int d = 0; ok && d < in->ndim - 1; d++) ok = t->shape[d] == in->shape[d];
    if (ok) return SS_OK;
    char sa[96], sb[96];
    return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected in's leading dimensions %s with last size %lld", op,
                   arg, ss_shape_str(sa, sizeof sa, t), ss_shape_str(sb, sizeof sb, in), (long long)last);
}

/* SS_ERR_ARG naming `arg` unless t (when given) is 1-D of size n, or (rows, cols) when cols > 0. */
static int check_param(const char *op, const char *arg, const ss_tensor *t, int64_t rows, int64_t cols)
{
    if (!t) return SS_OK;
    SS_TRY(ss_check_tensor(t, op, arg));
    if (cols > 0 ? t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols : t->ndim == 1 && t->shape[0] == rows)
        return SS_OK;
    char sa[96];
    if (cols > 0)
        return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld,%lld)", op, arg,
                       ss_shape_str(sa, sizeof sa, t), (long long)rows, (long long)cols);
    return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected (%lld)", op, arg, ss_shape_str(sa, sizeof sa, t),
                   (long long)rows);
}

int ss_linear_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *weight, const ss_tensor *bias)
{
    const char *op = "ss_linear_forward";
    linear_geom g;
    SS_TRY(ss_check_tensor(out, op, "out"));
    SS_TRY(linear_geom_init(&g, op, in, weight));
    SS_TRY(check_like(op, "out", out, in, g.fout));
    SS_TRY(check_param(op, "bias", bias, g.fout, 0));
    int dev = ss_check_layer_forward(op, out, in, weight, bias);
    if (dev < 0) return dev;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_linear_forward(out->data, in->data, weight->data, bias ? bias->data : NULL,
                                                       g.rows, g.fin, g.fout));

    /* out (R,Fout) = [bias +] in (R,Fin) · weightᵀ (Fin,Fout) */
    if (bias)
        for (int64_t r = 0; r < g.rows; r++) {
            float *o = out->data + r * g.fout;
            for (int64_t j = 0; j < g.fout; j++) o[j] = bias->data[j];
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g.rows, (int)g.fout, (int)g.fin, 1.0f, in->data,
                (int)g.fin, weight->data, (int)g.fin, bias ? 1.0f : 0.0f, out->data, (int)g.fout);
    return SS_OK;
}

int ss_linear_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                       const ss_tensor *in, const ss_tensor *weight)
{
    const char *op = "ss_linear_backward";
    linear_geom g;
    SS_TRY(ss_check_tensor(grad_out, op, "grad_out"));
    SS_TRY(linear_geom_init(&g, op, in, weight));
    SS_TRY(check_like(op, "grad_out", grad_out, in, g.fout));
    SS_TRY(check_like(op, "grad_in", grad_in, in, g.fin));
    SS_TRY(check_param(op, "grad_weight", grad_weight, g.fout, g.fin));
    SS_TRY(check_param(op, "grad_bias", grad_bias, g.fout, 0));
    const int dev = ss_check_layer_backward(op, grad_out, in, weight, grad_in, grad_weight, grad_bias);
    if (dev < 0) return dev;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_linear_backward(grad_in ? grad_in->data : NULL,
                                                        grad_weight ? grad_weight->data : NULL,
                                                        grad_bias ? grad_bias->data : NULL, grad_out->data, in->data,
                                                        weight->data, g.rows, g.fin, g.fout));

    /* grad_in (R,Fin) = grad_out (R,Fout) · weight (Fout,Fin) */
    if (grad_in)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g.rows, (int)g.fin, (int)g.fout, 1.0f,
                    grad_out->data, (int)g.fout, weight->data, (int)g.fin, 0.0f, grad_in->data, (int)g.fin);
    /* grad_weight (Fout,Fin) += grad_outᵀ (Fout,R) · in (R,Fin) */
    if (grad_weight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.fout, (int)g.fin, (int)g.rows, 1.0f,
                    grad_out->data, (int)g.fout, in->data, (int)g.fin, 1.0f, grad_weight->data, (int)g.fin);
    /* grad_bias (Fout) += Σ_r grad_out[r], a block of columns at a time */
    if (grad_bias)
        for (int64_t j0 = 0; j0 < g.fout; j0 += LINEAR_BIAS_BLOCK) {
            const int64_t nj = g.fout - j0 < LINEAR_BIAS_BLOCK ? g.fout - j0 : LINEAR_BIAS_BLOCK;
            double acc[LINEAR_BIAS_BLOCK];
            for (int64_t j = 0; j < nj; j++) acc[j] = 0.0;
            for (int64_t r = 0; r < g.rows; r++) {
                const float *go = grad_out->data + r * g.fout + j0;
                for (int64_t j = 0; j < nj; j++) acc[j] += (double)go[j];
            }
            float *gb = grad_bias->data + j0;
            for (int64_t j = 0; j < nj; j++) gb[j] = (float)((double)gb[j] + acc[j]);
        }
    return SS_OK;
}
