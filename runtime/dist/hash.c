/* hash.c — whether the ranks hold the same weights: XXH64 (seed 0) of the tensors'
 * bytes, compared across ranks by an all-gather of the 64-bit values.
 *
 * XXH64 is the 64-bit hash of Yann Collet's xxHash (BSD): four lanes of
 * acc = rotl(acc + w·P2, 31)·P1 over 32-byte stripes, merged and avalanched. Each
 * round is a bijection of its input word for a fixed accumulator, so a change of any
 * bit changes that lane's state; the merged hash then differs but for a ~2^-64 chance.
 * It runs near memory speed. The tensors hash as one stream, as if their bytes were
 * concatenated (tests/dist/single.lua checks it against python3-xxhash). */
#include "dist/dist.h"

#include <string.h>

static const uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL, P3 = 1609587929392839161ULL,
                      P4 = 9650029242287828579ULL, P5 = 2870177450012600261ULL;

struct xxh64 {
    uint64_t v[4], total;
    unsigned char mem[32];
    size_t memsize;
};

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian machines: the bytes as stored */
    return v;
}

static uint32_t read32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t w) { return rotl(acc + w * P2, 31) * P1; }

static uint64_t merge(uint64_t h, uint64_t v) { return (h ^ round64(0, v)) * P1 + P4; }

static void xxh64_init(struct xxh64 *s)
{
    memset(s, 0, sizeof *s);
    s->v[0] = P1 + P2;
    s->v[1] = P2;
    s->v[2] = 0;
    s->v[3] = (uint64_t)0 - P1;
}

static void stripe(uint64_t v[4], const unsigned char *p)
{
    v[0] = round64(v[0], read64(p));
    v[1] = round64(v[1], read64(p + 8));
    v[2] = round64(v[2], read64(p + 16));
    v[3] = round64(v[3], read64(p + 24));
}

static void xxh64_update(struct xxh64 *s, const unsigned char *p, size_t n)
{
    s->total += n;
    if (s->memsize + n < 32) {
        memcpy(s->mem + s->memsize, p, n);
        s->memsize += n;
        return;
    }
    if (s->memsize) {
        size_t fill = 32 - s->memsize;
        memcpy(s->mem + s->memsize, p, fill);
        stripe(s->v, s->mem);
        p += fill;
        n -= fill;
        s->memsize = 0;
    }
    for (; n >= 32; p += 32, n -= 32) stripe(s->v, p);
    memcpy(s->mem, p, n);
    s->memsize = n;
}

static uint64_t xxh64_digest(const struct xxh64 *s)
{
    uint64_t h;
    if (s->total >= 32) {
        h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
        for (int i = 0; i < 4; i++) h = merge(h, s->v[i]);
    } else {
        h = P5; /* seed 0 */
    }
    h += s->total;
    const unsigned char *p = s->mem;
    size_t n = s->memsize;
    for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round64(0, read64(p)), 27) * P1 + P4;
    if (n >= 4) {
        h = rotl(h ^ (uint64_t)read32(p) * P1, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    for (; n > 0; p++, n--) h = rotl(h ^ (uint64_t)*p * P5, 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

int ss_dist_hash(uint64_t *hash, const ss_tensor *const *ts, int n)
{
    const char *fn = "ss_dist_hash";
    if (!hash) return SS_FAIL(SS_ERR_ARG, "%s: hash is NULL", fn);
    if (n < 0) return SS_FAIL(SS_ERR_ARG, "%s: the number of tensors must be >= 0, got %d", fn, n);
    if (n > 0 && !ts) return SS_FAIL(SS_ERR_ARG, "%s: the tensor list is NULL", fn);
    for (int i = 0; i < n; i++) {
        if (!ts[i]) return SS_FAIL(SS_ERR_ARG, "%s: tensor argument %d is NULL", fn, i + 1);
        if (!ts[i]->storage) return SS_FAIL(SS_ERR_ARG, "%s: tensor argument %d was freed", fn, i + 1);
    }
    struct xxh64 s;
    xxh64_init(&s);
    for (int i = 0; i < n; i++) {
        int64_t numel = ss_tensor_numel(ts[i]);
        const float *p = ts[i]->data;
        if (ts[i]->device != SS_CPU) { /* device values through the kept host bucket */
            float *host = ss_dist_bucket(numel, fn);
            if (!host) return SS_ERR_NOMEM;
            SS_TRY(ss_tensor_read(host, ts[i]));
            p = host;
        }
        xxh64_update(&s, (const unsigned char *)p, (size_t)numel * sizeof(float));
    }
    *hash = xxh64_digest(&s);
    return SS_OK;
}

int ss_dist_compare(int *differ, int *n_differ, const ss_tensor *const *ts, int n)
{
    const char *fn = "ss_dist_compare";
    if (!differ || !n_differ) return SS_FAIL(SS_ERR_ARG, "%s: differ or n_differ is NULL", fn);
    static uint64_t mine; /* static: a request that timed out may still read it */
    SS_TRY(ss_dist_hash(&mine, ts, n));
    SS_TRY(ss_dist_check_usable(fn));
    *n_differ = 0;
    differ[0] = 0;
    if (!ss_dist_world.active) return SS_OK;
#ifdef SS_WITH_MPI
    const int size = ss_dist_world.size;
    uint64_t *all = ss_alloc((size_t)size * sizeof(uint64_t), fn);
    if (!all) return SS_ERR_NOMEM;
    MPI_Request req;
    int rc = MPI_Iallgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, ss_dist_world.comm, &req);
    if (rc != MPI_SUCCESS) {
        ss_free(all);
        return ss_dist_mpi_fail(rc, fn, "MPI_Iallgather");
    }
    rc = ss_dist_wait(&req, fn, "MPI_Iallgather");
    if (rc < 0) {
        /* the request may still write into it: keep it (reachable) for the rest of the process */
        static uint64_t *volatile abandoned;
        abandoned = all;
        (void)abandoned;
        return rc;
    }
    for (int r = 0; r < size; r++) {
        differ[r] = all[r] != all[0];
        *n_differ += differ[r];
    }
    ss_free(all);
#endif
    return SS_OK;
}
