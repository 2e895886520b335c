/* fuzz.h — what the libFuzzer harnesses share. The loaders take paths, so each input
 * is written to one temporary file per process (in $TMPDIR, else /dev/shm, else /tmp:
 * memory-backed is some 30 times faster), removed at exit. A harness checks what a
 * successful load promises and traps when it does not, so a wrong result is a finding
 * like a crash. Built by `make fuzz` (CMake SS_FUZZ=ON, clang,
 * -fsanitize=fuzzer,address,undefined). */
#ifndef SS_FUZZ_H
#define SS_FUZZ_H
#include "scalespace.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_path[256];

static void fuzz_remove(void) { unlink(fuzz_path); }

/* The input as a file; its path. */
static inline const char *fuzz_file(const uint8_t *data, size_t n)
{
    if (!fuzz_path[0]) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_path, sizeof fuzz_path, "%s/ss_fuzz_%ld", dir, (long)getpid());
        atexit(fuzz_remove);
    }
    int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(fuzz_path);
        abort();
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, data + done, n - done);
        if (w <= 0) {
            perror(fuzz_path);
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
    return fuzz_path;
}

/* A loaded tensor must be a well-formed CPU tensor: 1 to 4 positive sizes. */
static inline void fuzz_check_tensor(const ss_tensor *t)
{
    if (!t) return;
    if (t->ndim < 1 || t->ndim > 4 || t->device != SS_CPU || !t->data) __builtin_trap();
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 1) __builtin_trap();
}

/* Loading must report through the status: a failure leaves a message. */
static inline void fuzz_check_failure(const void *result)
{
    if (!result && (ss_last_status() >= 0 || !ss_last_error()[0])) __builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ss_set_num_threads(1); /* one input at a time; threads only add noise */
    return 0;
}
#endif
