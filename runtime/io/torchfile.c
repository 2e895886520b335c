/* torchfile.c — PyTorch checkpoint files (torch.save, torch.jit.save) read without
 * executing anything.
 *
 * Formats. The zip format (torch >= 1.6): entries under "<prefix>/": data.pkl (the
 * pickled object), data/<key> (each storage's raw bytes, little-endian unless a
 * "byteorder" entry says "big"), version, and for TorchScript constants.pkl and code/.
 * We read the zip's central directory ourselves (zip64 too) and take the entries we
 * need by name; stored and deflated entries are read, nothing is extracted. The
 * legacy format (_use_new_zipfile_serialization=False): five pickles in a row (the
 * magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of system
 * information, the object, the sorted list of storage keys), then for each key an
 * int64 element count and the storage's bytes, both little-endian whatever the
 * writer's byte order (torch's writeFileRaw converts).
 *
 * The unpickler. Pickles are programs; ours runs only the opcodes of PyTorch's own
 * weights_only unpickler (plus the protocol 4 framing ones) and resolves only the
 * globals that rebuild tensors, OrderedDicts and TorchScript module objects:
 *   collections.OrderedDict                 REDUCE with () -> an empty dict
 *   torch._utils._rebuild_tensor_v2         (storage, offset, size, stride, requires_grad,
 *                                            hooks[, metadata]) -> a tensor view
 *   torch._utils._rebuild_parameter(_with_state)  the tensor itself
 *   torch.<T>Storage                        only inside persistent ids
 *   torch.jit._pickle.restore_type_tag, build_intlist/doublelist/boollist/tensorlist,
 *   torch.device                            what TorchScript's data.pkl uses
 *   __torch__.*                             TorchScript classes, only through NEWOBJ with
 *                                            no arguments then BUILD with their attributes
 * Everything else fails, naming the opcode or the global. Values live in an arena
 * whose size is capped at a multiple of the pickle's length, the memo and the stack
 * are bounded by that length, MARKs nest at most TF_MAX_MARKS deep, and the walk that
 * names the tensors stops at TF_MAX_DEPTH levels (a list that holds itself) and
 * TF_MAX_VISITS nodes (a dict referenced from itself a thousand times over), so no
 * input can exhaust the stack or memory. The loop is iterative; the walk recurses at
 * most TF_MAX_DEPTH deep.
 *
 * Names: a dict's string (or integer) keys, joined by '.' through nested dicts, list
 * and tuple positions, and the attribute dicts of TorchScript objects; a file holding
 * one bare tensor names it "tensor". Only tensors are listed. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TF_MAX_PICKLE ((uint64_t)256 << 20) /* bytes of one pickle */
#define TF_MAX_MARKS 1024                   /* MARKs open at once */
#define TF_MAX_DEPTH 64                     /* containers nested in the object */
#define TF_MAX_VISITS (1u << 22)            /* nodes the naming walk may visit */
#define TF_MAX_TENSORS (1 << 18)            /* named tensors per file */
#define TF_MAX_NAME 1024                    /* bytes of a dotted name */
#define TF_MAX_LINE 256                     /* bytes of a GLOBAL's module or name */
#define TF_ARENA_FACTOR 32                  /* arena bytes per pickle byte, plus 1 MiB */
#define TF_CHUNK (64u << 10)                /* zip reads and inflation */
#define TF_LEGACY_FIRST (1u << 20)          /* legacy pickles: the first read */

/* ------------------------------------------------------------ tables */

typedef struct tf_dtype {
    const char *storage; /* torch.<storage> in persistent ids */
    const char *name;    /* safetensors' spelling */
    int size;            /* bytes per element */
    int io;              /* SS_IO_* when it loads as float32, else -1 */
} tf_dtype;

static const tf_dtype tf_dtypes[] = {
    {"FloatStorage", "F32", 4, SS_IO_F32},     {"HalfStorage", "F16", 2, SS_IO_F16},
    {"BFloat16Storage", "BF16", 2, SS_IO_BF16}, {"DoubleStorage", "F64", 8, SS_IO_F64},
    {"LongStorage", "I64", 8, -1},              {"IntStorage", "I32", 4, -1},
    {"ShortStorage", "I16", 2, -1},             {"CharStorage", "I8", 1, -1},
    {"ByteStorage", "U8", 1, -1},               {"BoolStorage", "BOOL", 1, -1},
    {"ComplexFloatStorage", "C64", 8, -1},      {"ComplexDoubleStorage", "C128", 16, -1},
};
#define N_DTYPES ((int)(sizeof tf_dtypes / sizeof tf_dtypes[0]))

enum tf_func {
    F_ORDERED_DICT, F_REBUILD_TENSOR, F_REBUILD_PARAMETER, F_REBUILD_PARAMETER_STATE, F_RESTORE_TYPE_TAG,
    F_BUILD_LIST, F_DEVICE, F_STORAGE, F_CLASS
};

