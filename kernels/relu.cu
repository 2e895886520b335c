// relu.cu — ReLU forward and backward, one thread per element (activation.c's expressions).
#include "common.cuh"
#include "relu.h"

static __global__ void relu_forward_kernel(float *y, const float *x, int64_t n)
{
    SS_CUDA_FOR(i, n) y[i] = x[i] > 0.0f || isnan(x[i]) ? x[i] : 0.0f;
}

static __global__ void relu_backward_kernel(float *dx, const float *dy, const float *x, int64_t n)
{
    SS_CUDA_FOR(i, n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

extern "C" int ss_cuda_relu_forward(float *out, const float *in, int64_t n)
{
    if (n <= 0) return SS_OK;
    relu_forward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, n);
    return SS_CUDA_LAUNCHED("relu forward kernel");
}

extern "C" int ss_cuda_relu_backward(float *grad_in, const float *grad_out, const float *in, int64_t n)
{
    if (n <= 0) return SS_OK;
    relu_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, in, n);
    return SS_CUDA_LAUNCHED("relu backward kernel");
}
