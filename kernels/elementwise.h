/* elementwise.h — launchers of kernels/elementwise.cu: the binary ops with numpy
 * broadcasting, the same-shape maps and the unary maps of runtime/ops/elementwise.c.
 * All pointers are device pointers to contiguous float32; out may be an input (the
 * same index only). */
#ifndef SS_KERNELS_ELEMENTWISE_H
#define SS_KERNELS_ELEMENTWISE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* The binary ops and the same-shape maps; elementwise.c uses the same codes. */
enum ss_bin_op { SS_BIN_ADD, SS_BIN_SUB, SS_BIN_MUL, SS_BIN_DIV, SS_BIN_POW, SS_BIN_MAX, SS_BIN_MIN, SS_BIN_COUNT };
enum ss_map_op { SS_MAP_AXPBY, SS_MAP_AFFINE, SS_MAP_CLAMP, SS_MAP_POW, SS_MAP_RDIV, SS_MAP_COUNT };

/* out = a op b over the output's m merged dimensions size[0..m) (outermost first,
 * m in 1..4, product = numel(out)); sa/sb are the element strides of a and b in
 * each (0 where that operand broadcasts). */
int ss_cuda_binary_forward(float *out, const float *a, const float *b, int op, int m, const int64_t *size,
                           const int64_t *sa, const int64_t *sb);
/* out[i] = kind(x[i], y[i]; a, b) over n elements: axpby a*x + b*y (y used only there),
 * affine a*x + b, clamp to [a, b], powf(x, a), a / x. */
int ss_cuda_map_forward(float *out, const float *x, const float *y, int64_t n, int kind, float a, float b);
/* out[i] = op(x[i]) over n elements, op an SS_EXP..SS_ROUND code (scalespace.h). */
int ss_cuda_unary_forward(float *out, const float *x, int64_t n, int op);
#ifdef __cplusplus
}
#endif
#endif
