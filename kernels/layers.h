/* layers.h — the UNet's elementwise and resampling layers on the GPU, with
 * runtime/nn/activation.c, resample.c and embedding.c's semantics: SiLU, nearest 2x
 * up-sampling and ADM's sinusoidal timestep embedding (pooling: pool.h).
 * Contiguous float32 device buffers; planes are (N·C) images of H x W. */
#ifndef SS_KERNELS_LAYERS_H
#define SS_KERNELS_LAYERS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (n) = in·σ(in). */
int ss_cuda_silu_forward(float *out, const float *in, int64_t n);
/* grad_in (n) = grad_out·σ(in)(1 + in(1 − σ(in))). */
int ss_cuda_silu_backward(float *grad_in, const float *grad_out, const float *in, int64_t n);
/* out (planes,2h,2w): each value of in (planes,h,w) repeated in a 2x2 block. */
int ss_cuda_upsample2_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w);
/* grad_in (planes,h,w) = the sum of each 2x2 block of grad_out (planes,2h,2w). */
int ss_cuda_upsample2_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t h, int64_t w);
/* out (n,dim): out[i][k] = cos(t_i·f_k), out[i][dim/2 + k] = sin(t_i·f_k),
 * f_k = exp(−ln(max_period)·k/(dim/2)); a zero last column when dim is odd. t: (n). */
int ss_cuda_timestep_embedding_forward(float *out, const float *t, int64_t n, int64_t dim, double max_period);
#ifdef __cplusplus
}
#endif
#endif
