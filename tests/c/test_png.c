/* test_png.c — ss_image_load / save / save_grid / convert_channels.
 *
 * Reference files of every PNG kind are written with libpng itself. Files whose
 * headers claim huge images are loaded under a memory cap (memlimit.h): they must
 * fail with the right message without allocating what they claim. */
#define _GNU_SOURCE
#include "check.h"
#include "memlimit.h"

#include <png.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference writer must not fail; libpng's message ends the test run. */
static void ref_error(png_structp png, png_const_charp msg)
{
    (void)png;
    fprintf(stderr, "reference PNG writer: %s\n", msg);
    exit(2);
}

typedef struct ref_png {
    int width, height, color_type, bit_depth, interlace;
    const png_byte *rows; /* height rows of packed samples, as PNG stores them */
    const png_color *palette;
    int npalette;
    const png_byte *trns; /* palette alphas */
    int ntrns;
    const png_color_16 *trns_color; /* grey or RGB transparent colour */
} ref_png;

static void write_ref_png(const char *path, const ref_png *r)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, ref_error, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)r->width, (png_uint_32)r->height, r->bit_depth, r->color_type,
                   r->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (r->palette) png_set_PLTE(png, info, r->palette, r->npalette);
    if (r->trns || r->trns_color) png_set_tRNS(png, info, r->trns, r->ntrns, r->trns_color);
    png_write_info(png, info);
    int channels = r->color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : r->color_type == PNG_COLOR_TYPE_RGB ? 3
                   : r->color_type == PNG_COLOR_TYPE_GRAY_ALPHA                                    ? 2
                                                                                                    : 1;
    size_t rowbytes = ((size_t)r->width * channels * r->bit_depth + 7) / 8;
    png_bytep *rows = malloc(sizeof *rows * (size_t)r->height);
    for (int y = 0; y < r->height; y++) rows[y] = (png_bytep)r->rows + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

#define REF(w, h, type, depth, ...) \
    (&(ref_png){.width = (w), .height = (h), .color_type = (type), .bit_depth = (depth), __VA_ARGS__})

/* ------------------------------------------------------------ helpers */

