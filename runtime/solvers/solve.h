/* solve.h — shared by the Krylov solvers; not part of the public API. */
#ifndef SS_SOLVE_H
#define SS_SOLVE_H
#include "scalespace.h"

/* Checks the arguments of a linear solve named fn (tensors, a square operator
 * that fits b, x and b of one shape without shared memory, tolerances, finite
 * b and guess); *o holds the defaults and gets *opts unless opts is NULL. */
int ss_solve_check(const char *fn, const ss_tensor *x, const ss_linop *A, const ss_tensor *b,
                   const ss_solve_opts *opts, ss_solve_opts *o);

#endif
