// attention.cu — multi-head self-attention on the GPU, the same products and softmax as
// runtime/nn/attention.c (which documents the chunked q/k/v layout). Every product is a
// cuBLAS strided-batched sgemm over the (image, head) pairs; the softmax and its backward
// run one block per row of W and sum the row in double, as the CPU does.
#include "common.cuh"
#include "attention.h"

#include <climits>
#include <cub/block/block_reduce.cuh>

// Scratch for the backward's dW/dS is at most this many floats (256 MiB), or one pair.
#define ATTN_SCRATCH_FLOATS ((int64_t)1 << 26)

// ------------------------------------------------------------------ pairs

// Pair (image i, head h) starts at qkv_at(i, h) in qkv and grad_qkv (q; k and v follow
// c·t floats apart), at out_at in out and grad_out, and at w_at in weights. No single
// stride spans both indices, so the sgemms batch over one index (the larger: fewer
// calls) and loop over the other; a batch is cut into chunks that fit the scratch.
struct attn_pairs {
    int64_t n, c, t, heads, d;
    bool by_head;         // batch over heads, loop over images; else the other way round
    int64_t groups, batch, chunk;

    attn_pairs(int64_t n_, int64_t c_, int64_t t_, int64_t heads_)
        : n(n_), c(c_), t(t_), heads(heads_), d(c_ / heads_), by_head(heads_ >= n_)
    {
        groups = by_head ? n : heads;
        batch = by_head ? heads : n;
        chunk = ATTN_SCRATCH_FLOATS / (t * t);
        if (chunk < 1) chunk = 1;
        if (chunk > batch) chunk = batch;
        if (chunk > INT_MAX) chunk = INT_MAX;
    }
    int64_t qkv_at(int64_t i, int64_t h) const { return (i * 3 * c + h * d) * t; }
    int64_t out_at(int64_t i, int64_t h) const { return (i * c + h * d) * t; }
    int64_t w_at(int64_t i, int64_t h) const { return (i * heads + h) * t * t; }
    // The pair of member b of group g, and the step from one member to the next.
    int64_t image(int64_t g, int64_t b) const { return by_head ? g : b; }
    int64_t head(int64_t g, int64_t b) const { return by_head ? b : g; }
    long long qkv_step() const { return by_head ? qkv_at(0, 1) : qkv_at(1, 0); }
    long long out_step() const { return by_head ? out_at(0, 1) : out_at(1, 0); }
    long long w_step() const { return by_head ? w_at(0, 1) : w_at(1, 0); }
};

// Row-major C = alpha·op(A)·op(B) (M,N), K inner, over `batch` matrices sa/sb/sc floats
// apart; every matrix here has rows of t floats, so every leading dimension is t.
// cuBLAS is column-major, where a row-major matrix reads as its transpose: this is
// Cᵀ = op(B)ᵀ·op(A)ᵀ, the operands swapped and their transposes kept.
static int rm_sgemm(cublasHandle_t h, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                    long long sa, const float *b, long long sb, float *c, long long sc, int64_t batch, int64_t t)
{
    const float beta = 0.0f;
    SS_CUBLAS_TRY(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                            (int)N, (int)M, (int)K, &alpha, b, (int)t, sb, a, (int)t, sa, &beta, c,
                                            (int)t, sc, (int)batch),
                  "attention sgemm");
    return SS_OK;
}

// ------------------------------------------------------------------ softmax

struct greater_of {
    __device__ float operator()(float a, float b) const { return b > a ? b : a; }
};