static int has_shape(const ss_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t want[4] = {a, b, c, d};
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

/* The 8-bit value a loaded sample came from (loading gives exactly b/255). */
static int byte_of(float v) { return (int)lrintf(v * 255.0f); }

/* Expects ss_image_load(path) to fail with a message holding both needles. */
static void expect_load_fails(const char *path, const char *needle, const char *needle2)
{
    ss_clear_error();
    ss_tensor *t = ss_image_load(path);
    CHECK(t == NULL, "ss_image_load(%s) should fail", path ? path : "NULL");
    CHECK(strstr(ss_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"", ss_last_error(), needle);
    if (needle2)
        CHECK(strstr(ss_last_error(), needle2) != NULL, "message \"%s\" lacks \"%s\"", ss_last_error(), needle2);
    printf("  expected failure: %s\n", ss_last_error());
    ss_tensor_free(t);
}

static ss_tensor *tensor_from(const float *v, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t shape[4] = {a, b, c, d};
    return ss_tensor_from_buffer(v, ndim, shape);
}

/* ------------------------------------------------------------ tests */

/* Values k/255 survive save + load exactly, for grey, RGB and RGBA. */
static void test_round_trip(void)
{
    char p[256];
    const int H = 7, W = 37;
    for (int C = 1; C <= 4; C++) {
        if (C == 2) continue;
        int64_t n = (int64_t)C * H * W;
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) v[i] = (float)((i * 37 + 11) % 256) / 255.0f;
        ss_tensor *t = tensor_from(v, 3, C, H, W, 1);
        snprintf(p, sizeof p, "%s/round%d.png", test_tmpdir, C);
        CHECK_OK(ss_image_save(p, t));
        ss_tensor *back = ss_image_load(p);
        CHECK(has_shape(back, 3, C, H, W, 1), "round trip C=%d: wrong shape", C);
        if (back) {
            char label[64];
            snprintf(label, sizeof label, "8-bit round trip, %d channel(s)", C);
            test_close(label, back->data, v, n, 0.0);
        }
        ss_tensor_free(back);
        ss_tensor_free(t);
        free(v);
    }
}

/* Every PNG kind libpng can write, read back with the documented channels. */
static void test_kinds(void)
{
    char p[256];
    enum { W = 5, H = 3 };
    png_byte rows[H * W * 8];
    float want[H * W * 4];

    /* grey + alpha, 8 bits */
    for (int i = 0; i < H * W * 2; i++) rows[i] = (png_byte)(i * 17 % 256);
    write_ref_png(test_tmp_path(p, "ga8.png"), REF(W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, .rows = rows));
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < H * W; i++) want[c * H * W + i] = (float)rows[2 * i + c] / 255.0f;
    ss_tensor *t = ss_image_load(p);
    CHECK(has_shape(t, 3, 2, H, W, 1), "grey+alpha: expected (2,%d,%d): %s", H, W, ss_last_error());
    if (t) test_close("grey+alpha 8-bit", t->data, want, 2 * H * W, 0.0);
    ss_tensor_free(t);

    /* grey, 16 bits (big-endian samples) */
    static const unsigned g16[] = {0, 1, 257, 12345, 32768, 65534, 65535};
    for (int i = 0; i < H * W; i++) {
        unsigned v = g16[i % 7];
        rows[2 * i] = (png_byte)(v >> 8), rows[2 * i + 1] = (png_byte)(v & 255);
        want[i] = (float)v / 65535.0f;
    }
    write_ref_png(test_tmp_path(p, "g16.png"), REF(W, H, PNG_COLOR_TYPE_GRAY, 16, .rows = rows));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 1, H, W, 1), "grey16: wrong shape: %s", ss_last_error());
    if (t) test_close("grey 16-bit (v/65535)", t->data, want, H * W, 0.0);
    ss_tensor_free(t);

    /* RGBA, 16 bits */
    for (int i = 0; i < H * W; i++)
        for (int c = 0; c < 4; c++) {
            unsigned v = (unsigned)(i * 4099 + c * 16411) % 65536;
            rows[8 * i + 2 * c] = (png_byte)(v >> 8), rows[8 * i + 2 * c + 1] = (png_byte)(v & 255);
            want[c * H * W + i] = (float)v / 65535.0f;
        }
    write_ref_png(test_tmp_path(p, "rgba16.png"), REF(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, .rows = rows));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 4, H, W, 1), "rgba16: wrong shape: %s", ss_last_error());
    if (t) test_close("RGBA 16-bit", t->data, want, 4 * H * W, 0.0);
    ss_tensor_free(t);

    /* RGBA, 8 bits */
    for (int i = 0; i < H * W * 4; i++) rows[i] = (png_byte)(i * 29 % 256);
    write_ref_png(test_tmp_path(p, "rgba8.png"), REF(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, .rows = rows));
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < H * W; i++) want[c * H * W + i] = (float)rows[4 * i + c] / 255.0f;
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 4, H, W, 1), "rgba8: wrong shape: %s", ss_last_error());
    if (t) test_close("RGBA 8-bit", t->data, want, 4 * H * W, 0.0);
    ss_tensor_free(t);

    /* palette with tRNS -> RGBA; indices past the tRNS entries are opaque */
    static const png_color pal[4] = {{255, 0, 0}, {0, 128, 0}, {0, 0, 255}, {10, 20, 30}};
    static const png_byte pal_alpha[2] = {0, 100};
    for (int i = 0; i < H * W; i++) {
        int k = i % 4;
        rows[i] = (png_byte)k;
        const png_byte rgb[3] = {pal[k].red, pal[k].green, pal[k].blue};
        for (int c = 0; c < 3; c++) want[c * H * W + i] = (float)rgb[c] / 255.0f;
        want[3 * H * W + i] = k < 2 ? (float)pal_alpha[k] / 255.0f : 1.0f;
    }
    write_ref_png(test_tmp_path(p, "pal_trns.png"),
                  REF(W, H, PNG_COLOR_TYPE_PALETTE, 8, .rows = rows, .palette = pal, .npalette = 4,
                      .trns = pal_alpha, .ntrns = 2));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 4, H, W, 1), "palette+tRNS: expected RGBA: %s", ss_last_error());
    if (t) test_close("palette 8-bit with tRNS -> RGBA", t->data, want, 4 * H * W, 0.0);
    ss_tensor_free(t);

    /* palette, 2 bits, no tRNS -> RGB */
    memset(rows, 0, sizeof rows);
    const int stride2 = (W * 2 + 7) / 8;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int k = (x + y) % 4;
            rows[y * stride2 + x / 4] |= (png_byte)(k << (6 - 2 * (x % 4)));
            const png_byte rgb[3] = {pal[k].red, pal[k].green, pal[k].blue};
            for (int c = 0; c < 3; c++) want[c * H * W + y * W + x] = (float)rgb[c] / 255.0f;
        }
    write_ref_png(test_tmp_path(p, "pal2.png"),
                  REF(W, H, PNG_COLOR_TYPE_PALETTE, 2, .rows = rows, .palette = pal, .npalette = 4));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 3, H, W, 1), "palette 2-bit: expected RGB: %s", ss_last_error());
    if (t) test_close("palette 2-bit -> RGB", t->data, want, 3 * H * W, 0.0);
    ss_tensor_free(t);

    /* grey at 1, 2 and 4 bits scales to the full 8-bit range */
    for (int depth = 1; depth <= 4; depth *= 2) {
        memset(rows, 0, sizeof rows);
        const int stride = (W * depth + 7) / 8, maxv = (1 << depth) - 1, per = 8 / depth;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int v = (x * 3 + y) % (maxv + 1);
                rows[y * stride + x / per] |= (png_byte)(v << (8 - depth * (x % per + 1)));
                want[y * W + x] = (float)(v * (255 / maxv)) / 255.0f;
            }
        char name[32];
        snprintf(name, sizeof name, "grey%d.png", depth);
        write_ref_png(test_tmp_path(p, name), REF(W, H, PNG_COLOR_TYPE_GRAY, depth, .rows = rows));
        t = ss_image_load(p);
        CHECK(has_shape(t, 3, 1, H, W, 1), "grey %d-bit: wrong shape: %s", depth, ss_last_error());
        char label[64];
        snprintf(label, sizeof label, "grey %d-bit expanded", depth);
        if (t) test_close(label, t->data, want, H * W, 0.0);
        ss_tensor_free(t);
    }

    /* grey with a tRNS colour -> grey + alpha */
    png_color_16 key = {0};
    key.gray = 7;
    for (int i = 0; i < H * W; i++) {
        rows[i] = (png_byte)(i % 3 == 0 ? 7 : 200 + i);
        want[i] = (float)rows[i] / 255.0f;
        want[H * W + i] = rows[i] == 7 ? 0.0f : 1.0f;
    }
    write_ref_png(test_tmp_path(p, "grey_trns.png"), REF(W, H, PNG_COLOR_TYPE_GRAY, 8, .rows = rows, .trns_color = &key));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 2, H, W, 1), "grey+tRNS: expected grey+alpha: %s", ss_last_error());
    if (t) test_close("grey 8-bit with tRNS colour -> grey+alpha", t->data, want, 2 * H * W, 0.0);
    ss_tensor_free(t);

    /* RGB, 16 bits, Adam7-interlaced, larger than one interlace block */
    enum { IW = 19, IH = 11 };
    png_byte *irows = malloc((size_t)IW * IH * 6);
    float *iwant = malloc(sizeof(float) * IW * IH * 3);
    for (int i = 0; i < IW * IH; i++)
        for (int c = 0; c < 3; c++) {
            unsigned v = (unsigned)(i * 7919 + c * 104729) % 65536;
            irows[6 * i + 2 * c] = (png_byte)(v >> 8), irows[6 * i + 2 * c + 1] = (png_byte)(v & 255);
            iwant[c * IW * IH + i] = (float)v / 65535.0f;
        }
    write_ref_png(test_tmp_path(p, "rgb16_adam7.png"),
                  REF(IW, IH, PNG_COLOR_TYPE_RGB, 16, .interlace = PNG_INTERLACE_ADAM7, .rows = irows));
    t = ss_image_load(p);
    CHECK(has_shape(t, 3, 3, IH, IW, 1), "interlaced: wrong shape: %s", ss_last_error());
    if (t) test_close("RGB 16-bit Adam7 interlaced", t->data, iwant, 3 * IW * IH, 0.0);
    ss_tensor_free(t);
    free(irows);
    free(iwant);
}

