// linear.cu — the fully connected layer: one SGEMM per product. cuBLAS is column-major,
// so each row-major matrix X (r,c) is its transpose to cuBLAS (ld c), and every product
// below is written as the transposed product cuBLAS computes.
#include "common.cuh"
#include "groupnorm.h"
#include "linear.h"

extern "C" int ss_cuda_linear_forward(float *out, const float *in, const float *weight, const float *bias,
                                      int64_t rows, int64_t fin, int64_t fout)
{
    if (rows * fin * fout == 0) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    const float one = 1.0f, zero = 0.0f;
    // outᵀ (fout,rows) = weight (fout,fin) · inᵀ (fin,rows)
    SS_CUBLAS_TRY(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)fout, (int)rows, (int)fin, &one, weight, (int)fin, in,
                              (int)fin, &zero, out, (int)fout),
                  "linear forward");
    return bias ? ss_cuda_bias_forward(out, bias, rows, fout, 1) : SS_OK;
}

extern "C" int ss_cuda_linear_backward(float *grad_in, float *grad_weight, float *grad_bias, const float *grad_out,
                                       const float *in, const float *weight, int64_t rows, int64_t fin, int64_t fout)
{
    if (rows * fin * fout == 0) return SS_OK;
    cublasHandle_t h;
    SS_TRY(ss_cublas_handle(&h));
    const float one = 1.0f, zero = 0.0f;
    // grad_inᵀ (fin,rows) = weightᵀ (fin,fout) · grad_outᵀ (fout,rows)
    if (grad_in)
        SS_CUBLAS_TRY(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)fin, (int)rows, (int)fout, &one, weight, (int)fin,
                                  grad_out, (int)fout, &zero, grad_in, (int)fin),
                      "linear backward (grad_in)");
    // grad_weightᵀ (fin,fout) += inᵀ (fin,rows) · grad_out (rows,fout)
    if (grad_weight)
        SS_CUBLAS_TRY(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, (int)fin, (int)fout, (int)rows, &one, in, (int)fin,
                                  grad_out, (int)fout, &one, grad_weight, (int)fin),
                      "linear backward (grad_weight)");
    // grad_out (rows,fout) is (N = rows, C = fout, plane 1) to the per-channel sum
    return grad_bias ? ss_cuda_bias_backward(grad_bias, grad_out, rows, fout, 1) : SS_OK;
}
