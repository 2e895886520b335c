/* test_torchfile.c — ss_torchfile: PyTorch checkpoints (zip, legacy, deflated, big-endian,
 * zip64, pickle protocol 4, TorchScript) against torch's own float32 values bit for bit
 * (tests/reference/make_torch_fixtures.py), malicious pickles refused by name, and every
 * truncation of a checkpoint refused without a crash. */
#define _GNU_SOURCE
#include "check.h"
#include "fixture.h"

#include <stdint.h>

#define DIR "tests/reference/torch/"

/* Every array of the fixture is in the file under its name, bit for bit; returns how many. */
static int compare_all(const ss_torchfile *tf, const fixture *fx, const char *label)
{
    int same = 0;
    for (int i = 0; fx && i < fx->count; i++) {
        const fixture_array *a = &fx->arrays[i];
        ss_tensor *t = ss_torchfile_load(tf, a->name);
        CHECK(t != NULL, "%s: load %s: %s", label, a->name, ss_last_error());
        if (!t) continue;
        int ok = ss_tensor_numel(t) == a->numel && memcmp(t->data, a->data, (size_t)a->numel * 4) == 0;
        for (int d = 0; ok && d < a->ndim; d++) ok = t->shape[d] == a->shape[d];
        CHECK(ok, "%s: %s differs from torch's .float() (or its shape does)", label, a->name);
        same += ok;
        ss_tensor_free(t);
    }
    return same;
}

static ss_torchfile *open_ok(const char *path)
{
    ss_torchfile *tf = ss_torchfile_open(path);
    CHECK(tf != NULL, "open %s: %s", path, ss_last_error());
    return tf;
}

static void test_state_dicts(void)
{
    printf("state dicts:\n");
    fixture *fx = fixture_load(DIR "state_dict.ssfx");
    CHECK(fx != NULL, "state_dict.ssfx");
    static const struct {
        const char *file, *format;
    } files[] = {
        {"state_dict.pt", "zip"},           {"state_dict_legacy.pt", "legacy"}, {"state_dict_deflate.pt", "zip"},
        {"state_dict_big.pt", "zip"},       {"state_dict_zip64.pt", "zip"},     {"state_dict_proto4.pt", "zip"},
    };
    static const char *const names[11] = {"bf16",   "bn.num_batches_tracked", "conv.weight", "double",
                                          "half",   "param",                  "scalar",      "shared.a",
                                          "shared.b", "view.t",              "view.window"};
    static const char *const dtypes[11] = {"BF16", "I64", "F32", "F64", "F16", "F32",
                                           "F32",  "F32", "F32", "F32", "F32"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, DIR "%s", files[f].file);
        ss_torchfile *tf = open_ok(path);
        if (!tf) continue;
        CHECK(strcmp(ss_torchfile_format(tf), files[f].format) == 0, "%s: format %s", path, ss_torchfile_format(tf));
        CHECK(ss_torchfile_count(tf) == 11, "%s: %d tensors, expected 11", path, ss_torchfile_count(tf));
        for (int i = 0; i < 11 && i < ss_torchfile_count(tf); i++) {
            CHECK(strcmp(ss_torchfile_name(tf, i), names[i]) == 0, "%s: tensor %d is %s, expected %s", path, i,
                  ss_torchfile_name(tf, i), names[i]);
            CHECK(strcmp(ss_torchfile_dtype(tf, i), dtypes[i]) == 0, "%s: %s has dtype %s", path, names[i],
                  ss_torchfile_dtype(tf, i));
            CHECK(ss_torchfile_find(tf, names[i]) == i, "%s: find %s", path, names[i]);
        }
        int64_t shape[SS_TORCHFILE_MAX_DIMS];
        CHECK(ss_torchfile_shape(shape, SS_TORCHFILE_MAX_DIMS, tf, ss_torchfile_find(tf, "view.t")) == 2 &&
                  shape[0] == 6 && shape[1] == 4,
              "%s: view.t is (6,4)", path);
        CHECK(ss_torchfile_shape(shape, SS_TORCHFILE_MAX_DIMS, tf, ss_torchfile_find(tf, "scalar")) == 0,
              "%s: scalar is 0-d", path);
        int same = compare_all(tf, fx, path);
        printf("  %-22s %-6s %d tensors, %d float tensors bit-identical to torch's\n", files[f].file,
               ss_torchfile_format(tf), ss_torchfile_count(tf), same);
        ss_tensor *s = ss_torchfile_load(tf, "scalar");
        CHECK(s && s->ndim == 1 && s->shape[0] == 1 && s->data[0] == 2.5f, "%s: a 0-d tensor loads as (1)", path);
        ss_tensor_free(s);
        ss_clear_error();
        CHECK(ss_torchfile_load(tf, "bn.num_batches_tracked") == NULL && ss_last_status() == SS_ERR_FORMAT &&
                  strstr(ss_last_error(), "dtype I64"),
              "%s: I64 does not load: %s", path, ss_last_error());
        ss_torchfile_close(tf);
    }
    printf("  expected failure: %s\n", ss_last_error());
    fixture_free(fx);
}

