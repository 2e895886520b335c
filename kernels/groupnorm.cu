// groupnorm.cu — GroupNorm forward/backward and the per-channel bias add and bias
// gradient of conv2d and linear. One block per (image, group) for the statistics and
// grad_in, one block per channel for the parameter gradients: every sum is a block's
// double reduction in a fixed order (no atomics), so results repeat run to run.
#include "common.cuh"
#include "groupnorm.h"

#define GN_THREADS 256 // a multiple of 32, as block_sum needs

// v[0..NS) summed over the block; every thread gets the totals. Warp shuffles, then
// the warps' partial sums in one warp: a fixed tree for a given block size.
template <int NS> static __device__ void block_sum(double (&v)[NS])
{
    __shared__ double part[NS][32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    for (int s = 0; s < NS; s++)
        for (int o = 16; o > 0; o /= 2) v[s] += __shfl_down_sync(0xffffffffu, v[s], o);
    if (lane == 0)
        for (int s = 0; s < NS; s++) part[s][warp] = v[s];
    __syncthreads();
    if (warp == 0) {
        for (int s = 0; s < NS; s++) {
            v[s] = lane < warps ? part[s][lane] : 0.0;
            for (int o = 16; o > 0; o /= 2) v[s] += __shfl_down_sync(0xffffffffu, v[s], o);
        }
        if (lane == 0)
            for (int s = 0; s < NS; s++) part[s][0] = v[s];
    }
    __syncthreads();
    for (int s = 0; s < NS; s++) v[s] = part[s][0];
    __syncthreads(); // part is free again for the caller's next block_sum
}

// Block ng = n·groups + g normalises the group's M = cg·P contiguous values: mean, then
// the biased variance around it (two passes, as the CPU), then y with the CPU's float
// formula y = x·a + o.
static __global__ void groupnorm_forward_kernel(float *y, float *stats, const float *x, const float *w, const float *b,
                                                int64_t P, int64_t cg, int groups, double eps)
{
    const int64_t ng = blockIdx.x, M = cg * P, c0 = (ng % groups) * cg;
    const float *xg = x + ng * M;
    float *yg = y + ng * M;
    double s[1] = {0.0};
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) s[0] += xg[k];
    block_sum(s);
    const double mu = s[0] / M;
    double q[1] = {0.0};
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) q[0] += (xg[k] - mu) * (xg[k] - mu);
    block_sum(q);
    const double rstd = 1.0 / sqrt(q[0] / M + eps);
    if (threadIdx.x == 0) stats[2 * ng] = (float)mu, stats[2 * ng + 1] = (float)rstd;
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
        const int64_t c = c0 + k / P;
        const float a = (float)rstd * (w ? w[c] : 1.0f);
        const float o = (b ? b[c] : 0.0f) - (float)mu * a;
        yg[k] = xg[k] * a + o;
    }
}

// grad_in of group ng: s1 = mean of dŷ, s2 = mean of dŷ·x̂ (dŷ = dy·w, x̂ = (x − μ)·rstd),
// then dx = rstd·(dŷ − s1 − x̂·s2) as the CPU writes it: a·dy + b·x + o in float.
static __global__ void groupnorm_grad_in_kernel(float *dx, const float *dy, const float *x, const float *w,
                                                const float *stats, int64_t P, int64_t cg, int groups)
{
    const int64_t ng = blockIdx.x, M = cg * P, c0 = (ng % groups) * cg;
    const double mu = stats[2 * ng], rstd = stats[2 * ng + 1];
    const float *xg = x + ng * M, *dg = dy + ng * M;
    double s[2] = {0.0, 0.0};
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
        const double wc = w ? w[c0 + k / P] : 1.0;
        s[0] += wc * dg[k];
        s[1] += wc * dg[k] * (xg[k] - mu);
    }
    block_sum(s);
    const double s1 = s[0] / M, s2 = s[1] * rstd / M;
    const float b = (float)(-rstd * rstd * s2), o = (float)(rstd * (mu * rstd * s2 - s1));
    float *og = dx + ng * M;
    for (int64_t k = threadIdx.x; k < M; k += blockDim.x) {
        const float a = (float)(rstd * (w ? w[c0 + k / P] : 1.0));
        og[k] = a * dg[k] + b * xg[k] + o;
    }
}

