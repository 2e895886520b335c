/* test_safetensors.c — ss_safetensors_write / open / load: bit-exact round trips, the
 * reference implementation's known-answer bytes, dtype conversions, truncated and
 * corrupt files, and the atomic write (a failed write leaves the old file intact). */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file made of an 8-byte length, `header` padded with spaces to a multiple of 8,
 * and `ndata` bytes of data. */
static void write_st(const char *path, const char *header, const void *data, size_t ndata)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    unsigned char *buf = malloc(8 + padded + ndata + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, ' ', padded - h);
    if (ndata) memcpy(buf + 8 + padded, data, ndata);
    test_write_file(path, buf, 8 + padded + ndata);
    free(buf);
}

static int bits_equal(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* Expects ss_safetensors_open(path) to fail with `code` and a message naming the path and `needle`. */
static void expect_open_fails(const char *path, int code, const char *needle)
{
    ss_clear_error();
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st == NULL, "opening %s should fail", path);
    CHECK(ss_last_status() == code, "opening %s: status %d, expected %d (%s)", path, ss_last_status(), code,
          ss_last_error());
    CHECK(strstr(ss_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", ss_last_error(), needle);
    CHECK(strstr(ss_last_error(), path) != NULL, "message \"%s\" does not name %s", ss_last_error(), path);
    printf("  expected failure: %s\n", ss_last_error());
    ss_safetensors_close(st);
}

/* ------------------------------------------------------------ round trip */

#define NT 7

static void test_round_trip(ss_rng *g)
{
    printf("round trip:\n");
    char path[256];
    test_tmp_path(path, "round.safetensors");
    static const int64_t shapes[NT][4] = {{1}, {7}, {3, 5}, {2, 3, 4}, {2, 3, 4, 5}, {1, 1, 28, 28}, {4, 3, 64, 64}};
    static const int ndims[NT] = {1, 1, 2, 3, 4, 4, 4};
    const char *names[NT] = {"a.scalar", "b/bias", "conv.weight", "σ-table", "x \"quoted\"\\", "image", "big"};
    ss_tensor *ts[NT];
    for (int i = 0; i < NT; i++) {
        ts[i] = need(ss_tensor_empty(ndims[i], shapes[i], SS_CPU), "a tensor");
        CHECK_OK(ss_rng_normal(g, ts[i], 0.0f, 3.0f));
    }
    /* Values that a text or conversion path would change: NaN with a payload, -0, inf, subnormals. */
    uint32_t specials[6] = {0x7fc12345u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x00000001u, 0x807fffffu};
    memcpy(ts[2]->data, specials, sizeof specials);
    const char *keys[5] = {"step", "rng.seed", "note", "empty", "unicode ключ"};
    const char *values[5] = {"1000", "18446744073709551615", "line 1\nline \"2\"\t\\ \x01 end", "", "значение σ"};
    const ss_tensor *cts[NT];
    for (int i = 0; i < NT; i++) cts[i] = ts[i];
    CHECK_OK(ss_safetensors_write(path, names, cts, NT, keys, values, 5));

    size_t n = 0;
    unsigned char *bytes = test_read_file(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    int64_t data = 0;
    for (int i = 0; i < NT; i++) data += ss_tensor_numel(ts[i]) * 4;
    CHECK(hlen % 8 == 0 && bytes[8] == '{', "header length %llu is a multiple of 8 and starts with '{'",
          (unsigned long long)hlen);
    CHECK(n == 8 + hlen + (uint64_t)data, "file size %zu = 8 + %llu + %lld", n, (unsigned long long)hlen,
          (long long)data);
    free(bytes);

    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st != NULL, "open: %s", ss_last_error());
    if (!st) return;
    CHECK(ss_safetensors_count(st) == NT, "count %d", ss_safetensors_count(st));
    for (int i = 0; i < NT && i < ss_safetensors_count(st); i++) {
        CHECK(strcmp(ss_safetensors_name(st, i), names[i]) == 0, "entry %d is %s, expected %s", i,
              ss_safetensors_name(st, i), names[i]);
        CHECK(strcmp(ss_safetensors_dtype(st, i), "F32") == 0, "dtype %s", ss_safetensors_dtype(st, i));
        int64_t shape[SS_SAFETENSORS_MAX_DIMS];
        int nd = ss_safetensors_shape(shape, SS_SAFETENSORS_MAX_DIMS, st, i);
        CHECK(nd == ndims[i] && memcmp(shape, shapes[i], sizeof(int64_t) * (size_t)nd) == 0, "shape of %s",
              names[i]);
        CHECK(ss_safetensors_find(st, names[i]) == i, "find %s", names[i]);
        ss_tensor *t = ss_safetensors_load(st, names[i]);
        CHECK(t && ss_tensor_same_shape(t, ts[i]), "load %s: %s", names[i], ss_last_error());
        if (t) CHECK(bits_equal(t->data, ts[i]->data, ss_tensor_numel(t)), "%s is not bit-identical", names[i]);
        ss_tensor_free(t);
        /* load_into an existing tensor of the same shape */
        ss_tensor *into = need(ss_tensor_zeros(ndims[i], shapes[i], SS_CPU), "a tensor");
        CHECK_OK(ss_safetensors_load_into(into, st, names[i]));
        CHECK(bits_equal(into->data, ts[i]->data, ss_tensor_numel(into)), "load_into %s", names[i]);
        ss_tensor_free(into);
    }
    printf("  %d tensors (%lld bytes of data) bit-identical after write + load\n", NT, (long long)data);
    CHECK(ss_safetensors_meta_count(st) == 5, "meta count %d", ss_safetensors_meta_count(st));
    for (int i = 0; i < 5 && i < ss_safetensors_meta_count(st); i++) {
        CHECK(strcmp(ss_safetensors_meta_key(st, i), keys[i]) == 0, "meta key %d", i);
        CHECK(strcmp(ss_safetensors_meta_value(st, i), values[i]) == 0, "meta value %d: \"%s\"", i,
              ss_safetensors_meta_value(st, i));
        const char *v = ss_safetensors_meta(st, keys[i]);
        CHECK(v && strcmp(v, values[i]) == 0, "meta(%s)", keys[i]);
    }
    ss_clear_error();
    CHECK(ss_safetensors_meta(st, "nope") == NULL && ss_last_status() == SS_ERR_ARG, "missing key");
    CHECK_FAILS(ss_safetensors_find(st, "nope"), "no tensor named \"nope\"");
    CHECK(ss_safetensors_load(st, "nope") == NULL, "load of a missing name");
    CHECK(ss_safetensors_name(st, NT) == NULL && ss_last_status() == SS_ERR_ARG, "name out of range");
    CHECK(ss_safetensors_meta_key(st, -1) == NULL && ss_last_status() == SS_ERR_ARG, "meta key out of range");
    ss_tensor *wrong = need(ss_tensor_zeros(2, (int64_t[]){5, 3}, SS_CPU), "a tensor");
    CHECK_FAILS2(ss_safetensors_load_into(wrong, st, "conv.weight"), "(3,5)", "(5,3)");
    ss_tensor_free(wrong);

    /* The handle keeps reading the file it opened after a new one is renamed over the path. */
    const char *one[1] = {"other"};
    const ss_tensor *one_t[1] = {ts[0]};
    CHECK_OK(ss_safetensors_write(path, one, one_t, 1, NULL, NULL, 0));
    ss_tensor *again = ss_safetensors_load(st, "big");
    CHECK(again && bits_equal(again->data, ts[6]->data, ss_tensor_numel(ts[6])), "the open handle still reads the old file");
    ss_tensor_free(again);
    ss_safetensors_close(st);
    st = ss_safetensors_open(path);
    CHECK(st && ss_safetensors_count(st) == 1 && ss_safetensors_meta_count(st) == 0, "the new file");
    ss_safetensors_close(st);
    ss_safetensors_close(NULL);
    for (int i = 0; i < NT; i++) ss_tensor_free(ts[i]);
}

/* The byte strings of the reference implementation's own tests (safetensors/src/tensor.rs:
 * test_serialization, test_empty). */
static void test_known_bytes(void)
{
    printf("known-answer bytes:\n");
    char path[256];
    test_tmp_path(path, "known.safetensors");
    static const unsigned char expect[] = {
        64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,  34,  58,  123, 34,  100,
        116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,
        49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,
        58,  91,  48,  44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,  0,   0,   0,   64,
        0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
    float v[6] = {0, 1, 2, 3, 4, 5};
    ss_tensor *t = need(ss_tensor_from_buffer(v, 3, (int64_t[]){1, 2, 3}), "a tensor");
    const char *names[1] = {"attn.0"};
    const ss_tensor *ts[1] = {t};
    CHECK_OK(ss_safetensors_write(path, names, ts, 1, NULL, NULL, 0));
    size_t n = 0;
    unsigned char *got = test_read_file(path, &n);
    CHECK(n == sizeof expect && memcmp(got, expect, n) == 0, "attn.0: %zu bytes differ from the reference's", n);
    free(got);

    static const unsigned char empty[] = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32};
    CHECK_OK(ss_safetensors_write(path, NULL, NULL, 0, NULL, NULL, 0));
    got = test_read_file(path, &n);
    CHECK(n == sizeof empty && memcmp(got, empty, n) == 0, "empty file: %zu bytes", n);
    free(got);
    static const char framework[] = "{\"__metadata__\":{\"framework\":\"pt\"}}     ";
    const char *k[1] = {"framework"}, *val[1] = {"pt"};
    CHECK_OK(ss_safetensors_write(path, NULL, NULL, 0, k, val, 1));
    got = test_read_file(path, &n);
    CHECK(n == 48 && got[0] == 40 && memcmp(got + 8, framework, 40) == 0, "metadata-only file: %zu bytes", n);
    free(got);
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st && ss_safetensors_count(st) == 0 && ss_safetensors_meta_count(st) == 1, "metadata-only file reads");
    ss_safetensors_close(st);
    printf("  attn.0, {} and {\"__metadata__\"} match the reference implementation byte for byte\n");
    ss_tensor_free(t);
}

/* ------------------------------------------------------------ dtypes */

static void test_dtypes(void)
{
    printf("dtypes:\n");
    char path[256];
    test_tmp_path(path, "dtypes.safetensors");
    /* data: h F16[8] @0, b BF16[4] @16, d F64[3] @24, s F32[] @48, i I64[1] @52, z F32[0] @60, five F32[1,1,1,1,1] @60 */
    unsigned char data[64];
    uint16_t h[8] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x03FF};
    uint16_t b[4] = {0x3F80, 0xC040, 0x4049, 0x0001};
    double d[3] = {0.1, -1.0 / 3.0, 1e40};
    float s = 3.5f, five = -7.25f;
    int64_t i64 = 12345;
    memcpy(data, h, 16);
    memcpy(data + 16, b, 8);
    memcpy(data + 24, d, 24);
    memcpy(data + 48, &s, 4);
    memcpy(data + 52, &i64, 8);
    memcpy(data + 60, &five, 4);
    write_st(path,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]},"
             "\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[24,48]},"
             "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[48,52]},"
             "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[52,60]},"
             "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[60,60]},"
             "\"five\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[60,64]}}",
             data, sizeof data);
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st != NULL, "open: %s", ss_last_error());
    if (!st) return;
    CHECK(ss_safetensors_count(st) == 7, "7 entries");
    static const float hf[8] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, -0.0f, INFINITY, 0.333251953125f, 0x3FFp-24f};
    ss_tensor *t = ss_safetensors_load(st, "h");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 4 && bits_equal(t->data, hf, 8),
          "F16 converts exactly (normal, subnormal, -0, inf)");
    ss_tensor_free(t);
    static const float bf[4] = {1.0f, -3.0f, 3.140625f, 0x1p-133f};
    t = ss_safetensors_load(st, "b");
    CHECK(t && bits_equal(t->data, bf, 4), "BF16 converts exactly");
    ss_tensor_free(t);
    float df[3] = {(float)d[0], (float)d[1], (float)d[2]};
    t = ss_safetensors_load(st, "d");
    CHECK(t && bits_equal(t->data, df, 3) && isinf(t->data[2]), "F64 rounds to nearest float");
    ss_tensor_free(t);
    t = ss_safetensors_load(st, "s");
    CHECK(t && t->ndim == 1 && t->shape[0] == 1 && t->data[0] == 3.5f, "a scalar loads as (1)");
    ss_tensor_free(t);
    int64_t shape[SS_SAFETENSORS_MAX_DIMS];
    CHECK(ss_safetensors_shape(shape, SS_SAFETENSORS_MAX_DIMS, st, ss_safetensors_find(st, "s")) == 0, "scalar ndim 0");
    CHECK(ss_safetensors_shape(shape, 2, st, ss_safetensors_find(st, "five")) == 5, "ndim 5 reported");
    ss_clear_error();
    CHECK(ss_safetensors_load(st, "i") == NULL && ss_last_status() == SS_ERR_FORMAT &&
              strstr(ss_last_error(), "dtype I64"),
          "I64 is refused: %s", ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    CHECK(ss_safetensors_load(st, "z") == NULL && strstr(ss_last_error(), "no elements"), "empty: %s",
          ss_last_error());
    CHECK(ss_safetensors_load(st, "five") == NULL && strstr(ss_last_error(), "1 to 4 dimensions"), "5-D: %s",
          ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    ss_safetensors_close(st);
    printf("  F16, BF16, F64 and 0-d entries load as float32; I64, empty and 5-D entries are refused\n");
}

static void test_fixture(void)
{
    printf("PyTorch-tooling fixture:\n");
    const char *path = "tests/reference/checkpoint/torch_mixed.safetensors";
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st != NULL, "open %s: %s", path, ss_last_error());
    if (!st) return;
    CHECK(ss_safetensors_count(st) == 6, "6 entries");
    ss_tensor *t = ss_safetensors_load(st, "arange_f32");
    int ok = t && t->ndim == 3 && ss_tensor_numel(t) == 24;
    for (int i = 0; ok && i < 24; i++) ok = t->data[i] == (float)i;
    CHECK(ok, "arange_f32 is 0..23");
    ss_tensor_free(t);
    const char *stp = ss_safetensors_meta(st, "step");
    CHECK(stp && strcmp(stp, "1000") == 0, "step metadata");
    ss_safetensors_close(st);
}

