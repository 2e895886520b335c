// conv2d.cu — 2-D convolution forward/backward on the GPU: cuDNN, or im2col + cuBLAS
// (see conv2d.h for the choice and the TF32 rule). Bias add and bias gradient are
// groupnorm.cu's per-channel kernels on both paths.
//
// The cuBLAS path, with K = Cin·kh·kw, P = Ho·Wo and a chunk of nb images, L = nb·P:
//   col (K, L)   im2col of the chunk: col[(c,i,j)][n·P + y·Wo + x] = in[n][c][y·sh−ph+i][x·sw−pw+j]
//   forward      out_n (Cout,P) = weight (Cout,K) · col_n, one strided-batched GEMM writing
//                NCHW directly (col_n = columns n·P.. of col, leading dimension L)
//   grad_weight  (Cout,K) += G (Cout,L) · colᵀ, G the chunk's grad_out with its images side by side
//   grad_in      col_n = weightᵀ (K,Cout) · grad_out_n, strided-batched; col2im sums each
//                pixel's terms in conv2d.c's (i, j) order
// 1x1 kernels with stride 1 and no padding use the images as their own columns.
// cuBLAS is column-major: a row-major X (r,c) is Xᵀ to it, so each GEMM is written as
// the transposed product it computes.
#include "common.cuh"
#include "conv2d.h"
#include "groupnorm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef SS_WITH_CUDNN
#include <array>
#include <cudnn.h>
#include <map>
#include <mutex>
#endif

// Scratch of the cuBLAS path (columns and packed grad_out of one chunk), in floats: 256 MiB.
#define CONV_CUDA_SCRATCH ((int64_t)1 << 26)

struct conv_geom {
    int64_t n, cin, h, w;   // input
    int64_t cout, kh, kw;   // weight
    int64_t sh, sw, ph, pw; // strides, paddings (H, W)
    int64_t ho, wo, k, np;  // output, K = cin·kh·kw, P = ho·wo
};

static conv_geom geom_of(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw,
                         int stride_h, int stride_w, int pad_h, int pad_w)
{
    conv_geom g = {n, cin, h, w, cout, kh, kw, stride_h, stride_w, pad_h, pad_w, 0, 0, 0, 0};
    g.ho = (h + 2 * g.ph - kh) / g.sh + 1;
    g.wo = (w + 2 * g.pw - kw) / g.sw + 1;
    g.k = cin * kh * kw;
    g.np = g.ho * g.wo;
    return g;
}

static bool is_pointwise(const conv_geom &g)
{
    return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// TF32 unless SS_CUDA_TF32=0 (read at each call).
static bool tf32_allowed(void)
{
    const char *v = getenv("SS_CUDA_TF32");
    return !(v && strcmp(v, "0") == 0);
}

enum { VIA_CUBLAS = 0, VIA_CUDNN = 1 };

// The path of this call, from SS_CUDA_CONV, the build and cuDNN's int sizes; or the error.
static int conv_via(const conv_geom &g)
{
    const char *v = getenv("SS_CUDA_CONV");
    const bool cublas = v && strcmp(v, "cublas") == 0, cudnn = v && strcmp(v, "cudnn") == 0;
    if (v && *v && !cublas && !cudnn)
        return SS_FAIL(SS_ERR_ARG, "conv2d: SS_CUDA_CONV must be cudnn or cublas, got \"%s\"", v);
#ifdef SS_WITH_CUDNN
    const bool fits = g.n * g.cin * g.h * g.w <= INT_MAX && g.n * g.cout * g.np <= INT_MAX && g.cout * g.k <= INT_MAX;
    return cublas || !fits ? VIA_CUBLAS : VIA_CUDNN;
#else
    if (cudnn) return SS_FAIL(SS_ERR_DEVICE, "conv2d: SS_CUDA_CONV=cudnn, but libscalespace was built without cuDNN");
    return VIA_CUBLAS;
#endif
}

// ------------------------------------------------------------------ cuBLAS path

static __global__ void im2col_kernel(float *col, const float *in, conv_geom g, int64_t nb)
{
    const int64_t L = nb * g.np;
    SS_CUDA_FOR(idx, g.k * L)
    {
        const int64_t r = idx / L, q = idx - r * L, n = q / g.np, yx = q - n * g.np, y = yx / g.wo, x = yx - y * g.wo;
        const int64_t c = r / (g.kh * g.kw), i = r / g.kw % g.kh, j = r % g.kw;
        const int64_t iy = y * g.sh - g.ph + i, ix = x * g.sw - g.pw + j;
        col[idx] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? in[((n * g.cin + c) * g.h + iy) * g.w + ix] : 0.0f;
    }
}

// One thread per input pixel gathers the col entries im2col took from it, over (i, j) in order.
static __global__ void col2im_kernel(float *grad_in, const float *col, conv_geom g, int64_t nb)
{
    const int64_t L = nb * g.np;
    SS_CUDA_FOR(idx, nb * g.cin * g.h * g.w)
    {
        const int64_t ix = idx % g.w, iy = idx / g.w % g.h, c = idx / (g.w * g.h) % g.cin;
        const int64_t n = idx / (g.w * g.h * g.cin);
        float sum = 0.0f;
        for (int64_t i = 0; i < g.kh; i++) {
            const int64_t ty = iy + g.ph - i; // = y·sh for the output row y that reads this pixel through i
            if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.ho) continue;
            for (int64_t j = 0; j < g.kw; j++) {
                const int64_t tx = ix + g.pw - j;
                if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.wo) continue;
                sum += col[((c * g.kh + i) * g.kw + j) * L + n * g.np + ty / g.sh * g.wo + tx / g.sw];
            }
        }
        grad_in[idx] = sum;
    }
}

