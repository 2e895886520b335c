/* layer_check.c — the device and memory-sharing checks of a layer's forward and
 * backward (conv2d, linear). */
#include "nn/layer_check.h"

int ss_check_layer_forward(const char *op, const ss_tensor *out, const ss_tensor *in, const ss_tensor *weight,
                           const ss_tensor *bias)
{
    const ss_tensor *ts[4] = {out, in, weight, bias};
    static const char *const names[3] = {"in", "weight", "bias"};
    int dev = ss_common_device_given(op, 4, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_no_overlap(op, "out", out, 3, ts + 1, names));
    return dev;
}

int ss_check_layer_backward(const char *op, const ss_tensor *grad_out, const ss_tensor *in, const ss_tensor *weight,
                            const ss_tensor *grad_in, const ss_tensor *grad_weight, const ss_tensor *grad_bias)
{
    const ss_tensor *ts[6] = {grad_out, in, weight, grad_in, grad_weight, grad_bias};
    static const char *const names[5] = {"grad_out", "in", "weight", "grad_in", "grad_weight"};
    int dev = ss_common_device_given(op, 6, ts);
    if (dev < 0) return dev;
    SS_TRY(ss_check_no_overlap(op, "grad_in", grad_in, 3, ts, names));
    SS_TRY(ss_check_no_overlap(op, "grad_weight", grad_weight, 4, ts, names));
    SS_TRY(ss_check_no_overlap(op, "grad_bias", grad_bias, 5, ts, names));
    return dev;
}
