/* dct.c — orthonormal 2-D DCT-II and its inverse over the last two dimensions.
 *
 * FFTW's REDFT10 is the unnormalised DCT-II (2·Σ per axis) and REDFT01 the
 * DCT-III; the orthonormal pair (scipy.fft.dctn(norm="ortho")) scales
 * coefficient 0 by √(1/4N) and the others by √(1/2N) after REDFT10, and before
 * REDFT01 by √(1/N) and √(1/2N). The inverse is the transpose, so it is also
 * the adjoint. All images of a batch go through one plan (fftwf_plan_many_r2r),
 * transformed in place in the output after a copy, so the input is never
 * touched and the plan never sees user data while planning. */
#include "ops/dct.h"
#include "ops/image_op.h"
#include "ops/linop_impl.h"
#include "kernels/dct.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------ plan cache */

/* FFTW's planner is not thread-safe: every plan is made and destroyed under
 * plan_lock. Executing a plan on new arrays (fftwf_execute_r2r) is safe from
 * any thread. Plans live until the process ends; when the table is full a
 * plan is made for one call and destroyed after it.
 *
 * A batch is cut into one contiguous chunk per OpenMP thread, each chunk one
 * plan_many call; FFTW's threads are kept for a single large image, and even
 * they run on the OpenMP team (fftw_threads_set_callback): one pool of threads,
 * with one wait policy, instead of FFTW's pthreads beside OpenMP's. */
#define PLAN_TABLE_SIZE 64
/* Below this many values per call one thread does all the work. */
#define PLAN_PARALLEL_MIN ((int64_t)1 << 15)
/* A single image this large gets FFTW's threads. */
#define PLAN_THREADS_MIN ((int64_t)1 << 18)

typedef struct plan_entry {
    int h, w, batch, kind, unaligned, nthreads;
    fftwf_plan plan;
} plan_entry;

static plan_entry plan_table[PLAN_TABLE_SIZE];
static int plan_count;
static int plan_threads_ok; /* 1 after fftwf_init_threads succeeded, -1 if it failed */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* FFTW's parallel loop on the OpenMP team: job j of njobs is work(jobdata + j·elsize). */
static void omp_spawn_loop(void *(*work)(char *), char *jobdata, size_t elsize, int njobs, void *data)
{
    (void)data;
#pragma omp parallel for schedule(static) num_threads(njobs)
    for (int j = 0; j < njobs; j++) work(jobdata + (size_t)j * elsize);
}

/* A plan for data's alignment; *owned = 1 when the caller must destroy it. */
static fftwf_plan plan_get(float *data, int h, int w, int batch, int kind, int nthreads, int *owned)
{
    /* A plan made for SIMD-aligned arrays may only run on arrays with the same
     * alignment; narrowed views can start anywhere, so they get FFTW_UNALIGNED. */
    int unaligned = fftwf_alignment_of(data) != 0;
    fftwf_plan p = NULL;
    *owned = 0;
    pthread_mutex_lock(&plan_lock);
    for (int i = 0; i < plan_count; i++) {
        plan_entry *e = &plan_table[i];
        if (e->h == h && e->w == w && e->batch == batch && e->kind == kind && e->unaligned == unaligned &&
            e->nthreads == nthreads) {
            p = e->plan;
            break;
        }
    }
    if (!p) {
        if (plan_threads_ok == 0) {
            plan_threads_ok = fftwf_init_threads() ? 1 : -1;
            if (plan_threads_ok > 0) fftwf_threads_set_callback(omp_spawn_loop, NULL);
        }
        if (plan_threads_ok < 0) nthreads = 1;
        fftwf_plan_with_nthreads(nthreads);
        int n[2] = {h, w};
        fftwf_r2r_kind kinds[2];
        kinds[0] = kinds[1] = kind == SS_DCT_REDFT10 ? FFTW_REDFT10 : FFTW_REDFT01;
        /* FFTW_ESTIMATE never reads or writes the arrays while planning, so the
         * caller's buffer can stand in for them. */
        unsigned flags = FFTW_ESTIMATE | (unaligned ? FFTW_UNALIGNED : 0);
        p = fftwf_plan_many_r2r(2, n, batch, data, NULL, 1, h * w, data, NULL, 1, h * w, kinds, flags);
        if (p && plan_count < PLAN_TABLE_SIZE) {
            plan_table[plan_count++] = (plan_entry){h, w, batch, kind, unaligned, nthreads, p};
        } else if (p) {
            *owned = 1;
        }
    }
    pthread_mutex_unlock(&plan_lock);
    return p;
}

/* One plan_many over `batch` images at data; < 0 when FFTW cannot plan. */
static int raw_chunk(float *data, int64_t batch, int64_t h, int64_t w, int kind, int nthreads)
{
    int owned;
    fftwf_plan p = plan_get(data, (int)h, (int)w, (int)batch, kind, nthreads, &owned);
    if (!p) return -1;
    fftwf_execute_r2r(p, data, data);
    if (owned) {
        pthread_mutex_lock(&plan_lock);
        fftwf_destroy_plan(p);
        pthread_mutex_unlock(&plan_lock);
    }
    return 0;
}