/* Clamping to [0,1] and rounding v*255 half up, as torchvision's save_image. */
static void test_rounding(void)
{
    char p[256];
    float v[600];
    int want[600], n = 0, halves = 0;
#define ADD(val, b) (v[n] = (val), want[n] = (b), n++)
    ADD(-1.0f, 0);
    ADD(-INFINITY, 0);
    ADD(0.0f, 0);
    ADD(-0.0f, 0);
    ADD(0.49f / 255.0f, 0);
    ADD(0.51f / 255.0f, 1);
    ADD(127.49f / 255.0f, 127);
    ADD(127.51f / 255.0f, 128);
    ADD(254.49f / 255.0f, 254);
    ADD(254.51f / 255.0f, 255);
    ADD(1.0f, 255);
    ADD(1.5f, 255);
    ADD(INFINITY, 255);
    for (int k = 0; k < 256; k++) ADD((float)k / 255.0f, k);
    /* Exact halves: where (k+0.5)/255 * 255 is k+0.5 in float, the result is k+1. */
    for (int k = 0; k < 255; k++) {
        float h = ((float)k + 0.5f) / 255.0f;
        if (h * 255.0f == (float)k + 0.5f) {
            ADD(h, k + 1);
            halves++;
        }
    }
#undef ADD
    CHECK(halves > 10, "only %d exact half cases", halves);
    ss_tensor *t = tensor_from(v, 3, 1, 1, n, 1);
    CHECK_OK(ss_image_save(test_tmp_path(p, "rounding.png"), t));
    ss_tensor *back = ss_image_load(p);
    CHECK(has_shape(back, 3, 1, 1, n, 1), "rounding: wrong shape");
    int bad = 0;
    for (int i = 0; back && i < n; i++)
        if (byte_of(back->data[i]) != want[i]) {
            if (bad++ < 5) CHECK(0, "value %.9g saved as %d, expected %d", v[i], byte_of(back->data[i]), want[i]);
        }
    printf("  clamp and round-half-up: %d values (%d exact halves), %d wrong\n", n, halves, bad);
    CHECK(bad == 0, "%d values rounded wrongly", bad);
    ss_tensor_free(back);
    ss_tensor_free(t);
}

