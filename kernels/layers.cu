// layers.cu — SiLU, nearest 2x up-sampling and the timestep embedding: one thread per output element, each value computed with the CPU's float
// expression in the CPU's order of additions.
#include "common.cuh"
#include "layers.h"

// σ(x) from e = e^−|x| ≤ 1, which cannot overflow (activation.c's form).
static __device__ __forceinline__ float sigmoid(float x)
{
    const float e = expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static __global__ void silu_forward_kernel(float *y, const float *x, int64_t n)
{
    SS_CUDA_FOR(i, n) y[i] = x[i] * sigmoid(x[i]);
}

static __global__ void silu_backward_kernel(float *dx, const float *dy, const float *x, int64_t n)
{
    SS_CUDA_FOR(i, n)
    {
        const float s = sigmoid(x[i]);
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

extern "C" int ss_cuda_silu_forward(float *out, const float *in, int64_t n)
{
    if (n <= 0) return SS_OK;
    silu_forward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, n);
    return SS_CUDA_LAUNCHED("silu forward kernel");
}

extern "C" int ss_cuda_silu_backward(float *grad_in, const float *grad_out, const float *in, int64_t n)
{
    if (n <= 0) return SS_OK;
    silu_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, in, n);
    return SS_CUDA_LAUNCHED("silu backward kernel");
}

// The sum r0[0] + r0[1] + r1[0] + r1[1] of the 2x2 block at (i, j) of a plane of width W.
static __device__ __forceinline__ float sum4(const float *plane, int64_t W, int64_t i, int64_t j)
{
    const float *r0 = plane + 2 * i * W + 2 * j, *r1 = r0 + W;
    return r0[0] + r0[1] + r1[0] + r1[1];
}

// grad_in (planes,h,w) from grad_out (planes,2h,2w): the block sums.
static __global__ void sum2x2_kernel(float *small, const float *big, int64_t total, int64_t h, int64_t w)
{
    SS_CUDA_FOR(k, total)
    {
        const int64_t p = k / (h * w), i = k / w % h, j = k % w;
        small[k] = sum4(big + p * 4 * h * w, 2 * w, i, j);
    }
}

// out (planes,2h,2w) from in (planes,h,w): each value over its 2x2 block.
static __global__ void spread2x2_kernel(float *big, const float *small, int64_t total, int64_t h, int64_t w)
{
    SS_CUDA_FOR(k, total)
    {
        const int64_t W = 2 * w, H = 2 * h, p = k / (H * W), i = k / W % H, j = k % W;
        big[k] = small[(p * h + i / 2) * w + j / 2];
    }
}

extern "C" int ss_cuda_upsample2_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w)
{
    const int64_t total = planes * 4 * h * w;
    if (total <= 0) return SS_OK;
    spread2x2_kernel<<<ss_cuda_blocks(total), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, total, h, w);
    return SS_CUDA_LAUNCHED("upsample2 forward kernel");
}

extern "C" int ss_cuda_upsample2_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t h, int64_t w)
{
    const int64_t total = planes * h * w;
    if (total <= 0) return SS_OK;
    sum2x2_kernel<<<ss_cuda_blocks(total), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, total, h, w);
    return SS_CUDA_LAUNCHED("upsample2 backward kernel");
}

// out[i][k]: the float arguments exactly as embedding.c forms them; expf, cosf and sinf
// are the double functions rounded once to float, the correctly rounded value, which
// glibc's float functions (within about half an ulp) nearly always return too. CUDA's
// own expf is up to 2 ulp off, and one ulp of f moves cos(t·f) by 6e-5 at t = 1000.
static __global__ void timestep_embedding_kernel(float *out, const float *t, int64_t total, int64_t dim, float a)
{
    const int64_t half = dim / 2;
    SS_CUDA_FOR(k, total)
    {
        const int64_t n = k / dim, col = k % dim, i = col < half ? col : col - half;
        if (col >= 2 * half) {
            out[k] = 0.0f;
            continue;
        }
        const float f = (float)exp((double)(a * (float)i / (float)half));
        const float arg = t[n] * f;
        out[k] = (float)(col < half ? cos((double)arg) : sin((double)arg));
    }
}

extern "C" int ss_cuda_timestep_embedding_forward(float *out, const float *t, int64_t n, int64_t dim,
                                                  double max_period)
{
    const int64_t total = n * dim;
    if (total <= 0) return SS_OK;
    timestep_embedding_kernel<<<ss_cuda_blocks(total), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(
        out, t, total, dim, (float)(-log(max_period)));
    return SS_CUDA_LAUNCHED("timestep embedding kernel");
}
