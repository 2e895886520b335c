/* par.h — private: run a loop over [0, n) in the calling thread when it is small,
 * else across the OpenMP team; and the fixed-lane double sums that keep
 * reductions independent of the thread count. Not part of the API.
 *
 * An `omp parallel ... if (n > limit)` region still enters the OpenMP runtime
 * when its condition is false (it sets up a team of one), which costs as much
 * as an update over a few ten thousand floats; ss_par_ranges skips the runtime
 * entirely below its limit, and the loop body is written once for both. */
#ifndef SS_CORE_PAR_H
#define SS_CORE_PAR_H

#include <stdint.h>

#include <omp.h>

/* Element counts up to this run in the calling thread. OpenMP's workers sleep when
 * idle (runtime/env/thread_policy.c), so a region pays a wake-up: 5-10 µs on the
 * 2-core VM, where one thread streams 2^18 floats through axpby in ~25 µs. Below
 * that a second thread cannot win, and when the other core is busy it makes the
 * region wait for the scheduler. */
#define SS_PAR_MIN 262144

/* body(ctx, lo, hi) over contiguous pieces covering [0, n): one piece [0, n) in
 * the calling thread when !parallel or the team has one thread, else one piece
 * per thread of the team (static split). The split must not change results:
 * bodies that sum do it in fixed blocks (see SS_LANE_SUM). */
static inline void ss_par_ranges(int64_t n, int parallel, void (*body)(void *ctx, int64_t lo, int64_t hi), void *ctx)
{
    if (n <= 0) return;
    if (!parallel || n < 2 || omp_get_max_threads() < 2 || omp_in_parallel()) {
        body(ctx, 0, n);
        return;
    }
#pragma omp parallel
    {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
        if (lo < hi) body(ctx, lo, hi);
    }
}

/* 1 when p[0..n) holds no NaN or Inf: a branch-free scan that vectorises (x − x
 * is 0 exactly for finite x). A fast path in front of ss_tensor_check_finite,
 * which finds the first bad element and words the error. */
static inline int ss_all_finite(const float *p, int64_t n)
{
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= p[i] - p[i] == 0.0f;
    return ok;
}

/* Double sums of per-element terms over k in [lo, hi) in SS_LANES fixed lanes:
 * lane l takes the elements with (k − lo) % SS_LANES == l, the lanes are added
 * in order and the tail after them, element by element. Independent
 * accumulators let the compiler vectorise without reassociating (no
 * fast-math) and hide the add latency; the fixed order makes the result a
 * function of the data and lo alone, whatever thread runs it. NS sums;
 * TERMS(k, acc, l) adds element k's terms into acc[s][l] for s < NS (and may
 * store updated elements); the sums go to out[0..NS). */
#define SS_LANES 32
#define SS_LANE_SUM(NS, lo, hi, out, TERMS)                                          \
    do {                                                                             \
        double lane_[NS][SS_LANES];                                                  \
        for (int s_ = 0; s_ < (NS); s_++)                                            \
            for (int l_ = 0; l_ < SS_LANES; l_++) lane_[s_][l_] = 0.0;               \
        const int64_t lo_ = (lo), hi_ = (hi);                                        \
        const int64_t whole_ = lo_ + (hi_ - lo_) / SS_LANES * SS_LANES;              \
        int64_t i_ = lo_;                                                            \
        for (; i_ < whole_; i_ += SS_LANES)                                          \
            for (int l_ = 0; l_ < SS_LANES; l_++) {                                  \
                const int64_t k = i_ + l_;                                           \
                TERMS(k, lane_, l_);                                                 \
            }                                                                        \
        for (int s_ = 0; s_ < (NS); s_++) {                                          \
            double t_ = 0.0;                                                         \
            for (int l_ = 0; l_ < SS_LANES; l_++) t_ += lane_[s_][l_];               \
            (out)[s_] = t_;                                                          \
        }                                                                            \
        for (int64_t k = i_; k < hi_; k++) {                                         \
            double one_[NS][1];                                                      \
            for (int s_ = 0; s_ < (NS); s_++) one_[s_][0] = 0.0;                     \
            TERMS(k, one_, 0);                                                       \
            for (int s_ = 0; s_ < (NS); s_++) (out)[s_] += one_[s_][0];              \
        }                                                                            \
    } while (0)

#endif
