/* alloc.c — aligned host allocation and the small checks every op shares. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>

void *ss_alloc(size_t bytes, const char *what)
{
    void *p = NULL;
    /* 64 bytes: a cache line and an AVX-512 vector. */
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0 || !p) {
        SS_FAIL(SS_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    return p;
}

void ss_free(void *p) { free(p); }

const char *ss_shape_str(char *buf, size_t n, const ss_tensor *t)
{
    if (!t) {
        snprintf(buf, n, "nil");
        return buf;
    }
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

int ss_check_tensor(const ss_tensor *t, const char *op, const char *arg)
{
    if (!t) return SS_FAIL(SS_ERR_ARG, "%s: %s is NULL", op, arg);
    if (!t->storage) return SS_FAIL(SS_ERR_ARG, "%s: %s was freed", op, arg);
    return SS_OK;
}

int ss_common_device(const char *op, int n, const ss_tensor *const *ts)
{
    SS_TRY(ss_interrupt_check()); /* nearly every op passes here: an interrupt stops it */
    int dev = -1;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) return SS_FAIL(SS_ERR_ARG, "%s: tensor argument %d is NULL", op, i + 1);
        if (!ts[i]->storage) return SS_FAIL(SS_ERR_ARG, "%s: tensor argument %d was freed", op, i + 1);
        if (dev < 0) dev = ts[i]->device;
        else if (ts[i]->device != dev)
            return SS_FAIL(SS_ERR_DEVICE,
                           "%s: tensors on different devices (cpu and cuda) in one op; "
                           "move them with :to() first", op);
    }
    return dev < 0 ? SS_CPU : dev;
}

int ss_check_same_shape(const char *op, const ss_tensor *a, const ss_tensor *b)
{
    if (ss_tensor_same_shape(a, b)) return SS_OK;
    char sa[96], sb[96];
    return SS_FAIL(SS_ERR_ARG, "%s: shapes differ: %s vs %s", op,
                   ss_shape_str(sa, sizeof sa, a), ss_shape_str(sb, sizeof sb, b));
}

int ss_common_device_given(const char *op, int n, const ss_tensor *const *ts)
{
    const ss_tensor *given[8];
    int m = 0;
    if (n > 8) return SS_FAIL(SS_ERR_ARG, "%s: more than 8 tensor arguments", op);
    for (int i = 0; i < n; i++)
        if (ts[i]) given[m++] = ts[i];
    return ss_common_device(op, m, given);
}

int ss_check_no_overlap(const char *op, const char *arg, const ss_tensor *o, int n, const ss_tensor *const *ts,
                        const char *const *names)
{
    if (!o) return SS_OK;
    for (int i = 0; i < n; i++)
        if (ts[i] && ss_tensors_overlap(o, ts[i]))
            return SS_FAIL(SS_ERR_ARG, "%s: %s shares memory with %s", op, arg, names[i]);
    return SS_OK;
}

int ss_tensors_overlap(const ss_tensor *a, const ss_tensor *b)
{
    const float *a0 = a->data, *a1 = a->data + ss_tensor_numel(a);
    const float *b0 = b->data, *b1 = b->data + ss_tensor_numel(b);
    return a0 < b1 && b0 < a1;
}

int ss_cuda_missing(const char *op)
{
#ifdef SS_WITH_CUDA
    return SS_FAIL(SS_ERR_DEVICE, "%s: no CUDA kernel for this op yet; move the tensors to the cpu", op);
#else
    return SS_FAIL(SS_ERR_DEVICE, "%s: tensor is on cuda but libscalespace was built without CUDA", op);
#endif
}