// dst (C, nb·P) = src (nb, C, P) with its images side by side.
static __global__ void pack_kernel(float *dst, const float *src, int64_t nb, int64_t C, int64_t P)
{
    const int64_t L = nb * P;
    SS_CUDA_FOR(idx, C * L)
    {
        const int64_t c = idx / L, q = idx - c * L, n = q / P;
        dst[idx] = src[(n * C + c) * P + (q - n * P)];
    }
}

static int im2col(float *col, const float *in, const conv_geom &g, int64_t nb)
{
    im2col_kernel<<<ss_cuda_blocks(g.k * nb * g.np), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(col, in, g, nb);
    return SS_CUDA_LAUNCHED("conv2d im2col kernel");
}

static int col2im(float *grad_in, const float *col, const conv_geom &g, int64_t nb)
{
    col2im_kernel<<<ss_cuda_blocks(nb * g.cin * g.h * g.w), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, col, g,
                                                                                                   nb);
    return SS_CUDA_LAUNCHED("conv2d col2im kernel");
}

static int pack(float *dst, const float *src, int64_t nb, int64_t C, int64_t P)
{
    pack_kernel<<<ss_cuda_blocks(C * nb * P), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(dst, src, nb, C, P);
    return SS_CUDA_LAUNCHED("conv2d pack kernel");
}

// C_b = op(A_b)·op(B_b) + beta·C_b for b < batch, matrices stride apart (column-major, as
// cuBLAS); TF32 tensor cores when tf32, else full FP32.
static int gemm(bool tf32, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                const float *A, int64_t lda, int64_t sa, const float *B, int64_t ldb, int64_t sb, float beta, float *C,
                int64_t ldc, int64_t sc, int64_t batch, const char *what)
{
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    const float one = 1.0f;
    SS_CUBLAS_TRY(cublasGemmStridedBatchedEx(h, ta, tb, (int)m, (int)n, (int)k, &one, A, CUDA_R_32F, (int)lda, sa, B,
                                             CUDA_R_32F, (int)ldb, sb, &beta, C, CUDA_R_32F, (int)ldc, sc, (int)batch,
                                             tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT),
                  what);
    return SS_OK;
}

// Images per chunk: `per` floats of scratch each within CONV_CUDA_SCRATCH, at least one,
// and nb·P within int (a cuBLAS leading dimension; conv2d.c keeps P itself within int).
static int64_t chunk_images(const conv_geom &g, int64_t per)
{
    int64_t nb = per > 0 ? CONV_CUDA_SCRATCH / per : g.n;
    if (nb > g.n) nb = g.n;
    if (nb > INT_MAX / g.np) nb = INT_MAX / g.np;
    return nb < 1 ? 1 : nb;
}

