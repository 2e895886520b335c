/* png.c — PNG images as (C,H,W) float tensors in [0,1], via libpng.
 *
 * libpng reports errors by calling an error callback that must not return; ours
 * records the message and longjmps back. Every setjmp sits in a small function
 * whose state lives in a struct owned by the caller, so what the caller frees
 * never depends on locals a longjmp may have clobbered, no error escapes the
 * library, and nothing is printed (warnings are dropped).
 *
 * Loading keeps the samples as stored: no gamma or colour-space processing, so
 * an 8-bit value v reads as v/255 and a 16-bit one as v/65535. Saving rounds as
 * torchvision's save_image does (scale by 255, add 0.5, truncate) and writes a
 * temporary file that is renamed over the target, so readers never see half a
 * file and a failed save leaves an existing file untouched.
 *
 * Before the pixel buffer is allocated, the header's size is checked against
 * SS_LIMIT_IMAGE_PIXELS and against what the file can hold: its pixel data, at
 * SS_DEFLATE_MAX_RATIO bytes per compressed byte, must fit in the file's size, so a
 * tiny file claiming a huge image fails as truncated without allocating for it. */
#include "io/io.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PNG's own size limit (2^31 - 1) for each of width and height. */
#define PNG_DIM_MAX 0x7fffffffLL

/* I/O and error state shared by the libpng callbacks of one read or write. */
typedef struct png_session {
    FILE *fp;
    png_byte *mem;          /* writing to memory (fp NULL): mem[0..mem_cap) */
    size_t mem_cap, mem_len; /* mem_len counts every byte, also those past mem_cap */
    char msg[256]; /* libpng's (or our callbacks') error message */
    int io_errno;  /* nonzero when the OS failed, not the file's format */
} png_session;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_session *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg && msg[0] ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (bad ancillary chunks and the like) must not reach stderr */
}

/* Our own read callback so that a short file says so, rather than "Read Error". */
static void read_bytes(png_structp png, png_bytep data, size_t n)
{
    png_session *s = png_get_io_ptr(png);
    if (fread(data, 1, n, s->fp) == n) return;
    if (ferror(s->fp)) {
        s->io_errno = errno ? errno : EIO;
        png_error(png, strerror(s->io_errno));
    }
    png_error(png, "unexpected end of file");
}

static void write_bytes(png_structp png, png_bytep data, size_t n)
{
    png_session *s = png_get_io_ptr(png);
    if (!s->fp) { /* memory: keep counting past the end, so the caller learns the size */
        if (s->mem_len < s->mem_cap)
            memcpy(s->mem + s->mem_len, data, n < s->mem_cap - s->mem_len ? n : s->mem_cap - s->mem_len);
        s->mem_len += n;
        return;
    }
    if (fwrite(data, 1, n, s->fp) == n) return;
    s->io_errno = errno ? errno : EIO;
    png_error(png, strerror(s->io_errno));
}

static void flush_bytes(png_structp png)
{
    png_session *s = png_get_io_ptr(png);
    if (!s->fp) return;
    if (fflush(s->fp) == 0) return;
    s->io_errno = errno ? errno : EIO;
    png_error(png, strerror(s->io_errno));
}

/* ------------------------------------------------------------ loading */

typedef struct png_load {
    png_session io;
    png_structp png;
    png_infop info;
    png_bytep pixels; /* rows of channels*depth/8 bytes per pixel, interleaved */
    png_bytep *rows;
    uint32_t width, height;
    int channels, depth; /* after the transforms: 1..4 channels, 8 or 16 bits */
    size_t rowbytes;
    uint64_t file_bits; /* bits per row as stored in the file, before the transforms */
} png_load;

/* Reads the header and sets up the transforms: palette -> RGB, low bit depths
 * -> 8 bits, tRNS -> an alpha channel; 16 bits stay 16. */
