// elementwise.cu — the binary ops with broadcasting, the same-shape maps and the
// unary maps of runtime/ops/elementwise.c on the GPU. One grid-stride kernel runs a
// functor per output element; the functors use the CPU's formulas and NaN rules and
// CUDA's accurate libm (expf, powf, ... are within a few ulp of glibc; +, -, *, /
// and sqrtf round correctly, so those ops match the CPU bit for bit). Each thread
// reads its inputs before it writes out[i], so out may alias an input.
#include "common.cuh"
#include "elementwise.h"

#include <type_traits>

// __grid_constant__: the functor stays in the parameter space, no per-thread copy.
template <class F> __global__ void each_kernel(int64_t n, const __grid_constant__ F f)
{
    SS_CUDA_FOR(i, n) f(i);
}

template <class F> static int launch(int64_t n, const F &f, const char *what)
{
    if (n <= 0) return SS_OK;
    each_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(n, f);
    return SS_CUDA_LAUNCHED(what);
}

// g(std::integral_constant<int, code>) when code is in [K, N): turns a runtime op
// code into the template argument that selects the functor.
template <int K, int N, class G> static int with_code(int code, const G &g)
{
    if constexpr (K == N)
        return SS_FAIL(SS_ERR_ARG, "elementwise kernel: unknown op code %d", code);
    else
        return code == K ? g(std::integral_constant<int, K>{}) : with_code<K + 1, N>(code, g);
}

// ------------------------------------------------------------------ binary, broadcast

template <int OP> __device__ __forceinline__ float bin_apply(float x, float y)
{
    switch (OP) {
    case SS_BIN_ADD: return x + y;
    case SS_BIN_SUB: return x - y;
    case SS_BIN_MUL: return x * y;
    case SS_BIN_DIV: return x / y;
    case SS_BIN_POW: return powf(x, y);
    case SS_BIN_MAX: return x > y || isnan(x) ? x : y; // NaN in either operand wins
    default: return x < y || isnan(x) ? x : y;
    }
}

struct bcast_layout {
    int m;
    int64_t size[4], sa[4], sb[4];
};

template <int OP> struct binary_at {
    float *o;
    const float *a, *b;
    bcast_layout L;
    // The digits of i in the merged sizes (innermost first) select the operands'
    // elements; the outermost digit needs no division. Unrolled, so L stays in registers.
    __device__ void operator()(int64_t i) const
    {
        int64_t rem = i, oa = 0, ob = 0;
#pragma unroll
        for (int d = 3; d > 0; d--)
            if (d < L.m) {
                const int64_t q = rem / L.size[d], j = rem - q * L.size[d];
                oa += j * L.sa[d];
                ob += j * L.sb[d];
                rem = q;
            }
        o[i] = bin_apply<OP>(a[oa + rem * L.sa[0]], b[ob + rem * L.sb[0]]);
    }
};

extern "C" int ss_cuda_binary_forward(float *out, const float *a, const float *b, int op, int m, const int64_t *size,
                                      const int64_t *sa, const int64_t *sb)
{
    if (m < 1 || m > 4) return SS_FAIL(SS_ERR_ARG, "ss_cuda_binary_forward: %d merged dimensions (1 to 4)", m);
    bcast_layout L = {m, {1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    int64_t n = 1;
    for (int d = 0; d < m; d++) {
        L.size[d] = size[d], L.sa[d] = sa[d], L.sb[d] = sb[d];
        n *= size[d];
    }
    return with_code<0, SS_BIN_COUNT>(op, [&](auto k) {
        return launch(n, binary_at<decltype(k)::value>{out, a, b, L}, "elementwise binary kernel");
    });
}

// ------------------------------------------------------------------ same-shape maps

template <int KIND> struct map_at {
    float *o;
    const float *x, *y;
    float a, b;
    __device__ void operator()(int64_t i) const
    {
        const float v = x[i];
        switch (KIND) {
        case SS_MAP_AXPBY: o[i] = a * v + b * y[i]; break;
        case SS_MAP_AFFINE: o[i] = a * v + b; break;
        case SS_MAP_CLAMP: o[i] = v < a ? a : v > b ? b : v; break; // NaN passes through
        case SS_MAP_POW: o[i] = powf(v, a); break;
        default: o[i] = a / v; break; // SS_MAP_RDIV
        }
    }
};

extern "C" int ss_cuda_map_forward(float *out, const float *x, const float *y, int64_t n, int kind, float a, float b)
{
    return with_code<0, SS_MAP_COUNT>(kind, [&](auto k) {
        return launch(n, map_at<decltype(k)::value>{out, x, y, a, b}, "elementwise map kernel");
    });
}

// ------------------------------------------------------------------ unary maps

template <int OP> struct unary_at {
    float *o;
    const float *x;
    __device__ void operator()(int64_t i) const
    {
        const float v = x[i];
        float r;
        switch (OP) {
        case SS_EXP: r = expf(v); break;
        case SS_LOG: r = logf(v); break;
        case SS_SQRT: r = sqrtf(v); break;
        case SS_ABS: r = fabsf(v); break;
        case SS_NEG: r = -v; break;
        case SS_SQUARE: r = v * v; break;
        case SS_SIN: r = sinf(v); break;
        case SS_COS: r = cosf(v); break;
        case SS_TANH: r = tanhf(v); break;
        case SS_SIGMOID: r = 1.0f / (1.0f + expf(-v)); break;
        case SS_FLOOR: r = floorf(v); break;
        default: r = nearbyintf(v); break; // SS_ROUND: halves to even, as on the CPU
        }
        o[i] = r;
    }
};

extern "C" int ss_cuda_unary_forward(float *out, const float *x, int64_t n, int op)
{
    return with_code<SS_EXP, SS_ROUND + 1>(op, [&](auto k) {
        return launch(n, unary_at<decltype(k)::value>{out, x}, "elementwise unary kernel");
    });
}
