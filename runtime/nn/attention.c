/* attention.c — multi-head self-attention over the T positions of a feature map
 * (ADM's QKVAttention in its chunked order), forward and backward.
 *
 * Shapes: qkv (N,3C,...), out (N,C,...), T = the product of the trailing sizes,
 * d = C/heads. For image n and head h, q, k and v are the (d,T) row-major blocks
 * of qkv that start at channels h·d, C + h·d and 2C + h·d, and the head's output
 * is the (d,T) block of out at channel h·d. With α = 1/√d, per (n,h) pair p:
 *   forward   W_p (T,T)  = α · qᵀ (T,d) · k (d,T), then softmax along each row
 *             out (d,T)  = v (d,T) · W_pᵀ (T,T)
 *   backward  with G the (d,T) block of grad_out:
 *             dv (d,T)   = G · W_p                       [dv[c][s] = Σ_t G[c][t] W[t][s]]
 *             dW (T,T)   = Gᵀ (T,d) · v (d,T)            [dW[t][s] = Σ_c G[c][t] v[c][s]]
 *             dS         = W ⊙ (dW − rowsum(dW ⊙ W))      (through the softmax)
 *             dq (d,T)   = α · k · dSᵀ                   [dq[c][t] = α Σ_s dS[t][s] k[c][s]]
 *             dk (d,T)   = α · q · dS                    [dk[c][s] = α Σ_t q[c][t] dS[t][s]]
 * Every product is one sgemm on the tensors' own memory; only dW/dS needs
 * scratch, (T,T) per thread. The softmax exponentiates S − (row max), so no
 * score can overflow, with an exp that vectorises (ss_exp_nonpos, nn/vexp.h), and sums the row
 * in double.
 *
 * Threads, as in conv2d.c: with at least as many pairs as threads and enough
 * work, the pairs are split over the OpenMP team with OpenBLAS on one thread
 * meanwhile; otherwise they run in order in the calling thread and OpenBLAS
 * threads each product. Either way one thread computes a pair in a fixed order,
 * so the results do not depend on the thread count (beyond OpenBLAS's own
 * rounding when it threads a product).
 *
 * Tensors on cuda run kernels/attention.cu: the same products as cuBLAS
 * strided-batched sgemms, the same softmax one GPU block per row. */
#include "core/internal.h"
#include "core/par.h"
#include "nn/vexp.h"
#include "kernels/attention.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Below this many multiply-adds in each of the forward's products (pairs·T·T·d) a call
 * stays on the calling thread. */
#define ATTN_PAR_MIN ((int64_t)1 << 21)

typedef struct attn_geom {
    int64_t n, c, t, heads, d; /* c: channels of out (qkv has 3c), t: positions */
    float alpha;               /* 1/√d */
} attn_geom;