static int load_header(png_load *ld)
{
    if (setjmp(png_jmpbuf(ld->png))) return -1;
    png_set_read_fn(ld->png, &ld->io, read_bytes);
    png_set_sig_bytes(ld->png, 8);
    png_read_info(ld->png, ld->info);
    ld->file_bits = (uint64_t)png_get_image_width(ld->png, ld->info) * png_get_channels(ld->png, ld->info) *
                    png_get_bit_depth(ld->png, ld->info);
    int type = png_get_color_type(ld->png, ld->info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(ld->png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(ld->png, ld->info) < 8)
        png_set_expand_gray_1_2_4_to_8(ld->png);
    if (png_get_valid(ld->png, ld->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(ld->png);
    png_set_interlace_handling(ld->png); /* Adam7 images come out whole */
    png_read_update_info(ld->png, ld->info);
    ld->width = png_get_image_width(ld->png, ld->info);
    ld->height = png_get_image_height(ld->png, ld->info);
    ld->channels = png_get_channels(ld->png, ld->info);
    ld->depth = png_get_bit_depth(ld->png, ld->info);
    ld->rowbytes = png_get_rowbytes(ld->png, ld->info);
    return 0;
}

/* Decodes all rows, then reads on to IEND so a file cut after its pixels is
 * still reported as truncated. */
static int load_pixels(png_load *ld)
{
    if (setjmp(png_jmpbuf(ld->png))) return -1;
    png_read_image(ld->png, ld->rows);
    png_read_end(ld->png, NULL);
    return 0;
}

/* Interleaved 8- or 16-bit (big-endian) samples to planar floats in [0,1]. */
static void load_to_planes(float *out, const png_load *ld)
{
    const int64_t C = ld->channels, H = ld->height, W = ld->width, plane = H * W;
    float lut8[256];
    for (int v = 0; v < 256; v++) lut8[v] = (float)v / 255.0f;
#pragma omp parallel for schedule(static) if (plane * C > 262144)
    for (int64_t y = 0; y < H; y++) {
        const png_byte *row = ld->rows[y];
        for (int64_t x = 0; x < W; x++)
            for (int64_t c = 0; c < C; c++) {
                float v;
                if (ld->depth == 16) {
                    const png_byte *p = row + 2 * (x * C + c);
                    v = (float)((unsigned)p[0] << 8 | p[1]) / 65535.0f;
                } else {
                    v = lut8[row[x * C + c]];
                }
                out[c * plane + y * W + x] = v;
            }
    }
}

static void load_cleanup(png_load *ld)
{
    if (ld->png) png_destroy_read_struct(&ld->png, ld->info ? &ld->info : NULL, NULL);
    free(ld->rows);
    free(ld->pixels);
    if (ld->io.fp) fclose(ld->io.fp);
}

/* The status and message for a failed libpng call during loading. */
static int load_failure(const png_load *ld, const char *path)
{
    if (ld->io.io_errno)
        return SS_FAIL(SS_ERR_IO, "ss_image_load: %s: read error: %s", path, ld->io.msg);
    return SS_FAIL(SS_ERR_FORMAT, "ss_image_load: %s: truncated or corrupt PNG: %s", path, ld->io.msg);
}

ss_tensor *ss_image_load(const char *path)
{
    if (!path) return SS_FAIL_NULL(SS_ERR_ARG, "ss_image_load: path is NULL");
    png_load ld;
    memset(&ld, 0, sizeof ld);
    ss_tensor *img = NULL;
    ld.io.fp = fopen(path, "rb");
    if (!ld.io.fp) return SS_FAIL_NULL(SS_ERR_IO, "ss_image_load: %s: cannot open: %s", path, strerror(errno));

    /* The signature is checked here so that "not a PNG" and "broken PNG" differ. */
    png_byte sig[8];
    size_t nsig = fread(sig, 1, sizeof sig, ld.io.fp);
    if (nsig < sizeof sig && ferror(ld.io.fp)) {
        SS_FAIL(SS_ERR_IO, "ss_image_load: %s: cannot read: %s", path, strerror(errno ? errno : EIO));
        goto done;
    }
    if (nsig == 0) {
        SS_FAIL(SS_ERR_FORMAT, "ss_image_load: %s: not a PNG file (empty file)", path);
        goto done;
    }
    if (png_sig_cmp(sig, 0, nsig) != 0) {
        SS_FAIL(SS_ERR_FORMAT, "ss_image_load: %s: not a PNG file (bad signature)", path);
        goto done;
    }
    if (nsig < sizeof sig) {
        SS_FAIL(SS_ERR_FORMAT, "ss_image_load: %s: truncated or corrupt PNG: file ends inside the signature", path);
        goto done;
    }

    ld.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ld.io, on_png_error, on_png_warning);
    if (ld.png) ld.info = png_create_info_struct(ld.png);
    if (!ld.png || !ld.info) {
        SS_FAIL(SS_ERR_NOMEM, "ss_image_load: %s: out of memory creating the libpng reader", path);
        goto done;
    }
    if (load_header(&ld) < 0) {
        load_failure(&ld, path);
        goto done;
    }
    if (ld.channels < 1 || ld.channels > 4 || (ld.depth != 8 && ld.depth != 16) ||
        ld.rowbytes < (size_t)ld.width * (size_t)ld.channels * (size_t)(ld.depth / 8)) {
        SS_FAIL(SS_ERR_FORMAT, "ss_image_load: %s: unsupported PNG layout (%d channels of %d bits)", path,
                ld.channels, ld.depth);
        goto done;
    }
    const uint64_t pixels = (uint64_t)ld.width * ld.height;
    const int64_t limit = ss_get_limit(SS_LIMIT_IMAGE_PIXELS);
    if (pixels > (uint64_t)limit) {
        SS_FAIL(SS_ERR_NOMEM,
                "ss_image_load: %s: %u x %u = %llu pixels exceed the limit of %lld (SS_LIMIT_IMAGE_PIXELS; raise it "
                "with ss_set_limit(SS_LIMIT_IMAGE_PIXELS, n) in C or ss.set_limit(\"image_pixels\", n) in Lua)",
                path, ld.width, ld.height, (unsigned long long)pixels, (long long)limit);
        goto done;
    }
    /* The stored rows (a filter byte each) must be something the file can inflate to. */
    struct stat sb;
    const uint64_t stored = ((ld.file_bits + 7) / 8 + 1) * ld.height;
    if (fstat(fileno(ld.io.fp), &sb) == 0 && S_ISREG(sb.st_mode) &&
        stored / SS_DEFLATE_MAX_RATIO > (uint64_t)sb.st_size) {
        SS_FAIL(SS_ERR_FORMAT,
                "ss_image_load: %s: truncated or corrupt PNG: %u x %u pixels need %llu bytes of image data, more than "
                "a %lld-byte file can inflate to",
                path, ld.width, ld.height, (unsigned long long)stored, (long long)sb.st_size);
        goto done;
    }
    if (ld.height > 0 && ld.rowbytes > SIZE_MAX / ld.height) {
        SS_FAIL(SS_ERR_NOMEM, "ss_image_load: %s: image of %u x %u pixels is too large", path, ld.width,
                ld.height);
        goto done;
    }
    ld.pixels = malloc(ld.rowbytes * ld.height);
    ld.rows = malloc(sizeof *ld.rows * ld.height);
    if (!ld.pixels || !ld.rows) {
        SS_FAIL(SS_ERR_NOMEM, "ss_image_load: %s: out of memory for %u x %u pixels", path, ld.width, ld.height);
        goto done;
    }
    for (uint32_t y = 0; y < ld.height; y++) ld.rows[y] = ld.pixels + (size_t)y * ld.rowbytes;
    if (load_pixels(&ld) < 0) {
        load_failure(&ld, path);
        goto done;
    }
    int64_t shape[3] = {ld.channels, ld.height, ld.width};
    img = ss_tensor_empty(3, shape, SS_CPU);
    if (img) load_to_planes(img->data, &ld);
    else SS_FAIL(SS_ERR_NOMEM, "ss_image_load: %s: out of memory for a %d x %u x %u image", path, ld.channels,
                 ld.height, ld.width);
done:
    load_cleanup(&ld);
    return img;
}

/* ------------------------------------------------------------ saving */

/* torchvision's rounding: clamp, scale by 255, add 0.5, truncate (halves round up). */
static inline png_byte to_byte(float v)
{
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    return (png_byte)(v * 255.0f + 0.5f);
}

/* Host values of t: t->data itself on the cpu, else a copy in *copy to free. */
static const float *host_values(const ss_tensor *t, float **copy)
{
    *copy = NULL;
    if (t->device == SS_CPU) return t->data;
    float *buf = ss_alloc((size_t)ss_tensor_numel(t) * sizeof(float), "an image copy on the host");
    if (!buf) return NULL;
    if (ss_tensor_read(buf, t) < 0) {
        ss_free(buf);
        return NULL;
    }
    *copy = buf;
    return buf;
}

/* SS_ERR_NUMERIC naming the file and the first NaN of x[0..n), if any. */
static int check_no_nan(const char *op, const char *path, const float *x, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return SS_FAIL(SS_ERR_NUMERIC, "%s: %s: %s contains NaN at flat index %lld; nothing was written", op,
                           path, what, (long long)i);
    return SS_OK;
}

typedef struct png_store {
    png_session io;
    png_structp png;
    png_infop info;
} png_store;

static int store_encode(png_store *st, const png_byte *hwc, int C, uint32_t H, uint32_t W)
{
    if (setjmp(png_jmpbuf(st->png))) return -1;
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(st->png, &st->io, write_bytes, flush_bytes);
    png_set_user_limits(st->png, (png_uint_32)PNG_DIM_MAX, (png_uint_32)PNG_DIM_MAX);
    png_set_IHDR(st->png, st->info, W, H, 8, types[C], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(st->png, st->info);
    for (uint32_t y = 0; y < H; y++) png_write_row(st->png, hwc + (size_t)y * W * (size_t)C);
    png_write_end(st->png, st->info);
    return 0;
}

/* Writes 8-bit interleaved pixels (H,W,C) to "<path>.tmp.<pid>", flushes it to
 * disk and renames it over path; on any failure the temporary file is removed. */
static int save_bytes(const char *op, const char *path, const png_byte *hwc, int C, int64_t H, int64_t W)
{
    if (H > PNG_DIM_MAX || W > PNG_DIM_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: %lld x %lld pixels exceeds PNG's limit of 2^31-1 per side", op, path,
                       (long long)W, (long long)H);
    size_t tmplen = strlen(path) + 32;
    char *tmp = malloc(tmplen);
    if (!tmp) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());

    int rc = SS_OK;
    png_store st;
    memset(&st, 0, sizeof st);
    st.io.fp = fopen(tmp, "wb");
    if (!st.io.fp) {
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot create temporary file %s: %s", op, path, tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    st.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st.io, on_png_error, on_png_warning);
    if (st.png) st.info = png_create_info_struct(st.png);
    if (!st.png || !st.info) rc = SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory creating the libpng writer", op, path);
    else if (store_encode(&st, hwc, C, (uint32_t)H, (uint32_t)W) < 0)
        rc = SS_FAIL(st.io.io_errno ? SS_ERR_IO : SS_ERR_FORMAT, "%s: %s: cannot write PNG: %s", op, path, st.io.msg);
    if (st.png) png_destroy_write_struct(&st.png, st.info ? &st.info : NULL);

    /* fsync before rename: after a crash the name shows the old file or the whole new one. */
    if (rc == SS_OK && (fflush(st.io.fp) != 0 || ferror(st.io.fp) || fsync(fileno(st.io.fp)) != 0))
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot write %s: %s", op, path, tmp, strerror(errno ? errno : EIO));
    if (fclose(st.io.fp) != 0 && rc == SS_OK)
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot close %s: %s", op, path, tmp, strerror(errno));
    if (rc == SS_OK && rename(tmp, path) != 0)
        rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot rename %s over it: %s", op, path, tmp, strerror(errno));
    if (rc != SS_OK) remove(tmp);
    free(tmp);
    return rc;
}

/* Planar floats (C,H,W) into an interleaved byte image whose rows are `stride`
 * bytes apart, at `dst` (the image's top-left pixel). */
static void planes_to_bytes(png_byte *dst, size_t stride, const float *src, int C, int64_t H, int64_t W)
{
    const int64_t plane = H * W;
#pragma omp parallel for schedule(static) if (plane * C > 262144)
    for (int64_t y = 0; y < H; y++) {
        png_byte *row = dst + (size_t)y * stride;
        for (int64_t x = 0; x < W; x++)
            for (int c = 0; c < C; c++) row[x * C + c] = to_byte(src[c * plane + y * W + x]);
    }
}

static int check_channels(const char *op, const char *path, const ss_tensor *t, int ndim, const char *layout)
{
    char s[96];
    if (t->ndim != ndim)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: expected a %s tensor, got shape %s", op, path, layout,
                       ss_shape_str(s, sizeof s, t));
    int64_t C = t->shape[ndim - 3];
    if (C != 1 && C != 3 && C != 4)
        return SS_FAIL(SS_ERR_ARG,
                       "%s: %s: PNG images are saved with 1 (grey), 3 (RGB) or 4 (RGBA) channels, got %lld "
                       "in shape %s; convert with ss_image_convert_channels",
                       op, path, (long long)C, ss_shape_str(s, sizeof s, t));
    return SS_OK;
}

int ss_image_save(const char *path, const ss_tensor *img)
{
    if (!path) return SS_FAIL(SS_ERR_ARG, "ss_image_save: path is NULL");
    if (!img) return SS_FAIL(SS_ERR_ARG, "ss_image_save: %s: image tensor is NULL", path);
    SS_TRY(check_channels("ss_image_save", path, img, 3, "(C,H,W)"));
    const int C = (int)img->shape[0];
    const int64_t H = img->shape[1], W = img->shape[2];
    float *copy;
    const float *src = host_values(img, &copy);
    if (!src) return ss_last_status();
    int rc = check_no_nan("ss_image_save", path, src, ss_tensor_numel(img), "the image");
    png_byte *hwc = NULL;
    if (rc == SS_OK) {
        hwc = ss_alloc((size_t)(C * H * W), "the 8-bit image");
        if (!hwc) rc = ss_last_status();
    }
    if (rc == SS_OK) {
        planes_to_bytes(hwc, (size_t)(W * C), src, C, H, W);
        rc = save_bytes("ss_image_save", path, hwc, C, H, W);
    }
    ss_free(hwc);
    ss_free(copy);
    return rc;
}

/* The 8-bit interleaved grid (*gh,*gw,C) of a batch (N,C,H,W), into *grid (to ss_free). */
static int grid_bytes(const char *op, const char *path, const ss_tensor *batch, int nrow, int padding,
                      float pad_value, png_byte **grid, int64_t *gh, int64_t *gw)
{
    *grid = NULL;
    if (nrow < 1) return SS_FAIL(SS_ERR_ARG, "%s: %s: nrow must be >= 1, got %d", op, path, nrow);
    if (padding < 0) return SS_FAIL(SS_ERR_ARG, "%s: %s: padding must be >= 0, got %d", op, path, padding);
    if (isnan(pad_value)) return SS_FAIL(SS_ERR_ARG, "%s: %s: pad_value is NaN", op, path);
    const int64_t N = batch->shape[0], C = batch->shape[1], H = batch->shape[2], W = batch->shape[3];

    /* torchvision make_grid: xmaps cells per row, each cell the image plus padding
     * on its top and left, and one more padding strip on the right and bottom. */
    const int64_t xmaps = N < nrow ? N : nrow, ymaps = (N + xmaps - 1) / xmaps;
    const int64_t cell_h = H + padding, cell_w = W + padding;
    if (cell_h > PNG_DIM_MAX / ymaps || cell_w > PNG_DIM_MAX / xmaps)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: a grid of %lld x %lld images of %lld x %lld pixels exceeds PNG's size limit",
                       op, path, (long long)xmaps, (long long)ymaps, (long long)W, (long long)H);
    const int64_t GH = ymaps * cell_h + padding, GW = xmaps * cell_w + padding;
    if (GH > PNG_DIM_MAX || GW > PNG_DIM_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: the grid of %lld x %lld pixels exceeds PNG's size limit", op, path,
                       (long long)GW, (long long)GH);
    if (GW * C > INT64_MAX / GH || (uint64_t)(GW * C) > SIZE_MAX / (uint64_t)GH)
        return SS_FAIL(SS_ERR_NOMEM, "%s: %s: the grid is too large", op, path);

    float *copy;
    const float *src = host_values(batch, &copy);
    if (!src) return ss_last_status();
    int rc = check_no_nan(op, path, src, ss_tensor_numel(batch), "the batch");
    png_byte *hwc = NULL;
    if (rc == SS_OK) {
        hwc = ss_alloc((size_t)(GH * GW * C), "the 8-bit grid");
        if (!hwc) rc = ss_last_status();
    }
    if (rc == SS_OK) {
        memset(hwc, to_byte(pad_value), (size_t)(GH * GW * C));
        const size_t stride = (size_t)(GW * C);
        for (int64_t k = 0; k < N; k++) {
            int64_t top = (k / xmaps) * cell_h + padding, left = (k % xmaps) * cell_w + padding;
            planes_to_bytes(hwc + (size_t)top * stride + (size_t)(left * C), stride, src + k * C * H * W, (int)C,
                            H, W);
        }
        *grid = hwc, *gh = GH, *gw = GW;
    }
    ss_free(copy);
    return rc;
}

int ss_image_save_grid(const char *path, const ss_tensor *batch, int nrow, int padding, float pad_value)
{
    const char *op = "ss_image_save_grid";
    if (!path) return SS_FAIL(SS_ERR_ARG, "%s: path is NULL", op);
    if (!batch) return SS_FAIL(SS_ERR_ARG, "%s: %s: batch tensor is NULL", op, path);
    SS_TRY(check_channels(op, path, batch, 4, "(N,C,H,W) batch"));
    png_byte *hwc;
    int64_t GH, GW;
    SS_TRY(grid_bytes(op, path, batch, nrow, padding, pad_value, &hwc, &GH, &GW));
    int rc = save_bytes(op, path, hwc, (int)batch->shape[1], GH, GW);
    ss_free(hwc);
    return rc;
}

/* ------------------------------------------------------------ to memory */

int ss_image_encode_png(uint8_t *buf, size_t cap, size_t *need, const ss_tensor *images, int nrow, int padding,
                        float pad_value, int scale)
{
    const char *op = "ss_image_encode_png", *what = "PNG in memory";
    if (!need) return SS_FAIL(SS_ERR_ARG, "%s: need is NULL", op);
    *need = 0;
    if (!buf && cap > 0) return SS_FAIL(SS_ERR_ARG, "%s: buf is NULL", op);
    if (!images) return SS_FAIL(SS_ERR_ARG, "%s: image tensor is NULL", op);
    const int nd = images->ndim == 3 ? 3 : 4;
    SS_TRY(check_channels(op, what, images, nd, "(C,H,W) image or (N,C,H,W)"));
    if (scale < 1 || scale > 64) return SS_FAIL(SS_ERR_ARG, "%s: scale must be in 1..64, got %d", op, scale);
    /* an image is a batch of one without padding */
    const ss_tensor *batch = images;
    ss_tensor *view = NULL;
    if (nd == 3) {
        int64_t shape[4] = {1, images->shape[0], images->shape[1], images->shape[2]};
        if (!(view = ss_tensor_reshape(images, 4, shape))) return ss_last_status();
        batch = view;
        nrow = 1, padding = 0;
    }
    const int C = (int)batch->shape[1];
    png_byte *hwc;
    int64_t GH, GW;
    int rc = grid_bytes(op, what, batch, nrow, padding, pad_value, &hwc, &GH, &GW);
    ss_tensor_free(view);
    if (rc != SS_OK) return rc;
    png_byte *big = hwc;
    if (scale > 1) { /* every pixel a scale x scale block */
        if (GH > PNG_DIM_MAX / scale || GW > PNG_DIM_MAX / scale ||
            (uint64_t)(GW * scale * C) > SIZE_MAX / (uint64_t)(GH * scale))
            rc = SS_FAIL(SS_ERR_ARG, "%s: %lld x %lld pixels scaled by %d exceed PNG's size limit", op,
                         (long long)GW, (long long)GH, scale);
        else if (!(big = ss_alloc((size_t)(GH * scale * GW * scale * C), "the scaled image")))
            rc = ss_last_status();
        for (int64_t y = 0; rc == SS_OK && y < GH * scale; y++) {
            const png_byte *src = hwc + (size_t)(y / scale * GW * C);
            png_byte *row = big + (size_t)(y * GW * scale * C);
            for (int64_t x = 0; x < GW * scale; x++) memcpy(row + x * C, src + x / scale * C, (size_t)C);
        }
        GH *= scale, GW *= scale;
    }
    png_store st;
    memset(&st, 0, sizeof st);
    st.io.mem = buf, st.io.mem_cap = cap;
    if (rc == SS_OK) {
        st.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st.io, on_png_error, on_png_warning);
        if (st.png) st.info = png_create_info_struct(st.png);
        if (!st.png || !st.info) rc = SS_FAIL(SS_ERR_NOMEM, "%s: out of memory creating the libpng writer", op);
        else if (store_encode(&st, big, C, (uint32_t)GH, (uint32_t)GW) < 0)
            rc = SS_FAIL(SS_ERR_FORMAT, "%s: cannot encode the PNG: %s", op, st.io.msg);
        if (st.png) png_destroy_write_struct(&st.png, st.info ? &st.info : NULL);
    }
    if (big != hwc) ss_free(big);
    ss_free(hwc);
    if (rc != SS_OK) return rc;
    *need = st.io.mem_len;
    if (st.io.mem_len > cap)
        return SS_FAIL(SS_ERR_ARG, "%s: the PNG takes %zu bytes, the buffer has %zu", op, st.io.mem_len, cap);
    return SS_OK;
}

