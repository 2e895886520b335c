/* alloc.c — host memory for tensors and scratch, and the small checks every op shares.
 *
 * Freed blocks wait in a cache by size class and are handed out again, so a loop
 * that makes and drops tensors reuses memory whose pages are already mapped: without
 * it, each block above glibc's mmap threshold is a fresh mmap, a munmap and a page
 * fault per 4 KiB touched. The cache is bounded (SS_HOST_CACHE_MB, default an eighth
 * of RAM; the oldest blocks go back first) and ss_empty_cache() empties it. Sizes
 * round up with ss_size_class, the rule the CUDA allocator shares; blocks under
 * SS_CACHE_MIN stay with malloc, whose bins already reuse small chunks.
 *
 * A block is a 64-byte header (its size) and then the 64-byte-aligned memory the
 * caller gets. The cache's lists live in separate nodes, never inside the blocks, so
 * under AddressSanitizer a live block's header and a whole cached block stay
 * poisoned: a stray write before a tensor or a use after free is still caught. */
#include "core/internal.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Blocks below this many bytes are malloc's alone. */
#define SS_CACHE_MIN ((size_t)16384)
#define HEADER ((size_t)64)

/* A cached block: on the list of its size and on the list of all cached blocks. */
typedef struct node {
    char *mem; /* the block, header first */
    size_t size;
    struct node *bin_prev, *bin_next;
    struct node *lru_prev, *lru_next; /* newest first */
} node;

/* The free list of one size, in an open-addressing table keyed by size that only
 * grows (a program uses few distinct sizes). */
typedef struct bin {
    size_t size;
    node *head;
} bin;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static bin *bins;
static size_t bin_cap, bin_used;
static node *lru_head, *lru_tail, *spare_nodes;
static int64_t cache_limit; /* read from the environment on first use */
/* Read without the lock by ss_memory. */
static _Atomic int64_t st_in_use, st_cached, st_peak, st_system, st_reused;

size_t ss_size_class(size_t bytes)
{
    const size_t small = 512, big = (size_t)1 << 20;
    if (bytes == 0) bytes = 1;
    return bytes <= big ? (bytes + small - 1) / small * small : (bytes + big - 1) / big * big;
}

static pthread_once_t limit_once = PTHREAD_ONCE_INIT;

static void read_limit(void)
{
    const char *env = getenv("SS_HOST_CACHE_MB");
    char *end = NULL;
    long long mb = env && *env ? strtoll(env, &end, 10) : -1;
    if (mb >= 0 && end && *end == '\0') {
        cache_limit = (int64_t)mb << 20;
    } else {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        cache_limit = pages > 0 && page > 0 ? (int64_t)pages * page / 8 : (int64_t)1 << 30;
    }
}

static int64_t cache_bound(void)
{
    pthread_once(&limit_once, read_limit);
    return cache_limit;
}

static size_t slot_of(size_t size, size_t cap) { return (size / 512 * 0x9E3779B97F4A7C15u >> 7) & (cap - 1); }

/* The bin of `size`, made when `create` (NULL when it cannot be). */
static bin *bin_find_locked(size_t size, int create)
{
    if (create && (bin_used + 1) * 2 > bin_cap) {
        size_t cap = bin_cap ? bin_cap * 2 : 64;
        bin *grown = calloc(cap, sizeof *grown);
        if (!grown) return NULL;
        for (size_t i = 0; i < bin_cap; i++) {
            if (!bins[i].size) continue;
            size_t j = slot_of(bins[i].size, cap);
            while (grown[j].size) j = (j + 1) & (cap - 1);
            grown[j] = bins[i];
        }
        free(bins);
        bins = grown;
        bin_cap = cap;
    }
    if (!bin_cap) return NULL;
    for (size_t j = slot_of(size, bin_cap);; j = (j + 1) & (bin_cap - 1)) {
        if (bins[j].size == size) return &bins[j];
        if (!bins[j].size) {
            if (!create) return NULL;
            bins[j].size = size;
            bin_used++;
            return &bins[j];
        }
    }
}

/* Takes n off both lists and returns its block. */
static char *take_locked(bin *b, node *n)
{
    if (n->bin_prev) n->bin_prev->bin_next = n->bin_next;
    else b->head = n->bin_next;
    if (n->bin_next) n->bin_next->bin_prev = n->bin_prev;
    if (n->lru_prev) n->lru_prev->lru_next = n->lru_next;
    else lru_head = n->lru_next;
    if (n->lru_next) n->lru_next->lru_prev = n->lru_prev;
    else lru_tail = n->lru_prev;
    atomic_fetch_sub(&st_cached, (int64_t)n->size);
    char *mem = n->mem;
    n->bin_next = spare_nodes;
    spare_nodes = n;
    return mem;
}

