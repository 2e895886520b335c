// laplace.cu — the 5-point Laplacian with reflecting (Neumann) boundaries, one
// thread per output pixel: the terms in laplace.c's order (up, down, left, right),
// a neighbour outside the image contributing nothing.
#include "common.cuh"
#include "laplace.h"

static __global__ void laplace_kernel(float *__restrict__ out, const float *__restrict__ in, int64_t n, int64_t h,
                               int64_t w)
{
    SS_CUDA_FOR(p, n)
    {
        const int64_t j = p % w, i = p / w % h;
        const float r = in[p];
        float o = 0.0f;
        if (i > 0) o += in[p - w] - r;
        if (i + 1 < h) o += in[p + w] - r;
        if (j > 0) o += in[p - 1] - r;
        if (j + 1 < w) o += in[p + 1] - r;
        out[p] = o;
    }
}

extern "C" int ss_cuda_laplace_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w)
{
    const int64_t n = b * h * w;
    if (n == 0) return SS_OK;
    laplace_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, n, h, w);
    return SS_CUDA_LAUNCHED("laplace kernel");
}
