/* tensor.c — float32 NCHW tensors over reference-counted storage.
 *
 * A tensor is a header (shape, data pointer) over a storage block that may be
 * shared by views (reshape, narrow). The storage lives on one device; this file
 * is the only place that allocates, copies between devices or frees it. */
#include "core/internal.h"
#include "core/cuda.h"
#include "kernels/tensor.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_storage {
    float *data;
    int64_t numel;
    int device;
    atomic_int refcount;
};

/* Bytes of live tensor storage and of all storage made, any device (ss_memory). */
static _Atomic int64_t storage_live, storage_made;

void ss_tensor_bytes(int64_t *live, int64_t *made)
{
    *live = atomic_load(&storage_live);
    *made = atomic_load(&storage_made);
}

static int shape_check(const char *op, int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 1 || ndim > 4)
        return SS_FAIL(SS_ERR_ARG, "%s: tensors have 1 to 4 dimensions, got %d", op, ndim);
    if (!shape) return SS_FAIL(SS_ERR_ARG, "%s: shape is NULL", op);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return SS_FAIL(SS_ERR_ARG, "%s: size %lld of dimension %d must be >= 1", op,
                           (long long)shape[d], d + 1);
        if (n > INT64_MAX / 4 / shape[d])
            return SS_FAIL(SS_ERR_ARG, "%s: shape is too large", op);
        n *= shape[d];
    }
    *numel = n;
    return SS_OK;
}

static ss_storage *storage_new(int64_t numel, int device)
{
    ss_storage *s = calloc(1, sizeof *s);
    if (!s) return SS_FAIL_NULL(SS_ERR_NOMEM, "out of memory for a tensor header");
    size_t bytes = (size_t)numel * sizeof(float);
    if (device == SS_CPU) {
        s->data = ss_alloc(bytes, "a tensor");
    } else if (device == SS_CUDA) {
        void *p = NULL;
        if (ss_cuda_need_device("a cuda tensor") == SS_OK &&
            SS_CUDA_CALL("a cuda tensor", ss_cuda_malloc(&p, bytes)) == SS_OK)
            s->data = p;
    } else {
        SS_FAIL(SS_ERR_ARG, "unknown device %d (0 = cpu, 1 = cuda)", device);
    }
    if (!s->data) {
        free(s);
        return NULL;
    }
    s->numel = numel;
    s->device = device;
    atomic_init(&s->refcount, 1);
    atomic_fetch_add(&storage_live, (int64_t)bytes);
    atomic_fetch_add(&storage_made, (int64_t)bytes);
    return s;
}

static void storage_release(ss_storage *s)
{
    if (!s || atomic_fetch_sub(&s->refcount, 1) != 1) return;
    atomic_fetch_sub(&storage_live, s->numel * (int64_t)sizeof(float));
    if (s->device == SS_CPU) ss_free(s->data);
#ifdef SS_WITH_CUDA
    else ss_cuda_free(s->data);
#endif
    free(s);
}

