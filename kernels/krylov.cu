// krylov.cu — BiCGSTAB's fused vector passes on the GPU (the CPU's are pass_block
// in bicgstab.c, with the same per-element arithmetic). A pass updates its vectors
// and accumulates up to two inner products in double: per thread over a
// grid-stride range, per block by a fixed tree into one partial per block, and
// the partials by one more block in a fixed order, so the sums depend on the data
// and the length alone (not on timing); they reach the host in one copy per pass.
#include "common.cuh"
#include "krylov.h"

namespace {
struct vecs {
    float *x, *r, *p;
    const float *b, *rhat, *v, *t;
    float al, om, be;
};
} // namespace

// Element k of a pass of KIND (a compile-time constant: one branch survives).
template <int KIND> static __device__ __forceinline__ void term(const vecs &q, int64_t k, double &s0, double &s1)
{
    if (KIND == SS_KRYLOV_NORM) {
        s0 += (double)q.b[k] * q.b[k];
    } else if (KIND == SS_KRYLOV_RES) {
        const float rv = q.b[k] - q.v[k];
        q.r[k] = rv;
        s0 += (double)rv * rv;
    } else if (KIND == SS_KRYLOV_DOT) {
        s0 += (double)q.rhat[k] * q.r[k];
    } else if (KIND == SS_KRYLOV_P) {
        q.p[k] = q.r[k] + q.be * (q.p[k] - q.om * q.v[k]);
    } else if (KIND == SS_KRYLOV_VV) {
        const double vd = q.v[k];
        s0 += q.rhat[k] * vd;
        s1 += vd * vd;
    } else if (KIND == SS_KRYLOV_S) {
        const float sv = q.r[k] - q.al * q.v[k];
        q.r[k] = sv;
        s0 += (double)sv * sv;
    } else if (KIND == SS_KRYLOV_TS) {
        const double td = q.t[k];
        s0 += td * q.r[k];
        s1 += td * td;
    } else if (KIND == SS_KRYLOV_XR || KIND == SS_KRYLOV_XR0) {
        const float sv = q.r[k];
        q.x[k] = KIND == SS_KRYLOV_XR ? (q.x[k] + q.al * q.p[k]) + q.om * sv : q.x[k] + q.al * q.p[k];
        const float rv = sv - q.om * q.t[k];
        q.r[k] = rv;
        s0 += (double)rv * rv;
        s1 += q.rhat[k] * (double)rv;
    } else { // SS_KRYLOV_X
        q.x[k] = q.x[k] + q.al * q.p[k];
    }
}

// The block's two sums into out[0], out[1]: warps by shuffles, then the warps in order.
static __device__ void block_sum2(double *out, double s0, double s1)
{
    __shared__ double warp_sum[SS_CUDA_THREADS / 32][2];
    for (int off = 16; off > 0; off /= 2) {
        s0 += __shfl_down_sync(0xffffffffu, s0, off);
        s1 += __shfl_down_sync(0xffffffffu, s1, off);
    }
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warp_sum[warp][0] = s0, warp_sum[warp][1] = s1;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int i = 1; i < (int)blockDim.x / 32; i++) s0 += warp_sum[i][0], s1 += warp_sum[i][1];
        out[0] = s0, out[1] = s1;
    }
}

// part: two sums per block (when SUMS).
template <int KIND, bool SUMS> static __global__ void krylov_pass_kernel(vecs q, int64_t n, double *part)
{
    double s0 = 0, s1 = 0;
    SS_CUDA_FOR(k, n) term<KIND>(q, k, s0, s1);
    if (SUMS) block_sum2(part + 2 * blockIdx.x, s0, s1);
}

// One block: the nb partial pairs into sums[0..2).
static __global__ void krylov_finish_kernel(double *sums, const double *part, int64_t nb)
{
    double s0 = 0, s1 = 0;
    for (int64_t i = threadIdx.x; i < nb; i += blockDim.x) s0 += part[2 * i], s1 += part[2 * i + 1];
    block_sum2(sums, s0, s1);
}

template <int KIND, bool SUMS> static int pass_run(double *sums, int64_t n, const vecs &q)
{
    sums[0] = sums[1] = 0;
    if (n == 0) return SS_OK;
    const unsigned nb = ss_cuda_blocks(n);
    cudaStream_t s = ss_cuda_stream();
    if (!SUMS) {
        krylov_pass_kernel<KIND, false><<<nb, SS_CUDA_THREADS, 0, s>>>(q, n, nullptr);
        return SS_CUDA_LAUNCHED("bicgstab vector pass kernel");
    }
    ss_cuda_tmp part; // nb partial pairs, then the final pair
    SS_TRY(part.alloc(sizeof(double) * (2 * (size_t)nb + 2)));
    double *d = part.as<double>();
    krylov_pass_kernel<KIND, true><<<nb, SS_CUDA_THREADS, 0, s>>>(q, n, d);
    SS_TRY(SS_CUDA_LAUNCHED("bicgstab vector pass kernel"));
    krylov_finish_kernel<<<1, SS_CUDA_THREADS, 0, s>>>(d + 2 * nb, d, nb);
    SS_TRY(SS_CUDA_LAUNCHED("bicgstab pass sum kernel"));
    return ss_cuda_memcpy(sums, d + 2 * nb, 2 * sizeof(double), SS_COPY_D2H);
}

extern "C" int ss_cuda_krylov_pass_forward(double *sums, int kind, int64_t n, float *x, float *r, float *p,
                                           const float *b, const float *rhat, const float *v, const float *t,
                                           float alpha, float omega, float beta)
{
    const vecs q{x, r, p, b, rhat, v, t, alpha, omega, beta};
    switch (kind) {
    case SS_KRYLOV_NORM: return pass_run<SS_KRYLOV_NORM, true>(sums, n, q);
    case SS_KRYLOV_RES: return pass_run<SS_KRYLOV_RES, true>(sums, n, q);
    case SS_KRYLOV_DOT: return pass_run<SS_KRYLOV_DOT, true>(sums, n, q);
    case SS_KRYLOV_P: return pass_run<SS_KRYLOV_P, false>(sums, n, q);
    case SS_KRYLOV_VV: return pass_run<SS_KRYLOV_VV, true>(sums, n, q);
    case SS_KRYLOV_S: return pass_run<SS_KRYLOV_S, true>(sums, n, q);
    case SS_KRYLOV_TS: return pass_run<SS_KRYLOV_TS, true>(sums, n, q);
    case SS_KRYLOV_XR: return pass_run<SS_KRYLOV_XR, true>(sums, n, q);
    case SS_KRYLOV_XR0: return pass_run<SS_KRYLOV_XR0, true>(sums, n, q);
    case SS_KRYLOV_X: return pass_run<SS_KRYLOV_X, false>(sums, n, q);
    default: return SS_FAIL(SS_ERR_ARG, "ss_cuda_krylov_pass_forward: unknown pass %d", kind);
    }
}
