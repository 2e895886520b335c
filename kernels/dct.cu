// dct.cu — the orthonormal 2-D DCT-II and the operators diagonal in its basis.
//
// For the image sizes in use (up to a few hundred per side) dense DCT matrices beat
// FFT-based transforms: per image Y = C_h X C_wᵀ is a GEMM pair (resize.cu), with
// C[k][j] = s_k cos(πk(2j+1)/2N), s_0 = √(1/N), s_k = √(2/N) — scipy's
// dctn(norm="ortho"), the transform dct.c gets from FFTW. C is orthogonal, so the
// inverse is Cᵀ (the resize adjoint). Heat, blur and diag_dct are Cᵀ diag(d) C:
// forward transform, one scaling kernel, inverse transform.
#include "common.cuh"
#include "dct.h"
#include "resize.h"

#include <math.h>

#define PI 3.14159265358979323846

// C (n x n) in double, rounded to float once; (2j+1)k is reduced mod 4n first so the
// cosine's argument stays below 2π.
static int dct_matrix(float *m, int64_t n, int64_t cols, void *ctx)
{
    const double s0 = sqrt(1.0 / (double)n), sk = sqrt(2.0 / (double)n);
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < n; j++) {
            const int64_t a = (2 * j + 1) * k % (4 * n);
            m[k * n + j] = (float)((k == 0 ? s0 : sk) * cos(PI * (double)a / (2.0 * (double)n)));
        }
    return SS_OK;
}

namespace {
// The DCT matrices of one call; a 1-point axis is the identity (NULL).
struct dct_mats {
    const float *ch = nullptr, *cw = nullptr;
    int own_h = 0, own_w = 0;
    ~dct_mats()
    {
        if (own_h) ss_cuda_free((void *)ch);
        if (own_w) ss_cuda_free((void *)cw);
    }
    int get(int64_t h, int64_t w)
    {
        if (h > 1) SS_TRY(ss_cuda_matrix_get(&ch, &own_h, SS_CUDA_MATRIX_DCT, h, h, dct_matrix, NULL));
        if (w > 1) SS_TRY(ss_cuda_matrix_get(&cw, &own_w, SS_CUDA_MATRIX_DCT, w, w, dct_matrix, NULL));
        return SS_OK;
    }
};
} // namespace

extern "C" int ss_cuda_dct2_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w)
{
    dct_mats c;
    SS_TRY(c.get(h, w));
    return ss_cuda_resize_forward(out, in, b, h, w, h, w, c.ch, c.cw);
}

extern "C" int ss_cuda_dct2_inverse(float *out, const float *in, int64_t b, int64_t h, int64_t w)
{
    dct_mats c;
    SS_TRY(c.get(h, w));
    return ss_cuda_resize_adjoint(out, in, b, h, w, h, w, c.ch, c.cw);
}

// ------------------------------------------------------------------ diagonal operators

// λ_kl = (πk/h)² + (πl/w)², the heat decay rate of coefficient (k,l), in double.
static __device__ __forceinline__ double heat_rate(int64_t k, int64_t l, int64_t h, int64_t w)
{
    const double a = PI * (double)k / (double)h, c = PI * (double)l / (double)w;
    return a * a + c * c;
}

namespace {
// exp(−tλ); λ_00 = 0 keeps the mean even for t = +inf (where −t·0 would be NaN).
struct heat_factor {
    double t;
    __device__ float operator()(int64_t img, int64_t k, int64_t l, int64_t h, int64_t w) const
    {
        const double lam = heat_rate(k, l, h, w);
        return (float)(lam == 0 ? 1.0 : exp(-t * lam));
    }
};

// The scale image of image img, broadcast over the leading dimensions.
struct diag_factor {
    const float *scale;
    int64_t isz1, step0, step1;
    __device__ float operator()(int64_t img, int64_t k, int64_t l, int64_t h, int64_t w) const
    {
        const int64_t s = img / isz1 * step0 + img % isz1 * step1;
        return scale[(s * h + k) * w + l];
    }
};
} // namespace

template <class F> static __global__ void dct_scale_kernel(float *y, int64_t n, int64_t h, int64_t w, F f)
{
    SS_CUDA_FOR(i, n)
    {
        const int64_t l = i % w, k = i / w % h, img = i / (h * w);
        y[i] *= f(img, k, l, h, w);
    }
}

// out = Cᵀ diag(f) C in, the scaling done in place in out between the transforms.
template <class F> static int dct_diag(float *out, const float *in, int64_t b, int64_t h, int64_t w, F f)
{
    const int64_t n = b * h * w;
    if (n == 0) return SS_OK;
    dct_mats c;
    SS_TRY(c.get(h, w));
    SS_TRY(ss_cuda_resize_forward(out, in, b, h, w, h, w, c.ch, c.cw));
    dct_scale_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, n, h, w, f);
    SS_TRY(SS_CUDA_LAUNCHED("dct scale kernel"));
    return ss_cuda_resize_adjoint(out, out, b, h, w, h, w, c.ch, c.cw);
}

extern "C" int ss_cuda_heat_forward(float *out, const float *in, int64_t b, int64_t h, int64_t w, double t)
{
    return dct_diag(out, in, b, h, w, heat_factor{t});
}

extern "C" int ss_cuda_diag_dct_forward(float *out, const float *in, const float *scale, int64_t b, int64_t h,
                                        int64_t w, int64_t isz1, int64_t step0, int64_t step1)
{
    return dct_diag(out, in, b, h, w, diag_factor{scale, isz1, step0, step1});
}

static __global__ void heat_frequencies_kernel(float *out, int64_t n, int64_t h, int64_t w)
{
    SS_CUDA_FOR(i, n) out[i] = (float)heat_rate(i / w % h, i % w, h, w);
}

extern "C" int ss_cuda_heat_frequencies_forward(float *out, int64_t b, int64_t h, int64_t w)
{
    const int64_t n = b * h * w;
    if (n == 0) return SS_OK;
    heat_frequencies_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, n, h, w);
    return SS_CUDA_LAUNCHED("heat frequencies kernel");
}
