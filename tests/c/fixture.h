/* fixture.h — reader for the reference fixtures in tests/reference/ (".ssfx"),
 * written by the tests/reference/make_*_fixtures.py scripts.
 *
 * File format, all little-endian:
 *     magic   4 bytes "SSFX"
 *     count   uint32, the number of arrays
 *     count times:
 *         name_len  uint32, then name_len bytes of name (ASCII, no NUL)
 *         ndim      uint32
 *         shape     ndim x int64
 *         data      prod(shape) x float32, C order
 * Names are "<case>.<role>" (x input, y expected output, ...).
 *
 * fixture_load(path) reads a whole file (NULL with a message on stderr when it
 * is missing or malformed); fixture_get(fx, name) returns a new CPU tensor (1 to
 * 4 dims) or NULL; fixture_case(fx, i) the case name of array i (the part
 * before the last '.'). Header-only, for tests. Assumes a little-endian host. */
#ifndef SS_TEST_FIXTURE_H
#define SS_TEST_FIXTURE_H
#include "scalespace.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture_array {
    char name[128];
    int ndim;
    int64_t shape[8];
    int64_t numel;
    float *data;
} fixture_array;

typedef struct fixture {
    int count;
    fixture_array *arrays;
} fixture;

static inline void fixture_free(fixture *fx)
{
    if (!fx) return;
    for (int i = 0; i < fx->count; i++) free(fx->arrays[i].data);
    free(fx->arrays);
    free(fx);
}

static inline fixture *fixture_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fixture: cannot open %s (tests run from the repository root)\n", path);
        return NULL;
    }
    fixture *fx = calloc(1, sizeof *fx);
    char magic[4];
    uint32_t count = 0;
    int ok = fx && fread(magic, 1, 4, f) == 4 && memcmp(magic, "SSFX", 4) == 0 && fread(&count, 4, 1, f) == 1 &&
             count < 100000;
    if (ok) ok = (fx->arrays = calloc(count ? count : 1, sizeof *fx->arrays)) != NULL;
    for (uint32_t i = 0; ok && i < count; i++) {
        fixture_array *a = &fx->arrays[i];
        uint32_t len = 0, nd = 0;
        ok = fread(&len, 4, 1, f) == 1 && len < sizeof a->name && fread(a->name, 1, len, f) == len;
        if (ok) a->name[len] = '\0';
        ok = ok && fread(&nd, 4, 1, f) == 1 && nd <= 8 && fread(a->shape, 8, nd, f) == nd;
        a->ndim = (int)nd;
        a->numel = 1;
        for (uint32_t d = 0; ok && d < nd; d++) {
            ok = a->shape[d] >= 0 && a->shape[d] < ((int64_t)1 << 30);
            a->numel *= a->shape[d];
        }
        ok = ok && a->numel < ((int64_t)1 << 28) && (a->data = malloc((size_t)a->numel * 4 + 4)) != NULL &&
             fread(a->data, 4, (size_t)a->numel, f) == (size_t)a->numel;
        fx->count = (int)i + 1;
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "fixture: %s is malformed or truncated\n", path);
        fixture_free(fx);
        return NULL;
    }
    return fx;
}

static inline const fixture_array *fixture_find(const fixture *fx, const char *name)
{
    for (int i = 0; fx && i < fx->count; i++)
        if (strcmp(fx->arrays[i].name, name) == 0) return &fx->arrays[i];
    return NULL;
}

/* A new tensor with the array named "<case>.<role>", or NULL (message on stderr). */
static inline ss_tensor *fixture_get(const fixture *fx, const char *case_name, const char *role)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", case_name, role);
    const fixture_array *a = fixture_find(fx, name);
    if (!a || a->ndim < 1 || a->ndim > 4) {
        fprintf(stderr, "fixture: no array %s (or not 1 to 4 dims)\n", name);
        return NULL;
    }
    return ss_tensor_from_buffer(a->data, a->ndim, a->shape);
}

/* The case name of array i into buf (the name up to its last '.'). */
static inline const char *fixture_case(const fixture *fx, int i, char *buf, size_t n)
{
    snprintf(buf, n, "%s", fx->arrays[i].name);
    char *dot = strrchr(buf, '.');
    if (dot) *dot = '\0';
    return buf;
}

/* Calls fn(fx, case) for every case that has a ".x" array. */
static inline void fixture_each_case(const fixture *fx, void (*fn)(const fixture *, const char *))
{
    char c[128];
    for (int i = 0; fx && i < fx->count; i++) {
        const char *n = fx->arrays[i].name;
        size_t len = strlen(n);
        if (len > 2 && strcmp(n + len - 2, ".x") == 0) fn(fx, fixture_case(fx, i, c, sizeof c));
    }
}
#endif