// Block c sums over the batch and plane of channel c of dy (N,C,P): s0 = Σ dy, and with
// NORM s1 = Σ dy·x̂ (GroupNorm's grad_weight; s0 is its grad_bias). Without NORM this is
// the bias gradient of conv2d and linear, added in double as conv2d.c and linear.c do;
// GroupNorm adds the float sums, as groupnorm.c does.
template <bool NORM>
static __global__ void channel_sums_kernel(float *gw, float *gb, const float *dy, const float *x, const float *stats,
                                           int64_t N, int64_t C, int64_t P, int64_t cg, int groups)
{
    const int64_t c = blockIdx.x;
    double s[2] = {0.0, 0.0};
    for (int64_t i = threadIdx.x; i < N * P; i += blockDim.x) {
        const int64_t n = i / P, at = (n * C + c) * P + (i - n * P);
        s[0] += dy[at];
        if (NORM) {
            const int64_t ng = n * groups + c / cg;
            s[1] += dy[at] * (x[at] - (double)stats[2 * ng]) * (double)stats[2 * ng + 1];
        }
    }
    block_sum(s);
    if (threadIdx.x != 0) return;
    if (NORM) {
        if (gw) gw[c] += (float)s[1];
        if (gb) gb[c] += (float)s[0];
    } else {
        gb[c] = (float)((double)gb[c] + s[0]);
    }
}

extern "C" int ss_cuda_groupnorm_forward(float *out, float *stats, const float *in, const float *weight,
                                         const float *bias, int64_t n, int64_t c, int64_t plane, int groups,
                                         double eps)
{
    if (n * c * plane == 0) return SS_OK;
    groupnorm_forward_kernel<<<(unsigned)(n * groups), GN_THREADS, 0, ss_cuda_stream()>>>(
        out, stats, in, weight, bias, plane, c / groups, groups, eps);
    return SS_CUDA_LAUNCHED("groupnorm forward kernel");
}

extern "C" int ss_cuda_groupnorm_backward(float *grad_in, float *grad_weight, float *grad_bias,
                                          const float *grad_out, const float *in, const float *weight,
                                          const float *stats, int64_t n, int64_t c, int64_t plane, int groups)
{
    if (n * c * plane == 0) return SS_OK;
    const int64_t cg = c / groups;
    if (grad_in) {
        groupnorm_grad_in_kernel<<<(unsigned)(n * groups), GN_THREADS, 0, ss_cuda_stream()>>>(
            grad_in, grad_out, in, weight, stats, plane, cg, groups);
        SS_TRY(SS_CUDA_LAUNCHED("groupnorm grad_in kernel"));
    }
    if (grad_weight || grad_bias) {
        channel_sums_kernel<true><<<(unsigned)c, GN_THREADS, 0, ss_cuda_stream()>>>(
            grad_weight, grad_bias, grad_out, in, stats, n, c, plane, cg, groups);
        SS_TRY(SS_CUDA_LAUNCHED("groupnorm parameter gradient kernel"));
    }
    return SS_OK;
}

static __global__ void bias_add_kernel(float *out, const float *bias, int64_t total, int64_t C, int64_t P)
{
    SS_CUDA_FOR(i, total) out[i] += bias[i / P % C];
}

extern "C" int ss_cuda_bias_forward(float *out, const float *bias, int64_t n, int64_t c, int64_t plane)
{
    const int64_t total = n * c * plane;
    if (total == 0) return SS_OK;
    bias_add_kernel<<<ss_cuda_blocks(total), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, bias, total, c, plane);
    return SS_CUDA_LAUNCHED("bias add kernel");
}

extern "C" int ss_cuda_bias_backward(float *grad_bias, const float *grad_out, int64_t n, int64_t c, int64_t plane)
{
    if (n * c * plane == 0) return SS_OK;
    channel_sums_kernel<false><<<(unsigned)c, GN_THREADS, 0, ss_cuda_stream()>>>(nullptr, grad_bias, grad_out, nullptr,
                                                                                 nullptr, n, c, plane, 1, 1);
    return SS_CUDA_LAUNCHED("bias gradient kernel");
}
