/* internal.h — helpers shared by the runtime's C files; not part of the API. */
#ifndef SS_INTERNAL_H
#define SS_INTERNAL_H

#include "scalespace.h"
#include <stdarg.h>

/* Records a failure for ss_last_error() and returns `code`, so that
 * `return SS_FAIL(SS_ERR_ARG, "...", ...);` reports and exits in one line. */
int ss_error_set(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define SS_FAIL(code, ...) ss_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
/* For functions returning a pointer: record and yield NULL. */
#define SS_FAIL_NULL(code, ...) (ss_error_set((code), __FILE__, __LINE__, __VA_ARGS__), (void *)0)
#define SS_TRY(expr)                 \
    do {                             \
        int ss_rc_ = (expr);         \
        if (ss_rc_ < 0) return ss_rc_; \
    } while (0)

/* 64-byte aligned host memory through the block cache (alloc.c); NULL with the
 * error set on failure. Only ss_free may free it. */
void *ss_alloc(size_t bytes, const char *what);
void ss_free(void *p);
/* The size a block of `bytes` is rounded up to, host and device alike: to 512 bytes
 * up to 1 MiB, to 1 MiB above (few classes, so freed blocks are found again). */
size_t ss_size_class(size_t bytes);
/* Bytes of live tensor storage and of all tensor storage made, any device. */
void ss_tensor_bytes(int64_t *live, int64_t *made);

/* Shape description "(2,3,4)" into buf; returns buf. */
const char *ss_shape_str(char *buf, size_t n, const ss_tensor *t);
/* SS_ERR_ARG naming `op` and `arg` when t is NULL. */
int ss_check_tensor(const ss_tensor *t, const char *op, const char *arg);
/* The common device of n tensors, or SS_ERR_DEVICE naming op when they mix. */
int ss_common_device(const char *op, int n, const ss_tensor *const *ts);
/* As ss_common_device, over the non-NULL entries only (optional arguments). */
int ss_common_device_given(const char *op, int n, const ss_tensor *const *ts);
/* SS_ERR_ARG when the output o (when given) shares memory with one of the non-NULL
 * ts[0..n), named names[i]. */
int ss_check_no_overlap(const char *op, const char *arg, const ss_tensor *o, int n, const ss_tensor *const *ts,
                        const char *const *names);
/* SS_ERR_ARG naming op and both shapes unless a and b have equal shapes. */
int ss_check_same_shape(const char *op, const ss_tensor *a, const ss_tensor *b);
/* 1 when the float ranges of a and b share memory. */
int ss_tensors_overlap(const ss_tensor *a, const ss_tensor *b);
/* The error for an op that has no CUDA kernel (yet) or a build without CUDA. */
int ss_cuda_missing(const char *op);
/* A CUDA launcher's status in a build with CUDA; elsewhere the "built without CUDA"
 * error, without compiling the call (the launcher does not exist there). */
#ifdef SS_WITH_CUDA
#define SS_CUDA_CALL(op, call) (call)
#else
#define SS_CUDA_CALL(op, call) ss_cuda_missing(op)
#endif
/* SS_OK when a CUDA device can be used, else SS_ERR_DEVICE naming op and why not. */
int ss_cuda_need_device(const char *op);

#endif
