/* safetensors.c — checkpoints in Hugging Face's safetensors format.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON (an object
 * of tensor entries plus an optional "__metadata__" object of strings, padded
 * with spaces to a multiple of 8), then the data buffer that the entries'
 * data_offsets tile. We write float32 entries only, in the caller's order, with
 * the header laid out as the reference implementation lays it out (compact JSON,
 * __metadata__ first, dtype/shape/data_offsets); we read every dtype's header
 * and load F32, F16, BF16 and F64 (as float32).
 *
 * Reading validates as the reference implementation does (so what we accept, it
 * accepts): the header length within the file and 10^8 bytes, UTF-8, one JSON
 * object, entries sorted by offset tiling [0, data size) exactly. The open
 * handle keeps the parsed cJSON tree (names, dtypes and metadata point into it)
 * and the file descriptor, so loads are preads and a file renamed over the path
 * later does not change what the handle reads.
 *
 * Writing goes to "<path>.tmp.<pid>", fsyncs it and renames it over the path
 * (then fsyncs the directory, best effort): a crash or SIGKILL leaves the old
 * file or the whole new one. A killed writer's temporary file stays behind until
 * the next write of the same path removes it (its pid no longer exists). Two
 * threads of one process must not write the same path at once (they would share
 * the temporary file).
 *
 * Corruption. Each tensor's CRC-32C goes into __metadata__ as "ss.crc32c.<name>"
 * (fixed-width hex, so the header is written with zeros first and rewritten in
 * place once the data has gone out: one pass over the data). Loading checks the
 * bytes against it, then refuses NaN and infinities unless the handle allows them.
 * Files without checksums (older ones, other writers) load unchecked. */
#include "io/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation refuses headers above 100 MB. */
#define ST_MAX_HEADER 100000000ULL
/* Offsets and sizes must be exact in a double (cJSON's number type). */
#define ST_MAX_INT 9007199254740992.0 /* 2^53 */
/* Conversion chunk for F16/BF16/F64 and host copies. */
#define ST_CHUNK (1u << 20)
/* Metadata keys holding checksums: the prefix, then the tensor's name. */
#define ST_CRC_PREFIX "ss.crc32c."
#define ST_CRC_PREFIX_LEN 10

typedef struct st_entry {
    const char *name;  /* points into the cJSON tree */
    const char *dtype; /* likewise */
    int elem;          /* bytes per element */
    int ndim;
    int64_t shape[SS_SAFETENSORS_MAX_DIMS];
    uint64_t numel, begin, end; /* offsets relative to the data buffer */
    int has_crc;
    uint32_t crc;
} st_entry;

struct ss_safetensors {
    int fd;
    char *path;
    cJSON *root;
    uint64_t data_start, data_size; /* file offset and length of the data buffer */
    int count, nmeta;
    st_entry *entries;      /* by data offset */
    st_entry **by_name;     /* sorted by name, for find */
    const char **meta_keys; /* file order, checksums left out */
    const char **meta_values;
    int ncrc; /* checksum entries, until resolved to their tensors */
    const char **crc_names;
    const char **crc_values;
    int allow_nonfinite;
};

static const struct {
    const char *name;
    int size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},     {"C64", 8},
};

static int dtype_size(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(name, st_dtypes[i].name) == 0) return st_dtypes[i].size;
    return 0;
}

/* The SS_IO_* type of a dtype that loads as float32, or -1. */
static int dtype_io(const char *name)
{
    return !strcmp(name, "F32") ? SS_IO_F32 : !strcmp(name, "F16") ? SS_IO_F16 : !strcmp(name, "BF16") ? SS_IO_BF16
           : !strcmp(name, "F64") ? SS_IO_F64 : -1;
}

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or values
 * above U+10FFFF); *bad is the offset of the first bad byte otherwise. */
static int utf8_valid(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            if (bad) *bad = i;
            return 0;
        }
        if (i + len > n) {
            if (bad) *bad = i;
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            unsigned b = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (b < l || b > h) {
                if (bad) *bad = i;
                return 0;
            }
        }
        i += len;
    }
    return 1;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "invalid";
}

/* A JSON number that is an integer in 0..2^53 into *out; 0 when it is not. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_INT) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* "(2,3)" or "()" for a scalar. */
static const char *shape_text(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

/* ------------------------------------------------------------ reading */

void ss_safetensors_close(ss_safetensors *st)
{
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    cJSON_Delete(st->root);
    free(st->entries);
    free(st->by_name);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->crc_names);
    free(st->crc_values);
    free(st->path);
    free(st);
}

