/* device.c — the public face of the CUDA device layer (kernels/memory.cu); in a
 * build without CUDA every call says so instead. Also moves the runtime's own
 * tensors between devices (ss_tensor_move). */
#include "core/device.h"
#ifdef SS_WITH_CUDA
#include "core/cuda.h"
#endif

int ss_has_cuda(void)
{
#ifdef SS_WITH_CUDA
    return 1;
#else
    return 0;
#endif
}

int ss_cuda_device_count(void)
{
#ifdef SS_WITH_CUDA
    static int count = -1; /* asking the driver once is enough */
    if (count < 0) count = ss_cuda_count();
    return count;
#else
    return 0;
#endif
}

int ss_cuda_need_device(const char *op)
{
    if (!ss_has_cuda()) return SS_FAIL(SS_ERR_DEVICE, "%s: libscalespace was built without CUDA", op);
    if (ss_cuda_device_count() == 0) return SS_FAIL(SS_ERR_DEVICE, "%s: no CUDA device (no GPU or no driver)", op);
    return SS_OK;
}

int ss_cuda_device_info(char *buf, size_t n)
{
    if (!buf || n == 0) return SS_FAIL(SS_ERR_ARG, "ss_cuda_device_info: buffer is NULL or empty");
    buf[0] = '\0';
    SS_TRY(ss_cuda_need_device("ss_cuda_device_info"));
#ifdef SS_WITH_CUDA
    return ss_cuda_describe(buf, n);
#else
    return SS_OK;
#endif
}

int ss_cuda_synchronize(void)
{
    SS_TRY(ss_cuda_need_device("ss_cuda_synchronize"));
#ifdef SS_WITH_CUDA
    return ss_cuda_sync();
#else
    return SS_OK;
#endif
}

int ss_cuda_empty_cache(void)
{
    SS_TRY(ss_cuda_need_device("ss_cuda_empty_cache"));
#ifdef SS_WITH_CUDA
    return ss_cuda_release_cache();
#else
    return SS_OK;
#endif
}

int ss_cuda_memory(int64_t *in_use, int64_t *cached)
{
    if (in_use) *in_use = 0;
    if (cached) *cached = 0;
#ifdef SS_WITH_CUDA
    ss_cuda_usage(in_use, cached);
#endif
    return SS_OK;
}

int ss_tensor_move(ss_tensor **t, int device)
{
    if ((*t)->device == device) return SS_OK;
    ss_tensor *moved = ss_tensor_to(*t, device);
    if (!moved) return ss_last_status();
    ss_tensor_free(*t);
    *t = moved;
    return SS_OK;
}
