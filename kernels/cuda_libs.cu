// cuda_libs.cu — cuBLAS and cuDNN, loaded when first called.
//
// Linked, they were loaded with libscalespace by every process, GPU or not: cuBLAS's
// initialisers alone cost 0.2 s and 215 MB resident at start-up, and a missing or
// broken library stopped libscalespace from loading at all. The CUDA runtime is
// linked statically (it looks for the driver on its first call), and each cuBLAS and
// cuDNN function the kernels call is defined here under the library's own name, with
// hidden visibility (this file is compiled with -fvisibility=hidden): the kernels
// call them unchanged, and nothing outside libscalespace sees them. The first call
// dlopens the library (its soname, then the toolkit's directory) and looks up every
// function of its table at once; when that fails, each call returns the library's
// NOT_INITIALIZED status and the status strings give the reason (dlerror()).
// libscalespace links with -z defs, so a kernel calling a function missing here fails
// to link instead of failing at run time.
#include <cublas_v2.h>
#include <dlfcn.h>
#include <mutex>
#include <stdio.h>
#include <string.h>
#ifdef SS_WITH_CUDNN
#include <cudnn.h>
#endif

struct lib_symbol {
    const char *name;
    void **fn;
};

struct lazy_lib {
    const char *what, *soname_format;
    int major;
    const char *dir; // the build's copy, tried when the soname is not found
    const lib_symbol *symbols;
    size_t count;
    std::once_flag once;
    bool ready;
    char error[640];
};

// The library at `name` with every symbol of its table, or false with lib->error set.
static bool open_lib(lazy_lib *lib, const char *name)
{
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lib->error, sizeof lib->error, "%s could not be loaded (%s)", lib->what, dlerror());
        return false;
    }
    for (size_t i = 0; i < lib->count; i++) {
        *lib->symbols[i].fn = dlsym(h, lib->symbols[i].name);
        if (!*lib->symbols[i].fn) {
            snprintf(lib->error, sizeof lib->error, "%s at %s lacks %s: a different version than the build's",
                     lib->what, name, lib->symbols[i].name);
            dlclose(h);
            return false;
        }
    }
    return true;
}

// Loads lib once; true when its functions can be called.
static bool lib_ready(lazy_lib *lib)
{
    std::call_once(lib->once, [lib] {
        char name[512];
        snprintf(name, sizeof name, lib->soname_format, lib->major);
        lib->ready = open_lib(lib, name);
        if (!lib->ready) {
            char first[sizeof lib->error], path[1024];
            memcpy(first, lib->error, sizeof first);
            snprintf(path, sizeof path, "%s/%s", lib->dir, name);
            lib->ready = open_lib(lib, path);
            if (!lib->ready) snprintf(lib->error, sizeof lib->error, "%.600s; CUDA work needs it", first);
        }
    });
    return lib->ready;
}

static decltype(&cublasGetStatusString) p_cublasGetStatusString;
static decltype(&cublasCreate_v2) p_cublasCreate_v2;
static decltype(&cublasDestroy_v2) p_cublasDestroy_v2;
static decltype(&cublasSetStream_v2) p_cublasSetStream_v2;
static decltype(&cublasSetMathMode) p_cublasSetMathMode;
static decltype(&cublasSgemm_v2) p_cublasSgemm_v2;
static decltype(&cublasSgemm_v2_64) p_cublasSgemm_v2_64;
static decltype(&cublasSgemmStridedBatched) p_cublasSgemmStridedBatched;
static decltype(&cublasSgemmStridedBatched_64) p_cublasSgemmStridedBatched_64;
// Spelled out: the header also declares an inline C++ overload of this name.
static cublasStatus_t (*p_cublasGemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                                      int, const void *, const void *, cudaDataType, int, long long int,
                                                      const void *, cudaDataType, int, long long int, const void *,
                                                      void *, cudaDataType, int, long long int, int,
                                                      cublasComputeType_t, cublasGemmAlgo_t);

