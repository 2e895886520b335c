/* osmosis_implicit.c — the implicit osmosis step (I − τA) u_next = u, solved by
 * BiCGSTAB on the operator osmosis.c builds over the caller's drift.
 *
 * It sits above both: ops/ holds the operator, solvers/ the Krylov method, and
 * neither depends on the other beyond the public ss_linop interface. */
#include "ops/image_op.h"
#include "ops/osmosis.h"

#include <math.h>
#include <string.h>

int ss_osmosis_implicit_step(ss_tensor *u_next, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h,
                             float tau, double eps, int32_t maxiter, ss_solve_info *info)
{
    const char *fn = "ss_osmosis_implicit_step";
    int64_t b, H, W;
    SS_TRY(ss_image_op_check(fn, u_next, u, 0, 0, &b, &H, &W));
    if (!(eps > 0) || !isfinite(eps))
        return SS_FAIL(SS_ERR_ARG, "%s: tolerance eps must be finite and > 0, got %g", fn, eps);
    if (maxiter < 0) return SS_FAIL(SS_ERR_ARG, "%s: maxiter must be >= 0, got %d", fn, (int)maxiter);
    ss_linop *op = ss_osmosis_step_linop(fn, u, d1, d2, h, tau);
    if (!op) return ss_last_status();
    /* b = u; the solver starts from u_next = u, so an in-place step needs a copy of b. */
    ss_tensor *copy = NULL;
    const ss_tensor *rhs = u;
    int rc = SS_OK;
    if (ss_tensors_overlap(u_next, u)) {
        if (u_next->data != u->data) rc = SS_FAIL(SS_ERR_ARG, "%s: u_next partly overlaps u", fn);
        else if (!(copy = ss_tensor_clone(u))) rc = ss_last_status();
        rhs = copy;
    } else {
        rc = ss_tensor_copy(u_next, u);
    }
    if (rc == SS_OK) {
        ss_solve_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.tol = 0.0;
        opts.abs_tol = eps * (double)ss_tensor_numel(u);
        opts.maxiter = maxiter;
        opts.warm_start = 1;
        rc = ss_bicgstab_solve(u_next, op, rhs, &opts, info);
    }
    ss_tensor_free(copy);
    ss_linop_free(op);
    return rc;
}