static void test_nested_and_bare(void)
{
    printf("nested containers and a bare tensor:\n");
    fixture *fx = fixture_load(DIR "nested.ssfx");
    ss_torchfile *tf = open_ok(DIR "nested.pt");
    if (tf) {
        static const char *const names[5] = {"ema.0", "ema.1", "five", "model.conv.weight", "opt.0.exp_avg"};
        CHECK(ss_torchfile_count(tf) == 5, "nested.pt: %d tensors", ss_torchfile_count(tf));
        for (int i = 0; i < 5 && i < ss_torchfile_count(tf); i++)
            CHECK(strcmp(ss_torchfile_name(tf, i), names[i]) == 0, "nested.pt: tensor %d is %s", i,
                  ss_torchfile_name(tf, i));
        CHECK(compare_all(tf, fx, "nested.pt") == 4, "nested.pt: 4 tensors");
        int64_t shape[2];
        CHECK(ss_torchfile_shape(shape, 2, tf, ss_torchfile_find(tf, "five")) == 5, "five has 5 dimensions");
        ss_clear_error();
        CHECK(ss_torchfile_load(tf, "five") == NULL && strstr(ss_last_error(), "5 dimensions"), "5-d: %s",
              ss_last_error());
        printf("  expected failure: %s\n", ss_last_error());
        ss_torchfile_close(tf);
    }
    fixture_free(fx);
    tf = open_ok(DIR "bare.pt");
    ss_tensor *t = tf ? ss_torchfile_load(tf, "tensor") : NULL;
    int ok = t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3;
    for (int i = 0; ok && i < 6; i++) ok = t->data[i] == (float)i / 8;
    CHECK(ok, "bare.pt: one tensor named \"tensor\" = arange(6)/8: %s", ss_last_error());
    ss_tensor_free(t);
    ss_torchfile_close(tf);
}

static void test_torchscript(void)
{
    printf("TorchScript archive:\n");
    fixture *fx = fixture_load(DIR "script.ssfx");
    ss_torchfile *tf = open_ok(DIR "script.pt");
    if (tf) {
        CHECK(strcmp(ss_torchfile_format(tf), "torchscript") == 0, "format %s", ss_torchfile_format(tf));
        /* every float tensor of the state_dict, plus BatchNorm's int64 num_batches_tracked */
        CHECK(fx && ss_torchfile_count(tf) == fx->count + 1, "%d tensors", ss_torchfile_count(tf));
        int same = compare_all(tf, fx, "script.pt");
        static const char *const nvlabs[] = {"layers.conv.weight", "layers.conv.beta", "layers.mixed.tower.conv.weight",
                                             "layers.mixed.tower.conv_1.var", "layers.mixed.bn.running_mean"};
        for (size_t i = 0; i < sizeof nvlabs / sizeof nvlabs[0]; i++)
            CHECK(ss_torchfile_find(tf, nvlabs[i]) >= 0, "no %s", nvlabs[i]);
        int i = ss_torchfile_find(tf, "layers.mixed.bn.num_batches_tracked");
        CHECK(i >= 0 && strcmp(ss_torchfile_dtype(tf, i), "I64") == 0, "num_batches_tracked is listed as I64");
        printf("  %d tensors under their module paths (layers.mixed.tower.conv.weight, ...), %d bit-identical\n",
               ss_torchfile_count(tf), same);
        ss_torchfile_close(tf);
    }
    fixture_free(fx);
}

