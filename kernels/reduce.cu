// reduce.cu — the reductions and dot products of runtime/ops/reduce.c and the
// batched GEMM of runtime/ops/matmul.c on the GPU.
//
// A statistic of `rows` rows of `len` floats takes two launches. row_partials cuts
// each row into chunks of RED_CHUNK elements and a block reduces one chunk in
// double: thread t takes elements t, t + 256, ... in order, then a fixed tree over
// the threads. row_finish combines a row's chunk partials the same way and
// finishes the value like reduce_span (mean divides, norm takes the root, var
// divides by its degrees of freedom). The order depends only on the sizes, so a
// result is the same on every run, and it differs from the CPU's blocked lane sums
// only by double rounding. var is two-pass as on the CPU (row means, then squares
// about them); min and max propagate NaN.
#include "common.cuh"
#include "reduce.h"

#include <math_constants.h>

#define RED_THREADS 256
#define RED_CHUNK (RED_THREADS * 16)
#define RED_MAX_BLOCKS 8192 // grid cap: blocks loop over the chunks or rows beyond it
#define DOT_OP (-1)         // the op code of a dot product, as in reduce.c

enum stat_kind { ST_SUM, ST_SUMSQ, ST_VAR, ST_DOT, ST_MIN, ST_MAX };

template <int K> __device__ __forceinline__ double stat_identity()
{
    return K == ST_MIN ? CUDART_INF : K == ST_MAX ? -CUDART_INF : 0.0;
}

template <int K> __device__ __forceinline__ double stat_combine(double a, double b)
{
    if (K == ST_MIN) return isnan(a) || isnan(b) ? CUDART_NAN : a < b ? a : b;
    if (K == ST_MAX) return isnan(a) || isnan(b) ? CUDART_NAN : a > b ? a : b;
    return a + b;
}

// Element k's term; shift is the row mean (ST_VAR), y the second factor (ST_DOT).
template <int K> __device__ __forceinline__ double stat_term(const float *x, const float *y, int64_t k, double shift)
{
    const double v = x[k];
    if (K == ST_SUMSQ) return v * v;
    if (K == ST_VAR) return (v - shift) * (v - shift);
    if (K == ST_DOT) return v * (double)y[k];
    return v;
}

// The block's values combined in a fixed tree (blockDim.x == RED_THREADS), in every thread.
template <int K> __device__ double block_combine(double v)
{
    __shared__ double s[RED_THREADS];
    s[threadIdx.x] = v;
    __syncthreads();
    for (int h = RED_THREADS / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) s[threadIdx.x] = stat_combine<K>(s[threadIdx.x], s[threadIdx.x + h]);
        __syncthreads();
    }
    const double r = s[0];
    __syncthreads(); // the block's next chunk or row writes s again
    return r;
}

// part[r * nb + c] = statistic K of chunk c of row r (x, y: (rows, len)); shift[r] is
// row r's mean for ST_VAR.
template <int K>
__global__ void row_partials(double *part, const float *x, const float *y, const double *shift, int64_t rows,
                             int64_t len, int64_t nb)
{
    for (int64_t blk = blockIdx.x; blk < rows * nb; blk += gridDim.x) {
        const int64_t r = blk / nb, lo = blk % nb * RED_CHUNK;
        const int64_t hi = len - lo < RED_CHUNK ? len : lo + RED_CHUNK;
        const float *xr = x + r * len, *yr = K == ST_DOT ? y + r * len : nullptr;
        const double sh = K == ST_VAR ? shift[r] : 0.0;
        double acc = stat_identity<K>();
        for (int64_t k = lo + threadIdx.x; k < hi; k += RED_THREADS)
            acc = stat_combine<K>(acc, stat_term<K>(xr, yr, k, sh));
        const double v = block_combine<K>(acc);
        if (threadIdx.x == 0) part[blk] = v;
    }
}

// reduce_span's last step for a raw statistic v of len elements.
__device__ double finish(int op, double v, int64_t len)
{
    switch (op) {
    case SS_RED_MEAN: return v / (double)len;
    case SS_RED_VAR:
    case SS_RED_VAR_UNBIASED: {
        const int64_t dof = op == SS_RED_VAR ? len : len - 1;
        return dof > 0 ? v / (double)dof : CUDART_NAN;
    }
    case SS_RED_NORM: return sqrt(v);
    default: return v;
    }
}

// Row r's nb partials combined and finished as `op` into dres[r] and/or fres[r].
template <int K>
__global__ void row_finish(double *dres, float *fres, const double *part, int64_t rows, int64_t nb, int64_t len, int op)
{
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        double acc = stat_identity<K>();
        for (int64_t c = threadIdx.x; c < nb; c += RED_THREADS) acc = stat_combine<K>(acc, part[r * nb + c]);
        const double v = finish(op, block_combine<K>(acc), len);
        if (threadIdx.x == 0) {
            if (dres) dres[r] = v;
            if (fres) fres[r] = (float)v;
        }
    }
}

