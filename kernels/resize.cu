// resize.cu — separable linear maps as GEMM pairs, out_i = A_h · in_i · A_wᵀ per
// image, A_h and A_w dense per-axis matrices (the resize tables that resize.c
// builds, the DCT matrix of dct.cu), and the device cache of those matrices.
//
// Images are row-major (rows, w) blocks, which cuBLAS (column-major) sees as
// (w, rows) matrices: the pass along W is one GEMM over the rows of all images
// together, the pass along H a strided-batched GEMM with the matrix shared by
// every image (stride 0). The adjoint runs the same passes with the transposed
// matrices, so it is the exact transpose up to float rounding.
#include "common.cuh"
#include "resize.h"

#include <mutex>
#include <string.h>

// ------------------------------------------------------------------ matrix cache

// The sizes a program uses are few; past this many matrices each call makes its own.
#define MATRIX_TABLE 64

namespace {
struct matrix_entry {
    int kind;
    int64_t rows, cols;
    float *dev;
};
} // namespace

static std::mutex g_matrix_lock;
static matrix_entry g_matrices[MATRIX_TABLE];
static int g_matrix_count;

extern "C" int ss_cuda_matrix_get(const float **dev, int *owned, int kind, int64_t rows, int64_t cols,
                                  ss_cuda_matrix_build build, void *ctx)
{
    *dev = NULL;
    *owned = 0;
    std::lock_guard<std::mutex> hold(g_matrix_lock);
    for (int i = 0; i < g_matrix_count; i++) {
        const matrix_entry &e = g_matrices[i];
        if (e.kind == kind && e.rows == rows && e.cols == cols) {
            *dev = e.dev;
            return SS_OK;
        }
    }
    const size_t bytes = sizeof(float) * (size_t)rows * (size_t)cols;
    float *host = (float *)ss_alloc(bytes, "a per-axis matrix");
    if (!host) return SS_ERR_NOMEM;
    memset(host, 0, bytes);
    int rc = build(host, rows, cols, ctx);
    // Cached tables come straight from cudaMalloc: they live until exit and are not
    // tensor memory, so ss_cuda_memory does not count them.
    const bool keep = g_matrix_count < MATRIX_TABLE;
    void *d = NULL;
    if (rc == SS_OK)
        rc = keep ? ss_cuda_status(cudaMalloc(&d, bytes), "allocating a per-axis matrix", __FILE__, __LINE__)
                  : ss_cuda_malloc(&d, bytes);
    if (rc == SS_OK) rc = ss_cuda_memcpy(d, host, bytes, SS_COPY_H2D); // waits: host is freed next
    ss_free(host);
    if (rc != SS_OK) {
        if (d && keep) cudaFree(d);
        else if (d) ss_cuda_free(d);
        return rc;
    }
    if (keep) g_matrices[g_matrix_count++] = matrix_entry{kind, rows, cols, (float *)d};
    else *owned = 1;
    *dev = (const float *)d;
    return SS_OK;
}

// ------------------------------------------------------------------ the passes

// Along W: out (R, wo) = in (R, wi) · Aᵀ for R rows, A = op(M) (wo, wi). In cuBLAS's
// column-major terms out_cm (wo, R) = A · in_cm (wi, R). M is row-major (wo, wi)
// (trans = 0), which column-major is Aᵀ: op T, ld wi; or (wi, wo) (trans = 1),
// column-major A itself: op N, ld wo.
static int pass_w(cublasHandle_t h, float *out, const float *in, int64_t R, int64_t wi, int64_t wo, const float *m,
                  int trans)
{
    const float one = 1.0f, zero = 0.0f;
    SS_CUBLAS_TRY(cublasSgemm_64(h, trans ? CUBLAS_OP_N : CUBLAS_OP_T, CUBLAS_OP_N, wo, R, wi, &one, m,
                                 trans ? wo : wi, in, wi, &zero, out, wo),
                  "resize: the GEMM along the width");
    return SS_OK;
}

// Along H, per image: out_i (ho, w) = A · in_i (hi, w), A = op(M) (ho, hi). Column-major
// out_cm (w, ho) = in_cm (w, hi) · Aᵀ. M row-major (ho, hi) (trans = 0) is Aᵀ
// column-major: op N, ld hi; (hi, ho) (trans = 1) is A: op T, ld ho. One matrix for
// all b images (stride 0).
static int pass_h(cublasHandle_t h, float *out, const float *in, int64_t b, int64_t hi, int64_t ho, int64_t w,
                  const float *m, int trans)
{
    const float one = 1.0f, zero = 0.0f;
    SS_CUBLAS_TRY(cublasSgemmStridedBatched_64(h, CUBLAS_OP_N, trans ? CUBLAS_OP_T : CUBLAS_OP_N, w, ho, hi, &one, in,
                                               w, w * hi, m, trans ? ho : hi, 0, &zero, out, w, w * ho, b),
                  "resize: the batched GEMM along the height");
    return SS_OK;
}

// out (b, ho, wo) = op(Mh) · in_i (b, hi, wi) · op(Mw)ᵀ, op transposing when trans;
// NULL matrices leave their axis as it is.
static int separable(float *out, const float *in, int64_t b, int64_t hi, int64_t wi, int64_t ho, int64_t wo,
                     const float *mh, const float *mw, int trans)
{
    const int64_t n_in = b * hi * wi, n_out = b * ho * wo;
    if (n_in == 0 || n_out == 0 || (!mh && !mw && out == in)) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    ss_cuda_tmp mid;
    if (mh && mw) { // two passes through mid: in is read in full before out is written
        const bool w_first = hi * wo * wi + ho * wo * hi <= ho * wi * hi + ho * wo * wi; // multiply-adds
        SS_TRY(mid.alloc(sizeof(float) * (size_t)(w_first ? b * hi * wo : b * ho * wi)));
        float *m = mid.as<float>();
        if (w_first) {
            SS_TRY(pass_w(h, m, in, b * hi, wi, wo, mw, trans));
            return pass_h(h, out, m, b, hi, ho, wo, mh, trans);
        }
        SS_TRY(pass_h(h, m, in, b, hi, ho, wi, mh, trans));
        return pass_w(h, out, m, b * ho, wi, wo, mw, trans);
    }
    // One pass (or a copy) from in to out, through mid when they share memory.
    const bool overlap = out < in + n_in && in < out + n_out;
    float *dst = out;
    if (overlap) {
        SS_TRY(mid.alloc(sizeof(float) * (size_t)n_out));
        dst = mid.as<float>();
    }
    if (mw) SS_TRY(pass_w(h, dst, in, b * hi, wi, wo, mw, trans));
    else if (mh) SS_TRY(pass_h(h, dst, in, b, hi, ho, wi, mh, trans));
    else SS_TRY(ss_cuda_memcpy(dst, in, sizeof(float) * (size_t)n_out, SS_COPY_D2D));
    if (dst != out) SS_TRY(ss_cuda_memcpy(out, dst, sizeof(float) * (size_t)n_out, SS_COPY_D2D));
    return SS_OK;
}

extern "C" int ss_cuda_resize_forward(float *out, const float *in, int64_t b, int64_t H, int64_t W, int64_t Ho,
                                      int64_t Wo, const float *mh, const float *mw)
{
    return separable(out, in, b, H, W, Ho, Wo, mh, mw, 0);
}

extern "C" int ss_cuda_resize_adjoint(float *out, const float *in, int64_t b, int64_t H, int64_t W, int64_t Ho,
                                      int64_t Wo, const float *mh, const float *mw)
{
    return separable(out, in, b, Ho, Wo, H, W, mh, mw, 1);
}
