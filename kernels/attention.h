/* attention.h — CUDA launchers for multi-head self-attention (runtime/nn/attention.c
 * documents the layout and the math). All pointers are device memory; n images, c
 * channels of out (qkv has 3c), t positions, heads of d = c/heads channels, alpha = 1/√d. */
#ifndef SS_KERNELS_ATTENTION_H
#define SS_KERNELS_ATTENTION_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (n,c,t), weights (n·heads,t,t) written; qkv (n,3c,t). */
int ss_cuda_attention_forward(float *out, float *weights, const float *qkv, int64_t n, int64_t c, int64_t t,
                              int64_t heads, float alpha);
/* grad_qkv (n,3c,t) written; grad_out (n,c,t), qkv (n,3c,t), weights (n·heads,t,t) from the forward. */
int ss_cuda_attention_backward(float *grad_qkv, const float *grad_out, const float *qkv, const float *weights,
                               int64_t n, int64_t c, int64_t t, int64_t heads, float alpha);
#ifdef __cplusplus
}
#endif
#endif
