// memory.cu — the device layer: one stream, a caching allocator, copies and fill,
// the cuBLAS handle and the device facts (extern "C" for tensor.c and device.c).
#include "common.cuh"

#include <map>
#include <mutex>
#include <stdio.h>
#include <unordered_map>
#include <vector>

int ss_cuda_status(cudaError_t e, const char *what, const char *file, int line)
{
    if (e == cudaSuccess) return SS_OK;
    int code = e == cudaErrorMemoryAllocation ? SS_ERR_NOMEM : SS_ERR_DEVICE;
    const char *hint = e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver
                           ? "; no usable GPU here: keep the tensors on the cpu"
                           : "";
    return ss_error_set(code, file, line, "%s: %s (%s)%s", what, cudaGetErrorString(e), cudaGetErrorName(e), hint);
}

int ss_cublas_status(cublasStatus_t s, const char *what, const char *file, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS) return SS_OK;
    return ss_error_set(s == CUBLAS_STATUS_ALLOC_FAILED ? SS_ERR_NOMEM : SS_ERR_DEVICE, file, line, "%s: cuBLAS %s",
                        what, cublasGetStatusString(s));
}

// ------------------------------------------------------------------ stream, cuBLAS

static std::mutex g_lock;
static cudaStream_t g_stream; // 0 (the legacy stream) until made, and for good if making it fails
static bool g_stream_tried;
static cublasHandle_t g_blas;

cudaStream_t ss_cuda_stream(void)
{
    std::lock_guard<std::mutex> hold(g_lock);
    // One try only: switching streams later would leave earlier work unordered.
    if (!g_stream_tried) {
        g_stream_tried = true;
        if (cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking) != cudaSuccess) {
            cudaGetLastError();
            g_stream = 0;
        }
    }
    return g_stream;
}

int ss_cublas_handle(cublasHandle_t *h)
{
    cudaStream_t s = ss_cuda_stream();
    std::lock_guard<std::mutex> hold(g_lock);
    if (!g_blas) {
        cublasHandle_t made;
        SS_CUBLAS_TRY(cublasCreate(&made), "creating the cuBLAS handle");
        cublasStatus_t st = cublasSetStream(made, s);
        if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetMathMode(made, CUBLAS_DEFAULT_MATH);
        if (st != CUBLAS_STATUS_SUCCESS) {
            cublasDestroy(made);
            return ss_cublas_status(st, "binding the cuBLAS handle to the scalespace stream", __FILE__, __LINE__);
        }
        g_blas = made;
    }
    *h = g_blas;
    return SS_OK;
}

// ------------------------------------------------------------------ caching allocator
// Sizes round up by ss_size_class (the host cache's rule: 512 bytes, 1 MiB above
// 1 MiB); a freed block waits on the free list of its rounded size. Work runs on one
// stream, so a block freed by the host can be handed out again at once: the new
// owner's kernels queue after the old owner's.

static std::unordered_map<void *, size_t> g_live;          // block -> rounded size
static std::map<size_t, std::vector<void *>> g_free;       // rounded size -> blocks
static int64_t g_in_use, g_cached;

// Gives every cached block back to the driver; the lock is held by the caller.
static void release_locked(void)
{
    for (auto &kv : g_free)
        for (void *p : kv.second) cudaFree(p);
    g_free.clear();
    g_cached = 0;
}

