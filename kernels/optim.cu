// optim.cu — Adam/AdamW, the global gradient norm, clipping and the EMA on the GPU, each
// value updated with the float operations of runtime/nn/optim.c in the same order (the
// compilers may fuse a multiply-add on either side: results agree to an ulp a step).
#include "common.cuh"
#include "optim.h"

#include <cub/block/block_reduce.cuh>

// Partial sums per tensor in the gradient norm: at most this many blocks each.
#define NORM_PARTS 64

__global__ void adam_kernel(float *p, float *mm, float *vv, const float *g, int64_t n, float b1, float b2, float wd,
                            float eps, float step_size, float sqrt_bc2, float shrink, int decoupled)
{
    SS_CUDA_FOR(i, n) {
        float gi = g[i], pi = p[i];
        if (decoupled) pi *= shrink;
        else if (wd != 0.0f) gi += wd * pi;
        const float mi = mm[i] * b1 + (1.0f - b1) * gi;
        const float vi = vv[i] * b2 + (1.0f - b2) * gi * gi;
        const float denom = sqrtf(vi) / sqrt_bc2 + eps;
        mm[i] = mi;
        vv[i] = vi;
        p[i] = pi - step_size * (mi / denom);
    }
}

// out[blockIdx.x] = this block's share of Σ x (SQUARE: Σ x²) in double, in a fixed order.
template <bool SQUARE, class T>
__global__ void sum_kernel(double *out, const T *x, int64_t n)
{
    typedef cub::BlockReduce<double, SS_CUDA_THREADS> sum_reduce;
    __shared__ typename sum_reduce::TempStorage tmp;
    double acc = 0;
    SS_CUDA_FOR(i, n) acc += SQUARE ? (double)x[i] * x[i] : (double)x[i];
    acc = sum_reduce(tmp).Sum(acc);
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

__global__ void scale_kernel(float *g, int64_t n, float c)
{
    SS_CUDA_FOR(i, n) g[i] *= c;
}

__global__ void ema_kernel(float *e, const float *p, int64_t n, float d, float c)
{
    SS_CUDA_FOR(i, n) e[i] = e[i] * d + p[i] * c;
}

extern "C" int ss_cuda_adam_step(float *param, float *m, float *v, const float *grad, int64_t n, float beta1,
                                 float beta2, float weight_decay, float eps, float step_size, float sqrt_bc2,
                                 float shrink, int decoupled)
{
    if (n <= 0) return SS_OK;
    adam_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(
        param, m, v, grad, n, beta1, beta2, weight_decay, eps, step_size, sqrt_bc2, shrink, decoupled);
    return SS_CUDA_LAUNCHED("adam kernel");
}

extern "C" int ss_cuda_grad_sumsq_forward(double *sumsq, const float *const *grads, const int64_t *sizes, int count)
{
    *sumsq = 0;
    if (count <= 0) return SS_OK;
    // NORM_PARTS slots per tensor, zeroed (a small tensor fills fewer), then one block sums
    // all slots: the order is fixed, so the norm is the same on every call
    const int64_t slots = (int64_t)count * NORM_PARTS;
    ss_cuda_tmp buf;
    SS_TRY(buf.alloc((size_t)(slots + 1) * sizeof(double)));
    double *partial = buf.as<double>(), *result = partial + slots;
    SS_CUDA_TRY(cudaMemsetAsync(partial, 0, (size_t)slots * sizeof(double), ss_cuda_stream()), "grad_norm");
    for (int k = 0; k < count; k++) {
        if (sizes[k] <= 0) continue;
        unsigned blocks = ss_cuda_blocks(sizes[k]);
        if (blocks > NORM_PARTS) blocks = NORM_PARTS;
        sum_kernel<true><<<blocks, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(partial + (int64_t)k * NORM_PARTS,
                                                                           grads[k], sizes[k]);
        SS_TRY(SS_CUDA_LAUNCHED("grad_norm kernel"));
    }
    sum_kernel<false><<<1, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(result, (const double *)partial, slots);
    SS_TRY(SS_CUDA_LAUNCHED("grad_norm total kernel"));
    return ss_cuda_memcpy(sumsq, result, sizeof(double), SS_COPY_D2H);
}

extern "C" int ss_cuda_grad_scale_forward(float *const *grads, const int64_t *sizes, int count, float c)
{
    for (int k = 0; k < count; k++) {
        if (sizes[k] <= 0) continue;
        scale_kernel<<<ss_cuda_blocks(sizes[k]), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grads[k], sizes[k], c);
        SS_TRY(SS_CUDA_LAUNCHED("clip_grad_norm kernel"));
    }
    return SS_OK;
}

extern "C" int ss_cuda_ema_update(float *ema, const float *param, int64_t n, float decay, float rest)
{
    if (n <= 0) return SS_OK;
    ema_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(ema, param, n, decay, rest);
    return SS_CUDA_LAUNCHED("ema kernel");
}
