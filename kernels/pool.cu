// pool.cu — max, average and global average pooling, with pool.c's semantics: each output computed by one thread in the CPU's order (the
// window in row-major order), so CPU and GPU agree to the bit except the global mean,
// whose double sum is split over a block. The backward passes gather: one thread per
// input position visits the windows that cover it, in output order, which is the CPU's
// order of additions for each position.
#include "common.cuh"
#include "pool.h"

struct pool_geom {
    int64_t planes, h, w, ho, wo;
    int kh, kw, sh, sw, ph, pw;
};

static pool_geom geom_of(int64_t planes, int64_t h, int64_t w, int kh, int kw, int sh, int sw, int ph, int pw)
{
    pool_geom g = {planes, h, w, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1, kh, kw, sh, sw, ph, pw};
    return g;
}

// Window (y, x) clipped to the input: rows [y0, y1), columns [x0, x1).
static __device__ __forceinline__ void window(const pool_geom &g, int64_t y, int64_t x, int64_t &y0, int64_t &y1,
                                              int64_t &x0, int64_t &x1)
{
    const int64_t ys = y * g.sh - g.ph, xs = x * g.sw - g.pw;
    y0 = ys < 0 ? 0 : ys, x0 = xs < 0 ? 0 : xs;
    y1 = ys + g.kh < g.h ? ys + g.kh : g.h;
    x1 = xs + g.kw < g.w ? xs + g.kw : g.w;
}

// The plane index of the maximum of window (y, x): the first, or the last NaN.
static __device__ __forceinline__ int64_t argmax(const pool_geom &g, const float *plane, int64_t y, int64_t x)
{
    int64_t y0, y1, x0, x1;
    window(g, y, x, y0, y1, x0, x1);
    int64_t best = y0 * g.w + x0;
    float m = -INFINITY;
    for (int64_t i = y0; i < y1; i++)
        for (int64_t j = x0; j < x1; j++) {
            const float v = plane[i * g.w + j];
            if (v > m || isnan(v)) m = v, best = i * g.w + j;
        }
    return best;
}

// The outputs whose windows cover input row i: [lo, hi) (stride s, kernel k, padding p, n outputs).
static __device__ __forceinline__ void covering(int64_t i, int s, int k, int p, int64_t n, int64_t &lo, int64_t &hi)
{
    const int64_t a = i + p - k + 1; // y·s >= a
    lo = a <= 0 ? 0 : (a + s - 1) / s;
    hi = (i + p) / s + 1; // y·s <= i + p
    if (hi > n) hi = n;
}

static __device__ __forceinline__ float divisor(const pool_geom &g, int include_pad, int64_t y0, int64_t y1,
                                                int64_t x0, int64_t x1)
{
    return include_pad ? (float)(g.kh * g.kw) : (float)((y1 - y0) * (x1 - x0));
}

static __global__ void maxpool_forward_kernel(float *out, const float *in, pool_geom g)
{
    SS_CUDA_FOR(k, g.planes * g.ho * g.wo)
    {
        const int64_t p = k / (g.ho * g.wo), y = k / g.wo % g.ho, x = k % g.wo;
        const float *plane = in + p * g.h * g.w;
        out[k] = plane[argmax(g, plane, y, x)];
    }
}

static __global__ void maxpool_backward_kernel(float *grad_in, const float *grad_out, const float *in, pool_geom g)
{
    SS_CUDA_FOR(k, g.planes * g.h * g.w)
    {
        const int64_t p = k / (g.h * g.w), at = k - p * g.h * g.w, i = at / g.w, j = at % g.w;
        const float *plane = in + p * g.h * g.w, *dy = grad_out + p * g.ho * g.wo;
        int64_t ylo, yhi, xlo, xhi;
        covering(i, g.sh, g.kh, g.ph, g.ho, ylo, yhi);
        covering(j, g.sw, g.kw, g.pw, g.wo, xlo, xhi);
        float s = 0.0f;
        for (int64_t y = ylo; y < yhi; y++)
            for (int64_t x = xlo; x < xhi; x++)
                if (argmax(g, plane, y, x) == at) s += dy[y * g.wo + x];
        grad_in[k] = s;
    }
}

static __global__ void avgpool_forward_kernel(float *out, const float *in, pool_geom g, int include_pad)
{
    SS_CUDA_FOR(k, g.planes * g.ho * g.wo)
    {
        const int64_t p = k / (g.ho * g.wo), y = k / g.wo % g.ho, x = k % g.wo;
        const float *plane = in + p * g.h * g.w;
        int64_t y0, y1, x0, x1;
        window(g, y, x, y0, y1, x0, x1);
        float s = 0.0f;
        for (int64_t i = y0; i < y1; i++)
            for (int64_t j = x0; j < x1; j++) s += plane[i * g.w + j];
        out[k] = s / divisor(g, include_pad, y0, y1, x0, x1);
    }
}