/* Grid geometry as torchvision make_grid: padding around and between cells,
 * unused trailing cells filled with pad_value. */
static void test_grid(void)
{
    char p[256];
    enum { N = 5, C = 3, H = 2, W = 3, NROW = 2, PAD = 2 };
    float v[N * C * H * W];
    for (int k = 0; k < N; k++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    v[((k * C + c) * H + i) * W + j] = (float)(100 + k * 18 + c * 6 + i * 3 + j) / 255.0f;
    ss_tensor *b = tensor_from(v, 4, N, C, H, W);
    const float pad_value = 0.25f; /* 63.75 + 0.5 -> 64 */
    CHECK_OK(ss_image_save_grid(test_tmp_path(p, "grid.png"), b, NROW, PAD, pad_value));
    ss_tensor *g = ss_image_load(p);
    const int GH = 3 * (H + PAD) + PAD, GW = 2 * (W + PAD) + PAD; /* 14 x 12 */
    CHECK(has_shape(g, 3, C, GH, GW, 1), "grid: expected (3,%d,%d)", GH, GW);
    if (g && has_shape(g, 3, C, GH, GW, 1)) {
#define G(c, y, x) byte_of(g->data[((c) * GH + (y)) * GW + (x)])
#define IMG(k, c, i, j) (100 + (k) * 18 + (c) * 6 + (i) * 3 + (j))
        /* spot checks */
        CHECK(G(0, 0, 0) == 64 && G(2, GH - 1, GW - 1) == 64, "grid corners should be padding");
        CHECK(G(0, 1, 1) == 64 && G(1, 2, 1) == 64 && G(1, 1, 2) == 64, "padding above/left of image 0");
        CHECK(G(0, 2, 2) == IMG(0, 0, 0, 0), "image 0 top-left at (2,2): got %d", G(0, 2, 2));
        CHECK(G(1, 3, 4) == IMG(0, 1, 1, 2), "image 0 bottom-right at (3,4)");
        CHECK(G(0, 2, 5) == 64 && G(0, 2, 6) == 64, "padding between images 0 and 1");
        CHECK(G(0, 2, 7) == IMG(1, 0, 0, 0), "image 1 top-left at (2,7): got %d", G(0, 2, 7));
        CHECK(G(2, 6, 2) == IMG(2, 2, 0, 0), "image 2 top-left at (6,2)");
        CHECK(G(0, 10, 2) == IMG(4, 0, 0, 0), "image 4 top-left at (10,2)");
        CHECK(G(0, 10, 7) == 64 && G(2, 11, 9) == 64, "the empty sixth cell is padding");
        /* every pixel */
        int bad = 0;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < GH; y++)
                for (int x = 0; x < GW; x++) {
                    int cy = y - PAD, cx = x - PAD, expect = 64;
                    if (cy >= 0 && cx >= 0 && cy % (H + PAD) < H && cx % (W + PAD) < W) {
                        int k = cy / (H + PAD) * NROW + cx / (W + PAD);
                        if (k < N) expect = IMG(k, c, cy % (H + PAD), cx % (W + PAD));
                    }
                    bad += G(c, y, x) != expect;
                }
        CHECK(bad == 0, "grid: %d pixels differ from the make_grid layout", bad);
        printf("  grid 5 images, nrow 2, padding 2: %dx%d, %d pixels wrong\n", GW, GH, bad);
#undef G
#undef IMG
    }
    ss_tensor_free(g);
    ss_tensor_free(b);

    /* nrow larger than N, no padding, grey: the images side by side */
    float gv[3 * 2 * 2];
    for (int i = 0; i < 12; i++) gv[i] = (float)(i * 20) / 255.0f;
    b = tensor_from(gv, 4, 3, 1, 2, 2);
    CHECK_OK(ss_image_save_grid(test_tmp_path(p, "row.png"), b, 8, 0, 0.0f));
    g = ss_image_load(p);
    CHECK(has_shape(g, 3, 1, 2, 6, 1), "side-by-side grid: expected (1,2,6)");
    if (g && has_shape(g, 3, 1, 2, 6, 1)) {
        int bad = 0;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 6; x++) bad += byte_of(g->data[y * 6 + x]) != ((x / 2) * 4 + y * 2 + x % 2) * 20;
        CHECK(bad == 0, "side-by-side grid: %d pixels wrong", bad);
    }
    ss_tensor_free(g);
    ss_tensor_free(b);
}

