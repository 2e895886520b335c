/* vexp.h — private: an exp that vectorises, for the softmax and SiLU. Not part of the API. */
#ifndef SS_NN_VEXP_H
#define SS_NN_VEXP_H

#include <stdint.h>
#include <string.h>

/* e^x for x <= 0 (and NaN), written so that GCC vectorises a loop of it: glibc's
 * expf is a call per value (it took half of attention's forward at T = 196).
 * x = n·ln2 + r with n = round(x·log2 e) read from the low bits of
 * x·log2 e + 1.5·2^23, e^r by Cephes's expf polynomial, 2^n through the exponent
 * bits. Within 1.02 ulp of e^x on (−87, 0] (every float checked, with and without
 * FMA); 0 from −87 down (e^−87 ≈ 1.6e−38), NaN stays NaN. The clamp to −87 works
 * on the bits because GCC 12 turns it into a branch as a float select, which
 * stops the vectorisation below AVX-512. */
static inline float ss_exp_nonpos(float x)
{
    const int32_t keep = -(int32_t)(x > -87.0f), lo = (int32_t)0xC2AE0000; /* −87.0f */
    int32_t xb;
    memcpy(&xb, &x, sizeof xb);
    xb = (xb & keep) | (lo & ~keep);
    float xc;
    memcpy(&xc, &xb, sizeof xc);
    const float t = xc * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
    int32_t tb;
    memcpy(&tb, &t, sizeof tb);
    const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f; /* ln2 in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const int32_t bits = ((tb - 0x4B400000 + 127) << 23) & keep; /* 2^n, or 0 below −87 */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale + (x == x ? 0.0f : x);
}

#endif