static ss_tensor *header_new(ss_storage *s, float *data, int ndim, const int64_t *shape)
{
    ss_tensor *t = calloc(1, sizeof *t);
    if (!t) return SS_FAIL_NULL(SS_ERR_NOMEM, "out of memory for a tensor header");
    t->data = data;
    t->ndim = ndim;
    for (int d = 0; d < 4; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    t->device = s->device;
    t->storage = s;
    return t;
}

ss_tensor *ss_tensor_empty(int ndim, const int64_t *shape, int device)
{
    if (ss_interrupt_check() < 0) return NULL; /* every op's allocation: where interrupts stop Lua loops */
    int64_t n;
    if (shape_check("ss_tensor_empty", ndim, shape, &n) < 0) return NULL;
    ss_storage *s = storage_new(n, device);
    if (!s) return NULL;
    ss_tensor *t = header_new(s, s->data, ndim, shape);
    if (!t) storage_release(s);
    return t;
}

ss_tensor *ss_tensor_full(int ndim, const int64_t *shape, float value, int device)
{
    ss_tensor *t = ss_tensor_empty(ndim, shape, device);
    if (t && ss_tensor_fill(t, value) < 0) {
        ss_tensor_free(t);
        return NULL;
    }
    return t;
}

ss_tensor *ss_tensor_zeros(int ndim, const int64_t *shape, int device)
{
    return ss_tensor_full(ndim, shape, 0.0f, device);
}

ss_tensor *ss_tensor_from_buffer(const float *values, int ndim, const int64_t *shape)
{
    if (!values) return SS_FAIL_NULL(SS_ERR_ARG, "ss_tensor_from_buffer: values is NULL");
    ss_tensor *t = ss_tensor_empty(ndim, shape, SS_CPU);
    if (t) memcpy(t->data, values, (size_t)ss_tensor_numel(t) * sizeof(float));
    return t;
}

void ss_tensor_free(ss_tensor *t)
{
    if (!t) return;
    storage_release(t->storage);
    free(t);
}

void ss_tensor_release(ss_tensor *t)
{
    if (!t || !t->storage) return;
    storage_release(t->storage);
    t->storage = NULL;
    t->data = NULL;
}

int64_t ss_tensor_numel(const ss_tensor *t)
{
    if (!t) return 0;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int ss_tensor_same_shape(const ss_tensor *a, const ss_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

ss_tensor *ss_tensor_reshape(const ss_tensor *t, int ndim, const int64_t *shape)
{
    if (ss_check_tensor(t, "ss_tensor_reshape", "tensor") < 0) return NULL;
    int64_t n;
    if (shape_check("ss_tensor_reshape", ndim, shape, &n) < 0) return NULL;
    if (n != ss_tensor_numel(t)) {
        char s[96];
        return SS_FAIL_NULL(SS_ERR_ARG, "ss_tensor_reshape: cannot view %s (%lld elements) as %lld elements",
                            ss_shape_str(s, sizeof s, t), (long long)ss_tensor_numel(t), (long long)n);
    }
    atomic_fetch_add(&t->storage->refcount, 1);
    ss_tensor *v = header_new(t->storage, t->data, ndim, shape);
    if (!v) storage_release(t->storage);
    return v;
}

ss_tensor *ss_tensor_narrow(const ss_tensor *t, int64_t first, int64_t count)
{
    if (ss_check_tensor(t, "ss_tensor_narrow", "tensor") < 0) return NULL;
    if (first < 0 || count < 1 || first + count > t->shape[0])
        return SS_FAIL_NULL(SS_ERR_ARG,
                            "ss_tensor_narrow: rows [%lld, %lld) are outside dimension 1 of size %lld",
                            (long long)first, (long long)(first + count), (long long)t->shape[0]);
    int64_t row = ss_tensor_numel(t) / t->shape[0];
    int64_t shape[4];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    atomic_fetch_add(&t->storage->refcount, 1);
    ss_tensor *v = header_new(t->storage, t->data + first * row, t->ndim, shape);
    if (!v) storage_release(t->storage);
    return v;
}

/* Copies numel floats between any two devices. */
static int copy_raw(float *dst, int dst_dev, const float *src, int src_dev, int64_t n)
{
    size_t bytes = (size_t)n * sizeof(float);
    if (dst_dev == SS_CPU && src_dev == SS_CPU) {
        if (dst != src) memmove(dst, src, bytes);
        return SS_OK;
    }
    int kind = dst_dev == SS_CPU ? SS_COPY_D2H : src_dev == SS_CPU ? SS_COPY_H2D : SS_COPY_D2D;
    (void)kind;
#ifdef SS_WITH_CUDA
    /* cudaMemcpy may not copy between overlapping ranges (memmove above may): such a
     * device copy (overlapping views of one storage) goes through a temporary block. */
    if (kind == SS_COPY_D2D && dst == src) return SS_OK;
    if (kind == SS_COPY_D2D && dst < src + n && src < dst + n) {
        void *tmp = NULL;
        SS_TRY(ss_cuda_malloc(&tmp, bytes));
        int rc = ss_cuda_memcpy(tmp, src, bytes, SS_COPY_D2D);
        if (rc == SS_OK) rc = ss_cuda_memcpy(dst, tmp, bytes, SS_COPY_D2D);
        ss_cuda_free(tmp); /* the copies queue on the one stream before any reuse */
        return rc;
    }
#endif
    return SS_CUDA_CALL("ss_tensor_copy", ss_cuda_memcpy(dst, src, bytes, kind));
}

ss_tensor *ss_tensor_to(const ss_tensor *t, int device)
{
    if (ss_check_tensor(t, "ss_tensor_to", "tensor") < 0) return NULL;
    ss_tensor *out = ss_tensor_empty(t->ndim, t->shape, device);
    if (!out) return NULL;
    if (copy_raw(out->data, device, t->data, t->device, ss_tensor_numel(t)) < 0) {
        ss_tensor_free(out);
        return NULL;
    }
    return out;
}

ss_tensor *ss_tensor_clone(const ss_tensor *t)
{
    if (ss_check_tensor(t, "ss_tensor_clone", "tensor") < 0) return NULL;
    return ss_tensor_to(t, t->device);
}

int ss_tensor_copy(ss_tensor *dst, const ss_tensor *src)
{
    const ss_tensor *ts[2] = {dst, src};
    int dev = ss_common_device("ss_tensor_copy", 2, ts);
    if (dev < 0) return dev;
    if (ss_tensor_numel(dst) != ss_tensor_numel(src)) return ss_check_same_shape("ss_tensor_copy", dst, src);
    return copy_raw(dst->data, dev, src->data, dev, ss_tensor_numel(src));
}

int ss_tensor_read(float *dst, const ss_tensor *src)
{
    SS_TRY(ss_check_tensor(src, "ss_tensor_read", "tensor"));
    if (!dst) return SS_FAIL(SS_ERR_ARG, "ss_tensor_read: destination is NULL");
    return copy_raw(dst, SS_CPU, src->data, src->device, ss_tensor_numel(src));
}

int ss_tensor_write(ss_tensor *dst, const float *src)
{
    SS_TRY(ss_check_tensor(dst, "ss_tensor_write", "tensor"));
    if (!src) return SS_FAIL(SS_ERR_ARG, "ss_tensor_write: source is NULL");
    return copy_raw(dst->data, dst->device, src, SS_CPU, ss_tensor_numel(dst));
}

int ss_tensor_fill(ss_tensor *t, float value)
{
    SS_TRY(ss_check_tensor(t, "ss_tensor_fill", "tensor"));
    int64_t n = ss_tensor_numel(t);
    if (t->device == SS_CUDA) return SS_CUDA_CALL("ss_tensor_fill", ss_cuda_fill_forward(t->data, n, value));
    float *p = t->data;
#pragma omp parallel for simd if (parallel: n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) p[i] = value;
    return SS_OK;
}

int ss_tensor_check_finite(const ss_tensor *t, const char *what)
{
    SS_TRY(ss_check_tensor(t, "ss_tensor_check_finite", "tensor"));
    int64_t n = ss_tensor_numel(t), bad = n;
    float value = 0.0f;
    if (t->device == SS_CUDA) {
        SS_TRY(SS_CUDA_CALL("ss_tensor_check_finite", ss_cuda_first_nonfinite_forward(&bad, &value, t->data, n)));
    } else {
        const float *p = t->data;
#pragma omp parallel for reduction(min : bad) if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(p[i]) && i < bad) bad = i;
        if (bad < n) value = p[bad];
    }
    if (bad < n)
        return SS_FAIL(SS_ERR_NUMERIC, "%s contains %s at flat index %lld", what ? what : "tensor",
                       isnan(value) ? "NaN" : "Inf", (long long)bad);
    return SS_OK;
}
