// osmosis.cu — linear osmosis (see osmosis.c for the scheme): the canonical drift,
// the operator alpha·I + beta·A and its transpose, one thread per output pixel, and
// the bounds of the explicit step.
//
// The face between pixel a (lower index) and b (higher) has p = 1/h² − d/(2h),
// q = 1/h² + d/(2h) and the flux F = p·u_b − q·u_a; A u gets +F at a and −F at b.
// Here each pixel evaluates the fluxes of its own faces, so a face's flux is
// computed twice, once from each side: the __f*_rn operations keep nvcc from
// contracting them differently, so both sides get the same float and the column
// sums of A cancel as they do in osmosis.c.
#include "common.cuh"
#include "osmosis.h"

#include <string.h>

// ------------------------------------------------------------------ drift

static __global__ void osmosis_first_bad_kernel(unsigned long long *first, const float *v, int64_t n)
{
    SS_CUDA_FOR(k, n)
    {
        if (!(v[k] > 0.0f) || !isfinite(v[k])) {
            atomicMin(first, (unsigned long long)k);
            break; // this thread's later k are larger
        }
    }
}

extern "C" int ss_cuda_osmosis_first_bad_forward(int64_t *first, const float *v, int64_t n)
{
    *first = n;
    if (n == 0) return SS_OK;
    ss_cuda_tmp buf;
    SS_TRY(buf.alloc(sizeof(unsigned long long)));
    unsigned long long *d = buf.as<unsigned long long>(), found;
    SS_CUDA_TRY(cudaMemsetAsync(d, 0xff, sizeof *d, ss_cuda_stream()), "osmosis: clearing the scan result");
    osmosis_first_bad_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(d, v, n);
    SS_TRY(SS_CUDA_LAUNCHED("osmosis guidance scan kernel"));
    SS_TRY(ss_cuda_memcpy(&found, d, sizeof found, SS_COPY_D2H));
    if (found < (unsigned long long)n) *first = (int64_t)found;
    return SS_OK;
}

// One thread per pixel of v: the faces below and right of it.
static __global__ void osmosis_drift_kernel(float *d1, float *d2, const float *v, int64_t n, int64_t H, int64_t W,
                                            double s)
{
    SS_CUDA_FOR(k, n)
    {
        const int64_t j = k % W, r = k / W, i = r % H, m = r / H;
        const float *a = v + k;
        if (d1 && i + 1 < H) d1[(m * (H - 1) + i) * W + j] = (float)(s * ((double)a[W] - a[0]) / ((double)a[W] + a[0]));
        if (d2 && j + 1 < W) d2[r * (W - 1) + j] = (float)(s * ((double)a[1] - a[0]) / ((double)a[1] + a[0]));
    }
}

extern "C" int ss_cuda_osmosis_drift_forward(float *d1, float *d2, const float *v, int64_t nimg, int64_t H, int64_t W,
                                             double s)
{
    const int64_t n = nimg * H * W;
    if (n == 0) return SS_OK;
    osmosis_drift_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(d1, d2, v, n, H, W, s);
    return SS_CUDA_LAUNCHED("osmosis drift kernel");
}

// ------------------------------------------------------------------ the operator

namespace {
struct osm_args {
    const float *d1, *d2;
    int64_t H, W;
    int shared;
    float cc, e, alpha, beta;
};

struct face_coef {
    float p, q;
};
} // namespace

// p and q of a face with drift d, times beta in the faced form, as osmosis.c rounds them.
template <bool FACED> static __device__ __forceinline__ face_coef coef(float d, const osm_args &a)
{
    const float ed = __fmul_rn(a.e, d);
    face_coef c{__fsub_rn(a.cc, ed), __fadd_rn(a.cc, ed)};
    if (FACED) c.p = __fmul_rn(a.beta, c.p), c.q = __fmul_rn(a.beta, c.q);
    return c;
}

static __device__ __forceinline__ float flux(face_coef c, float ua, float ub)
{
    return __fsub_rn(__fmul_rn(c.p, ub), __fmul_rn(c.q, ua));
}

// Pixel k of the (nimg,H,W) images: forward ((F_dn − F_up) + F_rt) − F_lt, adjoint
// Q_dn·(u_dn − u_a) + P_up·(u_up − u_a) + Q_rt·(…) + P_lt·(…), the orders of osmosis.c;
// a face that does not exist contributes nothing (its drift pointer is not read).
template <bool ADJ, bool FACED>
static __global__ void osmosis_kernel(float *__restrict__ out, const float *__restrict__ in, int64_t n, osm_args a)
{
    SS_CUDA_FOR(k, n)
    {
        const int64_t H = a.H, W = a.W, j = k % W, r = k / W, i = r % H, m = r / H;
        const int64_t f1 = (a.shared ? 0 : m * (H - 1) * W) + i * W + j;       // d1 of the face below
        const int64_t f2 = (a.shared ? 0 : m * H * (W - 1)) + i * (W - 1) + j; // d2 of the face right
        const float *u = in + k, ua = u[0];
        float s;
        if (!ADJ) {
            const float dn = i + 1 < H ? flux(coef<FACED>(a.d1[f1], a), ua, u[W]) : 0.0f;
            const float up = i > 0 ? flux(coef<FACED>(a.d1[f1 - W], a), u[-W], ua) : 0.0f;
            const float rt = j + 1 < W ? flux(coef<FACED>(a.d2[f2], a), ua, u[1]) : 0.0f;
            const float lt = j > 0 ? flux(coef<FACED>(a.d2[f2 - 1], a), u[-1], ua) : 0.0f;
            s = ((dn - up) + rt) - lt;
        } else {
            s = 0.0f;
            if (i + 1 < H) s += coef<FACED>(a.d1[f1], a).q * (u[W] - ua);
            if (i > 0) s += coef<FACED>(a.d1[f1 - W], a).p * (u[-W] - ua);
            if (j + 1 < W) s += coef<FACED>(a.d2[f2], a).q * (u[1] - ua);
            if (j > 0) s += coef<FACED>(a.d2[f2 - 1], a).p * (u[-1] - ua);
        }
        out[k] = FACED ? a.alpha * ua + s : a.alpha == 0.0f ? a.beta * s : a.alpha * ua + a.beta * s;
    }
}