/* Fills g from qkv and heads and checks what they and weights' size determine. */
static int attn_geom_init(attn_geom *g, const char *op, const ss_tensor *qkv, const ss_tensor *weights, int heads)
{
    char sa[96];
    SS_TRY(ss_check_tensor(qkv, op, "qkv"));
    SS_TRY(ss_check_tensor(weights, op, "weights"));
    if (qkv->ndim < 3)
        return SS_FAIL(SS_ERR_ARG, "%s: qkv must be (N,3C,...) with 3 or 4 dims, got %s", op,
                       ss_shape_str(sa, sizeof sa, qkv));
    if (qkv->shape[1] % 3 != 0)
        return SS_FAIL(SS_ERR_ARG, "%s: qkv has %lld channels, not a multiple of 3 (q, k and v)", op,
                       (long long)qkv->shape[1]);
    g->n = qkv->shape[0], g->c = qkv->shape[1] / 3, g->heads = heads;
    if (heads < 1 || g->c % heads != 0)
        return SS_FAIL(SS_ERR_ARG, "%s: %lld channels (qkv %s) do not split into %d heads", op, (long long)g->c,
                       ss_shape_str(sa, sizeof sa, qkv), heads);
    g->d = g->c / heads;
    g->t = 1;
    for (int i = 2; i < qkv->ndim; i++) g->t *= qkv->shape[i];
    if (g->t > INT_MAX || g->d > INT_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: sizes too large for BLAS (int) indices", op);
    g->alpha = (float)(1.0 / sqrt((double)g->d));
    /* numel == N·heads·T·T, tested by division: the product may overflow for a wrong size */
    const int64_t tt = g->t * g->t, nw = ss_tensor_numel(weights);
    if (nw % tt != 0 || nw / tt != g->n * heads)
        return SS_FAIL(SS_ERR_ARG, "%s: weights must hold N·heads·T·T = %lld·%d·%lld·%lld values, has %lld", op,
                       (long long)g->n, heads, (long long)g->t, (long long)g->t, (long long)nw);
    return SS_OK;
}

/* SS_ERR_ARG naming `arg` unless t is (N,channels,...) with qkv's N and trailing sizes. */
static int check_like(const char *op, const char *arg, const ss_tensor *t, const ss_tensor *qkv, int64_t channels)
{
    SS_TRY(ss_check_tensor(t, op, arg));
    ss_tensor want = *qkv;
    want.shape[1] = channels;
    if (ss_tensor_same_shape(t, &want)) return SS_OK;
    char sa[96], sb[96];
    return SS_FAIL(SS_ERR_ARG, "%s: %s has shape %s, expected %s", op, arg, ss_shape_str(sa, sizeof sa, t),
                   ss_shape_str(sb, sizeof sb, &want));
}

/* ------------------------------------------------------------ one pair */

/* Softmax of one row in place, with the row maximum subtracted; max and sum in
 * fixed lanes (the sum in double, SS_LANE_SUM) so that they vectorise. */
static void softmax_row(float *row, int64_t n)
{
    float lane[16];
    for (int l = 0; l < 16; l++) lane[l] = row[0];
    int64_t s = 0;
    for (; s + 16 <= n; s += 16)
        for (int l = 0; l < 16; l++) lane[l] = row[s + l] > lane[l] ? row[s + l] : lane[l];
    float m = row[0];
    for (int l = 0; l < 16; l++) m = lane[l] > m ? lane[l] : m;
    for (; s < n; s++) m = row[s] > m ? row[s] : m;
    for (s = 0; s < n; s++) row[s] = ss_exp_nonpos(row[s] - m);
    double sum[1];
#define SUM_TERMS(k, acc, l) acc[0][l] += (double)row[k]
    SS_LANE_SUM(1, 0, n, sum, SUM_TERMS);
#undef SUM_TERMS
    const double inv = 1.0 / sum[0];
    for (s = 0; s < n; s++) row[s] = (float)(row[s] * inv);
}

typedef struct attn_run {
    const attn_geom *g;
    const float *qkv, *grad_out;
    float *out, *weights, *grad_qkv;
    float *scratch; /* backward: (T,T) per thread, `slice` floats apart */
    int64_t slice;
} attn_run;

static void forward_pair(const attn_run *r, int64_t p)
{
    const attn_geom *g = r->g;
    const int64_t n = p / g->heads, h = p % g->heads, T = g->t, d = g->d;
    const float *q = r->qkv + (n * 3 * g->c + h * d) * T, *k = q + g->c * T, *v = k + g->c * T;
    float *w = r->weights + p * T * T;
    /* W (T,T) = α · qᵀ · k, then row softmax */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)T, (int)d, g->alpha, q, (int)T, k, (int)T,
                0.0f, w, (int)T);
    for (int64_t t = 0; t < T; t++) softmax_row(w + t * T, T);
    /* out (d,T) = v · Wᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)T, (int)T, 1.0f, v, (int)T, w, (int)T, 0.0f,
                r->out + (n * g->c + h * d) * T, (int)T);
}

/* ds: (T,T) scratch. */
static void backward_pair(const attn_run *r, float *ds, int64_t p)
{
    const attn_geom *g = r->g;
    const int64_t n = p / g->heads, h = p % g->heads, T = g->t, d = g->d;
    const float *q = r->qkv + (n * 3 * g->c + h * d) * T, *k = q + g->c * T, *v = k + g->c * T;
    const float *w = r->weights + p * T * T, *go = r->grad_out + (n * g->c + h * d) * T;
    float *dq = r->grad_qkv + (n * 3 * g->c + h * d) * T, *dk = dq + g->c * T, *dv = dk + g->c * T;
    /* dv (d,T) = G · W */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)T, (int)T, 1.0f, go, (int)T, w, (int)T, 0.0f,
                dv, (int)T);
    /* dW (T,T) = Gᵀ · v */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)T, (int)d, 1.0f, go, (int)T, v, (int)T, 0.0f,
                ds, (int)T);
    /* dS = W ⊙ (dW − Σ_s dW ⊙ W), row by row */
    for (int64_t t = 0; t < T; t++) {
        const float *wr = w + t * T;
        float *dr = ds + t * T;
        double dot[1];
#define DOT_TERMS(k, acc, l) acc[0][l] += (double)dr[k] * wr[k]
        SS_LANE_SUM(1, 0, T, dot, DOT_TERMS);
#undef DOT_TERMS
        for (int64_t s = 0; s < T; s++) dr[s] = (float)(wr[s] * (dr[s] - dot[0]));
    }
    /* dq (d,T) = α · k · dSᵀ;  dk (d,T) = α · q · dS */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)T, (int)T, g->alpha, k, (int)T, ds, (int)T,
                0.0f, dq, (int)T);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)T, (int)T, g->alpha, q, (int)T, ds, (int)T,
                0.0f, dk, (int)T);
}