// Each row of w (rows·t floats) becomes its softmax: e^(x − row max) in float, the sum of
// those floats in double, each divided through 1/sum in double, as softmax_row on the CPU.
// A NaN anywhere makes the whole row NaN there as here (a NaN max, or a NaN term in the sum).
template <int BLOCK>
__global__ void softmax_rows_kernel(float *w, int64_t rows, int64_t t)
{
    typedef cub::BlockReduce<float, BLOCK> max_reduce;
    typedef cub::BlockReduce<double, BLOCK> sum_reduce;
    __shared__ union {
        typename max_reduce::TempStorage max;
        typename sum_reduce::TempStorage sum;
    } tmp;
    __shared__ float row_max;
    __shared__ double row_inv;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *x = w + r * t;
        float m = x[0];
        for (int64_t s = threadIdx.x; s < t; s += BLOCK) m = x[s] > m ? x[s] : m;
        m = max_reduce(tmp.max).Reduce(m, greater_of());
        if (threadIdx.x == 0) row_max = m;
        __syncthreads();
        m = row_max;
        double sum = 0;
        for (int64_t s = threadIdx.x; s < t; s += BLOCK) {
            const float e = expf(x[s] - m);
            x[s] = e;
            sum += (double)e;
        }
        sum = sum_reduce(tmp.sum).Sum(sum);
        if (threadIdx.x == 0) row_inv = 1.0 / sum;
        __syncthreads();
        const double inv = row_inv;
        for (int64_t s = threadIdx.x; s < t; s += BLOCK) x[s] = (float)(x[s] * inv);
        __syncthreads(); // tmp, row_max and row_inv are reused by the next row
    }
}

// Through the softmax, in place over dW: dS = W ⊙ (dW − Σ_s dW ⊙ W), the sum in double.
// ds holds rows·t floats (pairs of t rows, contiguous); pair j's W starts w_step floats
// after pair j − 1's.
template <int BLOCK>
__global__ void softmax_backward_kernel(float *ds, const float *w, int64_t rows, int64_t t, int64_t w_step)
{
    typedef cub::BlockReduce<double, BLOCK> sum_reduce;
    __shared__ typename sum_reduce::TempStorage tmp;
    __shared__ double row_dot;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float *dr = ds + r * t;
        const float *wr = w + (r / t) * w_step + (r % t) * t;
        double dot = 0;
        for (int64_t s = threadIdx.x; s < t; s += BLOCK) dot += (double)dr[s] * wr[s];
        dot = sum_reduce(tmp).Sum(dot);
        if (threadIdx.x == 0) row_dot = dot;
        __syncthreads();
        dot = row_dot;
        for (int64_t s = threadIdx.x; s < t; s += BLOCK) dr[s] = (float)(wr[s] * (dr[s] - dot));
        __syncthreads();
    }
}

// A warp per row while rows are short (most of a wider block would idle), else 256 threads.
#define ATTN_SHORT_ROW 512
static unsigned row_blocks(int64_t rows) { return (unsigned)(rows < 65536 ? rows : 65536); }

static int softmax_rows(float *w, int64_t rows, int64_t t)
{
    if (t <= ATTN_SHORT_ROW) softmax_rows_kernel<32><<<row_blocks(rows), 32, 0, ss_cuda_stream()>>>(w, rows, t);
    else softmax_rows_kernel<256><<<row_blocks(rows), 256, 0, ss_cuda_stream()>>>(w, rows, t);
    return SS_CUDA_LAUNCHED("attention softmax kernel");
}

static int softmax_backward(float *ds, const float *w, int64_t rows, int64_t t, int64_t w_step)
{
    if (t <= ATTN_SHORT_ROW)
        softmax_backward_kernel<32><<<row_blocks(rows), 32, 0, ss_cuda_stream()>>>(ds, w, rows, t, w_step);
    else softmax_backward_kernel<256><<<row_blocks(rows), 256, 0, ss_cuda_stream()>>>(ds, w, rows, t, w_step);
    return SS_CUDA_LAUNCHED("attention softmax backward kernel");
}

// ------------------------------------------------------------------ launchers