static int cublas_forward(float *out, const float *in, const float *weight, const conv_geom &g, bool tf32)
{
    const bool pw = is_pointwise(g);
    const int64_t P = g.np, in_img = g.cin * g.h * g.w, out_img = g.cout * P;
    const int64_t chunk = chunk_images(g, pw ? 0 : g.k * P);
    ss_cuda_tmp col;
    if (!pw) SS_TRY(col.alloc(sizeof(float) * (size_t)(g.k * chunk * P)));
    for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
        const int64_t nb = g.n - n0 < chunk ? g.n - n0 : chunk;
        // src_n (K,P) with row stride ld, images `step` apart: the image itself for 1x1, else its columns
        const float *src = in + n0 * in_img;
        int64_t ld = P, step = in_img;
        if (!pw) {
            SS_TRY(im2col(col.as<float>(), src, g, nb));
            src = col.as<float>(), ld = nb * P, step = P;
        }
        // out_nᵀ (P,Cout) = src_nᵀ (P,K) · weightᵀ (K,Cout)
        SS_TRY(gemm(tf32, CUBLAS_OP_N, CUBLAS_OP_N, P, g.cout, g.k, src, ld, step, weight, g.k, 0, 0.0f,
                    out + n0 * out_img, P, out_img, nb, "conv2d forward GEMM"));
    }
    return SS_OK;
}

static int cublas_backward(float *grad_in, float *grad_weight, const float *grad_out, const float *in,
                           const float *weight, const conv_geom &g, bool tf32)
{
    const bool pw = is_pointwise(g);
    const int64_t P = g.np, in_img = g.cin * g.h * g.w, out_img = g.cout * P;
    // scratch per image: columns (K,P), which a 1x1 grad_in alone does without, and for
    // grad_weight the image's grad_out (Cout,P)
    const int64_t col_per = grad_weight || !pw ? g.k * P : 0, g_per = grad_weight ? g.cout * P : 0;
    const int64_t chunk = chunk_images(g, col_per + g_per);
    ss_cuda_tmp scratch;
    if (col_per + g_per > 0) SS_TRY(scratch.alloc(sizeof(float) * (size_t)((col_per + g_per) * chunk)));
    float *col = scratch.as<float>(), *gcat = col_per + g_per > 0 ? col + col_per * chunk : nullptr;
    for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
        const int64_t nb = g.n - n0 < chunk ? g.n - n0 : chunk, L = nb * P;
        const float *go = grad_out + n0 * out_img, *x = in + n0 * in_img;
        if (grad_weight) {
            // X (K,L): the chunk's columns; G (Cout,L): its grad_out (one image: the tensors themselves)
            const float *xs = x, *gs = go;
            if (!pw) {
                SS_TRY(im2col(col, x, g, nb));
                xs = col;
            } else if (nb > 1) {
                SS_TRY(pack(col, x, nb, g.cin, P));
                xs = col;
            }
            if (nb > 1) {
                SS_TRY(pack(gcat, go, nb, g.cout, P));
                gs = gcat;
            }
            // grad_weightᵀ (K,Cout) += X (K,L) · Gᵀ (L,Cout)
            SS_TRY(gemm(tf32, CUBLAS_OP_T, CUBLAS_OP_N, g.k, g.cout, L, xs, L, 0, gs, L, 0, 1.0f, grad_weight, g.k, 0,
                        1, "conv2d grad_weight GEMM"));
        }
        if (grad_in) {
            // D_n (K,P) = weightᵀ (K,Cout) · grad_out_n (Cout,P): grad_in itself for 1x1, else columns
            // (row stride L) that col2im folds back; as cuBLAS sees it D_nᵀ = grad_out_nᵀ · weight
            float *d = pw ? grad_in + n0 * in_img : col;
            SS_TRY(gemm(tf32, CUBLAS_OP_N, CUBLAS_OP_T, P, g.k, g.cout, go, P, out_img, weight, g.k, 0, 0.0f, d,
                        pw ? P : L, pw ? in_img : P, nb, "conv2d grad_in GEMM"));
            if (!pw) SS_TRY(col2im(grad_in + n0 * in_img, col, g, nb));
        }
    }
    return SS_OK;
}

