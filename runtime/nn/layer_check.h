/* layer_check.h — the argument checks the layers with weights share (conv2d.c,
 * linear.c); not part of the API. */
#ifndef SS_NN_LAYER_CHECK_H
#define SS_NN_LAYER_CHECK_H

#include "core/internal.h"

/* The checks a layer's forward shares (conv2d, linear): one device over out, in, weight and
 * bias (may be NULL), and out sharing no memory with them. Returns the device, or the error. */
int ss_check_layer_forward(const char *op, const ss_tensor *out, const ss_tensor *in, const ss_tensor *weight,
                           const ss_tensor *bias);
/* The checks a layer's backward shares (conv2d, linear): one device over the given tensors
 * (grad_in, grad_weight, grad_bias may be NULL), and no gradient output sharing memory with
 * an input or another gradient. Returns the device, or the error. */
int ss_check_layer_backward(const char *op, const ss_tensor *grad_out, const ss_tensor *in, const ss_tensor *weight,
                            const ss_tensor *grad_in, const ss_tensor *grad_weight, const ss_tensor *grad_bias);

#endif