extern "C" int ss_cuda_malloc(void **p, size_t bytes)
{
    *p = NULL;
    size_t size = ss_size_class(bytes);
    std::lock_guard<std::mutex> hold(g_lock);
    auto it = g_free.find(size);
    if (it != g_free.end() && !it->second.empty()) {
        *p = it->second.back();
        it->second.pop_back();
        g_cached -= (int64_t)size;
    } else {
        cudaError_t e = cudaMalloc(p, size);
        if (e == cudaErrorMemoryAllocation && g_cached > 0) { // the cache may hold what is missing
            cudaGetLastError();
            cudaStreamSynchronize(g_stream);
            release_locked();
            e = cudaMalloc(p, size);
        }
        if (e != cudaSuccess) {
            cudaGetLastError(); // clear it so later calls are not blamed
            *p = NULL;
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            char what[160];
            snprintf(what, sizeof what, "allocating %.1f MiB on cuda (tensors hold %.1f MiB, device has %.1f MiB free)",
                     size / 1048576.0, g_in_use / 1048576.0, free_b / 1048576.0);
            return ss_cuda_status(e, what, __FILE__, __LINE__);
        }
    }
    g_live[*p] = size;
    g_in_use += (int64_t)size;
    return SS_OK;
}

extern "C" int ss_cuda_free(void *p)
{
    if (!p) return SS_OK;
    std::lock_guard<std::mutex> hold(g_lock);
    auto it = g_live.find(p);
    if (it == g_live.end()) return SS_FAIL(SS_ERR_ARG, "ss_cuda_free: %p was not allocated here", p);
    g_free[it->second].push_back(p);
    g_in_use -= (int64_t)it->second;
    g_cached += (int64_t)it->second;
    g_live.erase(it);
    return SS_OK;
}

extern "C" int ss_cuda_release_cache(void)
{
    cudaStream_t s = ss_cuda_stream();
    SS_CUDA_TRY(cudaStreamSynchronize(s), "waiting for the GPU before releasing cached memory");
    std::lock_guard<std::mutex> hold(g_lock);
    release_locked();
    return SS_OK;
}

extern "C" void ss_cuda_usage(int64_t *in_use, int64_t *cached)
{
    std::lock_guard<std::mutex> hold(g_lock);
    if (in_use) *in_use = g_in_use;
    if (cached) *cached = g_cached;
}

// ------------------------------------------------------------------ copies, fill, facts

extern "C" int ss_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind)
{
    cudaMemcpyKind k = kind == SS_COPY_H2D ? cudaMemcpyHostToDevice
                     : kind == SS_COPY_D2H ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
    cudaStream_t s = ss_cuda_stream();
    SS_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, k, s), "copying a tensor between devices");
    // Host memory may be reused or freed as soon as we return, and a host reader
    // needs the data now: both directions that touch the host wait.
    if (k != cudaMemcpyDeviceToDevice) SS_CUDA_TRY(cudaStreamSynchronize(s), "copying a tensor between devices");
    return SS_OK;
}

__global__ void fill_kernel(float *out, int64_t n, float value)
{
    SS_CUDA_FOR(i, n) out[i] = value;
}

extern "C" int ss_cuda_fill_forward(float *out, int64_t n, float value)
{
    if (n <= 0) return SS_OK;
    fill_kernel<<<ss_cuda_blocks(n), SS_CUDA_THREADS, 0, ss_cuda_stream()>>>(out, n, value);
    return SS_CUDA_LAUNCHED("fill kernel");
}

extern "C" int ss_cuda_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int ss_cuda_describe(char *buf, size_t n)
{
    int dev = 0, driver = 0, runtime = 0;
    cudaDeviceProp prop;
    SS_CUDA_TRY(cudaGetDevice(&dev), "ss_cuda_device_info");
    SS_CUDA_TRY(cudaGetDeviceProperties(&prop, dev), "ss_cuda_device_info");
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    snprintf(buf, n, "%s (sm_%d%d, %.1f GiB, %d SMs), driver %d.%d, runtime %d.%d", prop.name, prop.major,
             prop.minor, prop.totalGlobalMem / 1073741824.0, prop.multiProcessorCount, driver / 1000,
             driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
    return SS_OK;
}

extern "C" int ss_cuda_sync(void)
{
    SS_CUDA_TRY(cudaStreamSynchronize(ss_cuda_stream()), "ss_cuda_synchronize (a kernel queued earlier failed)");
    return SS_OK;
}
