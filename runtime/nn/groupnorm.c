/* groupnorm.c — GroupNorm forward/backward (torch.nn.functional.group_norm):
 * per image n and group g of C/G channels, y = (x − μ)·rstd·weight[c] + bias[c] with
 * μ, rstd = 1/sqrt(var + eps) over the group's (C/G)·H·W values (biased variance).
 * On cuda, kernels/groupnorm.cu does the same arithmetic with double sums on the device. */
#include "core/internal.h"
#include "kernels/groupnorm.h"
#include "core/par.h"
#include <math.h>

/* Returns the device of x, stats, weight and bias (the last two may be NULL). */
static int groupnorm_check(const char *op, const ss_tensor *x, const ss_tensor *weight, const ss_tensor *bias,
                           const ss_tensor *stats, int groups)
{
    SS_TRY(ss_check_tensor(x, op, "input"));
    SS_TRY(ss_check_tensor(stats, op, "stats"));
    const ss_tensor *ts[4] = {x, stats, weight, bias};
    int dev = ss_common_device_given(op, 4, ts);
    if (dev < 0) return dev;
    if (x->ndim < 2) return SS_FAIL(SS_ERR_ARG, "%s: input must be (N,C,...), got %d dims", op, x->ndim);
    int64_t C = x->shape[1];
    if (groups < 1 || C % groups != 0)
        return SS_FAIL(SS_ERR_ARG, "%s: %lld channels do not split into %d groups", op, (long long)C, groups);
    if (ss_tensor_numel(stats) != 2 * x->shape[0] * groups)
        return SS_FAIL(SS_ERR_ARG, "%s: stats must hold 2·N·groups = %lld values, has %lld", op,
                       (long long)(2 * x->shape[0] * groups), (long long)ss_tensor_numel(stats));
    if (weight && ss_tensor_numel(weight) != C)
        return SS_FAIL(SS_ERR_ARG, "%s: weight must have %lld values (one per channel)", op, (long long)C);
    if (bias && ss_tensor_numel(bias) != C)
        return SS_FAIL(SS_ERR_ARG, "%s: bias must have %lld values (one per channel)", op, (long long)C);
    return dev;
}

/* Elements per channel (H·W…). */
static int64_t plane(const ss_tensor *x)
{
    int64_t p = 1;
    for (int d = 2; d < x->ndim; d++) p *= x->shape[d];
    return p;
}

int ss_groupnorm_forward(ss_tensor *out, ss_tensor *stats, const ss_tensor *in, const ss_tensor *weight,
                         const ss_tensor *bias, int groups, double eps)
{
    const int dev = groupnorm_check("groupnorm_forward", in, weight, bias, stats, groups);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(out, "groupnorm_forward", "out"));
    SS_TRY(ss_check_same_shape("groupnorm_forward", out, in));
    if (!(eps > 0)) return SS_FAIL(SS_ERR_ARG, "groupnorm_forward: eps must be > 0, got %g", eps);
    const int64_t N = in->shape[0], C = in->shape[1], P = plane(in), cg = C / groups, M = cg * P;
    const ss_tensor *ts[2] = {in, out}; /* out on in's device too */
    SS_TRY(ss_common_device("groupnorm_forward", 2, ts));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("groupnorm_forward",
                            ss_cuda_groupnorm_forward(out->data, stats->data, in->data, weight ? weight->data : NULL,
                                                      bias ? bias->data : NULL, N, C, P, groups, eps));
    const float *x = in->data, *w = weight ? weight->data : NULL, *b = bias ? bias->data : NULL;
    float *y = out->data, *st = stats->data;
#pragma omp parallel for schedule(static) if (N * C * P > 32768)
    for (int64_t ng = 0; ng < N * groups; ng++) {
        const float *xg = x + ng * M;
        double s[1], q[1];
#define SUM_TERMS(k, acc, l) acc[0][l] += xg[k]
        SS_LANE_SUM(1, 0, M, s, SUM_TERMS);
#undef SUM_TERMS
        const double mu = s[0] / M;
#define SQ_TERMS(k, acc, l) acc[0][l] += (xg[k] - mu) * (xg[k] - mu)
        SS_LANE_SUM(1, 0, M, q, SQ_TERMS);
#undef SQ_TERMS
        const double rstd = 1.0 / sqrt(q[0] / M + eps);
        st[2 * ng] = (float)mu;
        st[2 * ng + 1] = (float)rstd;
        const int64_t c0 = (ng % groups) * cg;
        for (int64_t c = 0; c < cg; c++) {
            const float a = (float)rstd * (w ? w[c0 + c] : 1.0f);
            const float o = (b ? b[c0 + c] : 0.0f) - (float)mu * a;
            const float *xc = xg + c * P;
            float *yc = y + ng * M + c * P;
            for (int64_t i = 0; i < P; i++) yc[i] = xc[i] * a + o;
        }
    }
    return SS_OK;
}

