// device.cu — choosing this rank's GPU (ss_dist_use_local_gpu).
#include "kernels/common.cuh"

extern "C" int ss_dist_cuda_select(int index)
{
    int current = 0;
    SS_CUDA_TRY(cudaGetDevice(&current), "ss_dist_use_local_gpu");
    if (current == index) return SS_OK;
    int64_t in_use = 0, cached = 0;
    ss_cuda_usage(&in_use, &cached);
    // The stream, cuBLAS handle and tensors belong to the device they were made on.
    if (in_use > 0 || cached > 0)
        return SS_FAIL(SS_ERR_DEVICE,
                       "ss_dist_use_local_gpu: CUDA memory is already in use on GPU %d; choose GPU %d before making "
                       "any CUDA tensor",
                       current, index);
    SS_CUDA_TRY(cudaSetDevice(index), "ss_dist_use_local_gpu");
    return SS_OK;
}
