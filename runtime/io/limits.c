/* limits.c — process-wide caps on what one input file may make a loader allocate.
 *
 * The loaders already refuse headers that promise more data than the file holds; the
 * limits cap files that really are that large (a valid 20000 x 20000 PNG decodes to
 * 6.4 GB of float32 RGBA). Defaults: 2^28 pixels per image (16384 x 16384, 4 GiB as
 * float32 RGBA), in the spirit of Pillow's MAX_IMAGE_PIXELS but sized for the float
 * tensors we make; 2^31 values per IDX file (8 GiB as float32; MNIST's training set
 * has 4.7 x 10^7). */
#include "core/internal.h"

static const struct {
    const char *name;
    int64_t fallback;
} limit_info[] = {
    [SS_LIMIT_IMAGE_PIXELS] = {"SS_LIMIT_IMAGE_PIXELS", (int64_t)1 << 28},
    [SS_LIMIT_IDX_VALUES] = {"SS_LIMIT_IDX_VALUES", (int64_t)1 << 31},
};
#define N_LIMITS ((int)(sizeof limit_info / sizeof limit_info[0]))

static int64_t limit_value[N_LIMITS]; /* 0: the default */

static int check_which(const char *op, int which)
{
    if (which < 0 || which >= N_LIMITS)
        return SS_FAIL(SS_ERR_ARG, "%s: unknown limit %d (SS_LIMIT_IMAGE_PIXELS = 0, SS_LIMIT_IDX_VALUES = 1)", op,
                       which);
    return SS_OK;
}

int ss_set_limit(int which, int64_t value)
{
    SS_TRY(check_which("ss_set_limit", which));
    if (value < 0)
        return SS_FAIL(SS_ERR_ARG, "ss_set_limit: %s must be >= 1 (or 0 for the default %lld), got %lld",
                       limit_info[which].name, (long long)limit_info[which].fallback, (long long)value);
    __atomic_store_n(&limit_value[which], value, __ATOMIC_RELAXED);
    return SS_OK;
}

int64_t ss_get_limit(int which)
{
    SS_TRY(check_which("ss_get_limit", which));
    int64_t v = __atomic_load_n(&limit_value[which], __ATOMIC_RELAXED);
    return v ? v : limit_info[which].fallback;
}
