/* krylov.h — the fused vector passes of BiCGSTAB (bicgstab.c runs them on the CPU,
 * krylov.cu on the GPU): each update computes the inner products that follow it
 * in the same pass, accumulated in double. */
#ifndef SS_KERNELS_KRYLOV_H
#define SS_KERNELS_KRYLOV_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
enum ss_krylov_pass {
    SS_KRYLOV_NORM, /* ⟨b, b⟩ */
    SS_KRYLOV_RES,  /* r = b − v (v = A x); ⟨r, r⟩ */
    SS_KRYLOV_DOT,  /* ⟨r̂, r⟩ */
    SS_KRYLOV_P,    /* p = r + β (p − ω v) */
    SS_KRYLOV_VV,   /* ⟨r̂, v⟩, ⟨v, v⟩ */
    SS_KRYLOV_S,    /* s = r − α v, kept in r; ⟨s, s⟩ */
    SS_KRYLOV_TS,   /* ⟨t, s⟩, ⟨t, t⟩ (s in r) */
    SS_KRYLOV_XR,   /* x = x + α p + ω s, r = s − ω t; ⟨r, r⟩, ⟨r̂, r⟩ */
    SS_KRYLOV_XR0,  /* the same for ω = 0: x = x + α p, r = s − 0 t */
    SS_KRYLOV_X     /* x = x + α p */
};

/* One pass of `kind` over n elements of the vectors (device pointers, distinct);
 * its sums (two at most, 0 for the rest) into sums[0..2), copied to the host
 * (this waits for the GPU) unless the pass has none (P, X). */
int ss_cuda_krylov_pass_forward(double *sums, int kind, int64_t n, float *x, float *r, float *p, const float *b,
                                const float *rhat, const float *v, const float *t, float alpha, float omega,
                                float beta);
#ifdef __cplusplus
}
#endif
#endif