int ss_groupnorm_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                          const ss_tensor *in, const ss_tensor *weight, const ss_tensor *stats, int groups)
{
    const int dev = groupnorm_check("groupnorm_backward", in, weight, NULL, stats, groups);
    if (dev < 0) return dev;
    SS_TRY(ss_check_tensor(grad_out, "groupnorm_backward", "grad_out"));
    SS_TRY(ss_check_same_shape("groupnorm_backward", grad_out, in));
    if (grad_in) SS_TRY(ss_check_same_shape("groupnorm_backward", grad_in, in));
    const int64_t N = in->shape[0], C = in->shape[1], P = plane(in), cg = C / groups, M = cg * P;
    if (grad_weight && ss_tensor_numel(grad_weight) != C)
        return SS_FAIL(SS_ERR_ARG, "groupnorm_backward: grad_weight must have %lld values", (long long)C);
    if (grad_bias && ss_tensor_numel(grad_bias) != C)
        return SS_FAIL(SS_ERR_ARG, "groupnorm_backward: grad_bias must have %lld values", (long long)C);
    const ss_tensor *ts[5] = {in, grad_out, grad_in, grad_weight, grad_bias}; /* the gradients on in's device too */
    SS_TRY(ss_common_device_given("groupnorm_backward", 5, ts));
    if (dev == SS_CUDA)
        return SS_CUDA_CALL("groupnorm_backward",
                            ss_cuda_groupnorm_backward(grad_in ? grad_in->data : NULL,
                                                       grad_weight ? grad_weight->data : NULL,
                                                       grad_bias ? grad_bias->data : NULL, grad_out->data, in->data,
                                                       weight ? weight->data : NULL, stats->data, N, C, P, groups));
    const float *x = in->data, *dy = grad_out->data, *w = weight ? weight->data : NULL, *st = stats->data;
    if (grad_in) {
        float *dx = grad_in->data;
#pragma omp parallel for schedule(static) if (N * C * P > 32768)
        for (int64_t ng = 0; ng < N * groups; ng++) {
            const double mu = st[2 * ng], rstd = st[2 * ng + 1];
            const int64_t c0 = (ng % groups) * cg;
            /* mean of dŷ and of dŷ·x̂ over the group, dŷ = dy·weight */
            double s1 = 0, s2 = 0;
            for (int64_t c = 0; c < cg; c++) {
                const double wc = w ? w[c0 + c] : 1.0;
                const float *xc = x + ng * M + c * P, *dc = dy + ng * M + c * P;
                double ab[2];
#define AB_TERMS(k, acc, l) acc[0][l] += dc[k], acc[1][l] += dc[k] * (xc[k] - mu)
                SS_LANE_SUM(2, 0, P, ab, AB_TERMS);
#undef AB_TERMS
                s1 += wc * ab[0];
                s2 += wc * ab[1] * rstd;
            }
            s1 /= M;
            s2 /= M;
            /* dx = rstd·(dy·w − s1 − x̂·s2) = a·dy + b·x + c0 per channel, in float */
            for (int64_t c = 0; c < cg; c++) {
                const double wc = w ? w[c0 + c] : 1.0;
                const float a = (float)(rstd * wc), b = (float)(-rstd * rstd * s2),
                            o = (float)(rstd * (mu * rstd * s2 - s1));
                const float *xc = x + ng * M + c * P, *dc = dy + ng * M + c * P;
                float *oc = dx + ng * M + c * P;
                for (int64_t i = 0; i < P; i++) oc[i] = a * dc[i] + b * xc[i] + o;
            }
        }
    }
    if (grad_weight || grad_bias) {
        float *gw = grad_weight ? grad_weight->data : NULL, *gb = grad_bias ? grad_bias->data : NULL;
        /* per channel, over the batch: no two threads add to one gradient entry */
#pragma omp parallel for schedule(static) if (N * C * P > 32768)
        for (int64_t c = 0; c < C; c++) {
            double sw = 0, sb = 0;
            for (int64_t n = 0; n < N; n++) {
                const int64_t ng = n * groups + c / cg;
                const double mu = st[2 * ng], rstd = st[2 * ng + 1];
                const float *xc = x + (n * C + c) * P, *dc = dy + (n * C + c) * P;
                double ab[2];
#define AB_TERMS(k, acc, l) acc[0][l] += dc[k], acc[1][l] += dc[k] * (xc[k] - mu)
                SS_LANE_SUM(2, 0, P, ab, AB_TERMS);
#undef AB_TERMS
                sb += ab[0];
                sw += ab[1] * rstd;
            }
            if (gw) gw[c] += (float)sw;
            if (gb) gb[c] += (float)sb;
        }
    }
    return SS_OK;
}
