/* fuzz_safetensors.c — ss_safetensors_open, then every entry listed, found, loaded and
 * loaded into a tensor of its shape, and every metadata pair read. The input's last
 * byte decides whether NaN and infinities are allowed (both paths get fuzzed). A
 * loaded tensor has the entry's shape. */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_clear_error();
    ss_safetensors *st = ss_safetensors_open(fuzz_file(data, size));
    fuzz_check_failure(st);
    if (!st) return 0;
    if (size && (data[size - 1] & 1)) ss_safetensors_allow_nonfinite(st, 1);
    int n = ss_safetensors_count(st);
    if (n < 0 || ss_safetensors_checksum_count(st) > n) __builtin_trap();
    for (int i = 0; i < n; i++) {
        const char *name = ss_safetensors_name(st, i), *dtype = ss_safetensors_dtype(st, i);
        int64_t shape[SS_SAFETENSORS_MAX_DIMS];
        int nd = ss_safetensors_shape(shape, SS_SAFETENSORS_MAX_DIMS, st, i);
        if (!name || !dtype || nd < 0 || nd > SS_SAFETENSORS_MAX_DIMS) __builtin_trap();
        if (ss_safetensors_find(st, name) != i) __builtin_trap();
        ss_clear_error();
        ss_tensor *t = ss_safetensors_load(st, name);
        fuzz_check_failure(t);
        fuzz_check_tensor(t);
        if (t) {
            int same = t->ndim == (nd ? nd : 1);
            for (int d = 0; same && d < nd; d++) same = t->shape[d] == shape[d];
            if (!same) __builtin_trap();
            ss_tensor *into = ss_tensor_zeros(t->ndim, t->shape, SS_CPU);
            if (into && ss_safetensors_load_into(into, st, name) == SS_OK &&
                memcmp(into->data, t->data, (size_t)ss_tensor_numel(t) * 4) != 0)
                __builtin_trap();
            ss_tensor_free(into);
        }
        ss_tensor_free(t);
    }
    for (int i = 0; i < ss_safetensors_meta_count(st); i++) {
        const char *k = ss_safetensors_meta_key(st, i), *v = ss_safetensors_meta_value(st, i);
        if (!k || !v || ss_safetensors_meta(st, k) == NULL) __builtin_trap();
    }
    ss_safetensors_close(st);
    return 0;
}