/* Parses one tensor entry (the JSON member `v` named `name`) into e. */
static int parse_entry(st_entry *e, const cJSON *v, const char *op, const char *path)
{
    const char *name = v->string;
    e->name = name;
    if (!cJSON_IsObject(v))
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: entry \"%.200s\" is %s, not an object", op, path, name,
                       json_kind(v));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    const char *missing = !dt ? "dtype" : !sh ? "shape" : !off ? "data_offsets" : NULL;
    if (missing)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: entry \"%.200s\" has no \"%s\"", op, path, name,
                       missing);
    if (!cJSON_IsString(dt))
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: \"dtype\" of \"%.200s\" is %s, not a string", op, path,
                       name, json_kind(dt));
    e->dtype = dt->valuestring;
    e->elem = dtype_size(e->dtype);
    if (!e->elem)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: entry \"%.200s\" has unknown dtype \"%.40s\"", op, path, name,
                       e->dtype);
    if (!cJSON_IsArray(sh))
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: \"shape\" of \"%.200s\" is %s, not an array", op, path,
                       name, json_kind(sh));
    int nd = cJSON_GetArraySize(sh);
    if (nd > SS_SAFETENSORS_MAX_DIMS)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: entry \"%.200s\" has %d dimensions, more than the %d supported", op,
                       path, name, nd, (int)SS_SAFETENSORS_MAX_DIMS);
    e->ndim = nd;
    uint64_t numel = 1;
    int overflow = 0;
    const cJSON *s;
    int d = 0;
    cJSON_ArrayForEach(s, sh)
    {
        uint64_t size;
        if (!json_uint(s, &size))
            return SS_FAIL(SS_ERR_FORMAT,
                           "%s: %s: corrupt header: size %d of \"%.200s\" is not an integer in 0..2^53", op, path,
                           d + 1, name);
        e->shape[d++] = (int64_t)size;
        if (__builtin_mul_overflow(numel, size, &numel)) overflow = 1;
    }
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)e->elem, &nbytes))
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: the shape of \"%.200s\" overflows (too many values)",
                       op, path, name);
    e->numel = numel;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &e->begin) ||
        !json_uint(off->child->next, &e->end))
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: corrupt header: \"data_offsets\" of \"%.200s\" is not [begin, end] with integers "
                       "in 0..2^53",
                       op, path, name);
    char sbuf[256];
    if (e->end < e->begin)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: \"%.200s\" has data_offsets [%llu, %llu], end before begin",
                       op, path, name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end - e->begin != nbytes)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: corrupt header: \"%.200s\" (%s %s) needs %llu bytes but data_offsets [%llu, %llu] "
                       "hold %llu",
                       op, path, name, e->dtype, shape_text(sbuf, sizeof sbuf, e->shape, e->ndim),
                       (unsigned long long)nbytes, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin));
    return SS_OK;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int parse_metadata(ss_safetensors *st, const cJSON *v, const char *op, const char *path)
{
    if (cJSON_IsNull(v)) return SS_OK;
    if (!cJSON_IsObject(v))
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: \"__metadata__\" is %s, not an object", op, path,
                       json_kind(v));
    int n = cJSON_GetArraySize(v);
    st->meta_keys = calloc((size_t)n + 1, sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)n + 1, sizeof *st->meta_values);
    st->crc_names = calloc((size_t)n + 1, sizeof *st->crc_names);
    st->crc_values = calloc((size_t)n + 1, sizeof *st->crc_values);
    if (!st->meta_keys || !st->meta_values || !st->crc_names || !st->crc_values)
        return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    const cJSON *m;
    cJSON_ArrayForEach(m, v)
    {
        if (!cJSON_IsString(m))
            return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: metadata \"%.200s\" is %s, not a string", op, path,
                           m->string, json_kind(m));
        if (strncmp(m->string, ST_CRC_PREFIX, ST_CRC_PREFIX_LEN) == 0) {
            st->crc_names[st->ncrc] = m->string + ST_CRC_PREFIX_LEN;
            st->crc_values[st->ncrc++] = m->valuestring;
            continue;
        }
        st->meta_keys[st->nmeta] = m->string;
        st->meta_values[st->nmeta++] = m->valuestring;
    }
    /* cJSON keeps duplicate keys: sort them all and compare neighbours. */
    const char **keys = malloc(sizeof *keys * ((size_t)n + 1));
    if (!keys) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    int k = 0;
    cJSON_ArrayForEach(m, v) keys[k++] = m->string;
    qsort(keys, (size_t)k, sizeof *keys, str_cmp);
    int rc = SS_OK;
    for (int i = 1; i < k && rc == SS_OK; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: metadata key \"%.200s\" appears twice", op, path,
                         keys[i]);
    free(keys);
    return rc;
}