static void test_convert(void)
{
    enum { N = 2, H = 2, W = 3, P = H * W };
    float in[N * 4 * P];
    for (int i = 0; i < N * 4 * P; i++) in[i] = (float)((i * 7) % 23) / 22.0f;
    static const int pairs[][2] = {{1, 3}, {3, 1}, {2, 1}, {4, 3}, {2, 3}, {4, 1}, {3, 3}, {1, 4}, {3, 4}};
    for (size_t t = 0; t < sizeof pairs / sizeof pairs[0]; t++) {
        int ci = pairs[t][0], co = pairs[t][1];
        ss_tensor *x = tensor_from(in, 4, N, ci, H, W);
        int64_t shape[4] = {N, co, H, W};
        ss_tensor *y = ss_tensor_full(4, shape, -7.0f, SS_CPU);
        CHECK_OK(ss_image_convert_channels(y, x));
        float want[N * 4 * P];
        for (int n = 0; n < N; n++)
            for (int i = 0; i < P; i++) {
                const float *s = in + n * ci * P;
                float r = s[i], g = ci >= 3 ? s[P + i] : r, b = ci >= 3 ? s[2 * P + i] : r;
                float *d = want + n * co * P;
                if (co >= 3) d[i] = r, d[P + i] = g, d[2 * P + i] = b;
                else d[i] = ci >= 3 ? 0.299f * r + 0.587f * g + 0.114f * b : r;
                if (co == 4) d[3 * P + i] = ci == 4 ? s[3 * P + i] : 1.0f;
            }
        char label[64];
        snprintf(label, sizeof label, "convert_channels %d -> %d", ci, co);
        test_close(label, y->data, want, N * co * P, 1e-6);
        ss_tensor_free(x);
        ss_tensor_free(y);
    }
    /* luma weights on a pure colour */
    float rgb[3] = {1.0f, 0.0f, 0.0f}, grey = 0;
    ss_tensor *x = tensor_from(rgb, 4, 1, 3, 1, 1), *y = ss_tensor_zeros(4, (int64_t[]){1, 1, 1, 1}, SS_CPU);
    CHECK_OK(ss_image_convert_channels(y, x));
    ss_tensor_read(&grey, y);
    CHECK(fabsf(grey - 0.299f) < 1e-7f, "luma of red = %g, expected 0.299", grey);
    ss_tensor_free(y);
    /* mismatched N, H or W; too many channels; NULL */
    y = ss_tensor_zeros(4, (int64_t[]){2, 1, 1, 1}, SS_CPU);
    CHECK_FAILS(ss_image_convert_channels(y, x), "equal N, H, W");
    ss_tensor_free(y);
    y = ss_tensor_zeros(4, (int64_t[]){1, 5, 1, 1}, SS_CPU);
    CHECK_FAILS(ss_image_convert_channels(y, x), "1 to 4");
    CHECK_FAILS(ss_image_convert_channels(NULL, x), "NULL");
    ss_tensor_free(y);
    ss_tensor_free(x);
}

