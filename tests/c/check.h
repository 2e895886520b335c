/* check.h — tiny test harness for the C tests (one header, no framework).
 * CHECK(cond, fmt, ...) records a failure and goes on; CHECK_OK(call) expects
 * SS_OK and prints ss_last_error() otherwise; test_close(...) prints the max
 * difference against a reference. main() ends with `return test_summary("name");`. */
#ifndef SS_TEST_CHECK_H
#define SS_TEST_CHECK_H
#include "scalespace.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failures, test_checks;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        test_checks++;                                                     \
        if (!(cond)) {                                                     \
            test_failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

#define CHECK_OK(call)                                                     \
    do {                                                                   \
        int rc_ = (call);                                                  \
        CHECK(rc_ == SS_OK, "%s returned %d: %s", #call, rc_, ss_last_error()); \
    } while (0)

/* Expects a failure status and a message containing `needle`. */
#define CHECK_FAILS(call, needle)                                          \
    do {                                                                   \
        int rc_ = (call);                                                  \
        CHECK(rc_ < 0, "%s should fail but returned %d", #call, rc_);      \
        CHECK(rc_ >= 0 || strstr(ss_last_error(), (needle)) != NULL,       \
              "%s: message \"%s\" lacks \"%s\"", #call, ss_last_error(), (needle)); \
    } while (0)

/* Expects a failure whose message names both needles (e.g. two shapes). */
#define CHECK_FAILS2(call, n1, n2)                                                           \
    do {                                                                                     \
        CHECK_FAILS(call, n1);                                                               \
        CHECK(strstr(ss_last_error(), (n2)) != NULL, "%s: message \"%s\" lacks \"%s\"", #call, \
              ss_last_error(), (n2));                                                        \
    } while (0)

/* t, or the end of the test (exit 2) when making it failed: nothing to check without it. */
static inline ss_tensor *need(ss_tensor *t, const char *what)
{
    if (!t) {
        fprintf(stderr, "cannot make %s: %s\n", what, ss_last_error());
        exit(2);
    }
    return t;
}

/* The test's seed: SS_TEST_SEED or `fallback`, printed with the thread count; seeds
 * *rng with it unless rng is NULL. Returns 0, or 2 (the exit status) on failure. */
static inline int test_seed(const char *name, uint64_t *seed, ss_rng *rng)
{
    const char *env = getenv("SS_TEST_SEED");
    if (env && *env) *seed = strtoull(env, NULL, 0);
    printf("%s: seed %llu (SS_TEST_SEED=<n> to change), %d threads\n", name, (unsigned long long)*seed,
           ss_get_num_threads());
    if (rng && ss_rng_init(rng, *seed) != SS_OK) {
        fprintf(stderr, "ss_rng_init: %s\n", ss_last_error());
        return 2;
    }
    return 0;
}

/* Max |a-b| over n values; prints it with the label and checks it against tol. */
static inline double test_close(const char *label, const float *a, const float *b, long n, double tol)
{
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    printf("  %-48s max|diff| = %.3g (tol %.1g)\n", label, m, tol);
    CHECK(m <= tol, "%s: max diff %.3g > %.3g", label, m, tol);
    return m;
}

/* Writes n bytes to path; a test that cannot write its input ends (exit 2). */
static inline void test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* The whole file (malloc'd, one spare byte), its size in *n; NULL when it cannot be opened. */
static inline unsigned char *test_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

static inline int test_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}
/* A scratch directory for tests that write files: test_tmpdir_make("ss_test_png") creates
 * /tmp/ss_test_png_XXXXXX (0, or 1 after printing why); test_tmp_path(buf, name) names a
 * file in it (buf of 256 bytes); test_tmpdir_remove() deletes its entries and itself. */
static char test_tmpdir[64];

static inline int test_tmpdir_make(const char *name)
{
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/%s_XXXXXX", name);
    if (mkdtemp(test_tmpdir)) return 0;
    perror("mkdtemp");
    return 1;
}

static inline const char *test_tmp_path(char *buf, const char *name)
{
    snprintf(buf, 256, "%s/%s", test_tmpdir, name);
    return buf;
}

static inline void test_tmpdir_remove(void)
{
    size_t need = 0;
    ss_dir_list(NULL, 0, &need, test_tmpdir, "");
    char *names = malloc(need + 1), p[256];
    if (names && ss_dir_list(names, need, &need, test_tmpdir, "") >= 0)
        for (char *s = strtok(names, "\n"); s; s = strtok(NULL, "\n")) remove(test_tmp_path(p, s));
    free(names);
    if (rmdir(test_tmpdir) != 0) fprintf(stderr, "could not remove %s\n", test_tmpdir);
}

#endif