static int by_offset(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

/* Entries sorted by offset must tile [0, data_size) exactly. */
static int check_layout(const ss_safetensors *st, const char *op, const char *path)
{
    uint64_t at = 0;
    const st_entry *prev = NULL;
    for (int i = 0; i < st->count; i++) {
        const st_entry *e = &st->entries[i];
        if (e->end > st->data_size)
            return SS_FAIL(SS_ERR_FORMAT,
                           "%s: %s: truncated or corrupt: \"%.200s\" has data_offsets [%llu, %llu] but the data "
                           "buffer has %llu bytes",
                           op, path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)st->data_size);
        if (e->begin < at)
            return SS_FAIL(SS_ERR_FORMAT,
                           "%s: %s: corrupt header: \"%.200s\" [%llu, %llu) overlaps \"%.200s\" [%llu, %llu)", op,
                           path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end, prev->name,
                           (unsigned long long)prev->begin, (unsigned long long)prev->end);
        if (e->begin > at)
            return SS_FAIL(SS_ERR_FORMAT,
                           "%s: %s: corrupt header: bytes [%llu, %llu) of the data buffer belong to no tensor "
                           "(\"%.200s\" starts at %llu)",
                           op, path, (unsigned long long)at, (unsigned long long)e->begin, e->name,
                           (unsigned long long)e->begin);
        at = e->end;
        prev = e;
    }
    if (at != st->data_size)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: corrupt: the data buffer has %llu bytes but the tensors fill %llu (%llu trailing "
                       "bytes)",
                       op, path, (unsigned long long)st->data_size, (unsigned long long)at,
                       (unsigned long long)(st->data_size - at));
    return SS_OK;
}

/* A checksum's text: exactly 8 hex digits. */
static int parse_crc(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return s[8] == '\0';
}

static int by_name(const void *a, const void *b);

/* Attaches each "ss.crc32c.<name>" entry to tensor <name>. */
static int resolve_checksums(ss_safetensors *st, const char *op, const char *path)
{
    for (int i = 0; i < st->ncrc; i++) {
        st_entry key = {.name = st->crc_names[i]};
        const st_entry *pkey = &key;
        st_entry **hit = bsearch(&pkey, st->by_name, (size_t)st->count, sizeof *st->by_name, by_name);
        if (!hit)
            return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: a checksum for \"%.200s\", which is no tensor", op,
                           path, st->crc_names[i]);
        if (!parse_crc(st->crc_values[i], &(*hit)->crc))
            return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: the checksum of \"%.200s\" is \"%.40s\", not 8 hex "
                           "digits", op, path, st->crc_names[i], st->crc_values[i]);
        (*hit)->has_crc = 1;
    }
    return SS_OK;
}

/* Reads, parses and validates the header of an open file. */
static int parse_file(ss_safetensors *st, const char *op, const char *path)
{
    struct stat sb;
    if (fstat(st->fd, &sb) != 0) return SS_FAIL(SS_ERR_IO, "%s: %s: cannot stat: %s", op, path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return SS_FAIL(SS_ERR_IO, "%s: %s: not a regular file", op, path);
    const uint64_t size = (uint64_t)sb.st_size;
    unsigned char head[8];
    int64_t got = ss_io_pread_full(st->fd, head, 8, 0);
    if (got < 0) return SS_FAIL(SS_ERR_IO, "%s: %s: read error: %s", op, path, strerror(errno));
    if (got < 8)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: truncated: the file has %lld bytes, less than the 8-byte header length", op, path,
                       (long long)got);
    uint64_t n = le64(head);
    if (n > ST_MAX_HEADER)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: not a safetensors file: header length %llu exceeds the format's limit of %llu bytes",
                       op, path, (unsigned long long)n, ST_MAX_HEADER);
    if (n < 2)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt: header length %llu is too short for a JSON object", op, path,
                       (unsigned long long)n);
    if (n > size - 8)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: truncated: the header needs %llu bytes after the length but the file has %llu", op,
                       path, (unsigned long long)n, (unsigned long long)(size - 8));
    st->data_start = 8 + n;
    st->data_size = size - 8 - n;

    char *text = malloc((size_t)n + 1);
    if (!text) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory for a %llu-byte header", op, path,
                              (unsigned long long)n);
    got = ss_io_pread_full(st->fd, text, (size_t)n, 8);
    if (got < 0 || (uint64_t)got < n) {
        int e = errno;
        free(text);
        if (got < 0) return SS_FAIL(SS_ERR_IO, "%s: %s: read error: %s", op, path, strerror(e));
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: truncated: the file ended inside the %llu-byte header", op, path,
                       (unsigned long long)n);
    }
    text[n] = '\0';
    size_t bad = 0;
    void *nul = memchr(text, '\0', (size_t)n);
    int rc = SS_OK;
    if (nul)
        rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: NUL byte at offset %zu of the header", op, path,
                     (size_t)((char *)nul - text));
    else if (!utf8_valid((const unsigned char *)text, (size_t)n, &bad))
        rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: invalid UTF-8 at offset %zu of the header", op, path,
                     bad);
    if (rc == SS_OK) {
        const char *end = NULL;
        st->root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
        if (!st->root) {
            size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
            rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: invalid JSON near offset %zu of the header", op,
                         path, at);
        } else {
            while (end && end < text + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
            if (end != text + n)
                rc = SS_FAIL(SS_ERR_FORMAT,
                             "%s: %s: corrupt header: unexpected text after the JSON object at offset %zu", op, path,
                             (size_t)(end - text));
            else if (!cJSON_IsObject(st->root))
                rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: the JSON is %s, not an object", op, path,
                             json_kind(st->root));
        }
    }
    free(text);
    if (rc < 0) return rc;

    int members = cJSON_GetArraySize(st->root);
    st->entries = calloc((size_t)members + 1, sizeof *st->entries);
    st->by_name = calloc((size_t)members + 1, sizeof *st->by_name);
    if (!st->entries || !st->by_name) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    const cJSON *v;
    int seen_meta = 0;
    cJSON_ArrayForEach(v, st->root)
    {
        if (strcmp(v->string, "__metadata__") == 0) {
            if (seen_meta++)
                return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: \"__metadata__\" appears twice", op, path);
            SS_TRY(parse_metadata(st, v, op, path));
            continue;
        }
        SS_TRY(parse_entry(&st->entries[st->count], v, op, path));
        st->count++;
    }
    qsort(st->entries, (size_t)st->count, sizeof *st->entries, by_offset);
    for (int i = 0; i < st->count; i++) st->by_name[i] = &st->entries[i];
    qsort(st->by_name, (size_t)st->count, sizeof *st->by_name, by_name);
    for (int i = 1; i < st->count; i++)
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0)
            return SS_FAIL(SS_ERR_FORMAT, "%s: %s: corrupt header: tensor \"%.200s\" appears twice", op, path,
                           st->by_name[i]->name);
    SS_TRY(resolve_checksums(st, op, path));
    return check_layout(st, op, path);
}

