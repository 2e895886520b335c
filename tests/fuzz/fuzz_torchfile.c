/* fuzz_torchfile.c — ss_torchfile_open on arbitrary bytes (zip or legacy checkpoints and
 * the pickles inside), then every tensor listed, found and loaded. A loaded tensor has
 * the listed shape (0-d as (1)). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_clear_error();
    ss_torchfile *tf = ss_torchfile_open(fuzz_file(data, size));
    fuzz_check_failure(tf);
    if (!tf) return 0;
    if (!ss_torchfile_format(tf)) __builtin_trap();
    int n = ss_torchfile_count(tf);
    for (int i = 0; i < n; i++) {
        const char *name = ss_torchfile_name(tf, i);
        int64_t shape[SS_TORCHFILE_MAX_DIMS];
        int nd = ss_torchfile_shape(shape, SS_TORCHFILE_MAX_DIMS, tf, i);
        if (!name || !ss_torchfile_dtype(tf, i) || nd < 0 || nd > SS_TORCHFILE_MAX_DIMS) __builtin_trap();
        if (ss_torchfile_find(tf, name) != i) __builtin_trap();
        ss_clear_error();
        ss_tensor *t = ss_torchfile_load(tf, name);
        fuzz_check_failure(t);
        fuzz_check_tensor(t);
        if (t) {
            int same = t->ndim == (nd ? nd : 1);
            for (int d = 0; same && d < nd; d++) same = t->shape[d] == shape[d];
            if (!same) __builtin_trap();
        }
        ss_tensor_free(t);
    }
    ss_torchfile_close(tf);
    return 0;
}