// ------------------------------------------------------------------ cuDNN path
#ifdef SS_WITH_CUDNN

static int cudnn_status(cudnnStatus_t s, const char *what, const char *file, int line)
{
    if (s == CUDNN_STATUS_SUCCESS) return SS_OK;
    const bool nomem = s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                       s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
    return ss_error_set(nomem ? SS_ERR_NOMEM : SS_ERR_DEVICE, file, line,
                        "%s: cuDNN %s (SS_CUDA_CONV=cublas runs convolutions without cuDNN)", what,
                        cudnnGetErrorString(s));
}
#define SS_CUDNN_TRY(call, what) SS_TRY(cudnn_status((call), (what), __FILE__, __LINE__))

enum { FWD = 0, BWD_DATA = 1, BWD_FILTER = 2 };
static const char *const direction_names[3] = {"forward", "backward data", "backward filter"};

// One shape's descriptors and, per direction once needed, its algorithm and workspace size.
// Each direction has its own convolution descriptor, carrying its algorithm's math type.
struct conv_plan {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv[3] = {nullptr, nullptr, nullptr};
    bool chosen[3] = {false, false, false};
    int algo[3] = {0, 0, 0};
    size_t bytes[3] = {0, 0, 0};
};

// n, cin, h, w, cout, kh, kw, stride_h, stride_w, pad_h, pad_w, tf32
typedef std::array<int64_t, 12> plan_key;

// Plans are made once and never freed (a network has a few dozen shapes); std::map keeps
// their addresses, so a caller uses one after the lock is released.
static std::mutex g_cudnn_lock;
static cudnnHandle_t g_cudnn;
static std::map<plan_key, conv_plan> g_plans;

static void plan_destroy(conv_plan &pl)
{
    if (pl.x) cudnnDestroyTensorDescriptor(pl.x);
    if (pl.y) cudnnDestroyTensorDescriptor(pl.y);
    if (pl.w) cudnnDestroyFilterDescriptor(pl.w);
    for (int d = 0; d < 3; d++)
        if (pl.conv[d]) cudnnDestroyConvolutionDescriptor(pl.conv[d]);
}

static int plan_make(conv_plan &pl, const conv_geom &g, bool tf32)
{
    const char *what = "conv2d: making the cuDNN descriptors";
    SS_CUDNN_TRY(cudnnCreateTensorDescriptor(&pl.x), what);
    SS_CUDNN_TRY(cudnnSetTensor4dDescriptor(pl.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)g.n, (int)g.cin, (int)g.h,
                                            (int)g.w),
                 what);
    SS_CUDNN_TRY(cudnnCreateTensorDescriptor(&pl.y), what);
    SS_CUDNN_TRY(cudnnSetTensor4dDescriptor(pl.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)g.n, (int)g.cout,
                                            (int)g.ho, (int)g.wo),
                 what);
    SS_CUDNN_TRY(cudnnCreateFilterDescriptor(&pl.w), what);
    SS_CUDNN_TRY(cudnnSetFilter4dDescriptor(pl.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)g.cout, (int)g.cin,
                                            (int)g.kh, (int)g.kw),
                 what);
    for (int d = 0; d < 3; d++) {
        SS_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&pl.conv[d]), what);
        SS_CUDNN_TRY(cudnnSetConvolution2dDescriptor(pl.conv[d], (int)g.ph, (int)g.pw, (int)g.sh, (int)g.sw, 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                     what);
        SS_CUDNN_TRY(cudnnSetConvolutionMathType(pl.conv[d], tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), what);
    }
    return SS_OK;
}

