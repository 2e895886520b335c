/* tensordata.c — raw tensor bytes in checkpoint files to float32: positioned reads,
 * dtype conversion and byte order, shared by the safetensors and PyTorch readers. */
#include "io/io.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int64_t ss_io_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    float f;
    if (exp == 0x1f) bits = sign | 0x7f800000u | man << 13; /* inf, NaN (payload kept) */
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;
    else {
        f = (float)man * 0x1p-24f; /* zero or subnormal: exact */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    memcpy(&f, &bits, 4);
    return f;
}

void ss_io_to_float(float *dst, const unsigned char *src, uint64_t n, int dtype)
{
    switch (dtype) {
    case SS_IO_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case SS_IO_F16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = half_to_float(h);
        }
        break;
    case SS_IO_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    default: /* SS_IO_F64 */
        for (uint64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
    }
}

void ss_io_swap_bytes(unsigned char *p, uint64_t n, int size)
{
    if (size < 2) return;
    for (uint64_t i = 0; i < n; i++, p += size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}