/* Expects open(path) to fail with SS_ERR_FORMAT and a message naming the file and `needle`. */
static void expect_refused(const char *path, const char *needle)
{
    ss_clear_error();
    ss_torchfile *tf = ss_torchfile_open(path);
    CHECK(tf == NULL, "%s should be refused", path);
    CHECK(ss_last_status() == SS_ERR_FORMAT, "%s: status %d: %s", path, ss_last_status(), ss_last_error());
    CHECK(strstr(ss_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", path, ss_last_error(), needle);
    CHECK(strstr(ss_last_error(), path) != NULL, "%s: message \"%s\" does not name the file", path, ss_last_error());
    printf("  refused: %s\n", ss_last_error());
    ss_torchfile_close(tf);
}

static void test_malicious(void)
{
    printf("malicious and damaged files:\n");
    expect_refused(DIR "evil_system.pt", "refuses global 'posix.system'");
    expect_refused(DIR "evil_eval.pt", "refuses global 'builtins.eval'");
    expect_refused(DIR "evil_inst.pt", "refuses opcode INST (0x69)");
    expect_refused(DIR "evil_opcode.pt", "unknown opcode 0xee");
    expect_refused(DIR "evil_cycle.pt", "nest deeper than 64 levels");
    expect_refused(DIR "evil_deep.pt", "MARKs nest deeper than 1024");
    expect_refused(DIR "truncated.pt", "truncated");
    expect_refused(DIR "short_data.pt", "holds 100 bytes but its storage needs 54 elements of F32");
}

/* Writes n bytes of `bytes` to path with byte `at` (if < n) xor-ed with `flip`. */
static void write_variant(const char *path, const unsigned char *bytes, size_t n, size_t at, unsigned char flip)
{
    unsigned char *copy = malloc(n + 1);
    memcpy(copy, bytes, n);
    if (at < n) copy[at] ^= flip;
    test_write_file(path, copy, n);
    free(copy);
}

/* Every prefix of a checkpoint is refused as a format error; a flipped bit in a
 * storage fails the zip's CRC-32 check when the tensor is loaded. */
static void test_damage(void)
{
    printf("truncations and a flipped bit:\n");
    char cut[256];
    test_tmp_path(cut, "cut.pt");
    static const char *const files[] = {DIR "state_dict.pt", DIR "state_dict_legacy.pt", DIR "state_dict_deflate.pt",
                                        DIR "script.pt"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t n = 0;
        unsigned char *bytes = test_read_file(files[f], &n);
        CHECK(bytes != NULL, "read %s", files[f]);
        if (!bytes) continue;
        int refused = 0;
        for (size_t len = 0; len < n; len += 1 + len / 16) {
            write_variant(cut, bytes, len, n, 0);
            ss_clear_error();
            ss_torchfile *tf = ss_torchfile_open(cut);
            int ok = tf == NULL && ss_last_status() == SS_ERR_FORMAT;
            CHECK(ok, "%s cut at %zu of %zu: %s (status %d: %s)", files[f], len, n, tf ? "opens" : "refused",
                  ss_last_status(), ss_last_error());
            refused += ok;
            ss_torchfile_close(tf);
        }
        printf("  %-40s every cut refused (%d cuts of %zu bytes)\n", files[f], refused, n);
        free(bytes);
    }

    /* Flip one bit in conv.weight's bytes: found by its first value. */
    size_t n = 0;
    unsigned char *bytes = test_read_file(DIR "state_dict.pt", &n);
    fixture *fx = fixture_load(DIR "state_dict.ssfx");
    const fixture_array *w = fixture_find(fx, "conv.weight");
    unsigned char *hit = bytes && w ? memmem(bytes, n, w->data, 16) : NULL;
    CHECK(hit != NULL, "conv.weight's bytes are in state_dict.pt");
    if (hit) {
        write_variant(cut, bytes, n, (size_t)(hit - bytes) + 9, 0x10);
        ss_torchfile *tf = open_ok(cut);
        ss_clear_error();
        ss_tensor *t = tf ? ss_torchfile_load(tf, "conv.weight") : NULL;
        CHECK(t == NULL && strstr(ss_last_error(), "fails its CRC-32 check"), "a flipped bit: %s", ss_last_error());
        printf("  expected failure: %s\n", ss_last_error());
        ss_tensor_free(t);
        /* The other tensors live in other entries and still load. */
        t = tf ? ss_torchfile_load(tf, "half") : NULL;
        CHECK(t != NULL, "other entries still load: %s", ss_last_error());
        ss_tensor_free(t);
        ss_torchfile_close(tf);
    }
    fixture_free(fx);
    free(bytes);
}

static void test_api_errors(void)
{
    printf("argument and I/O errors:\n");
    char path[256];
    ss_clear_error();
    CHECK(ss_torchfile_open(NULL) == NULL && ss_last_status() == SS_ERR_ARG, "NULL path");
    CHECK(ss_torchfile_open(test_tmp_path(path, "missing.pt")) == NULL && ss_last_status() == SS_ERR_IO &&
              strstr(ss_last_error(), "cannot open"),
          "missing file: %s", ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    CHECK(ss_torchfile_open(test_tmpdir) == NULL && ss_last_status() == SS_ERR_IO, "a directory");
    test_write_file(test_tmp_path(path, "png.pt"), "\x89PNG\r\n\x1a\n", 8);
    ss_clear_error();
    CHECK(ss_torchfile_open(path) == NULL && ss_last_status() == SS_ERR_FORMAT, "a PNG signature: %s",
          ss_last_error());
    printf("  expected failure: %s\n", ss_last_error());
    ss_torchfile *tf = open_ok(DIR "state_dict.pt");
    if (!tf) return;
    CHECK(ss_torchfile_name(tf, 11) == NULL && ss_last_status() == SS_ERR_ARG, "name out of range");
    CHECK(ss_torchfile_dtype(tf, -1) == NULL && ss_last_status() == SS_ERR_ARG, "dtype out of range");
    CHECK_FAILS(ss_torchfile_find(tf, "nope"), "no tensor named \"nope\"");
    CHECK(ss_torchfile_load(tf, NULL) == NULL && ss_last_status() == SS_ERR_ARG, "NULL name");
    CHECK_FAILS(ss_torchfile_count(NULL), "handle is NULL");
    ss_torchfile_close(tf);
    ss_torchfile_close(NULL);
}

int main(void)
{
    uint64_t seed = 0;
    if (test_seed("test_torchfile", &seed, NULL)) return 2;
    if (test_tmpdir_make("ss_test_torchfile")) return 1;
    test_state_dicts();
    test_nested_and_bare();
    test_torchscript();
    test_malicious();
    test_damage();
    test_api_errors();
    test_tmpdir_remove();
    return test_summary("test_torchfile");
}