/* ------------------------------------------------------------ calls */

/* Threads for the pair-parallel path: the team size, or 1 when there are fewer
 * pairs than threads, little work, or the call is already in a parallel region. */
static int pair_threads(const attn_geom *g)
{
    const int nt = omp_get_max_threads();
    const int64_t pairs = g->n * g->heads;
    if (nt < 2 || omp_in_parallel() || pairs < nt || pairs * g->t * g->t * g->d < ATTN_PAR_MIN) return 1;
    return nt;
}

/* Runs the forward (grad = 0) or backward (grad = 1) of every pair on nt threads. */
static void attn_run_pairs(const attn_run *r, int nt, int grad)
{
    const int64_t pairs = r->g->n * r->g->heads;
    if (nt == 1) {
        for (int64_t p = 0; p < pairs; p++) {
            if (grad) backward_pair(r, r->scratch, p);
            else forward_pair(r, p);
        }
        return;
    }
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(nt)
    {
        const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
        const int64_t p0 = pairs * t / team, p1 = pairs * (t + 1) / team;
        for (int64_t p = p0; p < p1; p++) {
            if (grad) backward_pair(r, r->scratch + t * r->slice, p);
            else forward_pair(r, p);
        }
    }
    openblas_set_num_threads(blas_threads);
}

int ss_attention_forward(ss_tensor *out, ss_tensor *weights, const ss_tensor *qkv, int heads)
{
    const char *op = "ss_attention_forward";
    attn_geom g;
    SS_TRY(attn_geom_init(&g, op, qkv, weights, heads));
    SS_TRY(check_like(op, "out", out, qkv, g.c));
    const ss_tensor *ts[3] = {out, weights, qkv};
    static const char *const names[2] = {"weights", "qkv"};
    int dev = ss_common_device(op, 3, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_no_overlap(op, "out", out, 2, ts + 1, names));
    SS_TRY(ss_check_no_overlap(op, "weights", weights, 1, ts + 2, names + 1));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_attention_forward(out->data, weights->data, qkv->data, g.n, g.c, g.t, g.heads,
                                                          g.alpha));

    attn_run r = {.g = &g, .qkv = qkv->data, .out = out->data, .weights = weights->data};
    attn_run_pairs(&r, pair_threads(&g), 0);
    return SS_OK;
}

int ss_attention_backward(ss_tensor *grad_qkv, const ss_tensor *grad_out, const ss_tensor *qkv,
                          const ss_tensor *weights, int heads)
{
    const char *op = "ss_attention_backward";
    attn_geom g;
    SS_TRY(attn_geom_init(&g, op, qkv, weights, heads));
    SS_TRY(check_like(op, "grad_qkv", grad_qkv, qkv, 3 * g.c));
    SS_TRY(check_like(op, "grad_out", grad_out, qkv, g.c));
    const ss_tensor *ts[4] = {grad_qkv, grad_out, qkv, weights};
    static const char *const names[3] = {"grad_out", "qkv", "weights"};
    int dev = ss_common_device(op, 4, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_no_overlap(op, "grad_qkv", grad_qkv, 3, ts + 1, names));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL(op, ss_cuda_attention_backward(grad_qkv->data, grad_out->data, qkv->data, weights->data,
                                                           g.n, g.c, g.t, g.heads, g.alpha));

    const int nt = pair_threads(&g);
    attn_run r = {.g = &g, .qkv = qkv->data, .grad_out = grad_out->data, .weights = weights->data,
                  .grad_qkv = grad_qkv->data};
    r.slice = (g.t * g.t + 15) / 16 * 16; /* whole cache lines, so threads do not share one */
    r.scratch = ss_alloc((size_t)(r.slice * nt) * sizeof(float), "the attention backward's scratch");
    if (!r.scratch) return SS_ERR_NOMEM;
    attn_run_pairs(&r, nt, 1);
    ss_free(r.scratch);
    return SS_OK;
}