/* Saving replaces an existing file whole and leaves no temporary behind; a
 * failed save leaves the old file as it was. */
static void test_overwrite(void)
{
    char p[256];
    test_tmp_path(p, "over.png");
    float a[4] = {0, 0.2f, 0.4f, 1}, b[4] = {1, 1, 0, 0};
    ss_tensor *ta = tensor_from(a, 3, 1, 2, 2, 1), *tb = tensor_from(b, 3, 1, 2, 2, 1);
    CHECK_OK(ss_image_save(p, ta));
    CHECK_OK(ss_image_save(p, tb));
    ss_tensor *back = ss_image_load(p);
    if (back) test_close("overwritten file holds the second image", back->data, b, 4, 0.0);
    ss_tensor_free(back);

    size_t before_n = 0, after_n = 0;
    unsigned char *before = test_read_file(p, &before_n);
    float nan_img[4] = {0, NAN, 0, 0};
    ss_tensor *tn = tensor_from(nan_img, 3, 1, 2, 2, 1);
    CHECK_FAILS(ss_image_save(p, tn), p);
    CHECK(strstr(ss_last_error(), "NaN") != NULL, "NaN message: %s", ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    unsigned char *after = test_read_file(p, &after_n);
    CHECK(before && after && before_n == after_n && memcmp(before, after, before_n) == 0,
          "a failed save changed the existing file");
    free(before);
    free(after);

    size_t need = 0;
    ss_dir_list(NULL, 0, &need, test_tmpdir, "");
    char *names = malloc(need);
    CHECK(ss_dir_list(names, need, &need, test_tmpdir, "") >= 0, "listing %s: %s", test_tmpdir, ss_last_error());
    CHECK(strstr(names, ".tmp.") == NULL, "a temporary file was left behind:\n%s", names);
    free(names);
    ss_tensor_free(ta);
    ss_tensor_free(tb);
    ss_tensor_free(tn);
}

static void test_bad_inputs(void)
{
    char p[256], q[256];
    /* missing file, no permission to read are I/O errors naming the path */
    expect_load_fails(test_tmp_path(p, "missing.png"), "cannot open", p);
    CHECK(ss_last_status() == SS_ERR_IO, "missing file: status %d", ss_last_status());
    expect_load_fails(test_tmpdir, "cannot read", test_tmpdir);
    expect_load_fails(NULL, "NULL", NULL);

    /* a text file named .png */
    const char text[] = "this is not an image, just text that happens to end in .png\n";
    test_write_file(test_tmp_path(p, "x.png"), text, sizeof text - 1);
    expect_load_fails(p, "not a PNG file (bad signature)", p);
    CHECK(ss_last_status() == SS_ERR_FORMAT, "text file: status %d", ss_last_status());
    test_write_file(test_tmp_path(p, "empty.png"), "", 0);
    expect_load_fails(p, "not a PNG file", p);

    /* a valid PNG cut in half, and cut inside the signature */
    enum { W = 40, H = 30 };
    float *noise = malloc(sizeof(float) * 3 * W * H);
    for (int i = 0; i < 3 * W * H; i++) noise[i] = (float)((i * 2654435761u) >> 24) / 255.0f;
    ss_tensor *t = tensor_from(noise, 3, 3, H, W, 1);
    CHECK_OK(ss_image_save(test_tmp_path(q, "whole.png"), t));
    size_t n = 0;
    unsigned char *bytes = test_read_file(q, &n);
    CHECK(bytes && n > 1000, "whole.png has %zu bytes", n);
    if (bytes) {
        test_write_file(test_tmp_path(p, "half.png"), bytes, n / 2);
        expect_load_fails(p, "truncated or corrupt PNG", p);
        CHECK(strstr(ss_last_error(), "unexpected end of file") != NULL, "half file: %s", ss_last_error());
        test_write_file(test_tmp_path(p, "sig.png"), bytes, 5);
        expect_load_fails(p, "truncated", p);
        /* no IEND: the pixels are all there but the file stops early */
        test_write_file(test_tmp_path(p, "noiend.png"), bytes, n - 12);
        expect_load_fails(p, "truncated or corrupt PNG", p);
        /* flipped bytes inside the image data: a CRC (or zlib) error */
        unsigned char *bad = malloc(n);
        memcpy(bad, bytes, n);
        for (size_t i = n / 2; i < n / 2 + 16; i++) bad[i] ^= 0x5a;
        test_write_file(test_tmp_path(p, "corrupt.png"), bad, n);
        expect_load_fails(p, "truncated or corrupt PNG", p);
        CHECK(strstr(ss_last_error(), "unexpected end of file") == NULL, "corrupt file reads as truncated");
        /* a corrupt IHDR (width 0) */
        memcpy(bad, bytes, n);
        memset(bad + 16, 0, 4);
        test_write_file(test_tmp_path(p, "ihdr.png"), bad, n);
        expect_load_fails(p, "truncated or corrupt PNG", p);
        free(bad);
    }
    free(bytes);
    free(noise);

    /* NULL arguments and wrong shapes for saving */
    CHECK_FAILS(ss_image_save(NULL, t), "path is NULL");
    CHECK_FAILS(ss_image_save(test_tmp_path(p, "null.png"), NULL), p);
    ss_tensor *c2 = ss_tensor_zeros(3, (int64_t[]){2, 4, 4}, SS_CPU);
    CHECK_FAILS(ss_image_save(test_tmp_path(p, "c2.png"), c2), "got 2");
    CHECK(strstr(ss_last_error(), p) != NULL, "C=2 message lacks the path: %s", ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    ss_tensor *flat = ss_tensor_zeros(2, (int64_t[]){4, 4}, SS_CPU);
    CHECK_FAILS(ss_image_save(test_tmp_path(p, "flat.png"), flat), "(C,H,W)");
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "g3.png"), t, 4, 2, 0.0f), "(N,C,H,W)");
    printf("  expected failure: %s\n", ss_last_error());
    ss_tensor *b4 = ss_tensor_zeros(4, (int64_t[]){2, 3, 4, 4}, SS_CPU);
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "g.png"), b4, 0, 2, 0.0f), "nrow");
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "g.png"), b4, 2, -1, 0.0f), "padding");
    CHECK_FAILS(ss_image_save_grid(NULL, b4, 2, 2, 0.0f), "path is NULL");
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "g.png"), NULL, 2, 2, 0.0f), p);
    ss_tensor *b2 = ss_tensor_zeros(4, (int64_t[]){2, 2, 4, 4}, SS_CPU);
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "g.png"), b2, 2, 2, 0.0f), "got 2");
    b4->data[37] = NAN;
    CHECK_FAILS(ss_image_save_grid(test_tmp_path(p, "gnan.png"), b4, 2, 2, 0.0f), "NaN");
    CHECK(strstr(ss_last_error(), p) != NULL, "NaN grid message lacks the path: %s", ss_last_error());
    /* a directory that does not exist */
    CHECK_FAILS(ss_image_save("/nonexistent-dir-ss/out.png", t), "/nonexistent-dir-ss/out.png");
    printf("  expected failure: %s\n", ss_last_error());
    ss_tensor_free(t);
    ss_tensor_free(c2);
    ss_tensor_free(flat);
    ss_tensor_free(b4);
    ss_tensor_free(b2);
}