ss_safetensors *ss_safetensors_open(const char *path)
{
    const char *op = "ss_safetensors_open";
    if (!path) return SS_FAIL_NULL(SS_ERR_ARG, "%s: path is NULL", op);
    ss_safetensors *st = calloc(1, sizeof *st);
    char *copy = strdup(path);
    if (!st || !copy) {
        free(st);
        free(copy);
        return SS_FAIL_NULL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    }
    st->path = copy;
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (st->fd < 0) {
        int e = errno;
        ss_safetensors_close(st);
        return SS_FAIL_NULL(SS_ERR_IO, "%s: %s: cannot open: %s", op, path, strerror(e));
    }
    if (parse_file(st, op, path) < 0) {
        ss_safetensors_close(st);
        return NULL;
    }
    return st;
}

static int check_handle(const ss_safetensors *st, const char *op)
{
    if (!st) return SS_FAIL(SS_ERR_ARG, "%s: checkpoint handle is NULL", op);
    return SS_OK;
}

static const st_entry *entry_at(const ss_safetensors *st, int i, const char *op)
{
    if (check_handle(st, op) < 0) return NULL;
    if (i < 0 || i >= st->count)
        return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: no entry %d (the file has %d tensors)", op, st->path, i, st->count);
    return &st->entries[i];
}

int ss_safetensors_count(const ss_safetensors *st)
{
    SS_TRY(check_handle(st, "ss_safetensors_count"));
    return st->count;
}

const char *ss_safetensors_name(const ss_safetensors *st, int i)
{
    const st_entry *e = entry_at(st, i, "ss_safetensors_name");
    return e ? e->name : NULL;
}

const char *ss_safetensors_dtype(const ss_safetensors *st, int i)
{
    const st_entry *e = entry_at(st, i, "ss_safetensors_dtype");
    return e ? e->dtype : NULL;
}

int ss_safetensors_shape(int64_t *shape, int max_dims, const ss_safetensors *st, int i)
{
    const st_entry *e = entry_at(st, i, "ss_safetensors_shape");
    if (!e) return ss_last_status();
    if (max_dims > 0 && !shape) return SS_FAIL(SS_ERR_ARG, "ss_safetensors_shape: shape is NULL");
    for (int d = 0; d < e->ndim && d < max_dims; d++) shape[d] = e->shape[d];
    return e->ndim;
}

static const st_entry *find_entry(const ss_safetensors *st, const char *name, const char *op)
{
    if (check_handle(st, op) < 0) return NULL;
    if (!name) return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: tensor name is NULL", op, st->path);
    st_entry key = {.name = name};
    const st_entry *pkey = &key;
    st_entry **hit = bsearch(&pkey, st->by_name, (size_t)st->count, sizeof *st->by_name, by_name);
    if (!hit) return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: no tensor named \"%.200s\" (the file has %d)", op, st->path,
                                  name, st->count);
    return *hit;
}

int ss_safetensors_find(const ss_safetensors *st, const char *name)
{
    const st_entry *e = find_entry(st, name, "ss_safetensors_find");
    return e ? (int)(e - st->entries) : ss_last_status();
}

