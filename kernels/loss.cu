// loss.cu — the mean-squared error and the softmax cross-entropy on the GPU, in the CPU's
// arithmetic (runtime/nn/loss.c): squares of float differences summed in double per
// sample, then weighted and averaged in double; the backward's per-sample factor in
// double, rounded once to float. Cross-entropy: one thread per sample (k is a class
// count), logsumexp in double with the row maximum subtracted.
#include "common.cuh"
#include "loss.h"

#include <cub/block/block_reduce.cuh>

// Blocks per sample in the forward's first pass: enough to fill the GPU for a few large
// samples, few enough that the second pass (one block) sums them quickly.
#define MSE_PARTS 64

// Block (b, s) sums its grid-stride share of sample s into partial[s·gridDim.x + b].
__global__ void mse_partial_kernel(double *partial, const float *pred, const float *target, int64_t n, int64_t m)
{
    typedef cub::BlockReduce<double, SS_CUDA_THREADS> sum_reduce;
    __shared__ typename sum_reduce::TempStorage tmp;
    for (int64_t s = blockIdx.y; s < n; s += gridDim.y) {
        const float *p = pred + s * m, *q = target + s * m;
        double acc = 0;
        for (int64_t i = blockIdx.x * (int64_t)SS_CUDA_THREADS + threadIdx.x; i < m;
             i += (int64_t)gridDim.x * SS_CUDA_THREADS) {
            const float e = p[i] - q[i];
            acc += (double)e * e; // exact product: contraction into an fma changes nothing
        }
        acc = sum_reduce(tmp).Sum(acc);
        if (threadIdx.x == 0) partial[s * gridDim.x + blockIdx.x] = acc;
        __syncthreads();
    }
}

// One block: each sample's partials in order, then mean or sum, weight, and the average.
__global__ void mse_total_kernel(double *loss, const double *partial, int parts, const float *weight, int64_t n,
                                 int64_t m, int sum_pixels)
{
    typedef cub::BlockReduce<double, SS_CUDA_THREADS> sum_reduce;
    __shared__ typename sum_reduce::TempStorage tmp;
    double total = 0;
    for (int64_t s = threadIdx.x; s < n; s += SS_CUDA_THREADS) {
        double r = 0;
        for (int b = 0; b < parts; b++) r += partial[s * parts + b];
        if (!sum_pixels) r /= m;
        total += (weight ? weight[s] : 1.0) * r;
    }
    total = sum_reduce(tmp).Sum(total);
    if (threadIdx.x == 0) *loss = total / n;
}

__global__ void mse_backward_kernel(float *grad_pred, const float *pred, const float *target, const float *weight,
                                    int64_t n, int64_t m, double grad_loss, double denom)
{
    for (int64_t s = blockIdx.y; s < n; s += gridDim.y) {
        const float c = (float)(grad_loss * 2.0 * (weight ? weight[s] : 1.0) / denom);
        const float *p = pred + s * m, *q = target + s * m;
        float *g = grad_pred + s * m;
        SS_CUDA_FOR(i, m) g[i] = c * (p[i] - q[i]);
    }
}

// Samples on grid.y, at most 65535 (the limit of that dimension): kernels loop over the rest.
static unsigned sample_blocks(int64_t n) { return (unsigned)(n < 65535 ? n : 65535); }

extern "C" int ss_cuda_mse_forward(double *loss, const float *pred, const float *target, const float *weight, int64_t n,
                                   int64_t m, int sum_pixels)
{
    if (n <= 0) return SS_FAIL(SS_ERR_ARG, "mse_forward: no samples"); // a tensor always has one
    unsigned parts = ss_cuda_blocks(m);
    if (parts > MSE_PARTS) parts = MSE_PARTS;
    ss_cuda_tmp buf; // n·parts partial sums, then the loss
    SS_TRY(buf.alloc((size_t)(n * parts + 1) * sizeof(double)));
    double *partial = buf.as<double>(), *result = partial + n * parts;
    mse_partial_kernel<<<dim3(parts, sample_blocks(n)), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(partial, pred, target,
                                                                                                n, m);
    SS_TRY(SS_CUDA_LAUNCHED("mse forward kernel"));
    mse_total_kernel<<<1, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(result, partial, (int)parts, weight, n, m,
                                                                  sum_pixels);
    SS_TRY(SS_CUDA_LAUNCHED("mse forward total kernel"));
    return ss_cuda_memcpy(loss, result, sizeof(double), SS_COPY_D2H);
}

extern "C" int ss_cuda_mse_backward(float *grad_pred, const float *pred, const float *target, const float *weight,
                                    int64_t n, int64_t m, double grad_loss, double denom)
{
    if (n <= 0 || m <= 0) return SS_OK;
    mse_backward_kernel<<<dim3(ss_cuda_blocks(m), sample_blocks(n)), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(
        grad_pred, pred, target, weight, n, m, grad_loss, denom);
    return SS_CUDA_LAUNCHED("mse backward kernel");
}

// One thread per sample: its logsumexp in double, the row maximum subtracted.
__device__ double ce_logsumexp(const float *z, int64_t k)
{
    float mx = z[0];
    for (int64_t j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < k; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

// One block sums the per-sample losses in thread order, then the mean.
__global__ void ce_forward_kernel(double *loss, const float *logits, const float *labels, int64_t n, int64_t k)
{
    typedef cub::BlockReduce<double, SS_CUDA_THREADS> sum_reduce;
    __shared__ typename sum_reduce::TempStorage tmp;
    double total = 0;
    for (int64_t s = threadIdx.x; s < n; s += SS_CUDA_THREADS) {
        const float *z = logits + s * k;
        total += ce_logsumexp(z, k) - z[(int64_t)labels[s]];
    }
    total = sum_reduce(tmp).Sum(total);
    if (threadIdx.x == 0) *loss = total / n;
}

__global__ void ce_backward_kernel(float *grad, const float *logits, const float *labels, int64_t n, int64_t k,
                                   double c)
{
    SS_CUDA_FOR(s, n)
    {
        const float *z = logits + s * k;
        float *g = grad + s * k;
        const double lse = ce_logsumexp(z, k);
        const int64_t label = (int64_t)labels[s];
        for (int64_t j = 0; j < k; j++) g[j] = (float)(c * (exp((double)z[j] - lse) - (j == label ? 1.0 : 0.0)));
    }
}

extern "C" int ss_cuda_cross_entropy_forward(double *loss, const float *logits, const float *labels, int64_t n,
                                             int64_t k)
{
    if (n <= 0) return SS_FAIL(SS_ERR_ARG, "cross_entropy_forward: no samples");
    ss_cuda_tmp buf;
    SS_TRY(buf.alloc(sizeof(double)));
    ce_forward_kernel<<<1, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(buf.as<double>(), logits, labels, n, k);
    SS_TRY(SS_CUDA_LAUNCHED("cross-entropy forward kernel"));
    SS_TRY(ss_cuda_memcpy(loss, buf.as<double>(), sizeof(double), SS_COPY_D2H));
    if (!isfinite(*loss)) return SS_FAIL(SS_ERR_NUMERIC, "cross_entropy_forward: the logits are not finite");
    return SS_OK;
}

extern "C" int ss_cuda_cross_entropy_backward(float *grad_logits, const float *logits, const float *labels, int64_t n,
                                              int64_t k, double grad_loss)
{
    if (n <= 0) return SS_OK;
    ce_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_logits, logits, labels, n, k,
                                                                                   grad_loss / (double)n);
    return SS_CUDA_LAUNCHED("cross-entropy backward kernel");
}
