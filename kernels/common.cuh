// common.cuh — what every kernel file shares: status conversion, the stream, the
// cuBLAS handle, launch sizes. Launchers return an ss_status; a kernel's own failure
// is asynchronous and surfaces at the next synchronising call (a copy to the host,
// a reduction, ss_cuda_synchronize) with the CUDA error string.
#ifndef SS_KERNELS_COMMON_CUH
#define SS_KERNELS_COMMON_CUH
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "core/internal.h"
#include "core/cuda.h"
}

// SS_OK, or the error (SS_ERR_NOMEM for allocation failures, else SS_ERR_DEVICE)
// naming `what` with CUDA's name and string for e.
int ss_cuda_status(cudaError_t e, const char *what, const char *file, int line);
int ss_cublas_status(cublasStatus_t s, const char *what, const char *file, int line);
#define SS_CUDA_TRY(call, what) SS_TRY(ss_cuda_status((call), (what), __FILE__, __LINE__))
#define SS_CUBLAS_TRY(call, what) SS_TRY(ss_cublas_status((call), (what), __FILE__, __LINE__))
// After a <<<...>>> launch: a bad configuration is reported now.
#define SS_CUDA_LAUNCHED(what) ss_cuda_status(cudaGetLastError(), (what), __FILE__, __LINE__)

// The one stream all scalespace work runs on (created on first use), so work is
// ordered and the caching allocator can reuse a freed block at once.
cudaStream_t ss_cuda_stream(void);
// The cuBLAS handle bound to that stream (created on first use); FP32 GEMMs run in
// full FP32 (no TF32), like PyTorch's default for matmul.
int ss_cublas_handle(cublasHandle_t *h);

// Grid-stride loops: enough blocks to fill the GPU, never more than the work needs.
#define SS_CUDA_THREADS 256
static inline unsigned ss_cuda_blocks(int64_t n)
{
    int64_t b = (n + SS_CUDA_THREADS - 1) / SS_CUDA_THREADS;
    if (b < 1) b = 1;
    return (unsigned)(b > 8192 ? 8192 : b);
}
#define SS_CUDA_FOR(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// A temporary device buffer from the caching allocator, freed on scope exit.
struct ss_cuda_tmp {
    void *p = nullptr;
    ~ss_cuda_tmp() { if (p) ss_cuda_free(p); }
    int alloc(size_t bytes) { return ss_cuda_malloc(&p, bytes); }
    template <class T> T *as() const { return static_cast<T *>(p); }
};
#endif