static void evict_oldest_locked(void)
{
    node *n = lru_tail;
    char *mem = take_locked(bin_find_locked(n->size, 0), n);
    UNPOISON(mem, HEADER + n->size);
    free(mem);
}

void *ss_alloc(size_t bytes, const char *what)
{
    /* 64 bytes: a cache line and an AVX-512 vector. */
    size_t size = bytes < SS_CACHE_MIN ? (bytes + 63) & ~(size_t)63 : ss_size_class(bytes);
    if (size == 0) size = 64;
    if (size < bytes || size > SIZE_MAX / 2) {
        SS_FAIL(SS_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    char *mem = NULL;
    if (size >= SS_CACHE_MIN) {
        pthread_mutex_lock(&cache_lock);
        bin *b = bin_find_locked(size, 0);
        if (b && b->head) mem = take_locked(b, b->head); /* the newest: its pages are warm */
        pthread_mutex_unlock(&cache_lock);
        if (mem) atomic_fetch_add(&st_reused, 1);
    }
    if (!mem) {
        void *p = NULL;
        if (posix_memalign(&p, 64, HEADER + size) != 0) {
            ss_empty_cache(); /* the cache may hold what is missing */
            if (posix_memalign(&p, 64, HEADER + size) != 0) p = NULL;
        }
        if (!p) {
            SS_FAIL(SS_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
            return NULL;
        }
        mem = p;
        atomic_fetch_add(&st_system, 1);
    }
    /* Only what was asked for is addressable: ASan still sees an overrun into the
     * rounding of the size class. */
    UNPOISON(mem, HEADER + size);
    *(size_t *)mem = size;
    POISON(mem, HEADER);
    POISON(mem + HEADER + bytes, size - bytes);
    int64_t in_use = atomic_fetch_add(&st_in_use, (int64_t)size) + (int64_t)size;
    for (int64_t peak = atomic_load(&st_peak); in_use > peak;)
        if (atomic_compare_exchange_weak(&st_peak, &peak, in_use)) break;
    return mem + HEADER;
}

void ss_free(void *p)
{
    if (!p) return;
    char *mem = (char *)p - HEADER;
    UNPOISON(mem, HEADER);
    size_t size = *(size_t *)mem;
    atomic_fetch_sub(&st_in_use, (int64_t)size);
    if (size < SS_CACHE_MIN) {
        free(mem);
        return;
    }
    pthread_mutex_lock(&cache_lock);
    const int64_t limit = cache_bound();
    node *n = spare_nodes;
    if (n) spare_nodes = n->bin_next;
    else if ((int64_t)size <= limit) n = malloc(sizeof *n);
    bin *b = n && (int64_t)size <= limit ? bin_find_locked(size, 1) : NULL;
    if (!b) {
        if (n) {
            n->bin_next = spare_nodes;
            spare_nodes = n;
        }
        pthread_mutex_unlock(&cache_lock);
        free(mem);
        return;
    }
    while (atomic_load(&st_cached) + (int64_t)size > limit) evict_oldest_locked();
    *n = (node){mem, size, NULL, b->head, NULL, lru_head};
    if (b->head) b->head->bin_prev = n;
    b->head = n;
    if (lru_head) lru_head->lru_prev = n;
    lru_head = n;
    if (!lru_tail) lru_tail = n;
    atomic_fetch_add(&st_cached, (int64_t)size);
    POISON(mem, HEADER + size);
    pthread_mutex_unlock(&cache_lock);
}

int ss_empty_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    while (lru_tail) evict_oldest_locked();
    while (spare_nodes) {
        node *n = spare_nodes;
        spare_nodes = n->bin_next;
        free(n);
    }
    pthread_mutex_unlock(&cache_lock);
    malloc_trim(0); /* freed heap pages back to the system, not only to malloc */
    return SS_OK;
}

int ss_memory(ss_memory_stats *stats)
{
    if (!stats) return SS_FAIL(SS_ERR_ARG, "ss_memory: stats is NULL");
    memset(stats, 0, sizeof *stats);
    stats->in_use = atomic_load(&st_in_use);
    stats->cached = atomic_load(&st_cached);
    stats->peak = atomic_load(&st_peak);
    stats->system_allocs = atomic_load(&st_system);
    stats->reused = atomic_load(&st_reused);
    stats->cache_limit = cache_bound();
    ss_tensor_bytes(&stats->tensor_live, &stats->tensor_made);
    return SS_OK;
}

int ss_memory_reset_peak(void)
{
    atomic_store(&st_peak, atomic_load(&st_in_use));
    return SS_OK;
}

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