extern "C" int ss_cuda_attention_forward(float *out, float *weights, const float *qkv, int64_t n, int64_t c, int64_t t,
                                         int64_t heads, float alpha)
{
    if (n <= 0 || c <= 0 || t <= 0) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    const attn_pairs P(n, c, t, heads);
    const int64_t T = t, d = P.d;
    // W (T,T) = α · qᵀ (T,d) · k (d,T) for every pair
    for (int64_t g = 0; g < P.groups; g++)
        for (int64_t b = 0; b < P.batch; b += P.chunk) {
            const int64_t i = P.image(g, b), hd = P.head(g, b), nb = P.batch - b < P.chunk ? P.batch - b : P.chunk;
            const float *q = qkv + P.qkv_at(i, hd), *k = q + c * T;
            SS_TRY(rm_sgemm(h, true, false, T, T, d, alpha, q, P.qkv_step(), k, P.qkv_step(), weights + P.w_at(i, hd),
                            P.w_step(), nb, T));
        }
    // all N·heads·T rows of W are contiguous: one softmax launch
    SS_TRY(softmax_rows(weights, n * heads * T, T));
    // out (d,T) = v (d,T) · Wᵀ (T,T)
    for (int64_t g = 0; g < P.groups; g++)
        for (int64_t b = 0; b < P.batch; b += P.chunk) {
            const int64_t i = P.image(g, b), hd = P.head(g, b), nb = P.batch - b < P.chunk ? P.batch - b : P.chunk;
            const float *v = qkv + P.qkv_at(i, hd) + 2 * c * T;
            SS_TRY(rm_sgemm(h, false, true, d, T, T, 1.0f, v, P.qkv_step(), weights + P.w_at(i, hd), P.w_step(),
                            out + P.out_at(i, hd), P.out_step(), nb, T));
        }
    return SS_OK;
}

extern "C" int ss_cuda_attention_backward(float *grad_qkv, const float *grad_out, const float *qkv,
                                          const float *weights, int64_t n, int64_t c, int64_t t, int64_t heads,
                                          float alpha)
{
    if (n <= 0 || c <= 0 || t <= 0) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    const attn_pairs P(n, c, t, heads);
    const int64_t T = t, d = P.d;
    // dW/dS of one chunk, its pairs T·T floats apart; the next chunk's sgemms queue after
    // this chunk's reads on the one stream, so the buffer is reused without a wait
    ss_cuda_tmp scratch;
    SS_TRY(scratch.alloc((size_t)(P.chunk * T * T) * sizeof(float)));
    float *ds = scratch.as<float>();
    const long long ds_step = T * T, sq = P.qkv_step(), so = P.out_step(), sw = P.w_step();
    for (int64_t g = 0; g < P.groups; g++)
        for (int64_t b = 0; b < P.batch; b += P.chunk) {
            const int64_t i = P.image(g, b), hd = P.head(g, b), nb = P.batch - b < P.chunk ? P.batch - b : P.chunk;
            const float *q = qkv + P.qkv_at(i, hd), *k = q + c * T, *v = k + c * T;
            const float *w = weights + P.w_at(i, hd), *go = grad_out + P.out_at(i, hd);
            float *dq = grad_qkv + P.qkv_at(i, hd), *dk = dq + c * T, *dv = dk + c * T;
            // dv (d,T) = G (d,T) · W (T,T)
            SS_TRY(rm_sgemm(h, false, false, d, T, T, 1.0f, go, so, w, sw, dv, sq, nb, T));
            // dW (T,T) = Gᵀ (T,d) · v (d,T)
            SS_TRY(rm_sgemm(h, true, false, T, T, d, 1.0f, go, so, v, sq, ds, ds_step, nb, T));
            SS_TRY(softmax_backward(ds, w, nb * T, T, sw));
            // dq (d,T) = α · k (d,T) · dSᵀ;  dk (d,T) = α · q (d,T) · dS
            SS_TRY(rm_sgemm(h, false, true, d, T, T, alpha, k, sq, ds, ds_step, dq, sq, nb, T));
            SS_TRY(rm_sgemm(h, false, false, d, T, T, alpha, q, sq, ds, ds_step, dk, sq, nb, T));
        }
    return SS_OK;
}