static unsigned red_grid(int64_t blocks) { return (unsigned)(blocks < RED_MAX_BLOCKS ? blocks : RED_MAX_BLOCKS); }

template <int K>
static int stat_pass(double *dres, float *fres, double *part, const float *x, const float *y, const double *shift,
                     int64_t rows, int64_t len, int64_t nb, int op)
{
    cudaStream_t s = ss_cuda_stream();
    row_partials<K><<<red_grid(rows * nb), RED_THREADS, 0, s>>>(part, x, y, shift, rows, len, nb);
    SS_TRY(SS_CUDA_LAUNCHED("reduction kernel (chunk partials)"));
    row_finish<K><<<red_grid(rows), RED_THREADS, 0, s>>>(dres, fres, part, rows, nb, len, op);
    return SS_CUDA_LAUNCHED("reduction kernel (row totals)");
}

// op (an SS_RED_* kind, or DOT_OP with y) over each of `rows` rows of len floats,
// into the device arrays dres (double) and/or fres (float).
static int rows_stat(double *dres, float *fres, const float *x, const float *y, int64_t rows, int64_t len, int op)
{
    if (rows <= 0) return SS_OK;
    // An empty row still gets one chunk, which yields the identity.
    const int64_t nb = len > RED_CHUNK ? (len + RED_CHUNK - 1) / RED_CHUNK : 1;
    ss_cuda_tmp part;
    SS_TRY(part.alloc(sizeof(double) * (size_t)(rows * nb)));
    double *p = part.as<double>();
    switch (op) {
    case DOT_OP: return stat_pass<ST_DOT>(dres, fres, p, x, y, nullptr, rows, len, nb, op);
    case SS_RED_MIN: return stat_pass<ST_MIN>(dres, fres, p, x, nullptr, nullptr, rows, len, nb, op);
    case SS_RED_MAX: return stat_pass<ST_MAX>(dres, fres, p, x, nullptr, nullptr, rows, len, nb, op);
    case SS_RED_NORM:
    case SS_RED_SUMSQ: return stat_pass<ST_SUMSQ>(dres, fres, p, x, nullptr, nullptr, rows, len, nb, op);
    case SS_RED_VAR:
    case SS_RED_VAR_UNBIASED: {
        ss_cuda_tmp mean;
        SS_TRY(mean.alloc(sizeof(double) * (size_t)rows));
        SS_TRY(stat_pass<ST_SUM>(mean.as<double>(), nullptr, p, x, nullptr, nullptr, rows, len, nb, SS_RED_MEAN));
        return stat_pass<ST_VAR>(dres, fres, p, x, nullptr, mean.as<double>(), rows, len, nb, op);
    }
    default: return stat_pass<ST_SUM>(dres, fres, p, x, nullptr, nullptr, rows, len, nb, op); // sum, mean
    }
}

// One double on the device, copied to *result once the kernels are done.
static int scalar_stat(double *result, const float *x, const float *y, int64_t n, int op)
{
    ss_cuda_tmp d;
    SS_TRY(d.alloc(sizeof(double)));
    SS_TRY(rows_stat(d.as<double>(), nullptr, x, y, 1, n, op));
    return ss_cuda_memcpy(result, d.p, sizeof(double), SS_COPY_D2H);
}

extern "C" int ss_cuda_reduce_forward(double *result, const float *x, int64_t n, int op)
{
    return scalar_stat(result, x, nullptr, n, op);
}

extern "C" int ss_cuda_reduce_rows_forward(float *out, const float *x, int64_t rows, int64_t len, int op)
{
    return rows_stat(nullptr, out, x, nullptr, rows, len, op);
}

extern "C" int ss_cuda_dot_forward(double *result, const float *a, const float *b, int64_t n)
{
    return scalar_stat(result, a, b, n, DOT_OP);
}

extern "C" int ss_cuda_dot_rows_forward(float *out, const float *a, const float *b, int64_t rows, int64_t len)
{
    return rows_stat(nullptr, out, a, b, rows, len, DOT_OP);
}

// ------------------------------------------------------------------ batched GEMM

extern "C" int ss_cuda_bmm_forward(float *out, const float *a, const float *b, int64_t batch, int64_t m, int64_t n,
                                   int64_t k, int trans_a, int trans_b, int64_t lda, int64_t ldb, int64_t stride_a,
                                   int64_t stride_b, float alpha, float beta)
{
    if (batch <= 0 || m <= 0 || n <= 0) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    // cuBLAS is column-major, and the column-major view of a row-major matrix is its
    // transpose: row-major out (m, n) is column-major out^T (n, m) = op(b)^T op(a)^T,
    // and the stored b read column-major is b^T. So b comes first, with b's own flag
    // and leading dimension, then a with a's; ldc = n.
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    SS_CUBLAS_TRY(cublasSgemmStridedBatched_64(h, op_b, op_a, n, m, k, &alpha, b, ldb, stride_b, a, lda, stride_a,
                                               &beta, out, n, m * n, batch),
                  "ss_bmm (cublasSgemmStridedBatched)");
    return SS_OK;
}
