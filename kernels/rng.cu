// rng.cu — ss_rng_uniform, ss_rng_normal and ss_rng_bernoulli into cuda tensors:
// the stream of runtime/core/rng.c (see its top comment). Thread b computes Philox
// block first + b and the up to four values it gives, with rng.c's double
// arithmetic written as round-to-nearest intrinsics (__dmul_rn, __fma_rn), which
// nvcc never fuses or reorders: uniform and bernoulli match the CPU bit for bit.
// normal also calls CUDA's double log, cos and sin (an ulp or two from glibc's) and
// sqrt (correctly rounded), so it can differ from the CPU by one float ulp where a
// value sits on a float rounding boundary. The integer draws (randint, perm) fill
// host arrays and have no device version.
#include "common.cuh"
#include "rng.h"

#include <Random123/philox.h>

constexpr double two_m24 = 1.0 / 16777216.0; // 2^-24
constexpr double two_pi = 6.283185307179586;

// The top 24 bits of a lane in [0, 1), and shifted by one step to (0, 1]; exact.
__device__ __forceinline__ double u01_open_hi(uint32_t x) { return __dmul_rn((double)(x >> 8), two_m24); }
__device__ __forceinline__ double u01_open_lo(uint32_t x) { return __dmul_rn((double)((x >> 8) + 1), two_m24); }

struct uniform_draw {
    double lo, width;
    float hi, below_hi;
    __device__ void operator()(const philox4x32_ctr_t &r, float v[4]) const
    {
        for (int l = 0; l < 4; l++) {
            const float x = __double2float_rn(__fma_rn(width, u01_open_hi(r.v[l]), lo));
            v[l] = x < hi ? x : below_hi;
        }
    }
};

struct normal_draw {
    double mean, std;
    __device__ void operator()(const philox4x32_ctr_t &r, float v[4]) const
    {
        double z[4];
        for (int pair = 0; pair < 2; pair++) {
            const double rad = sqrt(__dmul_rn(-2.0, log(u01_open_lo(r.v[2 * pair]))));
            const double theta = __dmul_rn(two_pi, u01_open_hi(r.v[2 * pair + 1]));
            z[2 * pair] = __dmul_rn(rad, cos(theta));
            z[2 * pair + 1] = __dmul_rn(rad, sin(theta));
        }
        for (int l = 0; l < 4; l++) v[l] = __double2float_rn(__fma_rn(std, z[l], mean));
    }
};

struct bernoulli_draw {
    float p;
    __device__ void operator()(const philox4x32_ctr_t &r, float v[4]) const
    {
        for (int l = 0; l < 4; l++) v[l] = __double2float_rn(u01_open_hi(r.v[l])) < p ? 1.0f : 0.0f;
    }
};

// Values 4b..4b+3 (those below n) from block first + b, the key being the seed's
// two 32-bit words, low first, as in rng.c's seed_key and block_at.
template <class D> __global__ void draw_kernel(float *out, int64_t n, uint64_t seed, uint64_t first, D draw)
{
    const philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
    const int64_t nblocks = (n + 3) / 4;
    SS_CUDA_FOR(b, nblocks) {
        const uint64_t block = first + (uint64_t)b;
        const philox4x32_ctr_t ctr = {{(uint32_t)block, (uint32_t)(block >> 32), 0, 0}};
        float v[4];
        draw(philox4x32_R(10, ctr, key), v);
        for (int l = 0; l < 4 && 4 * b + l < n; l++) out[4 * b + l] = v[l];
    }
}

template <class D> static int draw(float *out, int64_t n, uint64_t seed, uint64_t first, const D &d, const char *what)
{
    if (n <= 0) return SS_OK;
    draw_kernel<<<ss_cuda_blocks((n + 3) / 4), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, n, seed, first, d);
    return SS_CUDA_LAUNCHED(what);
}

extern "C" int ss_cuda_rng_uniform_forward(float *out, int64_t n, uint64_t seed, uint64_t first, double lo,
                                           double width, float hi, float below_hi)
{
    return draw(out, n, seed, first, uniform_draw{lo, width, hi, below_hi}, "ss_rng_uniform kernel");
}

extern "C" int ss_cuda_rng_normal_forward(float *out, int64_t n, uint64_t seed, uint64_t first, double mean,
                                          double std)
{
    return draw(out, n, seed, first, normal_draw{mean, std}, "ss_rng_normal kernel");
}

extern "C" int ss_cuda_rng_bernoulli_forward(float *out, int64_t n, uint64_t seed, uint64_t first, float p)
{
    return draw(out, n, seed, first, bernoulli_draw{p}, "ss_rng_bernoulli kernel");
}
