/* rng.h — launchers of kernels/rng.cu: the float draws of runtime/core/rng.c into
 * device memory. Each fills out[0..n) with values 0..n-1 of the stream that starts
 * at Philox block `first` under `seed` (the CPU has already advanced the generator);
 * the parameters are the doubles rng.c derives from the call's arguments. */
#ifndef SS_KERNELS_RNG_H
#define SS_KERNELS_RNG_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* fma(width, u, lo) rounded to float, below_hi where that lands on hi. */
int ss_cuda_rng_uniform_forward(float *out, int64_t n, uint64_t seed, uint64_t first, double lo, double width,
                                float hi, float below_hi);
/* fma(std, z, mean) rounded to float, z from Box–Muller on lane pairs. */
int ss_cuda_rng_normal_forward(float *out, int64_t n, uint64_t seed, uint64_t first, double mean, double std);
/* 1 where the 24-bit uniform is below p, else 0. */
int ss_cuda_rng_bernoulli_forward(float *out, int64_t n, uint64_t seed, uint64_t first, float p);
#ifdef __cplusplus
}
#endif
#endif