/* The shape a tensor of entry e gets, checking what float32 tensors can hold. */
static int tensor_shape(int64_t shape[4], int *ndim, const ss_safetensors *st, const st_entry *e, const char *op)
{
    char sbuf[256];
    if (dtype_io(e->dtype) < 0)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: \"%.200s\" has dtype %s; only F32, F16, BF16 and F64 load as float32", op, st->path,
                       e->name, e->dtype);
    if (e->ndim > 4)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: \"%.200s\" has shape %s; tensors have 1 to 4 dimensions", op,
                       st->path, e->name, shape_text(sbuf, sizeof sbuf, e->shape, e->ndim));
    if (e->numel == 0)
        return SS_FAIL(SS_ERR_FORMAT, "%s: %s: \"%.200s\" has shape %s with no elements; tensors cannot be empty", op,
                       st->path, e->name, shape_text(sbuf, sizeof sbuf, e->shape, e->ndim));
    *ndim = e->ndim ? e->ndim : 1;
    shape[0] = 1;
    for (int d = 0; d < e->ndim; d++) shape[d] = e->shape[d];
    return SS_OK;
}

/* Fills dst (host memory, e->numel floats) with entry e: its checksum, when the file
 * has one, must match the bytes read, and its values must be finite unless allowed. */
static int read_entry(float *dst, const ss_safetensors *st, const st_entry *e, const char *op)
{
    const uint64_t off = st->data_start + e->begin;
    const int io = dtype_io(e->dtype);
    uint32_t crc = 0;
    int rc = SS_OK;
    if (io == SS_IO_F32) {
        uint64_t done = 0, total = e->numel * 4;
        while (done < total && rc == SS_OK) {
            size_t want = total - done > (1u << 30) ? (1u << 30) : (size_t)(total - done);
            int64_t got = ss_io_pread_full(st->fd, (char *)dst + done, want, off + done);
            if (got < 0) rc = SS_FAIL(SS_ERR_IO, "%s: %s: read error: %s", op, st->path, strerror(errno));
            else if ((size_t)got < want)
                rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: truncated: the file ended inside \"%.200s\"", op, st->path,
                             e->name);
            else if (e->has_crc) crc = ss_crc32c(crc, (char *)dst + done, want);
            done += want;
        }
    } else {
        unsigned char *buf = malloc(ST_CHUNK);
        if (!buf) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory for a read buffer", op, st->path);
        const uint64_t per = ST_CHUNK / (unsigned)e->elem;
        for (uint64_t i = 0; i < e->numel && rc == SS_OK; i += per) {
            uint64_t k = e->numel - i < per ? e->numel - i : per;
            size_t want = (size_t)(k * (unsigned)e->elem);
            int64_t got = ss_io_pread_full(st->fd, buf, want, off + i * (unsigned)e->elem);
            if (got < 0) rc = SS_FAIL(SS_ERR_IO, "%s: %s: read error: %s", op, st->path, strerror(errno));
            else if ((size_t)got < want)
                rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: truncated: the file ended inside \"%.200s\"", op, st->path,
                             e->name);
            else {
                if (e->has_crc) crc = ss_crc32c(crc, buf, want);
                ss_io_to_float(dst + i, buf, k, io);
            }
        }
        free(buf);
    }
    SS_TRY(rc);
    if (e->has_crc && crc != e->crc)
        return SS_FAIL(SS_ERR_FORMAT,
                       "%s: %s: \"%.200s\" fails its checksum (CRC-32C %08x stored, %08x read): the file is corrupt",
                       op, st->path, e->name, e->crc, crc);
    if (!st->allow_nonfinite)
        for (uint64_t i = 0; i < e->numel; i++)
            if (!isfinite(dst[i]))
                return SS_FAIL(SS_ERR_NUMERIC,
                               "%s: %s: \"%.200s\" holds %s at flat index %llu (allow non-finite values to load it: "
                               "ss_safetensors_allow_nonfinite, or {allow_nonfinite = true} in Lua)",
                               op, st->path, e->name, isnan(dst[i]) ? "NaN" : dst[i] > 0 ? "+inf" : "-inf",
                               (unsigned long long)i);
    return SS_OK;
}

ss_tensor *ss_safetensors_load(const ss_safetensors *st, const char *name)
{
    const char *op = "ss_safetensors_load";
    const st_entry *e = find_entry(st, name, op);
    if (!e) return NULL;
    int64_t shape[4] = {1, 1, 1, 1};
    int ndim = 0;
    if (tensor_shape(shape, &ndim, st, e, op) < 0) return NULL;
    ss_tensor *t = ss_tensor_empty(ndim, shape, SS_CPU);
    if (!t) return NULL;
    if (read_entry(t->data, st, e, op) < 0) {
        ss_tensor_free(t);
        return NULL;
    }
    return t;
}

