/* shape.h — launchers of kernels/shape.cu: the shape ops of runtime/core/shape.c on
 * device tensors (strided box copies, padding, reductions over one dimension,
 * where, row gathers, per-sample flips). Tensor pointers are device pointers to
 * float32; the others are host memory. shape.c checks every argument first. */
#ifndef SS_KERNELS_SHAPE_H
#define SS_KERNELS_SHAPE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* A box of size[0] x ... x size[3] elements between two strided layouts: element
 * (i0,i1,i2,i3) goes from src[Σ i_d·src[d]] to dst[Σ i_d·dst[d]]. Strides may be
 * negative (flips) or permuted (transposes); every size is >= 1. */
typedef struct ss_box {
    int64_t size[4];
    int64_t dst[4];
    int64_t src[4];
} ss_box;

/* The copy that one ss_box describes; dst and src point at element (0,0,0,0). */
int ss_cuda_box_copy_forward(float *dst, const float *src, const ss_box *box);
/* out (planes, Ho, Wo) = x (planes, H, W) padded: out[p][i][j] = x[p][map(i − top)][map(j − left)],
 * where map is the identity inside, and outside: `value` (mode SS_PAD_CONSTANT), the
 * nearest edge (SS_PAD_REPLICATE) or the mirror image without the edge (SS_PAD_REFLECT). */
int ss_cuda_pad_forward(float *out, const float *x, int64_t planes, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                        int64_t top, int64_t left, int mode, float value);
/* out[o][i] (outer, inner) = op over k in order of x[o][k][i] (outer, len, inner), in
 * double: SS_RED_SUM, SS_RED_MEAN, SS_RED_MIN or SS_RED_MAX (NaN propagates). */
int ss_cuda_reduce_dim_forward(float *out, const float *x, int64_t outer, int64_t len, int64_t inner, int op);
/* out (size) = mask != 0 ? a : b (NaN where the mask is NaN); st_m, st_a, st_b are the
 * operands' strides over the 4 right-aligned output dimensions (0 where they broadcast). */
int ss_cuda_where_forward(float *out, const float *mask, const float *a, const float *b, const int64_t *size,
                          const int64_t *st_m, const int64_t *st_a, const int64_t *st_b);
/* out (n, row) = rows idx[0..n) of x (., row); idx is host memory, checked by the caller. */
int ss_cuda_index_select_forward(float *out, const float *x, const int64_t *idx, int64_t n, int64_t row);
/* Mirrors every line of w floats of sample i of x (n, row) in place where flip[i]
 * != 0; flip (n) is host memory. */
int ss_cuda_flip_w_where_forward(float *x, const float *flip, int64_t n, int64_t row, int64_t w);
#ifdef __cplusplus
}
#endif
#endif
