// dropout.cu — inverted dropout on the GPU. The 0/1 mask is ss_rng_bernoulli's draw
// (kernels/rng.cu, bit for bit the CPU's stream), so this only scales and multiplies,
// with the CPU's float operations: every value matches exactly. out and in (grad_in
// and grad_out) may be one buffer: each element is read, then written, by one thread,
// so no pointer is __restrict__.
#include "common.cuh"
#include "dropout.h"

__global__ void dropout_forward_kernel(float *out, float *mask, const float *in, int64_t n, float scale)
{
    SS_CUDA_FOR(i, n) {
        const float m = mask[i] * scale;
        mask[i] = m;
        out[i] = in[i] * m;
    }
}

__global__ void dropout_backward_kernel(float *grad_in, const float *grad_out, const float *mask, int64_t n)
{
    SS_CUDA_FOR(i, n) grad_in[i] = grad_out[i] * mask[i];
}

extern "C" int ss_cuda_dropout_forward(float *out, float *mask, const float *in, int64_t n, float scale)
{
    if (n <= 0) return SS_OK;
    dropout_forward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, mask, in, n, scale);
    return SS_CUDA_LAUNCHED("dropout forward kernel");
}

extern "C" int ss_cuda_dropout_backward(float *grad_in, const float *grad_out, const float *mask, int64_t n)
{
    if (n <= 0) return SS_OK;
    dropout_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, mask, n);
    return SS_CUDA_LAUNCHED("dropout backward kernel");
}
