/* osmosis.h — what the layers above ops need of osmosis.c (the implicit step in
 * pde/osmosis_implicit.c); not part of the API. */
#ifndef SS_OPS_OSMOSIS_H
#define SS_OPS_OSMOSIS_H

#include "core/internal.h"

/* I − τA over the caller's drift d1, d2 for images shaped like u, after fn's
 * checks of h, tau, the drift against u (its leading dimensions or none) and
 * finite drift and u; the face coefficients are computed once for the many
 * applications of an iterative step. The operator borrows the drift: free it
 * before the drift. NULL with the error set. */
ss_linop *ss_osmosis_step_linop(const char *fn, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h,
                                float tau);

#endif