int ss_dct2_raw(float *data, int64_t batch, int64_t h, int64_t w, int kind, const char *op)
{
    if (h > INT_MAX / w || batch > INT_MAX)
        return SS_FAIL(SS_ERR_ARG, "%s: %lld images of %lldx%lld are too large for FFTW's int sizes", op,
                       (long long)batch, (long long)h, (long long)w);
    const int64_t n = batch * h * w, hw = h * w;
    const int nt = ss_get_num_threads() > 1 ? ss_get_num_threads() : 1;
    const int chunks = n >= PLAN_PARALLEL_MIN ? (int)(batch < nt ? batch : nt) : 1;
    int failed = 0;
    if (chunks <= 1) {
        failed = raw_chunk(data, batch, h, w, kind, n >= PLAN_THREADS_MIN ? nt : 1) < 0;
    } else {
        const int64_t per = (batch + chunks - 1) / chunks;
#pragma omp parallel for schedule(static) num_threads(chunks) reduction(| : failed)
        for (int c = 0; c < chunks; c++) {
            int64_t b0 = c * per, len = batch - b0 < per ? batch - b0 : per;
            if (len > 0 && raw_chunk(data + b0 * hw, len, h, w, kind, 1) < 0) failed = 1;
        }
    }
    if (failed) return SS_FAIL(SS_ERR_NUMERIC, "%s: FFTW could not plan a %lldx%lld DCT", op, (long long)h, (long long)w);
    return SS_OK;
}

/* ------------------------------------------------------------ orthonormal DCT */

/* out (b,h,w) *= sh[k]·sw[l], the per-axis orthonormal factors. */
static void scale_axes(float *out, int64_t batch, int64_t h, int64_t w, double s0h, double skh, double s0w,
                       double skw)
{
#pragma omp parallel for schedule(static) if (batch * h * w > 65536)
    for (int64_t r = 0; r < batch * h; r++) {
        int64_t k = r % h;
        double fh = k == 0 ? s0h : skh;
        float f0 = (float)(fh * s0w), fk = (float)(fh * skw);
        float *row = out + r * w;
        row[0] *= f0;
        for (int64_t l = 1; l < w; l++) row[l] *= fk;
    }
}

/* The device, or the error. */
static int dct_check(const char *op, const ss_tensor *out, const ss_tensor *in, int64_t *b, int64_t *h,
                     int64_t *w)
{
    int dev = ss_image_op_check(op, out, in, 0, 0, b, h, w);
    if (dev < 0) return dev;
    /* Copying in to out first; a partial overlap would corrupt the input. */
    if (out->data != in->data && ss_tensors_overlap(out, in))
        return SS_FAIL(SS_ERR_ARG, "%s: output partly overlaps the input", op);
    return dev;
}

/* out: (...,H,W), in: (...,H,W); out may be in. */
int ss_dct2_forward(ss_tensor *out, const ss_tensor *in)
{
    int64_t b, h, w;
    int dev = dct_check("ss_dct2_forward", out, in, &b, &h, &w);
    if (dev < 0) return dev;
    if (dev == SS_CUDA) return SS_CUDA_CALL("ss_dct2_forward", ss_cuda_dct2_forward(out->data, in->data, b, h, w));
    SS_TRY(ss_tensor_copy(out, in));
    SS_TRY(ss_dct2_raw(out->data, b, h, w, SS_DCT_REDFT10, "ss_dct2_forward"));
    scale_axes(out->data, b, h, w, sqrt(0.25 / h), sqrt(0.5 / h), sqrt(0.25 / w), sqrt(0.5 / w));
    return SS_OK;
}

/* out: (...,H,W), in: (...,H,W); out may be in. */
int ss_dct2_inverse(ss_tensor *out, const ss_tensor *in)
{
    int64_t b, h, w;
    int dev = dct_check("ss_dct2_inverse", out, in, &b, &h, &w);
    if (dev < 0) return dev;
    if (dev == SS_CUDA) return SS_CUDA_CALL("ss_dct2_inverse", ss_cuda_dct2_inverse(out->data, in->data, b, h, w));
    SS_TRY(ss_tensor_copy(out, in));
    scale_axes(out->data, b, h, w, sqrt(1.0 / h), sqrt(0.5 / h), sqrt(1.0 / w), sqrt(0.5 / w));
    return ss_dct2_raw(out->data, b, h, w, SS_DCT_REDFT01, "ss_dct2_inverse");
}

/* The DCT is orthogonal: its adjoint is its inverse. */
int ss_dct2_adjoint(ss_tensor *out, const ss_tensor *in) { return ss_dct2_inverse(out, in); }

/* ------------------------------------------------------------ operator */

static int dct_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return ss_dct2_forward(out, in); }
static int dct_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in) { return ss_dct2_inverse(out, in); }

static const ss_linop_vtable dct_vt = {.apply = dct_apply, .adjoint = dct_adjoint};

ss_linop *ss_linop_dct2(int64_t h, int64_t w)
{
    return ss_linop_create("ss_linop_dct2", &dct_vt, 0, h, w, h, w, "dct2");
}
