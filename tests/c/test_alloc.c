/* test_alloc.c — the host block cache: size classes, reuse, the bound, ss_empty_cache,
 * counters under threads, and the acceptance loop of issue 16: 10 000 tensors of
 * 16x3x64x64 made and freed make O(1) mmap calls (counted by strace when it is there,
 * else by the cache's own counters) and stay under 100 MB resident. No timing. */
#include "check.h"
#include "core/internal.h"

#include <stdint.h>
#include <sys/wait.h>

/* kB of a /proc/self/status line ("VmRSS", "VmHWM"), -1 when unreadable. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return kb;
}

static ss_memory_stats stats(void)
{
    ss_memory_stats s;
    CHECK_OK(ss_memory(&s));
    return s;
}

/* Makes, fills (every page touched) and frees n tensors of 16x3x64x64. */
static void tensor_loop(int n)
{
    int64_t shape[4] = {16, 3, 64, 64};
    for (int i = 0; i < n; i++) {
        ss_tensor *t = need(ss_tensor_empty(4, shape, SS_CPU), "a 16x3x64x64 tensor");
        CHECK_OK(ss_tensor_fill(t, (float)i));
        ss_tensor_free(t);
    }
}

static void test_size_class(void)
{
    static const size_t in[] = {0, 1, 512, 513, 100000, 1 << 20, (1 << 20) + 1, 3136000};
    static const size_t want[] = {512, 512, 512, 1024, 100352, 1 << 20, 2 << 20, 3 << 20};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        CHECK(ss_size_class(in[i]) == want[i], "ss_size_class(%zu) = %zu, expected %zu", in[i], ss_size_class(in[i]),
              want[i]);
}

static void test_reuse(void)
{
    CHECK_OK(ss_empty_cache());
    ss_memory_stats s0 = stats();
    CHECK(s0.cached == 0, "ss_empty_cache leaves %lld bytes cached", (long long)s0.cached);
    /* Sizes below, at and above the cache's minimum and the 1 MiB step; every byte written. */
    static const size_t sizes[] = {1, 63, 16383, 16384, 100000, (1 << 20) + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = ss_alloc(sizes[i], "a test block");
        CHECK(p && (uintptr_t)p % 64 == 0, "block of %zu bytes is 64-byte aligned", sizes[i]);
        if (p) memset(p, 0xab, sizes[i]);
        ss_free(p);
    }
    ss_memory_stats s1 = stats();
    CHECK(s1.in_use == s0.in_use, "in_use back to %lld after the frees, got %lld", (long long)s0.in_use,
          (long long)s1.in_use);
    CHECK(s1.cached == (int64_t)(16384 + 100352 + (2 << 20)), "the three blocks of 16 KiB and more are cached (%lld)",
          (long long)s1.cached);
    /* A size in a cached class gets that block back, without the system. */
    void *a = ss_alloc(100200, "a test block");
    ss_memory_stats s2 = stats();
    CHECK(s2.reused == s1.reused + 1 && s2.system_allocs == s1.system_allocs, "100200 bytes reuse the 100352 block");
    CHECK(s2.in_use == s1.in_use + 100352, "in_use counts the class size");
    CHECK(s2.peak >= s2.in_use, "peak %lld >= in_use %lld", (long long)s2.peak, (long long)s2.in_use);
    ss_free(a);
    CHECK_OK(ss_memory_reset_peak());
    CHECK(stats().peak == stats().in_use, "reset_peak sets peak to in_use");
    CHECK_OK(ss_empty_cache());
    CHECK(stats().cached == 0, "empty_cache empties the cache");
    CHECK_FAILS(ss_memory(NULL), "NULL");
}

static void test_tensor_counts(void)
{
    ss_memory_stats s0 = stats();
    int64_t shape[2] = {100, 1000};
    ss_tensor *t = need(ss_tensor_empty(2, shape, SS_CPU), "a tensor");
    ss_tensor *v = need(ss_tensor_narrow(t, 10, 20), "a view");
    ss_memory_stats s1 = stats();
    CHECK(s1.tensor_live == s0.tensor_live + 400000 && s1.tensor_made == s0.tensor_made + 400000,
          "a tensor of 100000 floats adds 400000 bytes to tensor_live and tensor_made (views add nothing)");
    ss_tensor_free(t);
    CHECK(stats().tensor_live == s1.tensor_live, "a view keeps the storage live");
    ss_tensor_free(v);
    ss_memory_stats s2 = stats();
    CHECK(s2.tensor_live == s0.tensor_live && s2.tensor_made == s1.tensor_made, "freed: tensor_live back, made kept");
}

/* Threads making and freeing blocks of two sizes at once: the counters add up. */
static void test_threads(void)
{
    ss_memory_stats s0 = stats();
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : bad)
    for (int i = 0; i < 2000; i++) {
        size_t n = i % 2 ? 40000 : 300000;
        float *p = ss_alloc(n, "a test block");
        if (!p) {
            bad++;
            continue;
        }
        p[0] = (float)i;
        p[n / sizeof(float) - 1] = (float)i;
        bad += p[0] != (float)i;
        ss_free(p);
    }
    CHECK(bad == 0, "%d blocks failed under threads", bad);
    ss_memory_stats s1 = stats();
    CHECK(s1.in_use == s0.in_use, "in_use back to %lld under threads, got %lld", (long long)s0.in_use,
          (long long)s1.in_use);
    CHECK(s1.system_allocs - s0.system_allocs <= 2 * 64, "at most a block per size and thread from the system (%lld)",
          (long long)(s1.system_allocs - s0.system_allocs));
}

