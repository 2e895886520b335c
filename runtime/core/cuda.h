/* cuda.h — launchers implemented in the kernels/ .cu files (extern "C"); compiled in
 * only when SS_WITH_CUDA is defined. Each returns an ss_status and sets the
 * error with the CUDA error string on failure. */
#ifndef SS_CUDA_H
#define SS_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
enum ss_copy_kind { SS_COPY_H2D = 0, SS_COPY_D2H = 1, SS_COPY_D2D = 2 };
int ss_cuda_malloc(void **p, size_t bytes);
int ss_cuda_free(void *p);
int ss_cuda_memcpy(void *dst, const void *src, size_t bytes, int kind);
int ss_cuda_fill_forward(float *out, int64_t n, float value);
#ifdef __cplusplus
}
#endif
#endif
