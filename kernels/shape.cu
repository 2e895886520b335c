// shape.cu — runtime/core/shape.c's shape ops on device tensors: strided box copies
// (permute, narrow, flip, roll, crop, cat, split), padding, reductions over one
// dimension, where, row gathers and per-sample flips. One thread per output element
// in grid-stride loops; shape.c has checked every argument. Host index lists
// (index_select's rows, the samples to flip) travel as kernel parameters in chunks
// of ROW_CHUNK, so no host buffer has to outlive the call and nothing waits for the GPU.
#include "common.cuh"
#include "shape.h"

#include <math_constants.h>
#include <string.h>

// ------------------------------------------------------------------ box copies

// The digits of e in the box sizes (innermost last) give both offsets.
__global__ void box_copy_kernel(float *dst, const float *src, const __grid_constant__ ss_box b, int64_t n)
{
    SS_CUDA_FOR(e, n) {
        const int64_t i3 = e % b.size[3], t = e / b.size[3], i2 = t % b.size[2], u = t / b.size[2];
        const int64_t i1 = u % b.size[1], i0 = u / b.size[1];
        dst[i0 * b.dst[0] + i1 * b.dst[1] + i2 * b.dst[2] + i3 * b.dst[3]] =
            src[i0 * b.src[0] + i1 * b.src[1] + i2 * b.src[2] + i3 * b.src[3]];
    }
}

extern "C" int ss_cuda_box_copy_forward(float *dst, const float *src, const ss_box *box)
{
    const int64_t n = box->size[0] * box->size[1] * box->size[2] * box->size[3];
    if (n <= 0) return SS_OK;
    box_copy_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(dst, src, *box, n);
    return SS_CUDA_LAUNCHED("box copy kernel (permute, narrow, flip, roll, crop, cat, split)");
}

// ------------------------------------------------------------------ pad

// shape.c's pad_source: the source index of padded position k, or -1 for the constant.
__device__ __forceinline__ int64_t pad_source(int64_t k, int64_t n, int mode)
{
    if (k >= 0 && k < n) return k;
    if (mode == SS_PAD_REPLICATE) return k < 0 ? 0 : n - 1;
    if (mode == SS_PAD_REFLECT) return k < 0 ? -k : 2 * (n - 1) - k;
    return -1;
}

__global__ void pad_kernel(float *out, const float *x, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t top,
                           int64_t left, int mode, float value, int64_t n)
{
    SS_CUDA_FOR(e, n) {
        const int64_t j = e % Wo, t = e / Wo, i = t % Ho, p = t / Ho;
        const int64_t si = pad_source(i - top, H, mode), sj = pad_source(j - left, W, mode);
        out[e] = si < 0 || sj < 0 ? value : x[(p * H + si) * W + sj];
    }
}

extern "C" int ss_cuda_pad_forward(float *out, const float *x, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                                   int64_t Wo, int64_t top, int64_t left, int mode, float value)
{
    const int64_t n = planes * Ho * Wo;
    if (n <= 0) return SS_OK;
    pad_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, x, H, W, Ho, Wo, top, left, mode,
                                                                            value, n);
    return SS_CUDA_LAUNCHED("ss_pad kernel");
}

// ------------------------------------------------------------------ reduce over one dimension

// One thread per output (o, i), accumulating over k = 0..len-1 in order in double:
// the cpu's order, so the two agree bit for bit. Neighbouring threads read
// neighbouring columns, so the loads coalesce.
__global__ void reduce_dim_kernel(float *out, const float *x, int64_t outer, int64_t len, int64_t inner, int op)
{
    SS_CUDA_FOR(e, outer * inner) {
        const int64_t o = e / inner, i = e - o * inner;
        const float *p = x + o * len * inner + i;
        double acc = op == SS_RED_MIN ? CUDART_INF : op == SS_RED_MAX ? -CUDART_INF : 0.0;
        for (int64_t k = 0; k < len; k++, p += inner) {
            const double v = *p;
            if (op == SS_RED_MIN) acc = isnan(acc) || isnan(v) ? CUDART_NAN : v < acc ? v : acc;
            else if (op == SS_RED_MAX) acc = isnan(acc) || isnan(v) ? CUDART_NAN : v > acc ? v : acc;
            else acc += v;
        }
        out[e] = (float)(op == SS_RED_MEAN ? acc / (double)len : acc);
    }
}

extern "C" int ss_cuda_reduce_dim_forward(float *out, const float *x, int64_t outer, int64_t len, int64_t inner,
                                          int op)
{
    const int64_t n = outer * inner;
    if (n <= 0) return SS_OK;
    reduce_dim_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, x, outer, len, inner, op);
    return SS_CUDA_LAUNCHED("ss_reduce_dim kernel");
}