int ss_safetensors_load_into(ss_tensor *out, const ss_safetensors *st, const char *name)
{
    const char *op = "ss_safetensors_load_into";
    const st_entry *e = find_entry(st, name, op);
    if (!e) return ss_last_status();
    SS_TRY(ss_check_tensor(out, op, "out"));
    int64_t shape[4] = {1, 1, 1, 1};
    int ndim = 0;
    SS_TRY(tensor_shape(shape, &ndim, st, e, op));
    int same = out->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = out->shape[d] == shape[d];
    if (!same) {
        char a[256], b[96];
        return SS_FAIL(SS_ERR_ARG, "%s: %s: \"%.200s\" has shape %s in the file but out has shape %s", op, st->path,
                       e->name, shape_text(a, sizeof a, e->shape, e->ndim), ss_shape_str(b, sizeof b, out));
    }
    if (out->device == SS_CPU) return read_entry(out->data, st, e, op);
    float *host = ss_alloc((size_t)e->numel * sizeof(float), "a host copy of a checkpoint tensor");
    if (!host) return ss_last_status();
    int rc = read_entry(host, st, e, op);
    if (rc == SS_OK) rc = ss_tensor_write(out, host);
    ss_free(host);
    return rc;
}

int ss_safetensors_meta_count(const ss_safetensors *st)
{
    SS_TRY(check_handle(st, "ss_safetensors_meta_count"));
    return st->nmeta;
}

static int meta_index_ok(const ss_safetensors *st, int i, const char *op)
{
    SS_TRY(check_handle(st, op));
    if (i < 0 || i >= st->nmeta)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: no metadata entry %d (the file has %d)", op, st->path, i, st->nmeta);
    return SS_OK;
}

const char *ss_safetensors_meta_key(const ss_safetensors *st, int i)
{
    return meta_index_ok(st, i, "ss_safetensors_meta_key") < 0 ? NULL : st->meta_keys[i];
}

const char *ss_safetensors_meta_value(const ss_safetensors *st, int i)
{
    return meta_index_ok(st, i, "ss_safetensors_meta_value") < 0 ? NULL : st->meta_values[i];
}

int ss_safetensors_checksum_count(const ss_safetensors *st)
{
    SS_TRY(check_handle(st, "ss_safetensors_checksum_count"));
    int n = 0;
    for (int i = 0; i < st->count; i++) n += st->entries[i].has_crc;
    return n;
}

int ss_safetensors_allow_nonfinite(ss_safetensors *st, int allow)
{
    SS_TRY(check_handle(st, "ss_safetensors_allow_nonfinite"));
    st->allow_nonfinite = allow != 0;
    return SS_OK;
}

const char *ss_safetensors_meta(const ss_safetensors *st, const char *key)
{
    const char *op = "ss_safetensors_meta";
    if (check_handle(st, op) < 0) return NULL;
    if (!key) return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: key is NULL", op, st->path);
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: no metadata key \"%.200s\"", op, st->path, key);
}

/* ------------------------------------------------------------ writing */

typedef struct st_buf {
    char *p;
    size_t n, cap;
    int oom;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_str(st_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* A JSON string, escaped as serde_json escapes: quote, backslash and control characters. */
static void buf_json_string(st_buf *b, const char *s)
{
    buf_put(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        char u[8];
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*p < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", *p);
                esc = u;
            }
        }
        if (esc) {
            buf_put(b, run, (size_t)((const char *)p - run));
            buf_str(b, esc);
            run = (const char *)p + 1;
        }
    }
    buf_str(b, run);
    buf_put(b, "\"", 1);
}

static int check_text(const char *op, const char *path, const char *what, int i, const char *s, int nonempty)
{
    if (!s) return SS_FAIL(SS_ERR_ARG, "%s: %s: %s %d is NULL", op, path, what, i);
    if (nonempty && !*s) return SS_FAIL(SS_ERR_ARG, "%s: %s: %s %d is empty", op, path, what, i);
    size_t bad;
    if (!utf8_valid((const unsigned char *)s, strlen(s), &bad))
        return SS_FAIL(SS_ERR_ARG, "%s: %s: %s %d (\"%.200s\") is not valid UTF-8 (byte %zu)", op, path, what, i, s,
                       bad);
    return SS_OK;
}

