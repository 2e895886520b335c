/* abi.c — the layout of every exported struct as C sees it, so the Lua test can
 * compare it with the FFI's view of the generated declarations. Add a row for
 * each field of each new public struct (the test fails on a struct without rows). */
#include "core/internal.h"

#include <stddef.h>

#define FIELD(type, field) {#type, #field, offsetof(type, field), sizeof(type)}
static const struct {
    const char *type, *field;
    size_t offset, size;
} ss_abi_rows[] = {
    FIELD(ss_tensor, data), FIELD(ss_tensor, shape), FIELD(ss_tensor, ndim),
    FIELD(ss_tensor, device), FIELD(ss_tensor, storage),
    FIELD(ss_rng, seed), FIELD(ss_rng, offset),
    FIELD(ss_solve_opts, tol), FIELD(ss_solve_opts, abs_tol), FIELD(ss_solve_opts, maxiter),
    FIELD(ss_solve_opts, warm_start),
    FIELD(ss_solve_info, iterations), FIELD(ss_solve_info, converged), FIELD(ss_solve_info, restarts),
    FIELD(ss_solve_info, reserved), FIELD(ss_solve_info, residual), FIELD(ss_solve_info, initial_residual),
    FIELD(ss_memory_stats, in_use), FIELD(ss_memory_stats, cached), FIELD(ss_memory_stats, peak),
    FIELD(ss_memory_stats, cache_limit), FIELD(ss_memory_stats, system_allocs), FIELD(ss_memory_stats, reused),
    FIELD(ss_memory_stats, tensor_live), FIELD(ss_memory_stats, tensor_made),
    FIELD(ss_frechet_info, mean_term), FIELD(ss_frechet_info, trace1), FIELD(ss_frechet_info, trace2),
    FIELD(ss_frechet_info, trace_sqrt), FIELD(ss_frechet_info, clamped), FIELD(ss_frechet_info, most_negative),
};

int ss_abi_field(int i, const char **struct_name, const char **field, int64_t *offset, int64_t *struct_size)
{
    int n = (int)(sizeof ss_abi_rows / sizeof ss_abi_rows[0]);
    if (i < 0 || i >= n) return SS_FAIL(SS_ERR_ARG, "ss_abi_field: no entry %d (there are %d)", i, n);
    *struct_name = ss_abi_rows[i].type;
    *field = ss_abi_rows[i].field;
    *offset = (int64_t)ss_abi_rows[i].offset;
    *struct_size = (int64_t)ss_abi_rows[i].size;
    return SS_OK;
}