/* ------------------------------------------------------------ damaged files */

static void test_truncated(ss_rng *g)
{
    printf("truncated files:\n");
    char path[256], cut[256];
    test_tmp_path(path, "whole.safetensors");
    test_tmp_path(cut, "cut.safetensors");
    ss_tensor *a = need(ss_tensor_empty(2, (int64_t[]){8, 9}, SS_CPU), "a tensor");
    ss_tensor *b = need(ss_tensor_empty(1, (int64_t[]){5}, SS_CPU), "a tensor");
    ss_rng_normal(g, a, 0, 1);
    ss_rng_normal(g, b, 0, 1);
    const char *names[2] = {"a", "b"};
    const ss_tensor *ts[2] = {a, b};
    const char *k[1] = {"epoch"}, *v[1] = {"12"};
    CHECK_OK(ss_safetensors_write(path, names, ts, 2, k, v, 1));
    size_t n = 0;
    unsigned char *bytes = test_read_file(path, &n);
    size_t hlen = bytes[0] | (size_t)bytes[1] << 8;
    size_t cuts[] = {0, 1, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 1, 8 + hlen + 4 * 72, n - 4, n - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        test_write_file(cut, bytes, cuts[c]);
        ss_clear_error();
        ss_safetensors *st = ss_safetensors_open(cut);
        CHECK(st == NULL && ss_last_status() == SS_ERR_FORMAT && strstr(ss_last_error(), "truncated"),
              "cut at %zu of %zu: status %d \"%s\"", cuts[c], n, ss_last_status(), ss_last_error());
        ss_safetensors_close(st);
        if (c == 0 || c == 4 || c == 9) printf("  cut at %4zu of %zu: %s\n", cuts[c], n, ss_last_error());
    }
    /* Trailing bytes after the data buffer. */
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, bytes, n);
    memset(longer + n, 0, 3);
    test_write_file(cut, longer, n + 3);
    expect_open_fails(cut, SS_ERR_FORMAT, "3 trailing bytes");
    free(longer);
    free(bytes);
    ss_tensor_free(a);
    ss_tensor_free(b);
}