static __global__ void avgpool_backward_kernel(float *grad_in, const float *grad_out, pool_geom g, int include_pad)
{
    SS_CUDA_FOR(k, g.planes * g.h * g.w)
    {
        const int64_t p = k / (g.h * g.w), i = k / g.w % g.h, j = k % g.w;
        const float *dy = grad_out + p * g.ho * g.wo;
        int64_t ylo, yhi, xlo, xhi;
        covering(i, g.sh, g.kh, g.ph, g.ho, ylo, yhi);
        covering(j, g.sw, g.kw, g.pw, g.wo, xlo, xhi);
        float s = 0.0f;
        for (int64_t y = ylo; y < yhi; y++)
            for (int64_t x = xlo; x < xhi; x++) {
                int64_t y0, y1, x0, x1;
                window(g, y, x, y0, y1, x0, x1);
                s += dy[y * g.wo + x] / divisor(g, include_pad, y0, y1, x0, x1);
            }
        grad_in[k] = s;
    }
}

#define GLOBAL_THREADS 256

// One block per plane: strided partial sums in double, then a tree in shared memory.
static __global__ void global_forward_kernel(float *out, const float *in, int64_t hw)
{
    __shared__ double part[GLOBAL_THREADS];
    const float *x = in + blockIdx.x * hw;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < hw; i += GLOBAL_THREADS) s += x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int step = GLOBAL_THREADS / 2; step > 0; step /= 2) {
        if (threadIdx.x < step) part[threadIdx.x] += part[threadIdx.x + step];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = (float)(part[0] / (double)hw);
}

static __global__ void global_backward_kernel(float *grad_in, const float *grad_out, int64_t planes, int64_t hw)
{
    SS_CUDA_FOR(k, planes * hw) grad_in[k] = (float)((double)grad_out[k / hw] / (double)hw);
}

extern "C" int ss_cuda_maxpool2d_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int kh,
                                         int kw, int sh, int sw, int ph, int pw)
{
    const pool_geom g = geom_of(planes, h, w, kh, kw, sh, sw, ph, pw);
    const int64_t n = planes * g.ho * g.wo;
    if (n <= 0) return SS_OK;
    maxpool_forward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, g);
    return SS_CUDA_LAUNCHED("maxpool2d forward kernel");
}

extern "C" int ss_cuda_maxpool2d_backward(float *grad_in, const float *grad_out, const float *in, int64_t planes,
                                          int64_t h, int64_t w, int kh, int kw, int sh, int sw, int ph, int pw)
{
    const pool_geom g = geom_of(planes, h, w, kh, kw, sh, sw, ph, pw);
    const int64_t n = planes * h * w;
    if (n <= 0) return SS_OK;
    maxpool_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, in, g);
    return SS_CUDA_LAUNCHED("maxpool2d backward kernel");
}

extern "C" int ss_cuda_avgpool2d_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int kh,
                                         int kw, int sh, int sw, int ph, int pw, int count_include_pad)
{
    const pool_geom g = geom_of(planes, h, w, kh, kw, sh, sw, ph, pw);
    const int64_t n = planes * g.ho * g.wo;
    if (n <= 0) return SS_OK;
    avgpool_forward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, g,
                                                                                       count_include_pad);
    return SS_CUDA_LAUNCHED("avgpool2d forward kernel");
}

extern "C" int ss_cuda_avgpool2d_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t h, int64_t w,
                                          int kh, int kw, int sh, int sw, int ph, int pw, int count_include_pad)
{
    const pool_geom g = geom_of(planes, h, w, kh, kw, sh, sw, ph, pw);
    const int64_t n = planes * h * w;
    if (n <= 0) return SS_OK;
    avgpool_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, g,
                                                                                        count_include_pad);
    return SS_CUDA_LAUNCHED("avgpool2d backward kernel");
}

extern "C" int ss_cuda_global_avgpool_forward(float *out, const float *in, int64_t planes, int64_t hw)
{
    if (planes <= 0) return SS_OK;
    if (planes > 0x7fffffff) return SS_FAIL(SS_ERR_ARG, "global average pool: more than 2^31 planes");
    global_forward_kernel<<<(unsigned)planes, GLOBAL_THREADS, 0, ss_cuda_stream()>>>(out, in, hw);
    return SS_CUDA_LAUNCHED("global average pool kernel");
}

extern "C" int ss_cuda_global_avgpool_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t hw)
{
    const int64_t n = planes * hw;
    if (n <= 0) return SS_OK;
    global_backward_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(grad_in, grad_out, planes, hw);
    return SS_CUDA_LAUNCHED("global average pool backward kernel");
}