/* The loop of issue 16 in this process, judged by the counters and /proc. */
static void test_loop(void)
{
    ss_memory_stats s0 = stats();
    tensor_loop(10000);
    ss_memory_stats s1 = stats();
    long hwm = status_kb("VmHWM");
    printf("10000 tensors of 16x3x64x64: %lld blocks from the system, %lld reused, VmHWM %ld kB\n",
           (long long)(s1.system_allocs - s0.system_allocs), (long long)(s1.reused - s0.reused), hwm);
    CHECK(s1.system_allocs - s0.system_allocs <= 1, "the loop takes at most one block from the system, took %lld",
          (long long)(s1.system_allocs - s0.system_allocs));
    CHECK(s1.reused - s0.reused >= 9999, "the loop reuses its block (%lld)", (long long)(s1.reused - s0.reused));
    CHECK(hwm < 100 * 1024, "VmHWM %ld kB stays under 100 MB", hwm);
}

/* The bound: with SS_HOST_CACHE_MB=1 (a child process: the bound is read once), ten
 * freed blocks of 790 KiB leave at most 1 MiB cached. */
static int run_bounded(void)
{
    int64_t shape[4] = {16, 3, 64, 64};
    ss_tensor *ts[10];
    for (int i = 0; i < 10; i++) ts[i] = need(ss_tensor_empty(4, shape, SS_CPU), "a tensor");
    for (int i = 0; i < 10; i++) ss_tensor_free(ts[i]);
    ss_memory_stats s = stats();
    CHECK(s.cache_limit == 1 << 20, "SS_HOST_CACHE_MB=1 gives a 1 MiB bound, got %lld", (long long)s.cache_limit);
    CHECK(s.cached <= s.cache_limit && s.cached == 786432, "one 768 KiB block cached under the 1 MiB bound, got %lld",
          (long long)s.cached);
    return test_failures ? 1 : 0;
}

/* Runs this program with argv[1] = mode and argv[2] = arg (under strace -c when
 * `summary` is given, writing the summary there), with SS_HOST_CACHE_MB=cache_mb when
 * given; returns the exit status, -1 when it could not run. */
static int run_child(const char *self, const char *mode, const char *arg, const char *cache_mb, const char *summary)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (cache_mb) setenv("SS_HOST_CACHE_MB", cache_mb, 1);
        if (summary)
            execl("/usr/bin/strace", "strace", "-f", "-qq", "-e", "trace=mmap,munmap,brk", "-c", "-o", summary, self,
                  mode, arg, (char *)NULL);
        else
            execl(self, self, mode, arg, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

/* mmap + munmap + brk calls in an strace -c summary, -1 when none is listed. */
static long strace_map_calls(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    long calls = -1;
    while (fgets(line, sizeof line, f)) {
        char sys[64] = "";
        double pct, secs;
        long usecs, n, errors;
        /* "% time seconds usecs/call calls [errors] syscall" */
        int got = sscanf(line, " %lf %lf %ld %ld %ld %63s", &pct, &secs, &usecs, &n, &errors, sys);
        if (got != 6) got = sscanf(line, " %lf %lf %ld %ld %63s", &pct, &secs, &usecs, &n, sys) + 1;
        if (got == 6 && (!strcmp(sys, "mmap") || !strcmp(sys, "munmap") || !strcmp(sys, "brk")))
            calls = (calls < 0 ? 0 : calls) + n;
    }
    fclose(f);
    return calls;
}

/* The loop as a script sees it: the collector frees dead tensors in batches, so up
 * to 64 are alive at once. The calls that map memory must not grow with the number
 * of tensors: 1000 and 10000 tensors make the same number, give or take a few. */
static void test_mmap_count(const char *self)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)self;
    printf("mmap count: skipped under AddressSanitizer (its allocator maps memory its own way)\n");
#else
    if (access("/usr/bin/strace", X_OK) != 0) {
        printf("mmap count: no /usr/bin/strace; the counters of test_loop stand in\n");
        return;
    }
    char summary[] = "/tmp/ss_test_alloc_XXXXXX";
    int fd = mkstemp(summary);
    if (fd < 0) return;
    close(fd);
    int rc0 = run_child(self, "--batches", "1000", NULL, summary);
    long few = strace_map_calls(summary);
    int rc1 = run_child(self, "--batches", "10000", NULL, summary);
    long many = strace_map_calls(summary);
    unlink(summary);
    if (rc0 != 0 || rc1 != 0 || few < 0 || many < 0) {
        printf("mmap count: strace could not trace here (exit %d/%d); the counters of test_loop stand in\n", rc0, rc1);
        return;
    }
    printf("mmap+munmap+brk calls under strace: %ld for 1000 tensors, %ld for 10000\n", few, many);
    CHECK(many - few <= 10, "10000 tensors make %ld more mapping calls than 1000 (O(1) expected)", many - few);
#endif
}

/* n tensors of 16x3x64x64, freed 64 at a time. */
static int run_batches(int n)
{
    int64_t shape[4] = {16, 3, 64, 64};
    ss_tensor *live[64];
    for (int i = 0; i < n; i++) {
        live[i % 64] = need(ss_tensor_empty(4, shape, SS_CPU), "a tensor");
        live[i % 64]->data[0] = 1.0f;
        if (i % 64 == 63 || i == n - 1)
            for (int j = 0; j <= i % 64; j++) ss_tensor_free(live[j]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--batches") == 0) return run_batches(atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "--bounded") == 0) return run_bounded();
    test_size_class();
    test_reuse();
    test_tensor_counts();
    test_threads();
    test_loop();
    CHECK(run_child(argv[0], "--bounded", "", "1", NULL) == 0, "the bounded cache (SS_HOST_CACHE_MB=1) child failed");
    test_mmap_count(argv[0]);
    return test_summary("test_alloc");
}
