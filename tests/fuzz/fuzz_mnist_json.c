/* fuzz_mnist_json.c — ss_mnist_json_load on arbitrary bytes: a result is (n,1,28,28). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_clear_error();
    ss_tensor *t = ss_mnist_json_load(fuzz_file(data, size));
    fuzz_check_failure(t);
    fuzz_check_tensor(t);
    if (t && (t->ndim != 4 || t->shape[1] != 1 || t->shape[2] != 28 || t->shape[3] != 28)) __builtin_trap();
    ss_tensor_free(t);
    return 0;
}
