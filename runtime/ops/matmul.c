/* matmul.c — batched matrix multiply over the last two dimensions (OpenBLAS sgemm;
 * cuBLAS for cuda tensors). */
#include "core/internal.h"
#include "kernels/reduce.h"

#include <cblas.h>

/* Rows and columns of the matrix part (the last two dimensions) and the batch
 * (product of the others) of t. 1-D tensors are refused: make them (1,K) first. */
static int mat_dims(const char *op, const char *arg, const ss_tensor *t, int64_t *batch, int64_t *rows, int64_t *cols)
{
    SS_TRY(ss_check_tensor(t, op, arg));
    if (t->ndim < 2) return SS_FAIL(SS_ERR_ARG, "%s: %s needs at least 2 dimensions, got %d", op, arg, t->ndim);
    *rows = t->shape[t->ndim - 2];
    *cols = t->shape[t->ndim - 1];
    *batch = ss_tensor_numel(t) / (*rows * *cols);
    return SS_OK;
}

/* out (B,M,N) = alpha * op(a) (B,M,K) * op(b) (B,K,N) + beta * out; a or b may have batch 1. */
int ss_bmm(ss_tensor *out, const ss_tensor *a, const ss_tensor *b, int trans_a, int trans_b, float alpha, float beta)
{
    const char *op = "ss_bmm";
    const ss_tensor *ts[3] = {out, a, b};
    int dev = ss_common_device(op, 3, ts);
    if (dev < 0) return dev;
    int64_t ba = 0, ra = 0, ca = 0, bb = 0, rb = 0, cb = 0, bo = 0, ro = 0, co = 0;
    SS_TRY(mat_dims(op, "a", a, &ba, &ra, &ca));
    SS_TRY(mat_dims(op, "b", b, &bb, &rb, &cb));
    SS_TRY(mat_dims(op, "out", out, &bo, &ro, &co));
    int64_t m = trans_a ? ca : ra, k = trans_a ? ra : ca;
    int64_t kb = trans_b ? cb : rb, n = trans_b ? rb : cb;
    if (k != kb || ro != m || co != n || (ba != bo && ba != 1) || (bb != bo && bb != 1)) {
        char sa[96], sb[96], so[96];
        return SS_FAIL(SS_ERR_ARG, "%s: shapes do not multiply: a %s%s, b %s%s, out %s", op,
                       ss_shape_str(sa, sizeof sa, a), trans_a ? "^T" : "", ss_shape_str(sb, sizeof sb, b),
                       trans_b ? "^T" : "", ss_shape_str(so, sizeof so, out));
    }
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_bmm_forward(out->data, a->data, b->data, bo, m, n, k, trans_a, trans_b, ca, cb,
                                                    ba == 1 ? 0 : ra * ca, bb == 1 ? 0 : rb * cb, alpha, beta));
    for (int64_t i = 0; i < bo; i++) {
        const float *pa = a->data + (ba == 1 ? 0 : i * ra * ca);
        const float *pb = b->data + (bb == 1 ? 0 : i * rb * cb);
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)m, (int)n, (int)k, alpha, pa, (int)ca, pb, (int)cb, beta, out->data + i * m * n, (int)n);
    }
    return SS_OK;
}