/* ------------------------------------------------------------ size limits */

static size_t put_chunk(unsigned char *p, const char *type, const unsigned char *data, uint32_t n)
{
    p[0] = (unsigned char)(n >> 24), p[1] = (unsigned char)(n >> 16), p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uLong crc = crc32(0L, p + 4, 4 + n);
    for (int i = 0; i < 4; i++) p[8 + n + i] = (unsigned char)(crc >> (24 - 8 * i));
    return 12 + n;
}

/* A PNG file of a few dozen bytes whose IHDR claims w x h 8-bit RGB pixels, with an
 * IDAT holding the first 64 bytes of zeros only. */
static void write_claiming_png(const char *path, uint32_t w, uint32_t h, int interlace)
{
    unsigned char buf[256], ihdr[13], zeros[64] = {0}, idat[128];
    uLongf zn = sizeof idat;
    compress(idat, &zn, zeros, sizeof zeros);
    for (int i = 0; i < 4; i++) ihdr[i] = (unsigned char)(w >> (24 - 8 * i)), ihdr[4 + i] = (unsigned char)(h >> (24 - 8 * i));
    ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = (unsigned char)interlace;
    size_t n = 0;
    memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    n += put_chunk(buf + n, "IHDR", ihdr, 13);
    n += put_chunk(buf + n, "IDAT", idat, (uint32_t)zn);
    n += put_chunk(buf + n, "IEND", NULL, 0);
    test_write_file(path, buf, n);
}