static void test_corrupt(void)
{
    printf("corrupt headers:\n");
    char path[256];
    test_tmp_path(path, "corrupt.safetensors");
    unsigned char zeros[16] = {0};
    static const struct {
        const char *header;
        size_t ndata;
        const char *needle;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",", 0, "invalid JSON"},
        {"[1,2]", 0, "not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, "unexpected text"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "data buffer has 4 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8, "data buffer has 8 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 6 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "belong to no tensor"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "has no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "has no \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "has no \"data_offsets\""},
        {"{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"F17\""},
        {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "not [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "not [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before begin"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "not an integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, "not an array"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         "overflows"},
        {"{\"a\":[1]}", 0, "not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "\"a\" appears twice"},
        {"{\"__metadata__\":{\"step\":12}}", 0, "not a string"},
        {"{\"__metadata__\":[\"x\"]}", 0, "\"__metadata__\" is an array"},
        {"{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "invalid UTF-8"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_st(path, cases[c].header, zeros, cases[c].ndata);
        expect_open_fails(path, SS_ERR_FORMAT, cases[c].needle);
    }
    /* A header length beyond the format's limit, and one beyond the file. */
    unsigned char huge[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    test_write_file(path, huge, sizeof huge);
    expect_open_fails(path, SS_ERR_FORMAT, "exceeds the format's limit");
    unsigned char past[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    test_write_file(path, past, sizeof past);
    expect_open_fails(path, SS_ERR_FORMAT, "truncated");
    unsigned char nul[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', 0, ' ', ' ', ' ', ' '};
    test_write_file(path, nul, sizeof nul);
    expect_open_fails(path, SS_ERR_FORMAT, "NUL byte");
    /* Not a safetensors file at all: a PNG signature reads as a huge header length. */
    unsigned char png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    test_write_file(path, png, sizeof png);
    expect_open_fails(path, SS_ERR_FORMAT, "not a safetensors file");
    /* Accepted: whitespace padding of any kind, metadata null, zero-sized entries anywhere. */
    write_st(path,
             "{\n  \"__metadata__\": null,\n  \"e\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [0, 0]},\n"
             "  \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}\n}\n",
             zeros, 4);
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st && ss_safetensors_count(st) == 2 && ss_safetensors_meta_count(st) == 0, "pretty-printed header: %s",
          ss_last_error());
    ss_safetensors_close(st);
}

static void test_io_errors(void)
{
    printf("missing files and failed writes:\n");
    char path[256], tmp[300], other[256];
    expect_open_fails(test_tmp_path(path, "missing.safetensors"), SS_ERR_IO, "cannot open");
    expect_open_fails(test_tmpdir, SS_ERR_IO, "not a regular file");
    ss_clear_error();
    CHECK(ss_safetensors_open(NULL) == NULL && ss_last_status() == SS_ERR_ARG, "NULL path");

    /* Writing over an existing checkpoint whose temporary file cannot be created. */
    test_tmp_path(path, "keep.safetensors");
    float v[4] = {1, 2, 3, 4}, w[4] = {5, 6, 7, 8};
    ss_tensor *a = need(ss_tensor_from_buffer(v, 1, (int64_t[]){4}), "a tensor");
    ss_tensor *b = need(ss_tensor_from_buffer(w, 1, (int64_t[]){4}), "a tensor");
    const char *names[1] = {"x"};
    const ss_tensor *old_t[1] = {a}, *new_t[1] = {b};
    CHECK_OK(ss_safetensors_write(path, names, old_t, 1, NULL, NULL, 0));
    size_t n0 = 0, n1 = 0;
    unsigned char *before = test_read_file(path, &n0);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(mkdir(tmp, 0700) == 0, "mkdir %s: %s", tmp, strerror(errno));
    ss_clear_error();
    int rc = ss_safetensors_write(path, names, new_t, 1, NULL, NULL, 0);
    CHECK(rc == SS_ERR_IO && strstr(ss_last_error(), "cannot create temporary file"), "write over a blocked tmp: %d %s",
          rc, ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    unsigned char *after = test_read_file(path, &n1);
    CHECK(after && n0 == n1 && memcmp(before, after, n0) == 0, "the old checkpoint is intact");
    free(after);
    ss_safetensors *st = ss_safetensors_open(path);
    ss_tensor *x = st ? ss_safetensors_load(st, "x") : NULL;
    CHECK(x && bits_equal(x->data, v, 4), "the old checkpoint still loads with the old values");
    ss_tensor_free(x);
    ss_safetensors_close(st);
    rmdir(tmp);
    CHECK_OK(ss_safetensors_write(path, names, new_t, 1, NULL, NULL, 0));
    struct stat sb;
    CHECK(stat(tmp, &sb) != 0 && errno == ENOENT, "no temporary file is left behind");
    free(before);

    /* A path that is a directory, or a device, is not replaced. */
    CHECK_FAILS(ss_safetensors_write(test_tmpdir, names, new_t, 1, NULL, NULL, 0), "not a regular file");
    CHECK_FAILS(ss_safetensors_write("/dev/null", names, new_t, 1, NULL, NULL, 0), "not a regular file");

    /* A directory that does not exist. */
    snprintf(other, sizeof other, "%s/no/such/dir/x.safetensors", test_tmpdir);
    CHECK_FAILS(ss_safetensors_write(other, names, new_t, 1, NULL, NULL, 0), "cannot create temporary file");

    /* Argument errors create nothing. */
    test_tmp_path(other, "args.safetensors");
    const char *dup[2] = {"x", "x"}, *meta[1] = {"__metadata__"}, *bad[1] = {"bad\xc3"}, *emptyname[1] = {""};
    const ss_tensor *two[2] = {a, b}, *none[1] = {NULL};
    const char *keys[2] = {"k", "k"}, *vals[2] = {"1", "2"};
    CHECK_FAILS(ss_safetensors_write(other, dup, two, 2, NULL, NULL, 0), "\"x\" appears twice");
    CHECK_FAILS(ss_safetensors_write(other, meta, old_t, 1, NULL, NULL, 0), "reserves");
    CHECK_FAILS(ss_safetensors_write(other, bad, old_t, 1, NULL, NULL, 0), "not valid UTF-8");
    CHECK_FAILS(ss_safetensors_write(other, emptyname, old_t, 1, NULL, NULL, 0), "is empty");
    CHECK_FAILS(ss_safetensors_write(other, names, none, 1, NULL, NULL, 0), "is NULL");
    CHECK_FAILS(ss_safetensors_write(other, names, old_t, 1, keys, vals, 2), "metadata key \"k\" appears twice");
    CHECK_FAILS(ss_safetensors_write(other, names, old_t, 1, NULL, NULL, 1), "NULL");
    CHECK_FAILS(ss_safetensors_write(NULL, names, old_t, 1, NULL, NULL, 0), "path is NULL");
    ss_tensor *freed = need(ss_tensor_clone(a), "a tensor");
    ss_tensor_release(freed);
    const ss_tensor *fr[1] = {freed};
    CHECK_FAILS(ss_safetensors_write(other, names, fr, 1, NULL, NULL, 0), "was freed");
    ss_tensor_free(freed);
    CHECK(stat(other, &sb) != 0, "failed writes created nothing");
    ss_tensor_free(a);
    ss_tensor_free(b);
}

int main(void)
{
    uint64_t seed = 20250301;
    ss_rng g;
    if (test_seed("test_safetensors", &seed, &g)) return 2;
    if (test_tmpdir_make("ss_test_st")) return 1;
    test_round_trip(&g);
    test_known_bytes();
    test_dtypes();
    test_fixture();
    test_truncated(&g);
    test_corrupt();
    test_io_errors();
    test_tmpdir_remove();
    return test_summary("test_safetensors");
}
