/* test_safetensors.c — ss_safetensors_write / open / load: bit-exact round trips, the
 * reference implementation's known-answer bytes, dtype conversions, truncated and
 * corrupt files, per-tensor CRC-32C checksums and the refusal of non-finite values,
 * and the atomic write: a failed write (a blocked temporary file, ENOSPC, a writer
 * SIGKILLed at any byte) leaves the old file intact, and the next write removes the
 * dead writer's temporary file. */
#define _GNU_SOURCE
#include "check.h"
#include "io/io.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    CHECK_OK(ss_safetensors_allow_nonfinite(st, 1)); /* the specials */
    CHECK(ss_safetensors_count(st) == NT, "count %d", ss_safetensors_count(st));
    CHECK(ss_safetensors_checksum_count(st) == NT, "every tensor has a checksum: %d",
          ss_safetensors_checksum_count(st));
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
 * test_serialization, test_empty); test_serialization's tensor now carries its checksum,
 * which the crate would write the same way (metadata first, compact JSON). */
static void test_known_bytes(void)
{
    printf("known-answer bytes:\n");
    char path[256];
    test_tmp_path(path, "known.safetensors");
    /* CRC-32C of the 24 bytes of 0..5 as float32: 78743a5d (a bitwise Python implementation). */
    static const char header[] = "{\"__metadata__\":{\"ss.crc32c.attn.0\":\"78743a5d\"},"
                                 "\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    const size_t hlen = sizeof header - 1, padded = (hlen + 7) / 8 * 8;
    unsigned char expect[8 + 128 + 24];
    float v[6] = {0, 1, 2, 3, 4, 5};
    for (int i = 0; i < 8; i++) expect[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(expect + 8, header, hlen);
    memset(expect + 8 + hlen, ' ', padded - hlen);
    memcpy(expect + 8 + padded, v, 24);
    ss_tensor *t = need(ss_tensor_from_buffer(v, 3, (int64_t[]){1, 2, 3}), "a tensor");
    const char *names[1] = {"attn.0"};
    const ss_tensor *ts[1] = {t};
    CHECK_OK(ss_safetensors_write(path, names, ts, 1, NULL, NULL, 0));
    size_t n = 0;
    unsigned char *got = test_read_file(path, &n);
    CHECK(n == 8 + padded + 24 && memcmp(got, expect, n) == 0, "attn.0: %zu bytes differ from the expected %zu", n,
          8 + padded + 24);
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
    CHECK(ss_safetensors_checksum_count(st) == 0, "a file without checksums");
    /* h holds +inf at index 5 and d overflows to +inf: refused until allowed. */
    ss_clear_error();
    CHECK(ss_safetensors_load(st, "h") == NULL && ss_last_status() == SS_ERR_NUMERIC &&
              strstr(ss_last_error(), "\"h\" holds +inf at flat index 5") && strstr(ss_last_error(), path),
          "non-finite F16 refused: %s", ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    CHECK(ss_safetensors_load(st, "d") == NULL && ss_last_status() == SS_ERR_NUMERIC, "F64 1e40 -> inf refused");
    CHECK_OK(ss_safetensors_allow_nonfinite(st, 1));
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

/* ------------------------------------------------------------ checksums */

static void test_crc32c(ss_rng *g)
{
    printf("CRC-32C:\n");
    /* RFC 3720 B.4 and the common check value. */
    unsigned char zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    CHECK(ss_crc32c(0, "123456789", 9) == 0xE3069283u, "check value: %08x", ss_crc32c(0, "123456789", 9));
    CHECK(ss_crc32c(0, zeros, 32) == 0x8A9136AAu, "32 zeros: %08x", ss_crc32c(0, zeros, 32));
    CHECK(ss_crc32c(0, ones, 32) == 0x62A8AB43u, "32 x 0xff: %08x", ss_crc32c(0, ones, 32));
    CHECK(ss_crc32c_portable(0, "123456789", 9) == 0xE3069283u, "portable check value");
    CHECK(ss_crc32c(0, NULL, 0) == 0, "empty");
    /* The build's version (SSE4.2 where targeted) equals the table version at every
     * alignment and length, and continues across split points. */
    ss_tensor *r = need(ss_tensor_empty(1, (int64_t[]){1024}, SS_CPU), "a tensor");
    ss_rng_uniform(g, r, -1e6f, 1e6f);
    const unsigned char *b = (const unsigned char *)r->data;
    int bad = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len < 300; len += 1 + len / 8) {
            uint32_t a = ss_crc32c(0, b + off, len), p = ss_crc32c_portable(0, b + off, len);
            uint32_t split = ss_crc32c(ss_crc32c(0, b + off, len / 3), b + off + len / 3, len - len / 3);
            bad += a != p || a != split;
        }
    CHECK(bad == 0, "%d mismatches between the hardware/table versions or across splits", bad);
    CHECK(ss_crc32c(0, b, 4096) == ss_crc32c_portable(0, b, 4096), "4 KiB");
    printf("  RFC 3720 vectors; the build's CRC-32C equals the table version at 8 alignments x 47 lengths\n");
    ss_tensor_free(r);
}

/* Flips one bit at offset `at` of the file. */
static void flip_bit(const char *path, size_t at)
{
    size_t n = 0;
    unsigned char *bytes = test_read_file(path, &n);
    if (bytes && at < n) bytes[at] ^= 0x04;
    if (bytes) test_write_file(path, bytes, n);
    free(bytes);
}

static void test_checksums(ss_rng *g)
{
    printf("checksums and non-finite values:\n");
    char path[256];
    test_tmp_path(path, "crc.safetensors");
    ss_tensor *a = need(ss_tensor_empty(2, (int64_t[]){16, 16}, SS_CPU), "a tensor");
    ss_tensor *b = need(ss_tensor_empty(1, (int64_t[]){100}, SS_CPU), "a tensor");
    ss_rng_normal(g, a, 0, 1);
    ss_rng_normal(g, b, 0, 1);
    const char *names[2] = {"a", "b"};
    const ss_tensor *ts[2] = {a, b};
    const char *k[1] = {"step"}, *v[1] = {"7"};
    CHECK_OK(ss_safetensors_write(path, names, ts, 2, k, v, 1));
    ss_safetensors *st = ss_safetensors_open(path);
    CHECK(st && ss_safetensors_checksum_count(st) == 2 && ss_safetensors_meta_count(st) == 1,
          "2 checksums, and only the caller's metadata listed");
    if (st) {
        CHECK(ss_safetensors_meta(st, "ss.crc32c.a") == NULL, "checksums are not metadata to the caller");
        char hex[16];
        snprintf(hex, sizeof hex, "%08x", ss_crc32c(0, a->data, 16 * 16 * 4));
        printf("  \"a\" stored with CRC-32C %s\n", hex);
        ss_safetensors_close(st);
    }
    /* One bit flipped in b's data (the file's last 400 bytes). */
    size_t n = 0;
    free(test_read_file(path, &n));
    flip_bit(path, n - 37);
    st = ss_safetensors_open(path);
    CHECK(st != NULL, "the header is intact: %s", ss_last_error());
    if (st) {
        ss_clear_error();
        ss_tensor *t = ss_safetensors_load(st, "b");
        CHECK(t == NULL && ss_last_status() == SS_ERR_FORMAT && strstr(ss_last_error(), "\"b\" fails its checksum") &&
                  strstr(ss_last_error(), path),
              "a flipped bit is caught: %s", ss_last_error());
        printf("  expected failure: %s\n", ss_last_error());
        ss_tensor *into = need(ss_tensor_zeros(1, (int64_t[]){100}, SS_CPU), "a tensor");
        CHECK_FAILS(ss_safetensors_load_into(into, st, "b"), "fails its checksum");
        ss_tensor_free(into);
        t = ss_safetensors_load(st, "a");
        CHECK(t && memcmp(t->data, a->data, 16 * 16 * 4) == 0, "the intact tensor still loads");
        ss_tensor_free(t);
        ss_safetensors_close(st);
    }

    /* A checksum on an F16 entry (the converting path) in a hand-made file. */
    uint16_t h[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001};
    char header[256];
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"ss.crc32c.h\":\"%08X\"},\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
             ss_crc32c_portable(0, h, 8));
    write_st(path, header, h, 8);
    st = ss_safetensors_open(path);
    ss_tensor *t = st ? ss_safetensors_load(st, "h") : NULL;
    CHECK(t && t->data[2] == 65504.0f, "an F16 entry with an (upper-case) checksum loads: %s", ss_last_error());
    ss_tensor_free(t);
    ss_safetensors_close(st);
    h[3] = 0x0002;
    write_st(path, header, h, 8);
    st = ss_safetensors_open(path);
    ss_clear_error();
    CHECK(st && ss_safetensors_load(st, "h") == NULL && strstr(ss_last_error(), "fails its checksum"),
          "F16 data that does not match: %s", ss_last_error());
    ss_safetensors_close(st);

    /* Checksum entries that are not: no such tensor, not 8 hex digits. */
    static const char *const bad[][2] = {
        {"{\"__metadata__\":{\"ss.crc32c.x\":\"00000000\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "a checksum for \"x\", which is no tensor"},
        {"{\"__metadata__\":{\"ss.crc32c.a\":\"0000000g\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "not 8 hex digits"},
        {"{\"__metadata__\":{\"ss.crc32c.a\":\"000000000\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "not 8 hex digits"},
        {"{\"__metadata__\":{\"ss.crc32c.a\":\"00000000\",\"ss.crc32c.a\":\"00000000\"},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "appears twice"},
    };
    float one = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_st(path, bad[i][0], &one, 4);
        expect_open_fails(path, SS_ERR_FORMAT, bad[i][1]);
    }
    CHECK_FAILS(ss_safetensors_write(path, names, ts, 2, (const char *[]){"ss.crc32c.mine"}, v, 1), "reserved");

    /* NaN is refused at load, naming the tensor and the index, unless allowed. */
    b->data[42] = NAN;
    CHECK_OK(ss_safetensors_write(path, names, ts, 2, NULL, NULL, 0));
    st = ss_safetensors_open(path);
    if (st) {
        ss_clear_error();
        CHECK(ss_safetensors_load(st, "b") == NULL && ss_last_status() == SS_ERR_NUMERIC &&
                  strstr(ss_last_error(), "\"b\" holds NaN at flat index 42"),
              "NaN refused: %s", ss_last_error());
        printf("  expected failure: %s\n", ss_last_error());
        CHECK_OK(ss_safetensors_allow_nonfinite(st, 1));
        t = ss_safetensors_load(st, "b");
        CHECK(t && memcmp(t->data, b->data, 400) == 0, "allowed, the NaN loads bit for bit");
        ss_tensor_free(t);
        ss_safetensors_close(st);
    }
    CHECK_FAILS(ss_safetensors_allow_nonfinite(NULL, 1), "handle is NULL");
    ss_tensor_free(a);
    ss_tensor_free(b);
}

/* ------------------------------------------------------------ killed and failed writes */

static int same_file(const char *path, const unsigned char *bytes, size_t n)
{
    size_t m = 0;
    unsigned char *now = test_read_file(path, &m);
    int same = now && m == n && memcmp(now, bytes, n) == 0;
    free(now);
    return same;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A pid that no process has: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void test_killed_writes(ss_rng *g)
{
    printf("writers killed mid-write, ENOSPC, stale temporary files:\n");
    char path[256], tmp[300], other[300];
    test_tmp_path(path, "kill.safetensors");
    ss_tensor *w = need(ss_tensor_empty(2, (int64_t[]){64, 64}, SS_CPU), "a tensor");
    ss_tensor *w2 = need(ss_tensor_empty(2, (int64_t[]){64, 64}, SS_CPU), "a tensor");
    ss_rng_normal(g, w, 0, 1);
    ss_rng_normal(g, w2, 0, 1);
    const char *names[1] = {"w"};
    const ss_tensor *old_t[1] = {w}, *new_t[1] = {w2};
    CHECK_OK(ss_safetensors_write(path, names, old_t, 1, NULL, NULL, 0));
    size_t n = 0;
    unsigned char *before = test_read_file(path, &n);
    /* Kill points: the length, inside the header, its end, inside the data, the last data
     * byte, and inside the header's rewrite with the checksums (after all the data). */
    const size_t hdr = n - 64 * 64 * 4;
    const size_t points[] = {0, 5, hdr / 2, hdr, hdr + 1000, n - 1, n, n + (hdr - 8) / 2};
    int intact = 0;
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char at[32];
            snprintf(at, sizeof at, "%zu", points[i]);
            setenv("SS_FAULT_WRITE_KILL_AFTER", at, 1);
            ss_safetensors_write(path, names, new_t, 1, NULL, NULL, 0);
            _exit(3); /* the hook did not fire */
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer killed at byte %zu died by SIGKILL",
              points[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
        struct stat sb;
        CHECK(stat(tmp, &sb) == 0 && (size_t)sb.st_size == (points[i] < n ? points[i] : n),
              "killed at %zu: its temporary file holds what it wrote", points[i]);
        int ok = same_file(path, before, n);
        CHECK(ok, "killed at byte %zu: the previous checkpoint changed", points[i]);
        intact += ok;
        ss_safetensors *st = ss_safetensors_open(path);
        ss_tensor *t = st ? ss_safetensors_load(st, "w") : NULL;
        CHECK(t && memcmp(t->data, w->data, 64 * 64 * 4) == 0, "killed at %zu: the previous checkpoint loads",
              points[i]);
        ss_tensor_free(t);
        ss_safetensors_close(st);
        /* The next write removes the dead writer's temporary file. */
        if (i == 3) {
            CHECK_OK(ss_safetensors_write(path, names, old_t, 1, NULL, NULL, 0));
            CHECK(!exists(tmp), "the next write removed %s", tmp);
        }
    }
    printf("  %d writers SIGKILLed at bytes 0 .. %zu (header, data, checksum rewrite): the old file intact each "
           "time\n", intact, points[7]);

    /* Stale temporaries: a dead pid's goes, a live one's, another name, and a directory stay. */
    char live[300], odd[300], dir[340];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)dead_pid());
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    snprintf(odd, sizeof odd, "%s.tmp.12x", path);
    test_tmp_path(other, "other.safetensors");
    snprintf(dir, sizeof dir, "%s.tmp.%ld", other, (long)dead_pid());
    test_write_file(tmp, "x", 1);
    test_write_file(live, "x", 1);
    test_write_file(odd, "x", 1);
    test_write_file(dir, "x", 1); /* another checkpoint's: not ours to remove */
    CHECK_OK(ss_safetensors_write(path, names, old_t, 1, NULL, NULL, 0));
    CHECK(!exists(tmp), "a dead writer's temporary file is removed");
    CHECK(exists(live), "a live process's temporary file is kept");
    CHECK(exists(odd) && exists(dir), "other files are kept");
    remove(live);
    remove(odd);
    remove(dir);

    /* ENOSPC at several points: a clear error, the old file intact, no temporary file left. */
    for (size_t i = 0; i < 3; i++) {
        const size_t at[3] = {3, hdr + 5000, n + 2};
        char v[32];
        snprintf(v, sizeof v, "%zu", at[i]);
        setenv("SS_FAULT_WRITE_ENOSPC", v, 1);
        ss_clear_error();
        int rc = ss_safetensors_write(path, names, new_t, 1, NULL, NULL, 0);
        unsetenv("SS_FAULT_WRITE_ENOSPC");
        CHECK(rc == SS_ERR_IO && strstr(ss_last_error(), strerror(ENOSPC)) && strstr(ss_last_error(), path),
              "ENOSPC at %zu: %d %s", at[i], rc, ss_last_error());
        if (i == 1) printf("  expected failure: %s\n", ss_last_error());
        CHECK(same_file(path, before, n), "ENOSPC at %zu: the old file is intact", at[i]);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        CHECK(!exists(tmp), "ENOSPC at %zu: no temporary file is left", at[i]);
    }
    setenv("SS_FAULT_WRITE_KILL_AFTER", "twelve", 1);
    CHECK_FAILS(ss_safetensors_write(path, names, new_t, 1, NULL, NULL, 0), "SS_FAULT_WRITE_KILL_AFTER");
    unsetenv("SS_FAULT_WRITE_KILL_AFTER");
    CHECK(same_file(path, before, n), "a bad hook value writes nothing");
    free(before);
    ss_tensor_free(w);
    ss_tensor_free(w2);
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
    test_crc32c(&g);
    test_checksums(&g);
    test_killed_writes(&g);
    test_tmpdir_remove();
    return test_summary("test_safetensors");
}