// Direction d's algorithm: the first of cuDNN's ranking (perf) that it could rate, that never
// converts to FP16 and keeps to FMA when TF32 is off, and whose workspace can be allocated now
// (else the next one, as PyTorch does). The descriptor keeps the chosen algorithm's math type.
template <class Perf, class Bytes>
static int plan_pick(conv_plan &pl, int d, bool tf32, const Perf *perf, int found, Bytes workspace_bytes)
{
    for (int i = 0; i < found; i++) {
        const cudnnMathType_t math = perf[i].mathType;
        if (perf[i].status != CUDNN_STATUS_SUCCESS || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ||
            (!tf32 && math == CUDNN_TENSOR_OP_MATH))
            continue;
        size_t bytes = 0;
        void *probe = nullptr;
        if (cudnnSetConvolutionMathType(pl.conv[d], tf32 ? math : CUDNN_FMA_MATH) != CUDNN_STATUS_SUCCESS ||
            workspace_bytes(perf[i].algo, &bytes) != CUDNN_STATUS_SUCCESS)
            continue;
        if (bytes > 0 && ss_cuda_malloc(&probe, bytes) != SS_OK) continue;
        ss_cuda_free(probe); // back to the cache, where the first call finds it
        pl.algo[d] = (int)perf[i].algo, pl.bytes[d] = bytes, pl.chosen[d] = true;
        return SS_OK;
    }
    return SS_FAIL(SS_ERR_DEVICE,
                   "conv2d: cuDNN offers no usable %s algorithm for this shape (SS_CUDA_CONV=cublas runs "
                   "convolutions without cuDNN)",
                   direction_names[d]);
}

static int plan_choose(cudnnHandle_t h, conv_plan &pl, int d, bool tf32)
{
    const char *what = "conv2d: asking cuDNN for an algorithm";
    int found = 0;
    if (d == FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        SS_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(h, pl.x, pl.w, pl.conv[d], pl.y,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf),
                     what);
        return plan_pick(pl, d, tf32, perf, found, [&](cudnnConvolutionFwdAlgo_t a, size_t *b) {
            return cudnnGetConvolutionForwardWorkspaceSize(h, pl.x, pl.w, pl.conv[d], pl.y, a, b);
        });
    }
    if (d == BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        SS_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, pl.w, pl.y, pl.conv[d], pl.x,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found, perf),
                     what);
        return plan_pick(pl, d, tf32, perf, found, [&](cudnnConvolutionBwdDataAlgo_t a, size_t *b) {
            return cudnnGetConvolutionBackwardDataWorkspaceSize(h, pl.w, pl.y, pl.conv[d], pl.x, a, b);
        });
    }
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    SS_CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, pl.x, pl.y, pl.conv[d], pl.w,
                                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &found, perf),
                 what);
    return plan_pick(pl, d, tf32, perf, found, [&](cudnnConvolutionBwdFilterAlgo_t a, size_t *b) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, pl.x, pl.y, pl.conv[d], pl.w, a, b);
    });
}

// The cuDNN handle (made on first use, bound to the scalespace stream) and the plan of g's
// shape with direction d's algorithm chosen.
static int cudnn_plan(cudnnHandle_t *h, const conv_plan **plan, const conv_geom &g, bool tf32, int d)
{
    std::lock_guard<std::mutex> hold(g_cudnn_lock);
    if (!g_cudnn) {
        cudnnHandle_t made;
        SS_CUDNN_TRY(cudnnCreate(&made), "creating the cuDNN handle");
        const cudnnStatus_t s = cudnnSetStream(made, ss_cuda_stream());
        if (s != CUDNN_STATUS_SUCCESS) {
            cudnnDestroy(made);
            return cudnn_status(s, "binding cuDNN to the scalespace stream", __FILE__, __LINE__);
        }
        g_cudnn = made;
    }
    *h = g_cudnn;
    const plan_key key = {g.n, g.cin, g.h, g.w, g.cout, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, tf32 ? 1 : 0};
    auto it = g_plans.find(key);
    if (it == g_plans.end()) {
        conv_plan made;
        const int rc = plan_make(made, g, tf32);
        if (rc != SS_OK) {
            plan_destroy(made);
            return rc;
        }
        it = g_plans.emplace(key, made).first;
    }
    if (!it->second.chosen[d]) SS_TRY(plan_choose(*h, it->second, d, tf32));
    *plan = &it->second;
    return SS_OK;
}

static int cudnn_forward(float *out, const float *in, const float *weight, const conv_geom &g, bool tf32)
{
    cudnnHandle_t h;
    const conv_plan *pl;
    SS_TRY(cudnn_plan(&h, &pl, g, tf32, FWD));
    ss_cuda_tmp ws;
    if (pl->bytes[FWD]) SS_TRY(ws.alloc(pl->bytes[FWD]));
    const float one = 1.0f, zero = 0.0f;
    SS_CUDNN_TRY(cudnnConvolutionForward(h, &one, pl->x, in, pl->w, weight, pl->conv[FWD],
                                         (cudnnConvolutionFwdAlgo_t)pl->algo[FWD], ws.p, pl->bytes[FWD], &zero, pl->y,
                                         out),
                 "conv2d forward");
    return SS_OK;
}