/* SS_ERR_ARG naming the first string of s[0..n) that appears twice. */
static int check_unique(const char *op, const char *path, const char *what, const char *const *s, int n)
{
    if (n < 2) return SS_OK;
    const char **sorted = malloc(sizeof *sorted * (size_t)n);
    if (!sorted) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    memcpy(sorted, s, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, str_cmp);
    int rc = SS_OK;
    for (int i = 1; i < n && rc == SS_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = SS_FAIL(SS_ERR_ARG, "%s: %s: %s \"%.200s\" appears twice", op, path, what, sorted[i]);
    free(sorted);
    return rc;
}

static int check_write_args(const char *op, const char *path, const char *const *names,
                            const ss_tensor *const *tensors, int n, const char *const *keys,
                            const char *const *values, int n_meta)
{
    if (n < 0 || n_meta < 0)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: negative count (n = %d, n_meta = %d)", op, path, n, n_meta);
    if (n > 0 && (!names || !tensors))
        return SS_FAIL(SS_ERR_ARG, "%s: %s: names or tensors is NULL for %d tensors", op, path, n);
    if (n_meta > 0 && (!keys || !values))
        return SS_FAIL(SS_ERR_ARG, "%s: %s: meta_keys or meta_values is NULL for %d metadata pairs", op, path,
                       n_meta);
    for (int i = 0; i < n; i++) {
        SS_TRY(check_text(op, path, "tensor name", i, names[i], 1));
        if (strcmp(names[i], "__metadata__") == 0)
            return SS_FAIL(SS_ERR_ARG, "%s: %s: tensor name %d is \"__metadata__\", which the format reserves", op,
                           path, i);
        char what[64];
        snprintf(what, sizeof what, "tensor %d", i);
        SS_TRY(ss_check_tensor(tensors[i], op, what));
    }
    SS_TRY(check_unique(op, path, "tensor name", names, n));
    for (int i = 0; i < n_meta; i++) {
        SS_TRY(check_text(op, path, "metadata key", i, keys[i], 1));
        SS_TRY(check_text(op, path, "metadata value", i, values[i], 0));
        if (strncmp(keys[i], ST_CRC_PREFIX, ST_CRC_PREFIX_LEN) == 0)
            return SS_FAIL(SS_ERR_ARG, "%s: %s: metadata key %d (\"%.200s\") starts with \"" ST_CRC_PREFIX
                           "\", which is reserved for the tensors' checksums", op, path, i, keys[i]);
    }
    return check_unique(op, path, "metadata key", keys, n_meta);
}

/* The header: compact JSON, __metadata__ first (the caller's pairs, then each
 * tensor's checksum crcs[i]), then the entries in order, padded with spaces to a
 * multiple of 8. *data_bytes is the data buffer's size. The checksums have a fixed
 * width, so any crcs give a header of the same length. */
static int build_header(st_buf *b, uint64_t *data_bytes, const char *op, const char *path,
                        const char *const *names, const ss_tensor *const *tensors, const uint32_t *crcs, int n,
                        const char *const *keys, const char *const *values, int n_meta)
{
    buf_str(b, "{");
    if (n_meta > 0 || n > 0) {
        buf_str(b, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) buf_str(b, ",");
            buf_json_string(b, keys[i]);
            buf_str(b, ":");
            buf_json_string(b, values[i]);
        }
        for (int i = 0; i < n; i++) {
            char hex[16];
            if (i || n_meta) buf_str(b, ",");
            buf_str(b, "\"" ST_CRC_PREFIX);
            size_t at = b->n;
            buf_json_string(b, names[i]);
            if (!b->oom) memmove(b->p + at, b->p + at + 1, b->n - at), b->n--; /* the name's opening quote */
            snprintf(hex, sizeof hex, ":\"%08x\"", crcs[i]);
            buf_str(b, hex);
        }
        buf_str(b, "}");
    }
    uint64_t at = 0;
    char num[96];
    for (int i = 0; i < n; i++) {
        if (i || n_meta > 0 || n > 0) buf_str(b, ",");
        buf_json_string(b, names[i]);
        buf_str(b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < tensors[i]->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)tensors[i]->shape[d]);
            buf_str(b, num);
        }
        uint64_t bytes = (uint64_t)ss_tensor_numel(tensors[i]) * 4;
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                 (unsigned long long)(at + bytes));
        buf_str(b, num);
        at += bytes;
    }
    buf_str(b, "}");
    while (!b->oom && b->n % 8) buf_str(b, " ");
    if (b->oom) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory for the header", op, path);
    if (b->n > ST_MAX_HEADER)
        return SS_FAIL(SS_ERR_ARG, "%s: %s: the header would have %zu bytes, more than the format's limit of %llu", op,
                       path, b->n, ST_MAX_HEADER);
    *data_bytes = at;
    return SS_OK;
}

/* The temporary file being written, with the fault-injection test hooks. */
typedef struct st_out {
    int fd;
    uint64_t written;        /* bytes handed to the file so far */
    int kill, nospc;         /* hooks armed */
    uint64_t kill_at, nospc_at;
} st_out;

/* A hook's byte count from the environment: 0 when unset, 1 when set (*at), or SS_ERR_ARG. */
static int fault_hook(const char *op, const char *var, uint64_t *at)
{
    const char *v = getenv(var);
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || *v == '-')
        return SS_FAIL(SS_ERR_ARG, "%s: the test hook %s=\"%.40s\" is not a byte count", op, var, v);
    *at = n;
    return 1;
}