static void crafted_claims(void)
{
    char p[256];
    write_claiming_png(test_tmp_path(p, "claims20k.png"), 20000, 20000, 0);
    expect_load_fails(p, "20000 x 20000 = 400000000 pixels exceed the limit of 268435456",
                      "ss.set_limit(\"image_pixels\", n)");
    CHECK(ss_last_status() == SS_ERR_NOMEM, "over the limit: status %d", ss_last_status());
    for (int interlace = 0; interlace <= 1; interlace++) {
        write_claiming_png(test_tmp_path(p, "claims16k.png"), 16000, 16000, interlace);
        expect_load_fails(p, "16000 x 16000 pixels need 768016000 bytes of image data", "file can inflate to");
        CHECK(ss_last_status() == SS_ERR_FORMAT, "a tiny file claiming 16000^2: status %d", ss_last_status());
    }
}

static void test_limits(void)
{
    char p[256];
    test_capped("headers claiming huge images", crafted_claims, 256);
    CHECK(ss_get_limit(SS_LIMIT_IMAGE_PIXELS) == (int64_t)1 << 28, "default limit %lld",
          (long long)ss_get_limit(SS_LIMIT_IMAGE_PIXELS));
    /* A valid 20 x 20 image against a limit of 399 and of 400 pixels. */
    ss_tensor *img = ss_tensor_full(3, (int64_t[]){3, 20, 20}, 0.5f, SS_CPU);
    CHECK_OK(ss_image_save(test_tmp_path(p, "limit.png"), img));
    CHECK_OK(ss_set_limit(SS_LIMIT_IMAGE_PIXELS, 399));
    expect_load_fails(p, "20 x 20 = 400 pixels exceed the limit of 399", "ss_set_limit(SS_LIMIT_IMAGE_PIXELS, n)");
    CHECK_OK(ss_set_limit(SS_LIMIT_IMAGE_PIXELS, 400));
    ss_tensor *back = ss_image_load(p);
    CHECK(back != NULL, "400 pixels under a limit of 400: %s", ss_last_error());
    CHECK_OK(ss_set_limit(SS_LIMIT_IMAGE_PIXELS, 0));
    CHECK(ss_get_limit(SS_LIMIT_IMAGE_PIXELS) == (int64_t)1 << 28, "0 restores the default");
    ss_tensor_free(back);
    ss_tensor_free(img);
}

int main(void)
{
    if (test_tmpdir_make("ss_test_png")) return 1;
    printf("png round trips:\n");
    test_round_trip();
    printf("png kinds:\n");
    test_kinds();
    printf("saving:\n");
    test_rounding();
    test_overwrite();
    printf("grids:\n");
    test_grid();
    printf("channels:\n");
    test_convert();
    printf("bad inputs:\n");
    test_bad_inputs();
    printf("size limits:\n");
    test_limits();
    test_tmpdir_remove();
    return test_summary("test_png");
}
