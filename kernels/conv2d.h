/* conv2d.h — 2-D convolution on the GPU (runtime/nn/conv2d.c's semantics: cross-correlation,
 * zero padding, groups = dilation = 1, NCHW float32 device buffers).
 *
 * Two paths, chosen at each call from the environment (so a program or test can switch
 * with setenv):
 *   cuDNN   the default when built with it (SS_WITH_CUDNN): cudnnConvolutionForward /
 *           BackwardData / BackwardFilter, the algorithms chosen once per shape by
 *           cuDNN's heuristics (cudnnGet*Algorithm_v7, as PyTorch without
 *           cudnn.benchmark) and kept with the descriptors; workspace from the caching
 *           allocator. Tensors (input, output or weight) of 2^31 elements or more go
 *           the cuBLAS way (cuDNN's legacy sizes are int).
 *   cuBLAS  SS_CUDA_CONV=cublas, or a build without cuDNN: im2col + GEMM per chunk of
 *           images (1x1 stride-1 kernels multiply the tensors directly), col2im for
 *           grad_in. SS_CUDA_CONV=cudnn asks for cuDNN (an error without it); other
 *           values are an error.
 * Precision: like PyTorch's defaults (torch.backends.cudnn.allow_tf32 = True), the
 * convolutions may run on TF32 tensor cores (10-bit mantissa products, FP32 sums:
 * relative errors ~1e-3 instead of ~1e-6) on sm_80 and newer: cuDNN with
 * CUDNN_DEFAULT_MATH, the cuBLAS path with CUBLAS_COMPUTE_32F_FAST_TF32.
 * SS_CUDA_TF32=0 forces exact FP32 on both paths (CUDNN_FMA_MATH, CUBLAS_COMPUTE_32F).
 * The bias add and the bias gradient (a double sum per channel) are the same kernels
 * on both paths. linear (linear.h) is always FP32. */
#ifndef SS_KERNELS_CONV2D_H
#define SS_KERNELS_CONV2D_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* out (n,cout,ho,wo) = conv(in (n,cin,h,w), weight (cout,cin,kh,kw)) [+ bias (cout)], bias may
 * be NULL; ho = (h + 2·pad_h − kh)/stride_h + 1, wo = (w + 2·pad_w − kw)/stride_w + 1. */
int ss_cuda_conv2d_forward(float *out, const float *in, const float *weight, const float *bias, int64_t n,
                           int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw, int stride_h,
                           int stride_w, int pad_h, int pad_w);
/* grad_in (n,cin,h,w) = (written); grad_weight (cout,cin,kh,kw) += ; grad_bias (cout) += ;
 * each may be NULL. grad_out (n,cout,ho,wo); in and weight as in the forward. */
int ss_cuda_conv2d_backward(float *grad_in, float *grad_weight, float *grad_bias, const float *grad_out,
                            const float *in, const float *weight, int64_t n, int64_t cin, int64_t h, int64_t w,
                            int64_t cout, int64_t kh, int64_t kw, int stride_h, int stride_w, int pad_h,
                            int pad_w);
#ifdef __cplusplus
}
#endif
#endif