/* Writes n bytes at offset off. The hooks cut the write short where they are set:
 * SIGKILL (the process dies there, as a power cut or OOM kill would end it) or ENOSPC. */
static int out_write(st_out *o, const void *buf, size_t n, uint64_t off)
{
    size_t len = n;
    int fault = 0; /* 1: SIGKILL after len bytes, 2: ENOSPC after len bytes */
    if (o->kill && o->kill_at >= o->written && o->kill_at - o->written < len)
        len = (size_t)(o->kill_at - o->written), fault = 1;
    if (o->nospc && o->nospc_at >= o->written && o->nospc_at - o->written < len)
        len = (size_t)(o->nospc_at - o->written), fault = 2;
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(o->fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += (size_t)w;
    }
    o->written += len;
    if (fault == 1) raise(SIGKILL);
    if (fault == 2) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

/* Writes tensor t's values at off and their CRC-32C into *crc: straight from host
 * memory, or through a host copy. -1: the write failed (errno); -2: the copy did. */
static int write_tensor(st_out *o, const ss_tensor *t, uint64_t off, uint32_t *crc)
{
    const uint64_t n = (uint64_t)ss_tensor_numel(t);
    float *host = NULL;
    const char *p = (const char *)t->data;
    if (t->device != SS_CPU) {
        host = ss_alloc((size_t)n * sizeof(float), "a host copy of a checkpoint tensor");
        if (!host || ss_tensor_read(host, t) < 0) {
            ss_free(host);
            return -2;
        }
        p = (const char *)host;
    }
    *crc = 0;
    int rc = 0;
    for (uint64_t done = 0, total = n * 4; done < total && rc == 0;) {
        size_t want = total - done > (1u << 30) ? (1u << 30) : (size_t)(total - done);
        *crc = ss_crc32c(*crc, p + done, want);
        rc = out_write(o, p + done, want, off + done);
        done += want;
    }
    ss_free(host);
    return rc;
}

int ss_safetensors_write(const char *path, const char *const *names, const ss_tensor *const *tensors, int n,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta)
{
    const char *op = "ss_safetensors_write";
    if (!path) return SS_FAIL(SS_ERR_ARG, "%s: path is NULL", op);
    SS_TRY(check_write_args(op, path, names, tensors, n, meta_keys, meta_values, n_meta));
    st_out o = {.fd = -1};
    SS_TRY(o.kill = fault_hook(op, "SS_FAULT_WRITE_KILL_AFTER", &o.kill_at));
    SS_TRY(o.nospc = fault_hook(op, "SS_FAULT_WRITE_ENOSPC", &o.nospc_at));
    /* The rename would replace a device or a symlinked special file with a regular one. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return SS_FAIL(SS_ERR_IO, "%s: %s: exists and is not a regular file", op, path);
    st_buf header = {0};
    uint64_t data_bytes = 0;
    uint32_t *crcs = calloc((size_t)n + 1, sizeof *crcs);
    size_t tmplen = strlen(path) + 32;
    char *tmp = malloc(tmplen);
    int rc = crcs && tmp ? build_header(&header, &data_bytes, op, path, names, tensors, crcs, n, meta_keys,
                                        meta_values, n_meta)
                         : SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    if (rc == SS_OK) {
        ss_io_remove_stale_temps(path);
        snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
        o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (o.fd < 0)
            rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot create temporary file %s: %s", op, path, tmp, strerror(errno));
    }
    if (rc == SS_OK) {
        const size_t hlen = header.n;
        unsigned char len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
        uint64_t at = 8 + hlen;
        if (out_write(&o, len8, 8, 0) < 0 || out_write(&o, header.p, hlen, 8) < 0)
            rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot write %s: %s", op, path, tmp, strerror(errno));
        for (int i = 0; i < n && rc == SS_OK; i++) {
            int w = write_tensor(&o, tensors[i], at, &crcs[i]);
            if (w == -1) rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot write %s: %s", op, path, tmp, strerror(errno));
            else if (w < 0) rc = ss_last_status();
            at += (uint64_t)ss_tensor_numel(tensors[i]) * 4;
        }
        /* The header again, now with the checksums: the same length, in place. */
        if (rc == SS_OK && n > 0) {
            header.n = 0;
            rc = build_header(&header, &data_bytes, op, path, names, tensors, crcs, n, meta_keys, meta_values,
                              n_meta);
            if (rc == SS_OK && header.n != hlen)
                rc = SS_FAIL(SS_ERR_IO, "%s: %s: internal error: the header changed length", op, path);
            if (rc == SS_OK && out_write(&o, header.p, hlen, 8) < 0)
                rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot write %s: %s", op, path, tmp, strerror(errno));
        }
        rc = ss_io_commit_temp(op, path, tmp, o.fd, rc);
    }
    free(tmp);
    free(crcs);
    free(header.p);
    return rc;
}
