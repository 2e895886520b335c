// tensor.cu — runtime/core/tensor.c's work on device tensors that is not a copy or
// a fill (those are kernels/memory.cu's): the first NaN/Inf. The shape ops are
// kernels/shape.cu.
#include "common.cuh"
#include "tensor.h"

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
