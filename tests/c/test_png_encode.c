/* test_png_encode.c — ss_image_encode_png: at scale 1 the bytes are those ss_image_save and
 * ss_image_save_grid write to a file; scaled, the decoded picture is the grid with every
 * pixel repeated as a block (nearest neighbour); a short buffer reports the size it needs;
 * bad arguments fail with messages. */
#include "check.h"

static ss_tensor *ramp(int ndim, const int64_t *shape)
{
    ss_tensor *t = need(ss_tensor_empty(ndim, shape, SS_CPU), "ramp");
    int64_t n = ss_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = (float)((i * 37) % 256) / 255.0f;
    return t;
}

/* The PNG of `images` in memory (malloc'd), its size in *n; NULL after a failed check. */
static unsigned char *encode(const ss_tensor *images, int nrow, int padding, float pad, int scale, size_t *n)
{
    size_t need_bytes = 0;
    int rc = ss_image_encode_png(NULL, 0, &need_bytes, images, nrow, padding, pad, scale);
    CHECK(rc == SS_ERR_ARG && need_bytes > 8, "an empty buffer reports the size: rc %d, need %zu", rc, need_bytes);
    unsigned char *buf = malloc(need_bytes);
    size_t got = 0;
    CHECK_OK(ss_image_encode_png(buf, need_bytes, &got, images, nrow, padding, pad, scale));
    CHECK(got == need_bytes, "the size reported %zu is the size written %zu", need_bytes, got);
    *n = got;
    return buf;
}

static void same_bytes(const char *label, const unsigned char *mem, size_t n, const char *path)
{
    size_t fn = 0;
    unsigned char *file = test_read_file(path, &fn);
    CHECK(file && fn == n && memcmp(file, mem, n) == 0, "%s: memory (%zu bytes) and file (%zu bytes) differ", label,
          n, fn);
    free(file);
}

static void test_same_as_files(void)
{
    char path[256];
    int64_t s3[3] = {3, 5, 7}, s4[4] = {5, 1, 4, 6};
    ss_tensor *img = ramp(3, s3), *batch = ramp(4, s4);
    size_t n;
    unsigned char *mem = encode(img, 8, 2, 1.0f, 1, &n);
    CHECK_OK(ss_image_save(test_tmp_path(path, "img.png"), img));
    same_bytes("image", mem, n, path);
    free(mem);
    mem = encode(batch, 2, 1, 0.25f, 1, &n);
    CHECK_OK(ss_image_save_grid(test_tmp_path(path, "grid.png"), batch, 2, 1, 0.25f));
    same_bytes("grid", mem, n, path);
    free(mem);
    ss_tensor_free(img), ss_tensor_free(batch);
}

static void test_scaled(void)
{
    char path[256];
    int64_t s4[4] = {3, 3, 4, 5};
    ss_tensor *batch = ramp(4, s4);
    const int scale = 3;
    size_t n;
    unsigned char *mem = encode(batch, 2, 1, 1.0f, scale, &n);
    test_write_file(test_tmp_path(path, "scaled.png"), mem, n);
    free(mem);
    CHECK_OK(ss_image_save_grid(test_tmp_path(path, "plain.png"), batch, 2, 1, 1.0f));
    ss_tensor *plain = ss_image_load(path), *big = ss_image_load(test_tmp_path(path, "scaled.png"));
    CHECK(plain && big, "decode: %s", ss_last_error());
    if (plain && big) {
        const int64_t C = plain->shape[0], H = plain->shape[1], W = plain->shape[2];
        CHECK(big->shape[0] == C && big->shape[1] == H * scale && big->shape[2] == W * scale,
              "scaled size %lldx%lld", (long long)big->shape[1], (long long)big->shape[2]);
        float *want = malloc(sizeof(float) * (size_t)(C * H * W * scale * scale));
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H * scale; y++)
                for (int64_t x = 0; x < W * scale; x++)
                    want[(c * H * scale + y) * W * scale + x] = plain->data[(c * H + y / scale) * W + x / scale];
        test_close("scale 3: every pixel a 3x3 block", big->data, want, (long)(C * H * W * scale * scale), 0);
        free(want);
    }
    ss_tensor_free(plain), ss_tensor_free(big), ss_tensor_free(batch);
}

static void test_bad_arguments(void)
{
    int64_t s2[2] = {4, 4}, s4[4] = {1, 2, 4, 4};
    ss_tensor *flat = ramp(2, s2), *two = ramp(4, s4);
    size_t n;
    unsigned char buf[64];
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, flat, 8, 2, 1, 1), "(C,H,W)");
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, two, 8, 2, 1, 1), "2 in shape");
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, NULL, 8, 2, 1, 1), "NULL");
    s4[1] = 1;
    ss_tensor *one = ramp(4, s4);
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, one, 8, 2, 1, 0), "scale");
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, one, 0, 2, 1, 1), "nrow");
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, NULL, one, 8, 2, 1, 1), "need");
    CHECK_FAILS(ss_image_encode_png(buf, 8, &n, one, 8, 2, 1, 1), "bytes");
    CHECK(n > 8, "a short buffer still reports the size: %zu", n);
    one->data[3] = NAN;
    CHECK_FAILS(ss_image_encode_png(buf, sizeof buf, &n, one, 8, 2, 1, 1), "NaN");
    ss_tensor_free(flat), ss_tensor_free(two), ss_tensor_free(one);
}

int main(void)
{
    if (test_tmpdir_make("ss_test_png_encode")) return 2;
    test_same_as_files();
    test_scaled();
    test_bad_arguments();
    test_tmpdir_remove();
    return test_summary("test_png_encode");
}