// ------------------------------------------------------------------ where

struct where_layout {
    int64_t size[4], sm[4], sa[4], sb[4];
};

// Each thread reads its mask and operand elements before it writes out[e], so out
// may be one of the inputs.
__global__ void where_kernel(float *out, const float *m, const float *a, const float *b,
                             const __grid_constant__ where_layout L, int64_t n)
{
    SS_CUDA_FOR(e, n) {
        int64_t rem = e, om = 0, oa = 0, ob = 0;
        for (int d = 3; d >= 0; d--) {
            const int64_t i = rem % L.size[d];
            rem /= L.size[d];
            om += i * L.sm[d], oa += i * L.sa[d], ob += i * L.sb[d];
        }
        const float v = m[om];
        out[e] = isnan(v) ? v : v != 0.0f ? a[oa] : b[ob];
    }
}

extern "C" int ss_cuda_where_forward(float *out, const float *mask, const float *a, const float *b,
                                     const int64_t *size, const int64_t *st_m, const int64_t *st_a,
                                     const int64_t *st_b)
{
    where_layout L;
    memcpy(L.size, size, sizeof L.size), memcpy(L.sm, st_m, sizeof L.sm);
    memcpy(L.sa, st_a, sizeof L.sa), memcpy(L.sb, st_b, sizeof L.sb);
    const int64_t n = size[0] * size[1] * size[2] * size[3];
    if (n <= 0) return SS_OK;
    where_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, mask, a, b, L, n);
    return SS_CUDA_LAUNCHED("ss_where kernel");
}

// ------------------------------------------------------------------ row lists

// Up to ROW_CHUNK sample indices by value: 3.5 KiB, which with the other
// parameters stays under the classic 4 KiB kernel parameter limit.
#define ROW_CHUNK 448
struct row_list {
    int64_t count;
    int64_t v[ROW_CHUNK];
};

// out (count, row) = rows rows.v[0..count) of x (., row).
__global__ void gather_rows_kernel(float *out, const float *x, int64_t row, const __grid_constant__ row_list rows)
{
    SS_CUDA_FOR(e, rows.count * row) {
        const int64_t s = e / row, j = e - s * row;
        out[e] = x[rows.v[s] * row + j];
    }
}

extern "C" int ss_cuda_index_select_forward(float *out, const float *x, const int64_t *idx, int64_t n, int64_t row)
{
    row_list rows;
    for (int64_t s0 = 0; s0 < n; s0 += ROW_CHUNK) {
        rows.count = n - s0 < ROW_CHUNK ? n - s0 : ROW_CHUNK;
        memcpy(rows.v, idx + s0, sizeof(int64_t) * (size_t)rows.count);
        gather_rows_kernel<<<ss_cuda_blocks(rows.count * row), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(
            out + s0 * row, x, row, rows);
        SS_TRY(SS_CUDA_LAUNCHED("ss_index_select kernel"));
    }
    return SS_OK;
}

// Mirrors the lines of w floats of samples rows.v[0..count) of x (., row) in place:
// one thread swaps one pair (j, w-1-j) of one line.
__global__ void flip_rows_kernel(float *x, int64_t row, int64_t w, const __grid_constant__ row_list rows)
{
    const int64_t half = w / 2, lines = row / w;
    SS_CUDA_FOR(e, rows.count * lines * half) {
        const int64_t j = e % half, t = e / half;
        float *line = x + rows.v[t / lines] * row + t % lines * w;
        const float a = line[j];
        line[j] = line[w - 1 - j];
        line[w - 1 - j] = a;
    }
}

extern "C" int ss_cuda_flip_w_where_forward(float *x, const float *flip, int64_t n, int64_t row, int64_t w)
{
    if (w < 2) return SS_OK; // nothing to mirror
    row_list rows;
    rows.count = 0;
    for (int64_t i = 0; i < n; i++) {
        if (flip[i] != 0.0f) rows.v[rows.count++] = i;
        if (rows.count == ROW_CHUNK || (i == n - 1 && rows.count > 0)) {
            flip_rows_kernel<<<ss_cuda_blocks(rows.count * (row / w) * (w / 2)), SS_CUDA_THREADS, 0,
                               ss_cuda_stream()>>>(x, row, w, rows);
            SS_TRY(SS_CUDA_LAUNCHED("ss_flip_w_where kernel"));
            rows.count = 0;
        }
    }
    return SS_OK;
}
