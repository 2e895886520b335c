/* solve.h — shared by the Krylov solvers; not part of the public API. */
#ifndef SS_SOLVE_H
#define SS_SOLVE_H
#include "scalespace.h"

/* A is not NULL and square (input size = output size); fn names the caller. */
int ss_square_op_check(const char *fn, const ss_linop *A);
/* out and in are live tensors on one device, A is square, in fits its input
 * (...,in_h,in_w) and out has in's shape; the names label the messages. */
int ss_operand_check(const char *fn, const ss_linop *A, const ss_tensor *out, const char *out_name,
                     const ss_tensor *in, const char *in_name);
/* Checks the arguments of a linear solve named fn (tensors, a square operator
 * that fits b, x and b of one shape without shared memory, tolerances, finite
 * b and guess); *o holds the defaults and gets *opts unless opts is NULL. */
int ss_solve_check(const char *fn, const ss_tensor *x, const ss_linop *A, const ss_tensor *b,
                   const ss_solve_opts *opts, ss_solve_opts *o);
/* ss_power_iteration on `device` (the public one runs where A's data lives). */
int ss_power_iteration_on(double *lambda_max, const ss_linop *A, int32_t iterations, uint64_t seed, int device);

#endif
