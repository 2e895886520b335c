/* fuzz_png.c — ss_image_load on arbitrary bytes: a result is (C,H,W) with C in 1..4
 * and every value in [0,1]. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_clear_error();
    ss_tensor *t = ss_image_load(fuzz_file(data, size));
    fuzz_check_failure(t);
    fuzz_check_tensor(t);
    if (t) {
        if (t->ndim != 3 || t->shape[0] > 4) __builtin_trap();
        int64_t n = ss_tensor_numel(t);
        for (int64_t i = 0; i < n; i++)
            if (!(t->data[i] >= 0.0f && t->data[i] <= 1.0f)) __builtin_trap();
    }
    ss_tensor_free(t);
    return 0;
}