static int cudnn_backward(float *grad_in, float *grad_weight, const float *grad_out, const float *in,
                          const float *weight, const conv_geom &g, bool tf32)
{
    const float one = 1.0f, zero = 0.0f;
    cudnnHandle_t h;
    const conv_plan *pl;
    if (grad_weight) {
        // beta = 1: cuDNN adds to grad_weight, the `+=` of the API
        SS_TRY(cudnn_plan(&h, &pl, g, tf32, BWD_FILTER));
        ss_cuda_tmp ws;
        if (pl->bytes[BWD_FILTER]) SS_TRY(ws.alloc(pl->bytes[BWD_FILTER]));
        SS_CUDNN_TRY(cudnnConvolutionBackwardFilter(h, &one, pl->x, in, pl->y, grad_out, pl->conv[BWD_FILTER],
                                                    (cudnnConvolutionBwdFilterAlgo_t)pl->algo[BWD_FILTER], ws.p,
                                                    pl->bytes[BWD_FILTER], &one, pl->w, grad_weight),
                     "conv2d backward (grad_weight)");
    }
    if (grad_in) {
        SS_TRY(cudnn_plan(&h, &pl, g, tf32, BWD_DATA));
        ss_cuda_tmp ws;
        if (pl->bytes[BWD_DATA]) SS_TRY(ws.alloc(pl->bytes[BWD_DATA]));
        SS_CUDNN_TRY(cudnnConvolutionBackwardData(h, &one, pl->w, weight, pl->y, grad_out, pl->conv[BWD_DATA],
                                                  (cudnnConvolutionBwdDataAlgo_t)pl->algo[BWD_DATA], ws.p,
                                                  pl->bytes[BWD_DATA], &zero, pl->x, grad_in),
                     "conv2d backward (grad_in)");
    }
    return SS_OK;
}
#endif

// ------------------------------------------------------------------ launchers

extern "C" int ss_cuda_conv2d_forward(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                                      int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw,
                                      int stride_h, int stride_w, int pad_h, int pad_w)
{
    const conv_geom g = geom_of(n, cin, h, w, cout, kh, kw, stride_h, stride_w, pad_h, pad_w);
    if (g.n * g.cout * g.np == 0) return SS_OK;
    const int via = conv_via(g);
    if (via < 0) return via;
    const bool tf32 = tf32_allowed();
#ifdef SS_WITH_CUDNN
    if (via == VIA_CUDNN) SS_TRY(cudnn_forward(out, in, weight, g, tf32));
    else
#endif
        SS_TRY(cublas_forward(out, in, weight, g, tf32));
    return bias ? ss_cuda_bias_forward(out, bias, g.n, g.cout, g.np) : SS_OK;
}

extern "C" int ss_cuda_conv2d_backward(float *grad_in, float *grad_weight, float *grad_bias, const float *grad_out,
                                       const float *in, const float *weight, int64_t n, int64_t cin, int64_t h,
                                       int64_t w, int64_t cout, int64_t kh, int64_t kw, int stride_h, int stride_w,
                                       int pad_h, int pad_w)
{
    const conv_geom g = geom_of(n, cin, h, w, cout, kh, kw, stride_h, stride_w, pad_h, pad_w);
    if (g.n * g.cout * g.np == 0) return SS_OK;
    const int via = conv_via(g);
    if (via < 0) return via;
    if (grad_bias) SS_TRY(ss_cuda_bias_backward(grad_bias, grad_out, g.n, g.cout, g.np));
    if (!grad_in && !grad_weight) return SS_OK;
    const bool tf32 = tf32_allowed();
#ifdef SS_WITH_CUDNN
    if (via == VIA_CUDNN) return cudnn_backward(grad_in, grad_weight, grad_out, in, weight, g, tf32);
#endif
    return cublas_backward(grad_in, grad_weight, grad_out, in, weight, g, tf32);
}
