// tensor.cu — runtime/core/tensor.c's data movement on device tensors: the first
// NaN/Inf, row gathers, box copies (crop, cat, split) and per-sample flips. Host
// index lists (index_select's rows, the samples to flip) travel as kernel
// parameters in chunks of ROW_CHUNK, so no host buffer has to outlive the call and
// nothing waits for the GPU.
#include "common.cuh"
#include "tensor.h"

#include <string.h>

// ------------------------------------------------------------------ finite check

// Each thread walks its indices upwards, so the first bad one it meets is its
// lowest; the minimum over threads is the first bad index. *first starts as all
// ones (no bad index).
__global__ void first_bad_kernel(unsigned long long *first, const float *x, int64_t n)
{
    SS_CUDA_FOR(i, n)
        if (!isfinite(x[i])) {
            atomicMin(first, (unsigned long long)i);
            break;
        }
}

extern "C" int ss_cuda_first_nonfinite_forward(int64_t *first, float *value, const float *x, int64_t n)
{
    *first = n;
    if (n <= 0) return SS_OK;
    ss_cuda_tmp d;
    SS_TRY(d.alloc(sizeof(unsigned long long)));
    cudaStream_t s = ss_cuda_stream();
    SS_CUDA_TRY(cudaMemsetAsync(d.p, 0xff, sizeof(unsigned long long), s), "ss_tensor_check_finite");
    first_bad_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, s>>>(d.as<unsigned long long>(), x, n);
    SS_TRY(SS_CUDA_LAUNCHED("ss_tensor_check_finite kernel"));
    unsigned long long bad = 0;
    SS_TRY(ss_cuda_memcpy(&bad, d.p, sizeof bad, SS_COPY_D2H));
    if (bad >= (unsigned long long)n) return SS_OK;
    *first = (int64_t)bad;
    return ss_cuda_memcpy(value, x + bad, sizeof(float), SS_COPY_D2H);
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

// ------------------------------------------------------------------ box copies

__global__ void copy_box_kernel(float *dst, int64_t dst_plane, int64_t dst_row, const float *src, int64_t src_plane,
                                int64_t src_row, int64_t rows, int64_t cols, int64_t n)
{
    SS_CUDA_FOR(e, n) {
        const int64_t j = e % cols, t = e / cols, i = t % rows, p = t / rows;
        dst[p * dst_plane + i * dst_row + j] = src[p * src_plane + i * src_row + j];
    }
}

extern "C" int ss_cuda_copy_box_forward(float *dst, int64_t dst_plane, int64_t dst_row, const float *src,
                                        int64_t src_plane, int64_t src_row, int64_t planes, int64_t rows, int64_t cols)
{
    const int64_t n = planes * rows * cols;
    if (n <= 0) return SS_OK;
    copy_box_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(dst, dst_plane, dst_row, src,
                                                                                 src_plane, src_row, rows, cols, n);
    return SS_CUDA_LAUNCHED("box copy kernel");
}
