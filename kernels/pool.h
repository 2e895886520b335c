/* pool.h — max, average and global average pooling on the GPU, with runtime/nn/pool.c's
 * semantics (floor mode, dilation 1, PyTorch's tie and NaN rules for the max); planes are
 * the N·C images of H x W, contiguous float32 device buffers. */
#ifndef SS_KERNELS_POOL_H
#define SS_KERNELS_POOL_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (planes,ho,wo) = the max of each kh×kw window of in (planes,h,w) at stride (sh, sw),
 * padding (ph, pw) ignored; ho = (h + 2·ph − kh)/sh + 1, wo likewise. */
int ss_cuda_maxpool2d_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int kh, int kw,
                              int sh, int sw, int ph, int pw);
/* grad_in (planes,h,w) = the sum of the grad_out values whose window's maximum (in) is there. */
int ss_cuda_maxpool2d_backward(float *grad_in, const float *grad_out, const float *in, int64_t planes, int64_t h,
                               int64_t w, int kh, int kw, int sh, int sw, int ph, int pw);
/* out (planes,ho,wo) = each window's sum over the input divided by kh·kw (count_include_pad)
 * or by the input positions it covers. */
int ss_cuda_avgpool2d_forward(float *out, const float *in, int64_t planes, int64_t h, int64_t w, int kh, int kw,
                              int sh, int sw, int ph, int pw, int count_include_pad);
/* grad_in (planes,h,w) = the sum over the windows covering each position of grad_out/divisor. */
int ss_cuda_avgpool2d_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t h, int64_t w, int kh,
                               int kw, int sh, int sw, int ph, int pw, int count_include_pad);
/* out (planes) = the mean of each plane of in (planes,hw), summed in double. */
int ss_cuda_global_avgpool_forward(float *out, const float *in, int64_t planes, int64_t hw);
/* grad_in (planes,hw) = grad_out[p]/hw over plane p. */
int ss_cuda_global_avgpool_backward(float *grad_in, const float *grad_out, int64_t planes, int64_t hw);
#ifdef __cplusplus
}
#endif
#endif
