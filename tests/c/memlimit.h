/* memlimit.h — runs part of a test under a memory cap, so that a loader which allocates
 * what a crafted header claims fails the test here instead of passing on a big machine.
 *
 * Plain builds: a forked child lowers RLIMIT_AS to its current size plus the cap.
 * AddressSanitizer reserves terabytes of address space, so under ASan the cap is its
 * own: every allocation above SS_TEST_ASAN_MAX_MB returns NULL (the defaults below;
 * the environment's ASAN_OPTIONS still apply on top). Include from one test file. */
#ifndef SS_TEST_MEMLIMIT_H
#define SS_TEST_MEMLIMIT_H
#include "check.h"

#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SS_TEST_ASAN 1
#endif
#endif

#ifdef SS_TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "max_allocation_size_mb=512:allocator_may_return_null=1"; }
#endif

/* The process's virtual size in bytes (/proc/self/statm), 0 when unknown. */
static inline size_t test_vm_size(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%lu", &pages) != 1) pages = 0;
    if (f) fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Runs body() in a child that may allocate at most cap_mb more (see above); its
 * failed checks count as this test's. */
static inline void test_capped(const char *what, void (*body)(void), size_t cap_mb)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
#ifndef SS_TEST_ASAN
        struct rlimit r = {.rlim_cur = test_vm_size() + (cap_mb << 20), .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &r) != 0) perror("setrlimit");
        printf("  %s: under RLIMIT_AS = current + %zu MiB\n", what, cap_mb);
#else
        printf("  %s: under ASan's max_allocation_size_mb=512\n", what);
#endif
        body();
        fflush(stdout);
        _exit(test_failures > 250 ? 250 : test_failures);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %d checks failed in the capped child (status %d)",
          what, WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);
}
#endif
