/* fuzz_idx.c — ss_idx_load on raw and gzip IDX files. The first input byte picks the
 * form: odd, the rest is gzip-compressed first (so mutations reach the IDX parser
 * behind a valid gzip stream); even, the rest is the file as is (raw IDX, or a gzip
 * stream the fuzzer damages). A result holds whole bytes 0..255 (scale 1). */
#include "fuzz.h"

#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    unsigned char *packed = NULL;
    if (data[0] & 1) {
        uLongf cap = compressBound((uLong)n) + 32, len = cap;
        packed = malloc(cap);
        z_stream z = {0};
        /* gzip framing (windowBits 15 + 16), as gzopen writes it */
        if (!packed || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
        z.next_in = (Bytef *)body;
        z.avail_in = (uInt)n;
        z.next_out = packed;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
        len = z.total_out;
        deflateEnd(&z);
        body = packed;
        n = len;
    }
    ss_clear_error();
    ss_tensor *t = ss_idx_load(fuzz_file(body, n), 1.0f);
    fuzz_check_failure(t);
    fuzz_check_tensor(t);
    if (t) {
        if (t->ndim != 1 && !(t->ndim == 4 && t->shape[1] == 1)) __builtin_trap();
        int64_t count = ss_tensor_numel(t);
        for (int64_t i = 0; i < count; i++)
            if (!(t->data[i] >= 0.0f && t->data[i] <= 255.0f && t->data[i] == (float)(int)t->data[i]))
                __builtin_trap();
    }
    ss_tensor_free(t);
    free(packed);
    return 0;
}