static const struct {
    const char *module, *name;
    int func;
} tf_globals[] = {
    {"collections", "OrderedDict", F_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", F_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", F_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", F_REBUILD_PARAMETER_STATE},
    {"torch.jit._pickle", "restore_type_tag", F_RESTORE_TYPE_TAG},
    {"torch.jit._pickle", "build_intlist", F_BUILD_LIST},
    {"torch.jit._pickle", "build_doublelist", F_BUILD_LIST},
    {"torch.jit._pickle", "build_boollist", F_BUILD_LIST},
    {"torch.jit._pickle", "build_tensorlist", F_BUILD_LIST},
    {"torch", "device", F_DEVICE},
};

/* Pickle opcodes, for the names in error messages. */
static const struct {
    unsigned char code;
    const char *name;
} tf_opnames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"}, {'I', "INT"},
    {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"},
    {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
    {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"}, {'j', "LONG_BINGET"},
    {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"}, {'q', "BINPUT"}, {'r', "LONG_BINPUT"},
    {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"},
    {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"},
    {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"},
    {0x8b, "LONG4"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"}, {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

/* The legacy format's magic number 0x1950a86a20f9469cfc6c as LONG1's little-endian bytes. */
static const unsigned char tf_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

/* ------------------------------------------------------------ the handle */

typedef struct tf_entry { /* one zip entry */
    char *name;           /* points into the central directory copy */
    uint16_t method, flags;
    uint32_t crc;
    uint64_t csize, usize, local, data; /* data: 0 until the local header is read */
} tf_entry;

typedef struct tf_storage {
    char *key;
    int dtype; /* index into tf_dtypes */
    uint64_t numel;
    const tf_entry *entry; /* zip: its data/<key> entry */
    uint64_t at;           /* legacy: file offset of its bytes; 0 until found */
} tf_storage;

typedef struct tf_tensor {
    char *name;
    int storage;
    int ndim;
    uint64_t offset, numel, last; /* elements: first, count, offset of the last reached + 1 */
    int64_t size[SS_TORCHFILE_MAX_DIMS], stride[SS_TORCHFILE_MAX_DIMS];
} tf_tensor;

struct ss_torchfile {
    int fd;
    char *path;
    const char *format;
    uint64_t size;
    int big_endian;
    char *names; /* the zip entries' names, NUL-terminated */
    tf_entry *entries;
    int nentries;
    tf_storage *storages;
    int nstorages;
    tf_tensor *tensors;
    int ntensors;
};

/* ------------------------------------------------------------ values */

enum tf_kind {
    K_NONE, K_BOOL, K_INT, K_BIGINT, K_FLOAT, K_STR, K_TUPLE, K_LIST, K_DICT, K_SET, K_GLOBAL, K_STORAGE,
    K_TENSOR, K_OBJECT, K_DEVICE
};

static const char *const tf_kind_names[] = {
    "None", "a bool", "an int", "a long int", "a float", "a string", "a tuple", "a list", "a dict", "a set",
    "a global", "a storage", "a tensor", "an object", "a device"};

typedef struct tf_ref tf_ref;
typedef struct tf_view tf_view;
typedef struct tf_value tf_value;

struct tf_value {
    int kind;
    union {
        int64_t i;                            /* K_BOOL, K_INT */
        double f;                             /* K_FLOAT */
        struct { const char *p; uint32_t n; } s; /* K_STR, K_BIGINT (little-endian bytes) */
        struct { tf_value **v; uint32_t n, cap; } seq; /* tuples, lists, sets; dicts hold 2n (key, value) */
        struct { const char *name; int func, dtype; } g; /* K_GLOBAL */
        tf_ref *ref;                          /* K_STORAGE */
        tf_view *view;                        /* K_TENSOR */
        struct { const char *cls; tf_value *state; } obj; /* K_OBJECT */
    } u;
};

/* A persistent id: one use of a storage (legacy: possibly a view into a root storage). */
struct tf_ref {
    tf_ref *next;
    const char *key;
    uint32_t klen;
    int dtype;
    uint64_t numel;
    int is_view;
    uint64_t view_offset, view_numel;
    int storage; /* after the parse: index into tf->storages */
};

/* What _rebuild_tensor_v2 made. */
struct tf_view {
    tf_ref *ref;
    uint64_t offset;
    int ndim;
    int64_t *size, *stride;
};

typedef struct tf_block {
    struct tf_block *next;
    size_t used, cap;
    unsigned char data[];
} tf_block;

/* One open() call's parse state. */
typedef struct tf_ctx {
    ss_torchfile *tf;
    const char *op;
    tf_block *arena;
    size_t arena_bytes, arena_limit;
    tf_ref *refs;
    int nrefs;
    int legacy;
    uint64_t visits;
    int named, named_cap;
    char name[TF_MAX_NAME + 1];
} tf_ctx;

/* One pickle being run. */
typedef struct tf_pickle {
    const unsigned char *buf;
    size_t len, pos, at; /* at: the current opcode's offset */
    const char *what;    /* "data.pkl", ... for messages */
    tf_value **stack;
    size_t sp, scap;
    size_t marks[TF_MAX_MARKS];
    int nmarks;
    tf_value **memo;
    size_t memo_cap, memo_count;
    int more; /* the data ended: a longer buffer might parse */
} tf_pickle;

/* ------------------------------------------------------------ errors */

static void printable(char *out, size_t cap, const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

static int ctx_fail(const tf_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ctx_fail(const tf_ctx *c, int code, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return SS_FAIL(code, "%s: %s: %s", c->op, c->tf->path, msg);
}

static int pk_fail(const tf_ctx *c, const tf_pickle *P, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pk_fail(const tf_ctx *c, const tf_pickle *P, const char *fmt, ...)
{
    char msg[560];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return SS_FAIL(SS_ERR_FORMAT, "%s: %s: %s, byte %zu: %s", c->op, c->tf->path, P->what, P->at, msg);
}

static int pk_truncated(const tf_ctx *c, tf_pickle *P)
{
    P->more = 1;
    return pk_fail(c, P, "truncated: the data ends inside opcode 0x%02x", P->buf[P->at]);
}

static const char *op_name(unsigned code)
{
    for (size_t i = 0; i < sizeof tf_opnames / sizeof tf_opnames[0]; i++)
        if (tf_opnames[i].code == code) return tf_opnames[i].name;
    return NULL;
}

/* ------------------------------------------------------------ arena */

static void arena_free(tf_ctx *c)
{
    while (c->arena) {
        tf_block *b = c->arena;
        c->arena = b->next;
        free(b);
    }
    c->arena_bytes = 0;
}

static void *arena_alloc(tf_ctx *c, const tf_pickle *P, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > c->arena_limit - c->arena_bytes || c->arena_bytes > c->arena_limit) {
        pk_fail(c, P, "the pickle needs more than %zu bytes of memory, more than %d per byte of its size: refused",
                c->arena_limit, TF_ARENA_FACTOR);
        return NULL;
    }
    tf_block *b = c->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (size_t)(1 << 16) ? n : (size_t)(1 << 16);
        b = malloc(sizeof *b + cap);
        if (!b) {
            SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory unpickling", c->op, c->tf->path);
            return NULL;
        }
        b->next = c->arena;
        b->used = 0;
        b->cap = cap;
        c->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    c->arena_bytes += n;
    return p;
}

static tf_value *new_value(tf_ctx *c, const tf_pickle *P, int kind)
{
    tf_value *v = arena_alloc(c, P, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->kind = kind;
    }
    return v;
}

static tf_value *new_seq(tf_ctx *c, const tf_pickle *P, int kind, tf_value *const *items, size_t n)
{
    tf_value *v = new_value(c, P, kind);
    if (!v) return NULL;
    if (n > UINT32_MAX / 2) {
        pk_fail(c, P, "a container of %zu items is too large", n);
        return NULL;
    }
    if (n) {
        v->u.seq.v = arena_alloc(c, P, n * sizeof *items);
        if (!v->u.seq.v) return NULL;
        memcpy(v->u.seq.v, items, n * sizeof *items);
    }
    v->u.seq.n = v->u.seq.cap = (uint32_t)n;
    return v;
}

/* Appends items to a list, set or dict (slots, so a dict gets pairs). */
static int seq_append(tf_ctx *c, const tf_pickle *P, tf_value *s, tf_value *const *items, size_t n)
{
    if (!n) return SS_OK;
    if (n > UINT32_MAX / 2 - s->u.seq.n) return pk_fail(c, P, "a container grew past %u items", UINT32_MAX / 2);
    size_t need = s->u.seq.n + n;
    if (need > s->u.seq.cap) {
        size_t cap = s->u.seq.cap ? s->u.seq.cap : 4;
        while (cap < need) cap *= 2;
        tf_value **grown = arena_alloc(c, P, cap * sizeof *grown);
        if (!grown) return ss_last_status();
        if (s->u.seq.n) memcpy(grown, s->u.seq.v, s->u.seq.n * sizeof *grown);
        s->u.seq.v = grown;
        s->u.seq.cap = (uint32_t)cap;
    }
    memcpy(s->u.seq.v + s->u.seq.n, items, n * sizeof *items);
    s->u.seq.n = (uint32_t)need;
    return SS_OK;
}

static int str_is(const tf_value *v, const char *s)
{
    return v && v->kind == K_STR && v->u.s.n == strlen(s) && memcmp(v->u.s.p, s, v->u.s.n) == 0;
}

/* ------------------------------------------------------------ stack and memo */

static int push(tf_ctx *c, tf_pickle *P, tf_value *v)
{
    if (!v) return ss_last_status();
    if (P->sp == P->scap) {
        /* Every push costs at least one byte of pickle, so the stack stays below its length. */
        size_t cap = P->scap ? P->scap * 2 : 64;
        tf_value **grown = realloc(P->stack, cap * sizeof *grown);
        if (!grown) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory unpickling", c->op, c->tf->path);
        P->stack = grown;
        P->scap = cap;
    }
    P->stack[P->sp++] = v;
    return SS_OK;
}

/* Items above the innermost MARK: what the opcodes that pop may take. */
static size_t avail(const tf_pickle *P)
{
    return P->sp - (P->nmarks ? P->marks[P->nmarks - 1] : 0);
}

static tf_value *pop(tf_ctx *c, tf_pickle *P)
{
    if (!avail(P)) {
        pk_fail(c, P, "opcode %s finds the stack empty", op_name(P->buf[P->at]));
        return NULL;
    }
    return P->stack[--P->sp];
}

static tf_value *top(tf_ctx *c, tf_pickle *P)
{
    if (!avail(P)) {
        pk_fail(c, P, "opcode %s finds the stack empty", op_name(P->buf[P->at]));
        return NULL;
    }
    return P->stack[P->sp - 1];
}

/* The items since the innermost MARK, which is closed; *n set. */
static tf_value **pop_mark(tf_ctx *c, tf_pickle *P, size_t *n)
{
    if (!P->nmarks) {
        pk_fail(c, P, "opcode %s has no MARK to pop to", op_name(P->buf[P->at]));
        return NULL;
    }
    size_t m = P->marks[--P->nmarks];
    static tf_value *none[1];
    *n = P->sp - m;
    P->sp = m;
    return P->stack ? P->stack + m : none; /* no item was ever pushed */
}

static int memo_put(tf_ctx *c, tf_pickle *P, uint64_t idx)
{
    tf_value *v = top(c, P);
    if (!v) return ss_last_status();
    /* Picklers number memo entries 0, 1, 2, ...: an index past the pickle's length is forged. */
    if (idx > P->len) return pk_fail(c, P, "memo index %llu is out of range", (unsigned long long)idx);
    if (idx >= P->memo_cap) {
        size_t cap = P->memo_cap ? P->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        tf_value **grown = realloc(P->memo, cap * sizeof *grown);
        if (!grown) return SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory unpickling", c->op, c->tf->path);
        memset(grown + P->memo_cap, 0, (cap - P->memo_cap) * sizeof *grown);
        P->memo = grown;
        P->memo_cap = cap;
    }
    if (!P->memo[idx]) P->memo_count++;
    P->memo[idx] = v; /* a reference: later SETITEMs on it show through every copy */
    return SS_OK;
}

static int memo_get(tf_ctx *c, tf_pickle *P, uint64_t idx)
{
    if (idx >= P->memo_cap || !P->memo[idx])
        return pk_fail(c, P, "memo index %llu was never stored", (unsigned long long)idx);
    return push(c, P, P->memo[idx]);
}

/* ------------------------------------------------------------ reading opcodes' arguments */

static int need(tf_ctx *c, tf_pickle *P, size_t n)
{
    return n <= P->len - P->pos ? SS_OK : pk_truncated(c, P);
}

static uint64_t le_uint(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A newline-terminated line of GLOBAL (module or name), without the newline. */
static int read_line(tf_ctx *c, tf_pickle *P, const char **s, size_t *n)
{
    size_t left = P->len - P->pos, lim = left < TF_MAX_LINE + 1 ? left : TF_MAX_LINE + 1;
    const unsigned char *nl = memchr(P->buf + P->pos, '\n', lim);
    if (!nl) {
        if (left <= TF_MAX_LINE) return pk_truncated(c, P);
        return pk_fail(c, P, "GLOBAL names a module or class longer than %d bytes", TF_MAX_LINE);
    }
    *s = (const char *)P->buf + P->pos;
    *n = (size_t)(nl - (P->buf + P->pos));
    P->pos += *n + 1;
    return SS_OK;
}

/* ------------------------------------------------------------ globals and calls */

static int resolve_global(tf_ctx *c, tf_pickle *P, const char *mod, size_t mlen, const char *name, size_t nlen)
{
    char full[2 * TF_MAX_LINE + 2];
    if (mlen > TF_MAX_LINE || nlen > TF_MAX_LINE)
        return pk_fail(c, P, "a global's module or name is longer than %d bytes", TF_MAX_LINE);
    memcpy(full, mod, mlen);
    full[mlen] = '.';
    memcpy(full + mlen + 1, name, nlen);
    full[mlen + 1 + nlen] = '\0';
    int func = -1, dtype = -1;
    if (mlen == 5 && memcmp(mod, "torch", 5) == 0)
        for (int d = 0; d < N_DTYPES; d++)
            if (strlen(tf_dtypes[d].storage) == nlen && memcmp(name, tf_dtypes[d].storage, nlen) == 0)
                func = F_STORAGE, dtype = d;
    for (size_t i = 0; func < 0 && i < sizeof tf_globals / sizeof tf_globals[0]; i++)
        if (strlen(tf_globals[i].module) == mlen && memcmp(mod, tf_globals[i].module, mlen) == 0 &&
            strlen(tf_globals[i].name) == nlen && memcmp(name, tf_globals[i].name, nlen) == 0)
            func = tf_globals[i].func;
    if (func < 0 && mlen >= 9 && memcmp(mod, "__torch__", 9) == 0 && (mlen == 9 || mod[9] == '.')) func = F_CLASS;
    if (func < 0 || memchr(full, '\0', mlen + 1 + nlen)) {
        char shown[2 * TF_MAX_LINE + 2];
        printable(shown, sizeof shown, full, mlen + 1 + nlen);
        return pk_fail(c, P,
                       "refuses global '%s' (only torch tensors, OrderedDict and TorchScript modules are allowed)",
                       shown);
    }
    tf_value *v = new_value(c, P, K_GLOBAL);
    char *kept = v ? arena_alloc(c, P, mlen + nlen + 2) : NULL;
    if (!kept) return ss_last_status();
    memcpy(kept, full, mlen + nlen + 2);
    v->u.g.name = kept;
    v->u.g.func = func;
    v->u.g.dtype = dtype;
    return push(c, P, v);
}

static int int_arg(const tf_value *v, int64_t lo, int64_t *out)
{
    if (!v || v->kind != K_INT || v->u.i < lo) return 0;
    *out = v->u.i;
    return 1;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static tf_value *rebuild_tensor(tf_ctx *c, tf_pickle *P, const tf_value *args)
{
    tf_value *const *a = args->u.seq.v;
    uint32_t n = args->u.seq.n;
    int64_t offset;
    if (n != 6 && n != 7)
        return pk_fail(c, P, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %u", n), NULL;
    if (a[0]->kind != K_STORAGE)
        return pk_fail(c, P, "_rebuild_tensor_v2's storage is %s", tf_kind_names[a[0]->kind]), NULL;
    if (!int_arg(a[1], 0, &offset))
        return pk_fail(c, P, "_rebuild_tensor_v2's storage offset is not an int >= 0"), NULL;
    if (a[2]->kind != K_TUPLE || a[3]->kind != K_TUPLE || a[2]->u.seq.n != a[3]->u.seq.n)
        return pk_fail(c, P, "_rebuild_tensor_v2's size and stride are not tuples of one length"), NULL;
    uint32_t nd = a[2]->u.seq.n;
    if (nd > SS_TORCHFILE_MAX_DIMS)
        return pk_fail(c, P, "a tensor has %u dimensions, more than the %d supported", nd, SS_TORCHFILE_MAX_DIMS),
               NULL;
    if (a[4]->kind != K_BOOL) return pk_fail(c, P, "_rebuild_tensor_v2's requires_grad is not a bool"), NULL;
    tf_value *v = new_value(c, P, K_TENSOR);
    tf_view *w = v ? arena_alloc(c, P, sizeof *w) : NULL;
    int64_t *dims = w ? arena_alloc(c, P, 2 * (nd ? nd : 1) * sizeof(int64_t)) : NULL;
    if (!dims) return NULL;
    w->ref = a[0]->u.ref;
    w->offset = (uint64_t)offset;
    w->ndim = (int)nd;
    w->size = dims;
    w->stride = dims + nd;
    for (uint32_t d = 0; d < nd; d++)
        if (!int_arg(a[2]->u.seq.v[d], 0, &w->size[d]) || !int_arg(a[3]->u.seq.v[d], 0, &w->stride[d]))
            return pk_fail(c, P, "_rebuild_tensor_v2's size or stride %u is not an int >= 0", d + 1), NULL;
    v->u.view = w;
    return v;
}

static int call(tf_ctx *c, tf_pickle *P, const tf_value *f, const tf_value *args, tf_value **out)
{
    if (f->kind != K_GLOBAL) return pk_fail(c, P, "REDUCE calls %s, not a global", tf_kind_names[f->kind]);
    if (args->kind != K_TUPLE)
        return pk_fail(c, P, "REDUCE's arguments are %s, not a tuple", tf_kind_names[args->kind]);
    tf_value *const *a = args->u.seq.v;
    uint32_t n = args->u.seq.n;
    switch (f->u.g.func) {
    case F_ORDERED_DICT:
        if (n) return pk_fail(c, P, "collections.OrderedDict is called with %u arguments, not ()", n);
        *out = new_value(c, P, K_DICT);
        return *out ? SS_OK : ss_last_status();
    case F_REBUILD_TENSOR:
        *out = rebuild_tensor(c, P, args);
        return *out ? SS_OK : ss_last_status();
    case F_REBUILD_PARAMETER:
    case F_REBUILD_PARAMETER_STATE:
        if (n != (f->u.g.func == F_REBUILD_PARAMETER ? 3u : 4u) || a[0]->kind != K_TENSOR)
            return pk_fail(c, P, "%s is not called with a tensor and %d more arguments", f->u.g.name,
                           f->u.g.func == F_REBUILD_PARAMETER ? 2 : 3);
        *out = a[0];
        return SS_OK;
    case F_RESTORE_TYPE_TAG:
        if (n != 2) return pk_fail(c, P, "restore_type_tag takes 2 arguments, got %u", n);
        *out = a[0];
        return SS_OK;
    case F_BUILD_LIST:
        if (n != 1 || a[0]->kind != K_LIST) return pk_fail(c, P, "%s is not called with one list", f->u.g.name);
        *out = a[0];
        return SS_OK;
    case F_DEVICE:
        *out = new_value(c, P, K_DEVICE);
        return *out ? SS_OK : ss_last_status();
    default: /* storage types and TorchScript classes are never called */
        return pk_fail(c, P, "refuses to call global '%s' with REDUCE", f->u.g.name);
    }
}

/* ('storage', torch.<T>Storage, key, location, numel) in the zip format; the legacy
 * format adds view metadata: None, or (view_key, offset, numel) inside the root. */
static int persistent_load(tf_ctx *c, tf_pickle *P, const tf_value *pid)
{
    if (pid->kind != K_TUPLE || pid->u.seq.n < 1 || !str_is(pid->u.seq.v[0], "storage"))
        return pk_fail(c, P, "refuses a persistent id that is not ('storage', ...)");
    tf_value *const *a = pid->u.seq.v;
    uint32_t want = c->legacy ? 6 : 5;
    int64_t numel, off = 0, vn = 0;
    if (pid->u.seq.n != want)
        return pk_fail(c, P, "a storage's persistent id has %u items, not %u", pid->u.seq.n, want);
    if (a[1]->kind != K_GLOBAL || a[1]->u.g.func != F_STORAGE)
        return pk_fail(c, P, "a storage's type is not one of torch's storage classes");
    if (a[2]->kind != K_STR || a[2]->u.s.n == 0 || memchr(a[2]->u.s.p, '\0', a[2]->u.s.n) || a[3]->kind != K_STR)
        return pk_fail(c, P, "a storage's key or location is not a string");
    if (!int_arg(a[4], 0, &numel)) return pk_fail(c, P, "a storage's size is not an int >= 0");
    int is_view = c->legacy && a[5]->kind != K_NONE;
    if (is_view) {
        const tf_value *m = a[5];
        if (m->kind != K_TUPLE || m->u.seq.n != 3 || m->u.seq.v[0]->kind != K_STR ||
            !int_arg(m->u.seq.v[1], 0, &off) || !int_arg(m->u.seq.v[2], 0, &vn))
            return pk_fail(c, P, "a storage's view metadata is not (key, offset, size)");
    }
    tf_value *v = new_value(c, P, K_STORAGE);
    tf_ref *r = v ? arena_alloc(c, P, sizeof *r) : NULL;
    if (!r) return ss_last_status();
    memset(r, 0, sizeof *r);
    r->key = a[2]->u.s.p;
    r->klen = a[2]->u.s.n;
    r->dtype = a[1]->u.g.dtype;
    r->numel = (uint64_t)numel;
    r->is_view = is_view;
    r->view_offset = (uint64_t)off;
    r->view_numel = (uint64_t)vn;
    r->next = c->refs;
    c->refs = r;
    c->nrefs++;
    v->u.ref = r;
    return push(c, P, v);
}

static int build(tf_ctx *c, tf_pickle *P)
{
    tf_value *state = pop(c, P), *inst = state ? top(c, P) : NULL;
    if (!inst) return ss_last_status();
    if (inst->kind == K_OBJECT) {
        inst->u.obj.state = state; /* a TorchScript module's attributes */
        return SS_OK;
    }
    if (inst->kind == K_DICT && state->kind == K_DICT) return SS_OK; /* OrderedDict's _metadata attribute */
    return pk_fail(c, P, "BUILD on %s with %s is not allowed", tf_kind_names[inst->kind], tf_kind_names[state->kind]);
}

/* ------------------------------------------------------------ the unpickler */

/* Runs one pickle from P->buf[P->pos] to its STOP; *out is the result. */
static int unpickle(tf_ctx *c, tf_pickle *P, tf_value **out)
{
    for (;;) {
        if (P->pos >= P->len) {
            P->at = P->len;
            P->more = 1;
            return SS_FAIL(SS_ERR_FORMAT, "%s: %s: %s: truncated: no STOP opcode before byte %zu", c->op, c->tf->path,
                           P->what, P->len);
        }
        P->at = P->pos;
        unsigned code = P->buf[P->pos++];
        const unsigned char *arg = P->buf + P->pos;
        tf_value *v = NULL, *w = NULL, **items;
        size_t n;
        switch (code) {
        case 0x80: /* PROTO */
            SS_TRY(need(c, P, 1));
            if (arg[0] < 2 || arg[0] > 5)
                return pk_fail(c, P, "pickle protocol %d is not supported (2 to 5 are)", arg[0]);
            P->pos++;
            break;
        case 0x95: /* FRAME: a length hint; the data follows in line */
            SS_TRY(need(c, P, 8));
            P->pos += 8;
            break;
        case '.': /* STOP */
            if (!(*out = pop(c, P))) return ss_last_status();
            return SS_OK;
        case 'c': { /* GLOBAL */
            const char *mod = NULL, *name = NULL;
            size_t ml = 0, nl = 0;
            SS_TRY(read_line(c, P, &mod, &ml));
            SS_TRY(read_line(c, P, &name, &nl));
            SS_TRY(resolve_global(c, P, mod, ml, name, nl));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(w = pop(c, P)) || !(v = pop(c, P))) return ss_last_status();
            if (v->kind != K_STR || w->kind != K_STR)
                return pk_fail(c, P, "STACK_GLOBAL's module or name is not a string");
            SS_TRY(resolve_global(c, P, v->u.s.p, v->u.s.n, w->u.s.p, w->u.s.n));
            break;
        case 'q': /* BINPUT */
            SS_TRY(need(c, P, 1));
            P->pos++;
            SS_TRY(memo_put(c, P, arg[0]));
            break;
        case 'r': /* LONG_BINPUT */
            SS_TRY(need(c, P, 4));
            P->pos += 4;
            SS_TRY(memo_put(c, P, le_uint(arg, 4)));
            break;
        case 0x94: /* MEMOIZE */
            SS_TRY(memo_put(c, P, P->memo_count));
            break;
        case 'h': /* BINGET */
            SS_TRY(need(c, P, 1));
            P->pos++;
            SS_TRY(memo_get(c, P, arg[0]));
            break;
        case 'j': /* LONG_BINGET */
            SS_TRY(need(c, P, 4));
            P->pos += 4;
            SS_TRY(memo_get(c, P, le_uint(arg, 4)));
            break;
        case '(': /* MARK */
            if (P->nmarks == TF_MAX_MARKS) return pk_fail(c, P, "MARKs nest deeper than %d", TF_MAX_MARKS);
            P->marks[P->nmarks++] = P->sp;
            break;
        case ')': /* EMPTY_TUPLE */
            SS_TRY(push(c, P, new_seq(c, P, K_TUPLE, NULL, 0)));
            break;
        case 't': /* TUPLE */
            if (!(items = pop_mark(c, P, &n))) return ss_last_status();
            SS_TRY(push(c, P, new_seq(c, P, K_TUPLE, items, n)));
            break;
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
            n = code - 0x84;
            if (avail(P) < n) return pk_fail(c, P, "opcode %s finds fewer than %zu items", op_name(code), n);
            P->sp -= n;
            SS_TRY(push(c, P, new_seq(c, P, K_TUPLE, P->stack + P->sp, n)));
            break;
        case '}': /* EMPTY_DICT */
            SS_TRY(push(c, P, new_value(c, P, K_DICT)));
            break;
        case ']': /* EMPTY_LIST */
            SS_TRY(push(c, P, new_value(c, P, K_LIST)));
            break;
        case 0x8f: /* EMPTY_SET */
            SS_TRY(push(c, P, new_value(c, P, K_SET)));
            break;
        case 's': /* SETITEM */
            if (avail(P) < 3) return pk_fail(c, P, "SETITEM finds fewer than 3 items");
            v = P->stack[P->sp - 3];
            if (v->kind != K_DICT) return pk_fail(c, P, "SETITEM on %s", tf_kind_names[v->kind]);
            SS_TRY(seq_append(c, P, v, P->stack + P->sp - 2, 2));
            P->sp -= 2;
            break;
        case 'u': /* SETITEMS */
            if (!(items = pop_mark(c, P, &n)) || !(v = top(c, P))) return ss_last_status();
            if (v->kind != K_DICT || n % 2)
                return pk_fail(c, P, "SETITEMS on %s with %zu items", tf_kind_names[v->kind], n);
            SS_TRY(seq_append(c, P, v, items, n));
            break;
        case 'a': /* APPEND */
            if (avail(P) < 2) return pk_fail(c, P, "APPEND finds fewer than 2 items");
            v = P->stack[P->sp - 2];
            if (v->kind != K_LIST) return pk_fail(c, P, "APPEND to %s", tf_kind_names[v->kind]);
            SS_TRY(seq_append(c, P, v, P->stack + P->sp - 1, 1));
            P->sp--;
            break;
        case 'e': /* APPENDS */
            if (!(items = pop_mark(c, P, &n)) || !(v = top(c, P))) return ss_last_status();
            if (v->kind != K_LIST) return pk_fail(c, P, "APPENDS to %s", tf_kind_names[v->kind]);
            SS_TRY(seq_append(c, P, v, items, n));
            break;
        case 'X':    /* BINUNICODE */
        case 'T':    /* BINSTRING */
        case 'U':    /* SHORT_BINSTRING */
        case 0x8c: { /* SHORT_BINUNICODE */
            int lb = code == 'X' || code == 'T' ? 4 : 1;
            SS_TRY(need(c, P, (size_t)lb));
            uint64_t len = le_uint(arg, lb);
            if (code == 'T' && len > INT32_MAX) return pk_fail(c, P, "BINSTRING has a negative length");
            P->pos += (size_t)lb;
            SS_TRY(need(c, P, len));
            if (!(v = new_value(c, P, K_STR))) return ss_last_status();
            v->u.s.p = (const char *)P->buf + P->pos;
            v->u.s.n = (uint32_t)len;
            P->pos += len;
            SS_TRY(push(c, P, v));
            break;
        }
        case 'J': /* BININT */
        case 'K': /* BININT1 */
        case 'M': { /* BININT2 */
            int nb = code == 'J' ? 4 : code == 'K' ? 1 : 2;
            SS_TRY(need(c, P, (size_t)nb));
            P->pos += (size_t)nb;
            if (!(v = new_value(c, P, K_INT))) return ss_last_status();
            v->u.i = code == 'J' ? (int64_t)(int32_t)(uint32_t)le_uint(arg, 4) : (int64_t)le_uint(arg, nb);
            SS_TRY(push(c, P, v));
            break;
        }
        case 0x8a: /* LONG1 */
            SS_TRY(need(c, P, 1));
            n = arg[0];
            P->pos++;
            SS_TRY(need(c, P, n));
            if (!(v = new_value(c, P, n <= 8 ? K_INT : K_BIGINT))) return ss_last_status();
            if (n <= 8) {
                uint64_t u = le_uint(arg + 1, (int)n);
                if (n && n < 8 && (arg[n] & 0x80)) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
                v->u.i = (int64_t)u;
            } else {
                v->u.s.p = (const char *)arg + 1;
                v->u.s.n = (uint32_t)n;
            }
            P->pos += n;
            SS_TRY(push(c, P, v));
            break;
        case 'G': { /* BINFLOAT: big-endian double */
            SS_TRY(need(c, P, 8));
            uint64_t bits = 0;
            for (int i = 0; i < 8; i++) bits = bits << 8 | arg[i];
            P->pos += 8;
            if (!(v = new_value(c, P, K_FLOAT))) return ss_last_status();
            memcpy(&v->u.f, &bits, 8);
            SS_TRY(push(c, P, v));
            break;
        }
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            if (!(v = new_value(c, P, K_BOOL))) return ss_last_status();
            v->u.i = code == 0x88;
            SS_TRY(push(c, P, v));
            break;
        case 'N': /* NONE */
            SS_TRY(push(c, P, new_value(c, P, K_NONE)));
            break;
        case 'R': /* REDUCE */
            if (!(w = pop(c, P)) || !(v = top(c, P))) return ss_last_status();
            SS_TRY(call(c, P, v, w, &P->stack[P->sp - 1]));
            break;
        case 'b': /* BUILD */
            SS_TRY(build(c, P));
            break;
        case 'Q': /* BINPERSID */
            if (!(v = pop(c, P))) return ss_last_status();
            SS_TRY(persistent_load(c, P, v));
            break;
        case 0x81: /* NEWOBJ: cls.__new__(cls, *args), only for TorchScript classes with no args */
            if (!(w = pop(c, P)) || !(v = pop(c, P))) return ss_last_status();
            if (v->kind != K_GLOBAL || v->u.g.func != F_CLASS)
                return pk_fail(c, P, "refuses NEWOBJ of %s%s%s (only TorchScript __torch__ classes)",
                               v->kind == K_GLOBAL ? "global '" : tf_kind_names[v->kind],
                               v->kind == K_GLOBAL ? v->u.g.name : "", v->kind == K_GLOBAL ? "'" : "");
            if (w->kind != K_TUPLE || w->u.seq.n) return pk_fail(c, P, "NEWOBJ of '%s' with arguments", v->u.g.name);
            if (!(w = new_value(c, P, K_OBJECT))) return ss_last_status();
            w->u.obj.cls = v->u.g.name;
            SS_TRY(push(c, P, w));
            break;
        default: {
            const char *name = op_name(code);
            if (name)
                return pk_fail(c, P,
                               "refuses opcode %s (0x%02x): only the opcodes of PyTorch's weights_only unpickler are "
                               "allowed",
                               name, code);
            return pk_fail(c, P, "unknown opcode 0x%02x (not a pickle, or a corrupt one)", code);
        }
        }
    }
}

static void pickle_init(tf_pickle *P, const unsigned char *buf, size_t len, size_t pos, const char *what)
{
    memset(P, 0, sizeof *P);
    P->buf = buf;
    P->len = len;
    P->pos = pos;
    P->what = what;
}

static void pickle_free(tf_pickle *P)
{
    free(P->stack);
    free(P->memo);
    P->stack = NULL;
    P->memo = NULL;
}

/* ------------------------------------------------------------ storages and names */

static int ref_cmp(const void *a, const void *b)
{
    const tf_ref *x = *(const tf_ref *const *)a, *y = *(const tf_ref *const *)b;
    int d = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);
    return d ? d : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Gathers the persistent ids into tf->storages, one per key (sorted by key). */
static int collect_storages(tf_ctx *c)
{
    ss_torchfile *tf = c->tf;
    if (!c->nrefs) return SS_OK;
    tf_ref **refs = malloc(sizeof *refs * (size_t)c->nrefs);
    tf->storages = calloc((size_t)c->nrefs, sizeof *tf->storages);
    if (!refs || !tf->storages) {
        free(refs);
        return ctx_fail(c, SS_ERR_NOMEM, "out of memory for %d storages", c->nrefs);
    }
    int n = 0;
    for (tf_ref *r = c->refs; r; r = r->next) refs[n++] = r;
    qsort(refs, (size_t)n, sizeof *refs, ref_cmp);
    int rc = SS_OK;
    for (int i = 0; i < n && rc == SS_OK; i++) {
        tf_ref *r = refs[i];
        tf_storage *s = tf->nstorages ? &tf->storages[tf->nstorages - 1] : NULL;
        if (i && ref_cmp(&refs[i - 1], &refs[i]) == 0) {
            if (r->dtype != s->dtype || r->numel != s->numel) {
                char k[64];
                printable(k, sizeof k, r->key, r->klen);
                rc = ctx_fail(c, SS_ERR_FORMAT, "storage '%s' appears as %s[%llu] and as %s[%llu]", k,
                              tf_dtypes[s->dtype].name, (unsigned long long)s->numel, tf_dtypes[r->dtype].name,
                              (unsigned long long)r->numel);
            }
        } else {
            s = &tf->storages[tf->nstorages++];
            s->key = strndup(r->key, r->klen);
            s->dtype = r->dtype;
            s->numel = r->numel;
            if (!s->key) rc = ctx_fail(c, SS_ERR_NOMEM, "out of memory");
        }
        r->storage = tf->nstorages - 1;
    }
    free(refs);
    return rc;
}

/* Records tensor view w under the name in c->name, checking it lies inside its storage. */
static int add_tensor(tf_ctx *c, const tf_view *w)
{
    ss_torchfile *tf = c->tf;
    if (tf->ntensors == TF_MAX_TENSORS) return ctx_fail(c, SS_ERR_FORMAT, "more than %d tensors", TF_MAX_TENSORS);
    if (tf->ntensors == c->named_cap) {
        int cap = c->named_cap ? c->named_cap * 2 : 64;
        tf_tensor *grown = realloc(tf->tensors, sizeof *grown * (size_t)cap);
        if (!grown) return ctx_fail(c, SS_ERR_NOMEM, "out of memory for %d tensors", cap);
        tf->tensors = grown;
        c->named_cap = cap;
    }
    const tf_ref *r = w->ref;
    const tf_storage *s = &tf->storages[r->storage];
    /* The elements the view may reach: its legacy storage view, or the whole storage. */
    uint64_t base = 0, room = s->numel;
    if (r->is_view) {
        if (r->view_offset > s->numel || r->view_numel > s->numel - r->view_offset)
            return ctx_fail(c, SS_ERR_FORMAT, "a view of storage '%.64s' reaches past its %llu elements", s->key,
                            (unsigned long long)s->numel);
        base = r->view_offset;
        room = r->view_numel;
    }
    uint64_t numel = 1, last = 0;
    int overflow = 0;
    for (int d = 0; d < w->ndim; d++) {
        if (__builtin_mul_overflow(numel, (uint64_t)w->size[d], &numel)) overflow = 1;
        uint64_t reach;
        if (w->size[d] && (__builtin_mul_overflow((uint64_t)(w->size[d] - 1), (uint64_t)w->stride[d], &reach) ||
                           __builtin_add_overflow(last, reach, &last)))
            overflow = 1;
    }
    if (!overflow && numel && __builtin_add_overflow(last, w->offset + 1, &last)) overflow = 1;
    if (overflow || (numel && (w->offset >= room || last > room)))
        return ctx_fail(c, SS_ERR_FORMAT,
                        "tensor \"%.200s\" (offset %llu) reaches past the %llu elements of its storage '%.64s'",
                        c->name, (unsigned long long)w->offset, (unsigned long long)room, s->key);
    tf_tensor *t = &tf->tensors[tf->ntensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(c->name))) return ctx_fail(c, SS_ERR_NOMEM, "out of memory");
    tf->ntensors++;
    t->storage = r->storage;
    t->ndim = w->ndim;
    t->offset = base + w->offset;
    t->numel = numel;
    t->last = numel ? base + last : 0;
    for (int d = 0; d < w->ndim; d++) t->size[d] = w->size[d], t->stride[d] = w->stride[d];
    return SS_OK;
}

/* Names every tensor reachable from v; c->name[0..len) is v's own name. */
static int walk(tf_ctx *c, const tf_value *v, size_t len, int depth)
{
    if (++c->visits > TF_MAX_VISITS)
        return ctx_fail(c, SS_ERR_FORMAT, "the object has more than %u nodes to visit (shared many times over)",
                        TF_MAX_VISITS);
    if (depth > TF_MAX_DEPTH)
        return ctx_fail(c, SS_ERR_FORMAT, "containers nest deeper than %d levels at \"%.200s\" (a cycle?)",
                        TF_MAX_DEPTH, c->name);
    switch (v->kind) {
    case K_TENSOR:
        if (!len) memcpy(c->name, "tensor", 7); /* a file holding one bare tensor */
        return add_tensor(c, v->u.view);
    case K_OBJECT: /* a TorchScript module: its attributes */
        return v->u.obj.state ? walk(c, v->u.obj.state, len, depth + 1) : SS_OK;
    case K_DICT:
    case K_LIST:
    case K_TUPLE: {
        int dict = v->kind == K_DICT;
        uint32_t n = dict ? v->u.seq.n / 2 : v->u.seq.n;
        for (uint32_t i = 0; i < n; i++) {
            const tf_value *key = dict ? v->u.seq.v[2 * i] : NULL, *item = v->u.seq.v[dict ? 2 * i + 1 : i];
            char part[32];
            const char *p = part;
            size_t plen;
            if (!dict) plen = (size_t)snprintf(part, sizeof part, "%u", i);
            else if (key->kind == K_INT) plen = (size_t)snprintf(part, sizeof part, "%lld", (long long)key->u.i);
            else if (key->kind == K_STR) p = key->u.s.p, plen = key->u.s.n;
            else continue; /* other keys cannot make a name */
            if (memchr(p, '\0', plen))
                return ctx_fail(c, SS_ERR_FORMAT, "a key under \"%.200s\" holds a NUL byte", c->name);
            size_t at = len ? len + 1 : 0;
            if (at + plen > TF_MAX_NAME)
                return ctx_fail(c, SS_ERR_FORMAT, "a name under \"%.200s\" is longer than %d bytes", c->name,
                                TF_MAX_NAME);
            if (len) c->name[len] = '.';
            memcpy(c->name + at, p, plen);
            c->name[at + plen] = '\0';
            SS_TRY(walk(c, item, at + plen, depth + 1));
            c->name[len] = '\0';
        }
        return SS_OK;
    }
    default: /* numbers, strings, None, sets, devices: not tensors */
        return SS_OK;
    }
}

static int tensor_cmp(const void *a, const void *b)
{
    return strcmp(((const tf_tensor *)a)->name, ((const tf_tensor *)b)->name);
}

/* Storages, then the names of the tensors reachable from root, sorted and unique. */
static int name_tensors(tf_ctx *c, const tf_value *root)
{
    SS_TRY(collect_storages(c));
    c->name[0] = '\0';
    SS_TRY(walk(c, root, 0, 0));
    ss_torchfile *tf = c->tf;
    if (tf->ntensors > 1) qsort(tf->tensors, (size_t)tf->ntensors, sizeof *tf->tensors, tensor_cmp);
    for (int i = 1; i < tf->ntensors; i++)
        if (strcmp(tf->tensors[i - 1].name, tf->tensors[i].name) == 0)
            return ctx_fail(c, SS_ERR_FORMAT, "two tensors are named \"%.200s\"", tf->tensors[i].name);
    return SS_OK;
}

static const tf_storage *find_storage(const ss_torchfile *tf, const char *key)
{
    for (int lo = 0, hi = tf->nstorages - 1; lo <= hi;) {
        int mid = (lo + hi) / 2, d = strcmp(key, tf->storages[mid].key);
        if (!d) return &tf->storages[mid];
        if (d < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------ zip */

static uint32_t zip_u32(const unsigned char *p) { return (uint32_t)le_uint(p, 4); }
static uint16_t zip_u16(const unsigned char *p) { return (uint16_t)le_uint(p, 2); }

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const tf_entry *)a)->name, ((const tf_entry *)b)->name);
}

static const tf_entry *find_entry(const ss_torchfile *tf, const char *name)
{
    tf_entry key = {.name = (char *)name};
    return bsearch(&key, tf->entries, (size_t)tf->nentries, sizeof key, entry_cmp);
}

static int read_at(const tf_ctx *c, void *buf, size_t n, uint64_t off, const char *what)
{
    int64_t got = ss_io_pread_full(c->tf->fd, buf, n, off);
    if (got < 0) return ctx_fail(c, SS_ERR_IO, "read error: %s", strerror(errno));
    if ((size_t)got < n)
        return ctx_fail(c, SS_ERR_FORMAT, "truncated: the file ends inside %s (%zu bytes at offset %llu)", what, n,
                        (unsigned long long)off);
    return SS_OK;
}

/* The zip64 extended-information extra field: the 64-bit values of the header fields
 * that hold 0xFFFFFFFF, in the order usize, csize, local offset. */
static int zip64_extra(const tf_ctx *c, tf_entry *e, const unsigned char *x, size_t xlen)
{
    while (xlen >= 4) {
        unsigned id = zip_u16(x), len = zip_u16(x + 2);
        if (len > xlen - 4) break;
        if (id == 0x0001) {
            const unsigned char *p = x + 4;
            size_t left = len;
            uint64_t *fields[3] = {&e->usize, &e->csize, &e->local};
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != 0xFFFFFFFFu) continue;
                if (left < 8) return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: a short zip64 extra field");
                *fields[k] = le_uint(p, 8);
                p += 8;
                left -= 8;
            }
            return SS_OK;
        }
        x += 4 + len;
        xlen -= 4 + len;
    }
    if (e->usize == 0xFFFFFFFFu || e->csize == 0xFFFFFFFFu || e->local == 0xFFFFFFFFu)
        return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\" needs a zip64 extra field and has none",
                        e->name);
    return SS_OK;
}

/* The end-of-central-directory record: its 22 bytes into eo, its offset into *at. It is
 * the last one in the file's final 64 KiB + 22 bytes whose comment ends inside the file. */
static int zip_end_record(const tf_ctx *c, unsigned char eo[22], uint64_t *at)
{
    const ss_torchfile *tf = c->tf;
    if (tf->size < 22) return ctx_fail(c, SS_ERR_FORMAT, "truncated zip: %llu bytes", (unsigned long long)tf->size);
    size_t n = tf->size < 22 + 65535 ? (size_t)tf->size : 22 + 65535;
    uint64_t base = tf->size - n;
    unsigned char *tail = malloc(n);
    if (!tail) return ctx_fail(c, SS_ERR_NOMEM, "out of memory for the zip's end record");
    int rc = read_at(c, tail, n, base, "the zip's end record");
    ssize_t found = -1;
    for (ssize_t i = (ssize_t)n - 22; rc == SS_OK && i >= 0; i--)
        if (zip_u32(tail + i) == 0x06054b50u && (size_t)i + 22 + zip_u16(tail + i + 20) <= n) {
            found = i;
            break;
        }
    if (found >= 0) {
        memcpy(eo, tail + found, 22);
        *at = base + (uint64_t)found;
    } else if (rc == SS_OK) {
        rc = ctx_fail(c, SS_ERR_FORMAT,
                      "truncated or corrupt zip: no end-of-central-directory record (the file was cut short?)");
    }
    free(tail);
    return rc;
}

/* Finds the end-of-central-directory record (and the zip64 one) and reads the central directory. */
static int zip_directory(tf_ctx *c)
{
    ss_torchfile *tf = c->tf;
    unsigned char eo[22];
    uint64_t eocd = 0;
    SS_TRY(zip_end_record(c, eo, &eocd));
    uint64_t count = zip_u16(eo + 10), cd_size = zip_u32(eo + 12), cd_off = zip_u32(eo + 16), cd_end = eocd;
    /* The disk number: 0, or 0xFFFF when the zip64 record holds it. */
    if (zip_u16(eo + 4) != 0 && zip_u16(eo + 4) != 0xFFFF)
        return ctx_fail(c, SS_ERR_FORMAT, "multi-disk zip archives are not supported");
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        unsigned char loc[20], rec[56];
        if (eocd < 20) return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: no zip64 locator before the end record");
        SS_TRY(read_at(c, loc, 20, eocd - 20, "the zip64 locator"));
        if (zip_u32(loc) != 0x07064b50u)
            return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: the end record asks for zip64 but there is no locator");
        uint64_t rec_off = le_uint(loc + 8, 8);
        if (rec_off > eocd - 20 || eocd - 20 - rec_off < 56)
            return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: the zip64 end record lies outside the file");
        SS_TRY(read_at(c, rec, 56, rec_off, "the zip64 end record"));
        if (zip_u32(rec) != 0x06064b50u)
            return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: no zip64 end record where the locator points");
        count = le_uint(rec + 32, 8);
        cd_size = le_uint(rec + 40, 8);
        cd_off = le_uint(rec + 48, 8);
        cd_end = rec_off;
    }
    if (cd_off > cd_end || cd_size > cd_end - cd_off)
        return ctx_fail(c, SS_ERR_FORMAT, "truncated or corrupt zip: the central directory [%llu, +%llu) lies outside "
                        "the file", (unsigned long long)cd_off, (unsigned long long)cd_size);
    if (count > cd_size / 46)
        return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: %llu entries cannot fit a %llu-byte central directory",
                        (unsigned long long)count, (unsigned long long)cd_size);
    /* cd_size is bytes the file really has (checked above); the names, each with a
     * NUL, fit in cd_size + count bytes. */
    unsigned char *cd = malloc((size_t)cd_size + 1);
    tf->names = malloc((size_t)(cd_size + count) + 1);
    tf->entries = calloc((size_t)count + 1, sizeof *tf->entries);
    if (!cd || !tf->names || !tf->entries) {
        free(cd);
        return ctx_fail(c, SS_ERR_NOMEM, "out of memory for the zip directory");
    }
    int rc = read_at(c, cd, (size_t)cd_size, cd_off, "the zip's central directory");
    size_t p = 0, q = 0;
    for (uint64_t i = 0; i < count && rc == SS_OK; i++) {
        const unsigned char *h = cd + p;
        size_t nl, xl, cl;
        if (cd_size - p < 46 || zip_u32(h) != 0x02014b50u ||
            46 + (nl = zip_u16(h + 28)) + (xl = zip_u16(h + 30)) + (cl = zip_u16(h + 32)) > cd_size - p) {
            rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: central directory entry %llu is damaged",
                          (unsigned long long)i + 1);
            break;
        }
        if (memchr(h + 46, '\0', nl)) {
            rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: an entry name holds a NUL byte");
            break;
        }
        tf_entry *e = &tf->entries[tf->nentries++];
        e->name = tf->names + q;
        memcpy(e->name, h + 46, nl);
        e->name[nl] = '\0';
        q += nl + 1;
        e->flags = zip_u16(h + 8);
        e->method = zip_u16(h + 10);
        e->crc = zip_u32(h + 16);
        e->csize = zip_u32(h + 20);
        e->usize = zip_u32(h + 24);
        e->local = zip_u32(h + 42);
        rc = zip64_extra(c, e, h + 46 + nl, xl);
        p += 46 + nl + xl + cl;
    }
    free(cd);
    SS_TRY(rc);
    qsort(tf->entries, (size_t)tf->nentries, sizeof *tf->entries, entry_cmp);
    for (int i = 1; i < tf->nentries; i++)
        if (strcmp(tf->entries[i - 1].name, tf->entries[i].name) == 0)
            return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: two entries are named \"%.200s\"", tf->entries[i].name);
    return SS_OK;
}

/* Reads entry e's local header: where its data starts, and that it fits in the file. */
static int zip_locate(const tf_ctx *c, tf_entry *e)
{
    if (e->data) return SS_OK;
    unsigned char h[30];
    if (e->local > c->tf->size || c->tf->size - e->local < 30)
        return ctx_fail(c, SS_ERR_FORMAT, "truncated zip: entry \"%.200s\" starts past the end of the file", e->name);
    SS_TRY(read_at(c, h, 30, e->local, "a zip entry's header"));
    if (zip_u32(h) != 0x04034b50u)
        return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\" has no local header", e->name);
    if (e->flags & 1) return ctx_fail(c, SS_ERR_FORMAT, "zip entry \"%.200s\" is encrypted", e->name);
    if (e->method != 0 && e->method != 8)
        return ctx_fail(c, SS_ERR_FORMAT,
                        "zip entry \"%.200s\" uses compression method %u; only stored (0) and deflate (8) are read",
                        e->name, e->method);
    if (e->method == 0 && e->csize != e->usize)
        return ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: stored entry \"%.200s\" has sizes %llu and %llu", e->name,
                        (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == 8 && e->usize / SS_DEFLATE_MAX_RATIO > e->csize)
        return ctx_fail(c, SS_ERR_FORMAT,
                        "corrupt zip: entry \"%.200s\" claims %llu bytes from %llu compressed, more than deflate "
                        "can produce",
                        e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
    uint64_t data = e->local + 30 + zip_u16(h + 26) + zip_u16(h + 28);
    if (data > c->tf->size || e->csize > c->tf->size - data)
        return ctx_fail(c, SS_ERR_FORMAT, "truncated zip: entry \"%.200s\" (%llu bytes) runs past the end of the file",
                        e->name, (unsigned long long)e->csize);
    e->data = data;
    return SS_OK;
}

/* Bytes [off, off + n) of entry e's uncompressed data into dst; a read of the whole
 * entry checks its CRC-32 (unless the writer left it 0, as torch may when told not
 * to compute it). */
static int zip_read(const tf_ctx *c, const tf_entry *e, uint64_t off, uint64_t n, unsigned char *dst)
{
    const int whole = off == 0 && n == e->usize && e->crc != 0;
    if (off > e->usize || n > e->usize - off)
        return ctx_fail(c, SS_ERR_FORMAT, "zip entry \"%.200s\" holds %llu bytes, fewer than the %llu needed", e->name,
                        (unsigned long long)e->usize, (unsigned long long)(off + n));
    uLong crc = crc32(0L, Z_NULL, 0);
    if (e->method == 0) {
        for (uint64_t done = 0; done < n;) {
            size_t want = n - done > (1u << 30) ? (1u << 30) : (size_t)(n - done);
            SS_TRY(read_at(c, dst + done, want, e->data + off + done, e->name));
            if (whole) crc = crc32_z(crc, dst + done, want);
            done += want;
        }
    } else {
        unsigned char *in = malloc(2 * TF_CHUNK), *out = in + TF_CHUNK;
        if (!in) return ctx_fail(c, SS_ERR_NOMEM, "out of memory for inflating");
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
            free(in);
            return ctx_fail(c, SS_ERR_NOMEM, "out of memory for inflating");
        }
        uint64_t read = 0, pos = 0; /* compressed bytes read, uncompressed bytes made */
        int rc = SS_OK, zr = Z_OK;
        while (rc == SS_OK && pos < off + n && zr != Z_STREAM_END) {
            if (z.avail_in == 0 && read < e->csize) {
                size_t want = e->csize - read > TF_CHUNK ? TF_CHUNK : (size_t)(e->csize - read);
                if ((rc = read_at(c, in, want, e->data + read, e->name)) < 0) break;
                read += want;
                z.next_in = in;
                z.avail_in = (uInt)want;
            }
            z.next_out = out;
            z.avail_out = TF_CHUNK;
            zr = inflate(&z, Z_NO_FLUSH);
            if (zr == Z_BUF_ERROR) { /* no progress: the input ran out */
                rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\" ends inside its deflate data", e->name);
                break;
            }
            if (zr != Z_OK && zr != Z_STREAM_END) {
                rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\": %s", e->name,
                              z.msg ? z.msg : "inflate failed");
                break;
            }
            uint64_t made = TF_CHUNK - z.avail_out;
            if (made > e->usize - pos) {
                rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\" inflates to more than its %llu bytes",
                              e->name, (unsigned long long)e->usize);
                break;
            }
            if (whole) crc = crc32_z(crc, out, (size_t)made);
            /* The part of [pos, pos + made) that falls in [off, off + n). */
            uint64_t lo = pos > off ? pos : off, hi = pos + made < off + n ? pos + made : off + n;
            if (lo < hi) memcpy(dst + (lo - off), out + (lo - pos), (size_t)(hi - lo));
            pos += made;
        }
        if (rc == SS_OK && pos < off + n)
            rc = ctx_fail(c, SS_ERR_FORMAT, "corrupt zip: entry \"%.200s\" inflates to %llu bytes, not %llu", e->name,
                          (unsigned long long)pos, (unsigned long long)e->usize);
        inflateEnd(&z);
        free(in);
        SS_TRY(rc);
    }
    if (whole && (uint32_t)crc != e->crc)
        return ctx_fail(c, SS_ERR_FORMAT, "zip entry \"%.200s\" fails its CRC-32 check (stored %08x, computed %08x): "
                        "the file is corrupt", e->name, e->crc, (unsigned)crc);
    return SS_OK;
}

/* A whole small entry (a pickle, byteorder) in a new buffer. */
static unsigned char *zip_slurp(const tf_ctx *c, tf_entry *e, uint64_t cap)
{
    if (zip_locate(c, e) < 0) return NULL;
    if (e->usize > cap)
        return ctx_fail(c, SS_ERR_FORMAT, "zip entry \"%.200s\" has %llu bytes, more than the %llu read", e->name,
                        (unsigned long long)e->usize, (unsigned long long)cap), NULL;
    /* usize is at most csize * 1033 (zip_locate), and csize bytes are in the file. */
    unsigned char *buf = malloc((size_t)e->usize + 1);
    if (!buf) return ctx_fail(c, SS_ERR_NOMEM, "out of memory for \"%.200s\"", e->name), NULL;
    if (zip_read(c, e, 0, e->usize, buf) < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int zip_open(tf_ctx *c)
{
    ss_torchfile *tf = c->tf;
    SS_TRY(zip_directory(c));
    /* data.pkl at the top of one folder: "<prefix>/data.pkl" */
    tf_entry *pkl = NULL;
    for (int i = 0; i < tf->nentries; i++) {
        const char *name = tf->entries[i].name, *slash = strchr(name, '/');
        if (slash && slash > name && strcmp(slash + 1, "data.pkl") == 0) {
            if (pkl) return ctx_fail(c, SS_ERR_FORMAT, "the zip holds two data.pkl entries");
            pkl = &tf->entries[i];
        }
    }
    if (!pkl)
        return ctx_fail(c, SS_ERR_FORMAT,
                        "a zip file without <archive>/data.pkl: not a PyTorch checkpoint (TorchScript files from "
                        "before PyTorch 1.4 are not read)");
    size_t plen = (size_t)(strchr(pkl->name, '/') - pkl->name);
    char key[TF_MAX_NAME + 64];
    if (plen > TF_MAX_NAME) return ctx_fail(c, SS_ERR_FORMAT, "the zip's folder name is too long");
    memcpy(key, pkl->name, plen + 1);
    strcpy(key + plen + 1, "constants.pkl");
    tf->format = find_entry(tf, key) ? "torchscript" : "zip";
    strcpy(key + plen + 1, "byteorder");
    tf_entry *bo = (tf_entry *)find_entry(tf, key);
    if (bo) {
        unsigned char *text = zip_slurp(c, bo, 16);
        if (!text) return ss_last_status();
        size_t n = (size_t)bo->usize;
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r')) n--;
        int little = n == 6 && memcmp(text, "little", 6) == 0, big = n == 3 && memcmp(text, "big", 3) == 0;
        free(text);
        if (!little && !big) return ctx_fail(c, SS_ERR_FORMAT, "the byteorder entry is neither \"little\" nor \"big\"");
        tf->big_endian = big;
    }

    unsigned char *buf = zip_slurp(c, pkl, TF_MAX_PICKLE);
    if (!buf) return ss_last_status();
    tf_pickle P;
    pickle_init(&P, buf, (size_t)pkl->usize, 0, "data.pkl");
    c->arena_limit = (size_t)pkl->usize * TF_ARENA_FACTOR + (1u << 20);
    tf_value *root = NULL;
    int rc = unpickle(c, &P, &root);
    pickle_free(&P);
    if (rc == SS_OK) rc = name_tensors(c, root);
    free(buf);
    SS_TRY(rc);

    /* Every storage's bytes: <prefix>/data/<key>, as long as its elements need. */
    for (int i = 0; i < tf->nstorages; i++) {
        tf_storage *s = &tf->storages[i];
        if (strlen(s->key) > TF_MAX_NAME) return ctx_fail(c, SS_ERR_FORMAT, "a storage key is too long");
        snprintf(key + plen + 1, sizeof key - plen - 1, "data/%s", s->key);
        tf_entry *e = (tf_entry *)find_entry(tf, key);
        if (!e) return ctx_fail(c, SS_ERR_FORMAT, "storage '%.64s' has no entry \"%.200s\" in the zip", s->key, key);
        SS_TRY(zip_locate(c, e));
        uint64_t bytes;
        if (__builtin_mul_overflow(s->numel, (uint64_t)tf_dtypes[s->dtype].size, &bytes) || e->usize < bytes)
            return ctx_fail(c, SS_ERR_FORMAT,
                            "truncated: entry \"%.200s\" holds %llu bytes but its storage needs %llu elements of %s "
                            "(%d bytes each)",
                            key, (unsigned long long)e->usize, (unsigned long long)s->numel, tf_dtypes[s->dtype].name,
                            tf_dtypes[s->dtype].size);
        s->entry = e;
    }
    return SS_OK;
}

/* ------------------------------------------------------------ legacy */

/* The five pickles at the start of buf, then where each storage's data lies after them.
 * *more: the pickles ran past the end of buf (a longer buf might parse). */
static int legacy_pickles(tf_ctx *c, const unsigned char *buf, size_t len, int *more)
{
    static const char *const what[5] = {"the magic number pickle", "the protocol version pickle",
                                        "the system information pickle", "the object pickle",
                                        "the storage key pickle"};
    tf_value *res[5] = {0};
    size_t pos = 0;
    int rc = SS_OK;
    c->arena_limit = len * TF_ARENA_FACTOR + (1u << 20);
    for (int k = 0; k < 5 && rc == SS_OK; k++) {
        tf_pickle P;
        pickle_init(&P, buf, len, pos, what[k]);
        c->legacy = k == 3;
        rc = unpickle(c, &P, &res[k]);
        *more = P.more;
        pos = P.pos;
        pickle_free(&P);
        if (rc < 0) break;
        if (k == 0 && !(res[0]->kind == K_BIGINT && res[0]->u.s.n == sizeof tf_magic &&
                        memcmp(res[0]->u.s.p, tf_magic, sizeof tf_magic) == 0))
            rc = ctx_fail(c, SS_ERR_FORMAT,
                          "not a PyTorch checkpoint: neither a zip file nor the legacy format's magic number");
        else if (k == 1 && !(res[1]->kind == K_INT && res[1]->u.i == 1001))
            rc = ctx_fail(c, SS_ERR_FORMAT, "legacy format protocol version is not 1001");
        else if (k == 2 && res[2]->kind != K_DICT)
            rc = ctx_fail(c, SS_ERR_FORMAT, "legacy format: the system information is not a dict");
    }
    if (rc < 0) return rc;
    const tf_value *keys = res[4];
    if (keys->kind != K_LIST) return ctx_fail(c, SS_ERR_FORMAT, "legacy format: the storage keys are not a list");
    SS_TRY(name_tensors(c, res[3]));

    /* Each listed storage: int64 element count, then its bytes. */
    ss_torchfile *tf = c->tf;
    uint64_t at = pos;
    for (uint32_t i = 0; i < keys->u.seq.n; i++) {
        const tf_value *k = keys->u.seq.v[i];
        char key[TF_MAX_NAME + 1];
        if (k->kind != K_STR || k->u.s.n > TF_MAX_NAME)
            return ctx_fail(c, SS_ERR_FORMAT, "legacy format: storage key %u is not a short string", i + 1);
        memcpy(key, k->u.s.p, k->u.s.n);
        key[k->u.s.n] = '\0';
        tf_storage *s = (tf_storage *)find_storage(tf, key);
        if (!s || s->at)
            return ctx_fail(c, SS_ERR_FORMAT, "legacy format: storage key '%.64s' is %s", key,
                            s ? "listed twice" : "used by no tensor");
        unsigned char n8[8];
        SS_TRY(read_at(c, n8, 8, at, "a storage's element count"));
        uint64_t numel = le_uint(n8, 8), bytes;
        if (numel != s->numel)
            return ctx_fail(c, SS_ERR_FORMAT,
                            "legacy format: storage '%.64s' has %llu elements in the data but %llu in the pickle", key,
                            (unsigned long long)numel, (unsigned long long)s->numel);
        if (__builtin_mul_overflow(numel, (uint64_t)tf_dtypes[s->dtype].size, &bytes) || at + 8 > tf->size ||
            bytes > tf->size - at - 8)
            return ctx_fail(c, SS_ERR_FORMAT, "truncated: storage '%.64s' needs %llu bytes at offset %llu but the file "
                            "has %llu", key, (unsigned long long)bytes, (unsigned long long)at + 8,
                            (unsigned long long)tf->size);
        s->at = at + 8;
        at += 8 + bytes;
    }
    for (int i = 0; i < tf->nstorages; i++)
        if (!tf->storages[i].at)
            return ctx_fail(c, SS_ERR_FORMAT, "legacy format: storage '%.64s' has no data in the file",
                            tf->storages[i].key);
    return SS_OK;
}

static void forget_tensors(ss_torchfile *tf)
{
    for (int i = 0; i < tf->ntensors; i++) free(tf->tensors[i].name);
    for (int i = 0; i < tf->nstorages; i++) free(tf->storages[i].key);
    free(tf->tensors);
    free(tf->storages);
    tf->tensors = NULL;
    tf->storages = NULL;
    tf->ntensors = tf->nstorages = 0;
}

/* The pickles' length is unknown until they are parsed: read 1 MiB, and twice as much
 * again whenever they run past the end of what was read. */
static int legacy_open(tf_ctx *c)
{
    ss_torchfile *tf = c->tf;
    tf->format = "legacy";
    uint64_t cap = tf->size < TF_MAX_PICKLE ? tf->size : TF_MAX_PICKLE;
    size_t len = (size_t)(cap < TF_LEGACY_FIRST ? cap : TF_LEGACY_FIRST);
    for (;;) {
        unsigned char *buf = malloc(len + 1);
        if (!buf) return ctx_fail(c, SS_ERR_NOMEM, "out of memory reading the pickles");
        int rc = read_at(c, buf, len, 0, "the pickles"), more = 0;
        if (rc == SS_OK) rc = legacy_pickles(c, buf, len, &more);
        free(buf);
        if (rc == SS_OK || !more || len >= cap) return rc;
        /* Start again on a longer prefix. */
        arena_free(c);
        c->refs = NULL;
        c->nrefs = 0;
        c->visits = 0;
        c->named_cap = 0;
        forget_tensors(tf);
        len = (size_t)(cap / 2 < len ? cap : 2 * (uint64_t)len);
    }
}

/* ------------------------------------------------------------ the API */

void ss_torchfile_close(ss_torchfile *tf)
{
    if (!tf) return;
    if (tf->fd >= 0) close(tf->fd);
    forget_tensors(tf);
    free(tf->entries);
    free(tf->names);
    free(tf->path);
    free(tf);
}

ss_torchfile *ss_torchfile_open(const char *path)
{
    const char *op = "ss_torchfile_open";
    if (!path) return SS_FAIL_NULL(SS_ERR_ARG, "%s: path is NULL", op);
    ss_torchfile *tf = calloc(1, sizeof *tf);
    tf_ctx *c = calloc(1, sizeof *c);
    if (!tf || !c || !(tf->path = strdup(path))) {
        free(tf);
        free(c);
        return SS_FAIL_NULL(SS_ERR_NOMEM, "%s: %s: out of memory", op, path);
    }
    c->tf = tf;
    c->op = op;
    int rc = SS_OK;
    struct stat sb;
    unsigned char sig[4] = {0};
    tf->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (tf->fd < 0) rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot open: %s", op, path, strerror(errno));
    else if (fstat(tf->fd, &sb) != 0) rc = SS_FAIL(SS_ERR_IO, "%s: %s: cannot stat: %s", op, path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) rc = SS_FAIL(SS_ERR_IO, "%s: %s: not a regular file", op, path);
    else if ((tf->size = (uint64_t)sb.st_size) < 4)
        rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: truncated: the file has %llu bytes", op, path,
                     (unsigned long long)tf->size);
    else if ((rc = read_at(c, sig, 4, 0, "the signature")) == SS_OK) {
        if (memcmp(sig, "PK\3\4", 4) == 0 || memcmp(sig, "PK\5\6", 4) == 0) rc = zip_open(c);
        else if (sig[0] == 0x80) rc = legacy_open(c); /* a pickle's PROTO opcode */
        else
            rc = SS_FAIL(SS_ERR_FORMAT, "%s: %s: not a PyTorch checkpoint: neither a zip file nor a pickle (it starts "
                         "with %02x %02x %02x %02x)", op, path, sig[0], sig[1], sig[2], sig[3]);
    }
    arena_free(c);
    free(c);
    if (rc < 0) {
        ss_torchfile_close(tf);
        return NULL;
    }
    return tf;
}

static int check_handle(const ss_torchfile *tf, const char *op)
{
    return tf ? SS_OK : SS_FAIL(SS_ERR_ARG, "%s: checkpoint handle is NULL", op);
}

static const tf_tensor *tensor_at(const ss_torchfile *tf, int i, const char *op)
{
    if (check_handle(tf, op) < 0) return NULL;
    if (i < 0 || i >= tf->ntensors)
        return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: no tensor %d (the file has %d)", op, tf->path, i, tf->ntensors);
    return &tf->tensors[i];
}

const char *ss_torchfile_format(const ss_torchfile *tf)
{
    return check_handle(tf, "ss_torchfile_format") < 0 ? NULL : tf->format;
}

int ss_torchfile_count(const ss_torchfile *tf)
{
    SS_TRY(check_handle(tf, "ss_torchfile_count"));
    return tf->ntensors;
}

const char *ss_torchfile_name(const ss_torchfile *tf, int i)
{
    const tf_tensor *t = tensor_at(tf, i, "ss_torchfile_name");
    return t ? t->name : NULL;
}

const char *ss_torchfile_dtype(const ss_torchfile *tf, int i)
{
    const tf_tensor *t = tensor_at(tf, i, "ss_torchfile_dtype");
    return t ? tf_dtypes[tf->storages[t->storage].dtype].name : NULL;
}

int ss_torchfile_shape(int64_t *shape, int max_dims, const ss_torchfile *tf, int i)
{
    const tf_tensor *t = tensor_at(tf, i, "ss_torchfile_shape");
    if (!t) return ss_last_status();
    if (max_dims > 0 && !shape) return SS_FAIL(SS_ERR_ARG, "ss_torchfile_shape: shape is NULL");
    for (int d = 0; d < t->ndim && d < max_dims; d++) shape[d] = t->size[d];
    return t->ndim;
}

static const tf_tensor *find_tensor(const ss_torchfile *tf, const char *name, const char *op)
{
    if (check_handle(tf, op) < 0) return NULL;
    if (!name) return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: tensor name is NULL", op, tf->path);
    tf_tensor key = {.name = (char *)name};
    const tf_tensor *t =
        tf->ntensors ? bsearch(&key, tf->tensors, (size_t)tf->ntensors, sizeof key, tensor_cmp) : NULL;
    if (!t) return SS_FAIL_NULL(SS_ERR_ARG, "%s: %s: no tensor named \"%.200s\" (the file has %d)", op, tf->path,
                                name, tf->ntensors);
    return t;
}

int ss_torchfile_find(const ss_torchfile *tf, const char *name)
{
    const tf_tensor *t = find_tensor(tf, name, "ss_torchfile_find");
    return t ? (int)(t - tf->tensors) : ss_last_status();
}

/* Visits t's elements in C order: dst[k] = the element at src + (its storage offset) * size. */
static void gather(float *dst, const unsigned char *src, const tf_tensor *t, int size, int io)
{
    int64_t idx[SS_TORCHFILE_MAX_DIMS] = {0};
    uint64_t at = 0; /* elements past t->offset */
    for (uint64_t k = 0; k < t->numel; k++) {
        ss_io_to_float(dst + k, src + at * (uint64_t)size, 1, io);
        for (int d = t->ndim - 1; d >= 0; d--) {
            at += (uint64_t)t->stride[d];
            if (++idx[d] < t->size[d]) break;
            at -= (uint64_t)t->stride[d] * (uint64_t)t->size[d];
            idx[d] = 0;
        }
    }
}

static int contiguous(const tf_tensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != expect) return 0;
        expect *= t->size[d];
    }
    return 1;
}