template <bool ADJ> static int osmosis_launch(float *out, const float *in, int64_t n, const osm_args &a, int faced)
{
    if (n == 0) return SS_OK;
    const unsigned blocks = ss_cuda_blocks(n);
    if (faced) osmosis_kernel<ADJ, true><<<blocks, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, n, a);
    else osmosis_kernel<ADJ, false><<<blocks, SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, in, n, a);
    return SS_CUDA_LAUNCHED(ADJ ? "osmosis adjoint kernel" : "osmosis forward kernel");
}

extern "C" int ss_cuda_osmosis_forward(float *out, const float *in, const float *d1, const float *d2, int64_t nimg,
                                       int64_t H, int64_t W, int shared, float cc, float e, float alpha, float beta,
                                       int faced)
{
    return osmosis_launch<false>(out, in, nimg * H * W, osm_args{d1, d2, H, W, shared, cc, e, alpha, beta}, faced);
}

extern "C" int ss_cuda_osmosis_adjoint(float *out, const float *in, const float *d1, const float *d2, int64_t nimg,
                                       int64_t H, int64_t W, int shared, float cc, float e, float alpha, float beta,
                                       int faced)
{
    return osmosis_launch<true>(out, in, nimg * H * W, osm_args{d1, d2, H, W, shared, cc, e, alpha, beta}, faced);
}

// ------------------------------------------------------------------ explicit-step bounds

// The maximum of v over the block into *dst. Both bounds are >= 0, and non-negative
// doubles order as their bit patterns do, so an integer atomicMax combines the blocks.
static __device__ void block_max_into(unsigned long long *dst, double v)
{
    __shared__ double warp_max[SS_CUDA_THREADS / 32];
    for (int off = 16; off > 0; off /= 2) v = fmax(v, __shfl_down_sync(0xffffffffu, v, off));
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warp_max[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int i = 1; i < (int)blockDim.x / 32; i++) v = fmax(v, warp_max[i]);
        atomicMax(dst, (unsigned long long)__double_as_longlong(v));
    }
    __syncthreads(); // warp_max is reused by the next call
}

// Per drift pixel as osm_bounds in osmosis.c: the outgoing coefficients |q| (pixel is
// the lower one of a face) and |p| (the higher one), and |d|·h/2, in double.
static __global__ void osmosis_bounds_kernel(unsigned long long *result, const float *d1, const float *d2, int64_t n,
                                             int64_t H, int64_t W, float h)
{
    const double cc = 1.0 / ((double)h * h), e = 0.5 / h;
    double mo = 0, md = 0;
    SS_CUDA_FOR(k, n)
    {
        const int64_t j = k % W, r = k / W, i = r % H, m = r / H;
        double o = 0;
        if (i + 1 < H) {
            const float dn = d1[(m * (H - 1) + i) * W + j];
            o += fabs(cc + e * dn), md = fmax(md, fabs((double)dn) * h * 0.5);
        }
        if (i > 0) o += fabs(cc - e * d1[(m * (H - 1) + i - 1) * W + j]);
        if (j + 1 < W) {
            const float rt = d2[r * (W - 1) + j];
            o += fabs(cc + e * rt), md = fmax(md, fabs((double)rt) * h * 0.5);
        }
        if (j > 0) o += fabs(cc - e * d2[r * (W - 1) + j - 1]);
        mo = fmax(mo, o);
    }
    block_max_into(result, mo);
    block_max_into(result + 1, md);
}

extern "C" int ss_cuda_osmosis_bounds_forward(double *max_out, double *max_dh, const float *d1, const float *d2,
                                              int64_t nimg, int64_t H, int64_t W, float h)
{
    *max_out = *max_dh = 0;
    const int64_t n = nimg * H * W;
    if (n == 0) return SS_OK;
    ss_cuda_tmp buf;
    SS_TRY(buf.alloc(2 * sizeof(unsigned long long)));
    unsigned long long *d = buf.as<unsigned long long>(), bits[2];
    SS_CUDA_TRY(cudaMemsetAsync(d, 0, sizeof bits, ss_cuda_stream()), "osmosis: clearing the bounds");
    osmosis_bounds_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(d, d1, d2, n, H, W, h);
    SS_TRY(SS_CUDA_LAUNCHED("osmosis bounds kernel"));
    SS_TRY(ss_cuda_memcpy(bits, d, sizeof bits, SS_COPY_D2H));
    memcpy(max_out, &bits[0], sizeof *max_out);
    memcpy(max_dh, &bits[1], sizeof *max_dh);
    return SS_OK;
}
