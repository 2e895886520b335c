/* cuda.h — the device layer that kernels/memory.cu implements (compiled only with
 * SS_WITH_CUDA): the caching allocator, copies and fill. Each op family declares its
 * own launchers in kernels/<family>.h. All return an ss_status with the CUDA error
 * string on failure. */
#ifndef SS_CUDA_H
#define SS_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
enum ss_copy_kind { SS_COPY_H2D = 0, SS_COPY_D2H = 1, SS_COPY_D2D = 2 };
/* Device memory through the caching allocator: a freed block goes back to a
 * per-size free list and is handed out again without cudaMalloc. */
int ss_cuda_malloc(void **p, size_t bytes);
int ss_cuda_free(void *p);
/* Copies on the scalespace stream; a copy to the host waits for it. */
int ss_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind);
int ss_cuda_fill_forward(float *out, int64_t n, float value);
/* The device facts behind the public ss_cuda_* functions (device.c). */
int ss_cuda_count(void);
int ss_cuda_describe(char *buf, size_t n);
int ss_cuda_sync(void);
int ss_cuda_release_cache(void);
void ss_cuda_usage(int64_t *in_use, int64_t *cached);
#ifdef __cplusplus
}
#endif
#endif