ss_tensor *ss_torchfile_load(const ss_torchfile *tf, const char *name)
{
    const char *op = "ss_torchfile_load";
    const tf_tensor *t = find_tensor(tf, name, op);
    if (!t) return NULL;
    const tf_storage *s = &tf->storages[t->storage];
    const tf_dtype *dt = &tf_dtypes[s->dtype];
    if (dt->io < 0)
        return SS_FAIL_NULL(SS_ERR_FORMAT, "%s: %s: \"%.200s\" has dtype %s; only F32, F16, BF16 and F64 load as "
                            "float32", op, tf->path, t->name, dt->name);
    if (t->ndim > 4 || t->numel == 0)
        return SS_FAIL_NULL(SS_ERR_FORMAT, "%s: %s: \"%.200s\" has %d dimensions and %llu elements; tensors have 1 "
                            "to 4 dimensions and at least one element", op, tf->path, t->name, t->ndim,
                            (unsigned long long)t->numel);
    int64_t shape[4] = {1, 1, 1, 1};
    for (int d = 0; d < t->ndim; d++) shape[d] = t->size[d];
    ss_tensor *out = ss_tensor_empty(t->ndim ? t->ndim : 1, shape, SS_CPU);
    if (!out) return NULL;
    /* The storage span the view reaches: inside the storage, so inside the file (open checked). */
    const uint64_t span = (t->last - t->offset) * (uint64_t)dt->size, first = t->offset * (uint64_t)dt->size;
    const int direct = dt->io == SS_IO_F32 && !tf->big_endian && contiguous(t);
    unsigned char *buf = direct ? (unsigned char *)out->data : malloc((size_t)span ? (size_t)span : 1);
    tf_ctx c = {.tf = (ss_torchfile *)tf, .op = op};
    int rc = buf ? SS_OK : SS_FAIL(SS_ERR_NOMEM, "%s: %s: out of memory reading \"%.200s\"", op, tf->path, t->name);
    if (rc == SS_OK)
        rc = s->entry ? zip_read(&c, s->entry, first, span, buf)
                      : read_at(&c, buf, (size_t)span, s->at + first, t->name);
    if (rc == SS_OK && !direct) {
        if (tf->big_endian) ss_io_swap_bytes(buf, span / (uint64_t)dt->size, dt->size);
        if (contiguous(t)) ss_io_to_float(out->data, buf, t->numel, dt->io);
        else gather(out->data, buf, t, dt->size, dt->io);
    }
    if (!direct) free(buf);
    if (rc < 0) {
        ss_tensor_free(out);
        return NULL;
    }
    return out;
}
