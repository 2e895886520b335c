/* conv2d.h — private: what conv2d.c shares with its oneDNN path (conv2d_onednn.c).
 * Not part of the API. */
#ifndef SS_NN_CONV2D_H
#define SS_NN_CONV2D_H

#include "scalespace.h"

#include <stdint.h>

/* The sizes of one call. */
typedef struct conv_geom {
    int64_t n, cin, h, w;  /* input */
    int64_t cout, kh, kw;  /* weight */
    int64_t ho, wo;        /* output */
    int64_t sh, sw;        /* stride along H and W */
    int64_t ph, pw;        /* zero padding on each side of H and W */
    int64_t k, np;         /* K = cin·kh·kw, P = ho·wo */
} conv_geom;

/* ws's buffer with room for `bytes` (64-byte aligned; old contents not kept), or NULL with the error set. */
void *ss_nn_workspace_reserve(ss_nn_workspace *ws, int64_t bytes);

/* 1 when this build has the oneDNN path. */
int conv2d_onednn_available(void);
/* out (N,Cout,Ho,Wo) = conv(in, weight) + bias (may be NULL), through oneDNN; scratch in ws (not NULL). */
int conv2d_onednn_forward(const conv_geom *g, float *out, const float *in, const float *weight, const float *bias,
                          ss_nn_workspace *ws);
/* grad_in (=) and grad_weight (+=), either may be NULL (not both), through oneDNN. */
int conv2d_onednn_backward(const conv_geom *g, float *grad_in, float *grad_weight, const float *grad_out,
                           const float *in, const float *weight, ss_nn_workspace *ws);
/* "oneDNN <version> (<implementation of a 3x3 convolution>)", or NULL without oneDNN. */
const char *conv2d_onednn_describe(void);

/* 1 when conv2d_winograd_* compute g: a 3x3 kernel, stride 1, padding <= 2 on each axis. */
int conv2d_winograd_applies(const conv_geom *g);
/* As conv2d_onednn_*, by Winograd's F(2x2, 3x3) (conv2d_winograd.c). */
int conv2d_winograd_forward(const conv_geom *g, float *out, const float *in, const float *weight, const float *bias,
                            ss_nn_workspace *ws);
int conv2d_winograd_backward(const conv_geom *g, float *grad_in, float *grad_weight, const float *grad_out,
                             const float *in, const float *weight, ss_nn_workspace *ws);

#endif
