// memory.cu — device allocation, copies and fill for tensor.c (extern "C" launchers).
#include <cuda_runtime.h>

extern "C" {
#include "core/internal.h"
#include "core/cuda.h"
}

// Turns a CUDA error into an ss_status with the CUDA error string.
static int cuda_status(cudaError_t e, const char *what, const char *file, int line)
{
    if (e == cudaSuccess) return SS_OK;
    int code = e == cudaErrorMemoryAllocation ? SS_ERR_NOMEM : SS_ERR_DEVICE;
    return ss_error_set(code, file, line, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}
#define CUDA_TRY(call, what) cuda_status((call), (what), __FILE__, __LINE__)

extern "C" int ss_cuda_malloc(void **p, size_t bytes)
{
    *p = NULL;
    int rc = CUDA_TRY(cudaMalloc(p, bytes), "allocating a tensor on cuda");
    if (rc != SS_OK) {
        cudaGetLastError(); // clear the sticky-free error so later calls are not blamed
        *p = NULL;
    }
    return rc;
}

extern "C" int ss_cuda_free(void *p) { return CUDA_TRY(cudaFree(p), "freeing a cuda tensor"); }

extern "C" int ss_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind)
{
    cudaMemcpyKind k = kind == SS_COPY_H2D ? cudaMemcpyHostToDevice
                     : kind == SS_COPY_D2H ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    return CUDA_TRY(cudaMemcpy(dst, src, bytes, k), "copying a tensor between devices");
}

__global__ void fill_kernel(float *out, int64_t n, float value)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = value;
}

extern "C" int ss_cuda_fill_forward(float *out, int64_t n, float value)
{
    int64_t blocks = (n + 255) / 256;
    if (blocks > 65535) blocks = 65535;
    fill_kernel<<<(unsigned)blocks, 256>>>(out, n, value);
    return CUDA_TRY(cudaGetLastError(), "fill kernel");
}