/* ------------------------------------------------------------ channels */

/* Channel counts 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA. Colour converts grey <->
 * RGB (luma 0.299 R + 0.587 G + 0.114 B, ITU-R BT.601 as in PIL); an alpha the
 * output has is copied from the input, or 1 (opaque) when the input has none. */
int ss_image_convert_channels(ss_tensor *out, const ss_tensor *images)
{
    const char *op = "ss_image_convert_channels";
    const ss_tensor *ts[2] = {out, images};
    int dev = ss_common_device(op, 2, ts);
    if (dev < 0) return dev;
    char so[96], si[96];
    int ok = out->ndim == images->ndim && (out->ndim == 3 || out->ndim == 4);
    for (int d = 0; ok && d < out->ndim; d++)
        if (d != out->ndim - 3 && out->shape[d] != images->shape[d]) ok = 0;
    if (!ok)
        return SS_FAIL(SS_ERR_ARG, "%s: out %s and images %s must both be (N,C,H,W) (or (C,H,W)) with equal N, H, W",
                       op, ss_shape_str(so, sizeof so, out), ss_shape_str(si, sizeof si, images));
    const int cd = out->ndim - 3;
    const int64_t ci = images->shape[cd], co = out->shape[cd];
    if (ci > 4 || co > 4)
        return SS_FAIL(SS_ERR_ARG, "%s: channel counts must be 1 to 4 (grey, grey+alpha, RGB, RGBA), got %lld -> %lld",
                       op, (long long)ci, (long long)co);
    if (dev != SS_CPU) return ss_cuda_missing(op);
    if (ci == co) return ss_tensor_copy(out, images);

    const int64_t N = out->ndim == 4 ? out->shape[0] : 1;
    const int64_t plane = out->shape[cd + 1] * out->shape[cd + 2];
    const int rgb_in = ci >= 3, alpha_in = ci == 2 || ci == 4;
    const int rgb_out = co >= 3, alpha_out = co == 2 || co == 4;
    float *o = out->data;
    const float *in = images->data;
#pragma omp parallel for schedule(static) if (N * plane * co > 262144)
    for (int64_t n = 0; n < N; n++) {
        const float *src = in + n * ci * plane;
        float *dst = o + n * co * plane;
        for (int64_t i = 0; i < plane; i++) {
            float r = src[i], g = r, b = r;
            if (rgb_in) g = src[plane + i], b = src[2 * plane + i];
            if (rgb_out) {
                dst[i] = r, dst[plane + i] = g, dst[2 * plane + i] = b;
            } else {
                dst[i] = rgb_in ? 0.299f * r + 0.587f * g + 0.114f * b : r;
            }
            if (alpha_out) dst[(co - 1) * plane + i] = alpha_in ? src[(ci - 1) * plane + i] : 1.0f;
        }
    }
    return SS_OK;
}