static const lib_symbol cublas_symbols[] = {
    {"cublasGetStatusString", (void **)&p_cublasGetStatusString},
    {"cublasCreate_v2", (void **)&p_cublasCreate_v2},
    {"cublasDestroy_v2", (void **)&p_cublasDestroy_v2},
    {"cublasSetStream_v2", (void **)&p_cublasSetStream_v2},
    {"cublasSetMathMode", (void **)&p_cublasSetMathMode},
    {"cublasSgemm_v2", (void **)&p_cublasSgemm_v2},
    {"cublasSgemm_v2_64", (void **)&p_cublasSgemm_v2_64},
    {"cublasSgemmStridedBatched", (void **)&p_cublasSgemmStridedBatched},
    {"cublasSgemmStridedBatched_64", (void **)&p_cublasSgemmStridedBatched_64},
    {"cublasGemmStridedBatchedEx", (void **)&p_cublasGemmStridedBatchedEx},
};
static lazy_lib cublas_lib = {"cuBLAS", "libcublas.so.%d", CUBLAS_VER_MAJOR, SS_CUBLAS_DIR, cublas_symbols,
                              sizeof cublas_symbols / sizeof cublas_symbols[0], {}, false, ""};

// cuBLAS's message for a status, or why the library could not be loaded.
const char *cublasGetStatusString(cublasStatus_t status)
{
    return lib_ready(&cublas_lib) ? p_cublasGetStatusString(status) : cublas_lib.error;
}

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    return lib_ready(&cublas_lib) ? p_cublasCreate_v2(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    return lib_ready(&cublas_lib) ? p_cublasDestroy_v2(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    return lib_ready(&cublas_lib) ? p_cublasSetStream_v2(handle, streamId) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    return lib_ready(&cublas_lib) ? p_cublasSetMathMode(handle, mode) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                              const float *beta, float *C, int ldc)
{
    return lib_ready(&cublas_lib)
               ? p_cublasSgemm_v2(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
               : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSgemm_v2_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                                 int64_t n, int64_t k, const float *alpha, const float *A, int64_t lda, const float *B,
                                 int64_t ldb, const float *beta, float *C, int64_t ldc)
{
    return lib_ready(&cublas_lib)
               ? p_cublasSgemm_v2_64(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
               : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float *alpha, const float *A, int lda,
                                         long long int strideA, const float *B, int ldb, long long int strideB,
                                         const float *beta, float *C, int ldc, long long int strideC, int batchCount)
{
    return lib_ready(&cublas_lib) ? p_cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, strideA,
                                                                B, ldb, strideB, beta, C, ldc, strideC, batchCount)
                                  : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSgemmStridedBatched_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                            int64_t m, int64_t n, int64_t k, const float *alpha, const float *A,
                                            int64_t lda, long long int strideA, const float *B, int64_t ldb,
                                            long long int strideB, const float *beta, float *C, int64_t ldc,
                                            long long int strideC, int64_t batchCount)
{
    return lib_ready(&cublas_lib)
               ? p_cublasSgemmStridedBatched_64(handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb,
                                                strideB, beta, C, ldc, strideC, batchCount)
               : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype,
                                          int lda, long long int strideA, const void *B, cudaDataType Btype, int ldb,
                                          long long int strideB, const void *beta, void *C, cudaDataType Ctype, int ldc,
                                          long long int strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo)
{
    return lib_ready(&cublas_lib)
               ? p_cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype,
                                              ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo)
               : CUBLAS_STATUS_NOT_INITIALIZED;
}

#ifdef SS_WITH_CUDNN
static decltype(&cudnnGetErrorString) p_cudnnGetErrorString;
static decltype(&cudnnCreate) p_cudnnCreate;
static decltype(&cudnnDestroy) p_cudnnDestroy;
static decltype(&cudnnSetStream) p_cudnnSetStream;
static decltype(&cudnnCreateTensorDescriptor) p_cudnnCreateTensorDescriptor;
static decltype(&cudnnSetTensor4dDescriptor) p_cudnnSetTensor4dDescriptor;
static decltype(&cudnnDestroyTensorDescriptor) p_cudnnDestroyTensorDescriptor;
static decltype(&cudnnCreateFilterDescriptor) p_cudnnCreateFilterDescriptor;
static decltype(&cudnnSetFilter4dDescriptor) p_cudnnSetFilter4dDescriptor;
static decltype(&cudnnDestroyFilterDescriptor) p_cudnnDestroyFilterDescriptor;
static decltype(&cudnnCreateConvolutionDescriptor) p_cudnnCreateConvolutionDescriptor;
static decltype(&cudnnSetConvolution2dDescriptor) p_cudnnSetConvolution2dDescriptor;
static decltype(&cudnnSetConvolutionMathType) p_cudnnSetConvolutionMathType;
static decltype(&cudnnDestroyConvolutionDescriptor) p_cudnnDestroyConvolutionDescriptor;
static decltype(&cudnnGetConvolutionForwardAlgorithm_v7) p_cudnnGetConvolutionForwardAlgorithm_v7;
static decltype(&cudnnGetConvolutionForwardWorkspaceSize) p_cudnnGetConvolutionForwardWorkspaceSize;
static decltype(&cudnnGetConvolutionBackwardDataAlgorithm_v7) p_cudnnGetConvolutionBackwardDataAlgorithm_v7;
static decltype(&cudnnGetConvolutionBackwardDataWorkspaceSize) p_cudnnGetConvolutionBackwardDataWorkspaceSize;
static decltype(&cudnnGetConvolutionBackwardFilterAlgorithm_v7) p_cudnnGetConvolutionBackwardFilterAlgorithm_v7;
static decltype(&cudnnGetConvolutionBackwardFilterWorkspaceSize) p_cudnnGetConvolutionBackwardFilterWorkspaceSize;
static decltype(&cudnnConvolutionForward) p_cudnnConvolutionForward;
static decltype(&cudnnConvolutionBackwardFilter) p_cudnnConvolutionBackwardFilter;
static decltype(&cudnnConvolutionBackwardData) p_cudnnConvolutionBackwardData;

static const lib_symbol cudnn_symbols[] = {
    {"cudnnGetErrorString", (void **)&p_cudnnGetErrorString},
    {"cudnnCreate", (void **)&p_cudnnCreate},
    {"cudnnDestroy", (void **)&p_cudnnDestroy},
    {"cudnnSetStream", (void **)&p_cudnnSetStream},
    {"cudnnCreateTensorDescriptor", (void **)&p_cudnnCreateTensorDescriptor},
    {"cudnnSetTensor4dDescriptor", (void **)&p_cudnnSetTensor4dDescriptor},
    {"cudnnDestroyTensorDescriptor", (void **)&p_cudnnDestroyTensorDescriptor},
    {"cudnnCreateFilterDescriptor", (void **)&p_cudnnCreateFilterDescriptor},
    {"cudnnSetFilter4dDescriptor", (void **)&p_cudnnSetFilter4dDescriptor},
    {"cudnnDestroyFilterDescriptor", (void **)&p_cudnnDestroyFilterDescriptor},
    {"cudnnCreateConvolutionDescriptor", (void **)&p_cudnnCreateConvolutionDescriptor},
    {"cudnnSetConvolution2dDescriptor", (void **)&p_cudnnSetConvolution2dDescriptor},
    {"cudnnSetConvolutionMathType", (void **)&p_cudnnSetConvolutionMathType},
    {"cudnnDestroyConvolutionDescriptor", (void **)&p_cudnnDestroyConvolutionDescriptor},
    {"cudnnGetConvolutionForwardAlgorithm_v7", (void **)&p_cudnnGetConvolutionForwardAlgorithm_v7},
    {"cudnnGetConvolutionForwardWorkspaceSize", (void **)&p_cudnnGetConvolutionForwardWorkspaceSize},
    {"cudnnGetConvolutionBackwardDataAlgorithm_v7", (void **)&p_cudnnGetConvolutionBackwardDataAlgorithm_v7},
    {"cudnnGetConvolutionBackwardDataWorkspaceSize", (void **)&p_cudnnGetConvolutionBackwardDataWorkspaceSize},
    {"cudnnGetConvolutionBackwardFilterAlgorithm_v7", (void **)&p_cudnnGetConvolutionBackwardFilterAlgorithm_v7},
    {"cudnnGetConvolutionBackwardFilterWorkspaceSize", (void **)&p_cudnnGetConvolutionBackwardFilterWorkspaceSize},
    {"cudnnConvolutionForward", (void **)&p_cudnnConvolutionForward},
    {"cudnnConvolutionBackwardFilter", (void **)&p_cudnnConvolutionBackwardFilter},
    {"cudnnConvolutionBackwardData", (void **)&p_cudnnConvolutionBackwardData},
};
static lazy_lib cudnn_lib = {"cuDNN", "libcudnn.so.%d", CUDNN_MAJOR, SS_CUDNN_DIR, cudnn_symbols,
                             sizeof cudnn_symbols / sizeof cudnn_symbols[0], {}, false, ""};

// cuDNN's message for a status, or why the library could not be loaded.
const char *cudnnGetErrorString(cudnnStatus_t status)
{
    return lib_ready(&cudnn_lib) ? p_cudnnGetErrorString(status) : cudnn_lib.error;
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle)
{
    return lib_ready(&cudnn_lib) ? p_cudnnCreate(handle) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle)
{
    return lib_ready(&cudnn_lib) ? p_cudnnDestroy(handle) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId)
{
    return lib_ready(&cudnn_lib) ? p_cudnnSetStream(handle, streamId) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *tensorDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnCreateTensorDescriptor(tensorDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w)
{
    return lib_ready(&cudnn_lib) ? p_cudnnSetTensor4dDescriptor(tensorDesc, format, dataType, n, c, h, w)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnDestroyTensorDescriptor(tensorDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *filterDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnCreateFilterDescriptor(filterDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    return lib_ready(&cudnn_lib) ? p_cudnnSetFilter4dDescriptor(filterDesc, dataType, format, k, c, h, w)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnDestroyFilterDescriptor(filterDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *convDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnCreateConvolutionDescriptor(convDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType)
{
    return lib_ready(&cudnn_lib) ? p_cudnnSetConvolution2dDescriptor(convDesc, pad_h, pad_w, u, v, dilation_h,
                                                                     dilation_w, mode, computeType)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType)
{
    return lib_ready(&cudnn_lib) ? p_cudnnSetConvolutionMathType(convDesc, mathType) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc)
{
    return lib_ready(&cudnn_lib) ? p_cudnnDestroyConvolutionDescriptor(convDesc) : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                     const cudnnFilterDescriptor_t filterDesc,
                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t destDesc,
                                                     const int requestedAlgoCount, int *returnedAlgoCount,
                                                     cudnnConvolutionFwdAlgoPerf_t *perfResults)
{
    return lib_ready(&cudnn_lib)
               ? p_cudnnGetConvolutionForwardAlgorithm_v7(handle, srcDesc, filterDesc, convDesc, destDesc,
                                                          requestedAlgoCount, returnedAlgoCount, perfResults)
               : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                      const cudnnFilterDescriptor_t wDesc,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      const cudnnTensorDescriptor_t yDesc,
                                                      cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes)
{
    return lib_ready(&cudnn_lib)
               ? p_cudnnGetConvolutionForwardWorkspaceSize(handle, xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes)
               : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount,
    int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults)
{
    return lib_ready(&cudnn_lib)
               ? p_cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, filterDesc, diffDesc, convDesc, gradDesc,
                                                               requestedAlgoCount, returnedAlgoCount, perfResults)
               : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                           const cudnnTensorDescriptor_t dyDesc,
                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                           const cudnnTensorDescriptor_t dxDesc,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes)
{
    return lib_ready(&cudnn_lib) ? p_cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wDesc, dyDesc, convDesc,
                                                                                  dxDesc, algo, sizeInBytes)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                            const cudnnTensorDescriptor_t diffDesc,
                                                            const cudnnConvolutionDescriptor_t convDesc,
                                                            const cudnnFilterDescriptor_t gradDesc,
                                                            const int requestedAlgoCount, int *returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *perfResults)
{
    return lib_ready(&cudnn_lib)
               ? p_cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, srcDesc, diffDesc, convDesc, gradDesc,
                                                                 requestedAlgoCount, returnedAlgoCount, perfResults)
               : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                             const cudnnTensorDescriptor_t dyDesc,
                                                             const cudnnConvolutionDescriptor_t convDesc,
                                                             const cudnnFilterDescriptor_t gradDesc,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes)
{
    return lib_ready(&cudnn_lib) ? p_cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xDesc, dyDesc, convDesc,
                                                                                    gradDesc, algo, sizeInBytes)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                      const cudnnTensorDescriptor_t yDesc, void *y)
{
    return lib_ready(&cudnn_lib) ? p_cudnnConvolutionForward(handle, alpha, xDesc, x, wDesc, w, convDesc, algo,
                                                             workSpace, workSpaceSizeInBytes, beta, yDesc, y)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void *alpha,
                                             const cudnnTensorDescriptor_t xDesc, const void *x,
                                             const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace,
                                             size_t workSpaceSizeInBytes, const void *beta,
                                             const cudnnFilterDescriptor_t dwDesc, void *dw)
{
    return lib_ready(&cudnn_lib) ? p_cudnnConvolutionBackwardFilter(handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo,
                                                                    workSpace, workSpaceSizeInBytes, beta, dwDesc, dw)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc,
                                           const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                           const cudnnConvolutionDescriptor_t convDesc,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *workSpace,
                                           size_t workSpaceSizeInBytes, const void *beta,
                                           const cudnnTensorDescriptor_t dxDesc, void *dx)
{
    return lib_ready(&cudnn_lib) ? p_cudnnConvolutionBackwardData(handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo,
                                                                  workSpace, workSpaceSizeInBytes, beta, dxDesc, dx)
                                 : CUDNN_STATUS_NOT_INITIALIZED;
}

#endif
