/* cuda_check.h — the CPU-versus-CUDA parity harness for the tests labelled gpu
 * (tests/c/test_cuda_*.c). Each op runs on the CPU (the reference) and on the GPU
 * from the same inputs; the test prints the max difference against a stated
 * tolerance. Without a usable GPU, main() calls cuda_skip_unless_device(), which
 * names what it skipped and exits 77, which ctest reports as "Skipped". */
#ifndef SS_TEST_CUDA_CHECK_H
#define SS_TEST_CUDA_CHECK_H
#include "check.h"

/* Exits 77 with a message naming `what` when no CUDA device can run it. */
static inline void cuda_skip_unless_device(const char *test, const char *what)
{
    if (ss_cuda_device_count() > 0) {
        char info[256];
        if (ss_cuda_device_info(info, sizeof info) == SS_OK) printf("%s: on %s\n", test, info);
        return;
    }
    printf("SKIP %s: %s — %s, so these CPU-vs-CUDA checks did not run: %s\n", test,
           ss_has_cuda() ? "no CUDA device (no GPU or no driver)" : "built without CUDA",
           ss_has_cuda() ? "the CUDA kernels are compiled" : "nothing to run", what);
    exit(77);
}

/* Uninitialised tensors of a shape on either device (the test ends when making one fails). */
static inline ss_tensor *cpu_empty(int nd, const int64_t *shape)
{
    return need(ss_tensor_empty(nd, shape, SS_CPU), "a cpu tensor");
}
static inline ss_tensor *gpu_empty(int nd, const int64_t *shape)
{
    return need(ss_tensor_empty(nd, shape, SS_CUDA), "a cuda tensor");
}

/* A GPU copy of a CPU tensor (the test ends when that fails: nothing to compare). */
static inline ss_tensor *cuda_copy(const ss_tensor *cpu) { return need(ss_tensor_to(cpu, SS_CUDA), "a cuda copy"); }

/* Max |cpu - gpu| / max(1, max finite |cpu|) after copying gpu back; prints it with the
 * label and checks it against tol. Mixed absolute/relative so large and small values both
 * count. NaN and infinities must sit at the same places with the same values. */
static inline double cuda_close(const char *label, const ss_tensor *cpu, const ss_tensor *gpu, double tol)
{
    int64_t n = 1;
    for (int d = 0; d < cpu->ndim; d++) n *= cpu->shape[d];
    int64_t m = 1;
    for (int d = 0; d < gpu->ndim; d++) m *= gpu->shape[d];
    CHECK(n == m, "%s: %lld elements on the cpu, %lld on cuda", label, (long long)n, (long long)m);
    if (n != m) return INFINITY;
    float *host = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!host || ss_tensor_read(host, gpu) != SS_OK) {
        CHECK(0, "%s: reading the cuda result: %s", label, ss_last_error());
        free(host);
        return INFINITY;
    }
    double scale = 1, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(cpu->data[i]) && fabs(cpu->data[i]) > scale) scale = fabs(cpu->data[i]);
    for (int64_t i = 0; i < n; i++) {
        double a = cpu->data[i], b = host[i];
        /* NaN matches NaN and an infinity the same infinity; a non-finite value on one side
         * only is an infinite difference */
        double d = (isnan(a) && isnan(b)) || (isinf(a) && a == b) ? 0
                 : !isfinite(a) || !isfinite(b)                  ? INFINITY
                                                                  : fabs(a - b);
        if (d > worst) worst = d;
    }
    free(host);
    worst /= scale;
    printf("  cuda %-44s max|diff|/scale = %.3g (tol %.1g)\n", label, worst, tol);
    CHECK(worst <= tol, "%s: cpu vs cuda %.3g > %.3g", label, worst, tol);
    return worst;
}
#endif
