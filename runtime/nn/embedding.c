/* embedding.c — the sinusoidal timestep embedding of ADM (guided-diffusion's
 * timestep_embedding), in float32 the way PyTorch evaluates it; on cuda in kernels/layers.cu. */
#include "core/internal.h"
#include "kernels/layers.h"
#include <math.h>

/* out (N,dim): out[n][i] = cos(t_n·f_i), out[n][half+i] = sin(t_n·f_i), half = dim/2,
 * f_i = exp(−ln(max_period)·i/half); an odd dim leaves a zero last column. t: (N). */
int ss_timestep_embedding(ss_tensor *out, const ss_tensor *t, double max_period)
{
    SS_TRY(ss_check_tensor(out, "timestep_embedding", "out"));
    SS_TRY(ss_check_tensor(t, "timestep_embedding", "t"));
    const ss_tensor *ts[2] = {out, t};
    int dev = ss_common_device("timestep_embedding", 2, ts);
    if (dev < 0) return dev;
    if (out->ndim != 2 || out->shape[0] != ss_tensor_numel(t) || out->shape[1] < 2)
        return SS_FAIL(SS_ERR_ARG, "timestep_embedding: out must be (N, dim >= 2) with N = %lld timesteps",
                       (long long)ss_tensor_numel(t));
    if (!(max_period > 1)) return SS_FAIL(SS_ERR_ARG, "timestep_embedding: max_period must be > 1");
    const int64_t N = out->shape[0], dim = out->shape[1], half = dim / 2;
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("timestep_embedding",
                            ss_cuda_timestep_embedding_forward(out->data, t->data, N, dim, max_period));
    const float a = (float)(-log(max_period));
    for (int64_t n = 0; n < N; n++) {
        float *e = out->data + n * dim;
        for (int64_t i = 0; i < half; i++) {
            const float f = expf(a * (float)i / (float)half);
            const float arg = t->data[n] * f;
            e[i] = cosf(arg);
            e[half + i] = sinf(arg);
        }
        if (dim % 2) e[dim - 1] = 0.0f;
    }
    return SS_OK;
}
