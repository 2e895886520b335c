/* conv2d_onednn.c — the oneDNN path of conv2d.c (see there for when it runs): oneDNN's
 * direct convolution primitives (forward, backward data, backward weights) with the
 * memory formats they prefer (nChw8c and blocked weights with AVX2, nChw16c with
 * AVX-512), behind conv2d.c's NCHW contract.
 *
 * A call reorders what it is given into the primitive's formats (a plain format
 * the primitive takes as it is is used in place), runs the primitive on
 * OpenMP's threads, and reorders the result back: out and grad_in are written,
 * grad_weight gets the primitive's diff_weights added by a reorder with a sum
 * post-op (the `+=` of the API). The bias is fused into the forward; the bias
 * gradient is conv2d.c's own double sum. Weights are reordered at every call: a
 * 64x64x3x3 reorder costs ~0.02 ms against ~5 ms of convolution, and a copy kept
 * between calls would go stale when the optimiser updates the weights in place.
 * The reordered tensors and oneDNN's scratchpad live in the caller's workspace.
 *
 * Primitives are made once per shape (sizes, strides, paddings, bias or not,
 * thread count) and kept for the life of the process, like PyTorch's and cuDNN's
 * plans: making one JIT-compiles its kernel (~1 ms). A network has a few dozen
 * shapes. */
#include "core/internal.h"
#include "nn/conv2d.h"

#ifdef SS_WITH_ONEDNN

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Maps a oneDNN status to ours, naming what failed. */
static int dnnl_check(dnnl_status_t s, const char *what, const char *file, int line)
{
    if (s == dnnl_success) return SS_OK;
    if (s == dnnl_out_of_memory) return ss_error_set(SS_ERR_NOMEM, file, line, "conv2d: oneDNN ran out of memory (%s)", what);
    return ss_error_set(SS_ERR_ARG, file, line,
                        "conv2d: oneDNN failed (%s, status %d; SS_CPU_CONV=im2col runs convolutions without oneDNN)",
                        what, (int)s);
}
#define DNNL_TRY(call, what) SS_TRY(dnnl_check((call), (what), __FILE__, __LINE__))

/* One operand of a primitive: the format the primitive wants and the reorder
 * between it and the caller's plain format (NULL when they are the same). */
typedef struct operand {
    dnnl_memory_desc_t md;
    dnnl_primitive_t reorder;
    int64_t offset; /* of its buffer in the workspace, bytes (when reordered) */
} operand;

/* The primitives of a shape; the forward with and without bias are two. */
enum { FWD_BIAS = 0, FWD = 1, BWD_DATA = 2, BWD_WEIGHTS = 3, DIRECTIONS = 4 };

/* One direction: its primitive and operands, in the order
 *   FWD, FWD_BIAS: src, weights, dst
 *   BWD_DATA:      diff_dst, weights, diff_src
 *   BWD_WEIGHTS:   diff_dst, src, diff_weights (always reordered, with a sum post-op)
 * and the workspace it needs: operand buffers in that order, then the scratchpad. Both
 * backward directions put diff_dst first, so the weights' one can reuse the data's. */
typedef struct direction {
    dnnl_primitive_t prim;
    operand arg[3];
    dnnl_memory_desc_t scratch_md;
    int64_t scratch_offset, bytes;
} direction;

typedef struct plan {
    int64_t key[12];
    dnnl_memory_desc_t src, weights, dst, bias; /* the caller's NCHW, OIHW, NCHW, (Cout) */
    direction dir[DIRECTIONS];
    int made[DIRECTIONS];
    struct plan *next;
} plan;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t g_engine;
static plan *g_plans;

/* The thread count oneDNN will use for a call made now. */
static int64_t team_size(void) { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

static int64_t align64(int64_t b) { return (b + 63) / 64 * 64; }

/* a: the reorder (or none) from `from` to `to`, a buffer in the workspace for the
 * primitive's side `inner` (appended at *bytes). attr: a reorder is made even between
 * equal formats (the sum post-op). */
static int operand_make(operand *a, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        const dnnl_memory_desc_t *inner, const_dnnl_primitive_attr_t attr, int64_t *bytes)
{
    a->md = *inner;
    a->reorder = NULL;
    a->offset = -1;
    if (!attr && dnnl_memory_desc_equal(from, to)) return SS_OK;
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, from, g_engine, to, g_engine, attr), "making a reorder");
    const dnnl_status_t s = dnnl_primitive_create(&a->reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    DNNL_TRY(s, "making a reorder");
    a->offset = *bytes;
    *bytes += align64((int64_t)dnnl_memory_desc_get_size(inner));
    return SS_OK;
}

/* The plain descriptors of p, from its key. */
static int plan_describe(plan *p, const conv_geom *g)
{
    const dnnl_dims_t src = {g->n, g->cin, g->h, g->w}, wei = {g->cout, g->cin, g->kh, g->kw},
                      dst = {g->n, g->cout, g->ho, g->wo}, bias = {g->cout};
    const char *what = "describing the tensors";
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->src, 4, src, dnnl_f32, dnnl_nchw), what);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->weights, 4, wei, dnnl_f32, dnnl_oihw), what);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->dst, 4, dst, dnnl_f32, dnnl_nchw), what);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&p->bias, 1, bias, dnnl_f32, dnnl_x), what);
    return SS_OK;
}

/* The convolution descriptor of direction d, every tensor's format left to oneDNN. */
static int conv_desc(dnnl_convolution_desc_t *cd, const plan *p, const conv_geom *g, int d)
{
    const dnnl_dims_t strides = {g->sh, g->sw}, pad_l = {g->ph, g->pw},
                      pad_r = {(g->ho - 1) * g->sh + g->kh - g->h - g->ph, (g->wo - 1) * g->sw + g->kw - g->w - g->pw};
    dnnl_memory_desc_t src, wei, dst;
    const char *what = "describing the convolution";
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 4, p->src.dims, dnnl_f32, dnnl_format_tag_any), what);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei, 4, p->weights.dims, dnnl_f32, dnnl_format_tag_any), what);
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 4, p->dst.dims, dnnl_f32, dnnl_format_tag_any), what);
    if (d == FWD || d == FWD_BIAS)
        DNNL_TRY(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei,
                                                    d == FWD_BIAS ? &p->bias : NULL, &dst, strides, pad_l, pad_r),
                 what);
    else if (d == BWD_DATA)
        DNNL_TRY(dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &src, &wei, &dst, strides,
                                                          pad_l, pad_r),
                 what);
    else
        DNNL_TRY(dnnl_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, &src, &wei, NULL, &dst,
                                                             strides, pad_l, pad_r),
                 what);
    return SS_OK;
}

/* The primitive descriptor of direction d (a backward one hinted by a forward one, made
 * and dropped here), with the scratchpad left to us. */
static int pd_make(dnnl_primitive_desc_t *pd, const plan *p, const conv_geom *g, int d)
{
    dnnl_primitive_desc_t hint = NULL;
    if (d == BWD_DATA || d == BWD_WEIGHTS) SS_TRY(pd_make(&hint, p, g, FWD));
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    int rc = conv_desc(&cd, p, g, d);
    if (rc == SS_OK) rc = dnnl_check(dnnl_primitive_attr_create(&attr), "making attributes", __FILE__, __LINE__);
    if (rc == SS_OK)
        rc = dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "making attributes",
                        __FILE__, __LINE__);
    if (rc == SS_OK)
        rc = dnnl_check(dnnl_primitive_desc_create(pd, &cd, attr, g_engine, hint), "choosing an implementation",
                        __FILE__, __LINE__);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (hint) dnnl_primitive_desc_destroy(hint);
    return rc;
}

/* A reorder attribute that adds to the destination (dst = src + dst). */
static int sum_attr(dnnl_primitive_attr_t *attr)
{
    dnnl_post_ops_t ops = NULL;
    int rc = dnnl_check(dnnl_primitive_attr_create(attr), "making attributes", __FILE__, __LINE__);
    if (rc == SS_OK) rc = dnnl_check(dnnl_post_ops_create(&ops), "making attributes", __FILE__, __LINE__);
    if (rc == SS_OK) rc = dnnl_check(dnnl_post_ops_append_sum(ops, 1.0f), "making attributes", __FILE__, __LINE__);
    if (rc == SS_OK) rc = dnnl_check(dnnl_primitive_attr_set_post_ops(*attr, ops), "making attributes", __FILE__, __LINE__);
    if (ops) dnnl_post_ops_destroy(ops);
    return rc;
}

/* Makes direction d of p: its primitive (JIT-compiled here), operands and workspace size. */
static int direction_make(plan *p, const conv_geom *g, int d)
{
    if (p->made[d]) return SS_OK;
    direction *r = &p->dir[d];
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t sum = NULL;
    SS_TRY(pd_make(&pd, p, g, d));
    int rc = dnnl_check(dnnl_primitive_create(&r->prim, pd), "compiling the kernel", __FILE__, __LINE__);
    if (rc == SS_OK && d == BWD_WEIGHTS) rc = sum_attr(&sum);
    if (rc == SS_OK) {
        const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        const dnnl_memory_desc_t *dsrc = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
        const dnnl_memory_desc_t *dwei = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        const dnnl_memory_desc_t *ddst = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
        int64_t bytes = 0;
        if (d == FWD || d == FWD_BIAS) {
            rc = operand_make(&r->arg[0], &p->src, src, src, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[1], &p->weights, wei, wei, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[2], dst, &p->dst, dst, NULL, &bytes);
        } else if (d == BWD_DATA) {
            rc = operand_make(&r->arg[0], &p->dst, ddst, ddst, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[1], &p->weights, wei, wei, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[2], dsrc, &p->src, dsrc, NULL, &bytes);
        } else {
            rc = operand_make(&r->arg[0], &p->dst, ddst, ddst, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[1], &p->src, src, src, NULL, &bytes);
            if (rc == SS_OK) rc = operand_make(&r->arg[2], dwei, &p->weights, dwei, sum, &bytes);
        }
        r->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        r->scratch_offset = bytes;
        r->bytes = bytes + align64((int64_t)dnnl_memory_desc_get_size(&r->scratch_md));
    }
    if (sum) dnnl_primitive_attr_destroy(sum);
    dnnl_primitive_desc_destroy(pd);
    if (rc == SS_OK) p->made[d] = 1; /* else the pieces made so far leak, once per failing shape */
    return rc;
}

/* *out: the plan of g's shape with direction d made. */
static int plan_get(plan **out, const conv_geom *g, int d)
{
    const int64_t key[12] = {g->n, g->cin, g->h, g->w, g->cout, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, team_size()};
    pthread_mutex_lock(&g_lock);
    int rc = SS_OK;
    if (!g_engine) rc = dnnl_check(dnnl_engine_create(&g_engine, dnnl_cpu, 0), "making the CPU engine", __FILE__, __LINE__);
    plan *p = g_plans;
    while (rc == SS_OK && p && memcmp(p->key, key, sizeof key) != 0) p = p->next;
    if (rc == SS_OK && !p) {
        p = ss_alloc(sizeof *p, "a oneDNN convolution plan");
        if (!p) rc = SS_ERR_NOMEM;
        else {
            memset(p, 0, sizeof *p);
            memcpy(p->key, key, sizeof key);
            rc = plan_describe(p, g);
            if (rc == SS_OK) p->next = g_plans, g_plans = p;
            else ss_free(p);
        }
    }
    if (rc == SS_OK) rc = direction_make(p, g, d);
    pthread_mutex_unlock(&g_lock);
    *out = p;
    return rc;
}

/* ------------------------------------------------------------ execution */

/* Runs prim on n (kind, descriptor, pointer) arguments, wrapping the pointers in memory objects. */
static int execute(dnnl_primitive_t prim, int n, const int *kinds, const dnnl_memory_desc_t *const *mds,
                   void *const *ptrs, const char *what)
{
    dnnl_stream_t stream = NULL;
    dnnl_memory_t mem[6] = {NULL};
    dnnl_exec_arg_t args[6];
    dnnl_status_t s = dnnl_stream_create(&stream, g_engine, dnnl_stream_default_flags);
    for (int i = 0; s == dnnl_success && i < n; i++) {
        s = dnnl_memory_create(&mem[i], mds[i], g_engine, ptrs[i]);
        args[i].arg = kinds[i], args[i].memory = mem[i];
    }
    if (s == dnnl_success) s = dnnl_primitive_execute(prim, stream, n, args);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    for (int i = 0; i < n; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    if (stream) dnnl_stream_destroy(stream);
    return dnnl_check(s, what, __FILE__, __LINE__);
}

static int reorder(const operand *a, const dnnl_memory_desc_t *from_md, const void *from, const dnnl_memory_desc_t *to_md,
                   void *to)
{
    const int kinds[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    const dnnl_memory_desc_t *mds[2] = {from_md, to_md};
    void *ptrs[2] = {(void *)from, to};
    return execute(a->reorder, 2, kinds, mds, ptrs, "reordering");
}

/* The operand's data in the primitive's format: the caller's `user` (plain md) itself
 * or its reordered copy in the workspace base. */
static int operand_in(const operand *a, const dnnl_memory_desc_t *user_md, const void *user, char *base, void **got)
{
    if (!a->reorder) {
        *got = (void *)user;
        return SS_OK;
    }
    *got = base + a->offset;
    return reorder(a, user_md, user, &a->md, *got);
}

/* Where the primitive writes an output operand: the caller's memory or the workspace. */
static void *operand_out(const operand *a, void *user, char *base) { return a->reorder ? base + a->offset : user; }

int conv2d_onednn_available(void) { return 1; }

static char g_description[128];

/* The version, and the implementation oneDNN picks for a 32→32 3x3 convolution at 28x28. */
static void describe(void)
{
    const dnnl_version_t *v = dnnl_version();
    const conv_geom g = {.n = 32, .cin = 32, .h = 28, .w = 28, .cout = 32, .kh = 3, .kw = 3, .ho = 28, .wo = 28,
                         .sh = 1, .sw = 1, .ph = 1, .pw = 1, .k = 288, .np = 784};
    const char *impl = "?";
    dnnl_primitive_desc_t pd = NULL;
    plan p;
    pthread_mutex_lock(&g_lock);
    if ((g_engine || dnnl_engine_create(&g_engine, dnnl_cpu, 0) == dnnl_success) && plan_describe(&p, &g) == SS_OK &&
        pd_make(&pd, &p, &g, FWD) == SS_OK)
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(g_description, sizeof g_description, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch, impl);
    if (pd) dnnl_primitive_desc_destroy(pd);
    pthread_mutex_unlock(&g_lock);
}

const char *conv2d_onednn_describe(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, describe);
    return g_description;
}

int conv2d_onednn_forward(const conv_geom *g, float *out, const float *in, const float *weight, const float *bias,
                          ss_nn_workspace *ws)
{
    plan *p;
    const int d = bias ? FWD_BIAS : FWD;
    SS_TRY(plan_get(&p, g, d));
    const direction *r = &p->dir[d];
    char *base = ss_nn_workspace_reserve(ws, r->bytes);
    if (!base) return SS_ERR_NOMEM;
    void *src, *wei, *dst = operand_out(&r->arg[2], out, base);
    SS_TRY(operand_in(&r->arg[0], &p->src, in, base, &src));
    SS_TRY(operand_in(&r->arg[1], &p->weights, weight, base, &wei));
    const int kinds[5] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD, DNNL_ARG_BIAS};
    const dnnl_memory_desc_t *mds[5] = {&r->arg[0].md, &r->arg[1].md, &r->arg[2].md, &r->scratch_md, &p->bias};
    void *ptrs[5] = {src, wei, dst, base + r->scratch_offset, (void *)bias};
    SS_TRY(execute(r->prim, bias ? 5 : 4, kinds, mds, ptrs, "convolution forward"));
    return r->arg[2].reorder ? reorder(&r->arg[2], &r->arg[2].md, dst, &p->dst, out) : SS_OK;
}

int conv2d_onednn_backward(const conv_geom *g, float *grad_in, float *grad_weight, const float *grad_out,
                           const float *in, const float *weight, ss_nn_workspace *ws)
{
    plan *p = NULL;
    if (grad_in) SS_TRY(plan_get(&p, g, BWD_DATA));
    if (grad_weight) SS_TRY(plan_get(&p, g, BWD_WEIGHTS));
    const direction *rd = &p->dir[BWD_DATA], *rw = &p->dir[BWD_WEIGHTS];
    const int64_t bytes = grad_in && grad_weight && rd->bytes < rw->bytes ? rw->bytes : grad_in ? rd->bytes : rw->bytes;
    char *base = ss_nn_workspace_reserve(ws, bytes);
    if (!base) return SS_ERR_NOMEM;
    void *ddst = NULL;
    if (grad_in) {
        void *wei, *dsrc = operand_out(&rd->arg[2], grad_in, base);
        SS_TRY(operand_in(&rd->arg[0], &p->dst, grad_out, base, &ddst));
        SS_TRY(operand_in(&rd->arg[1], &p->weights, weight, base, &wei));
        const int kinds[4] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD};
        const dnnl_memory_desc_t *mds[4] = {&rd->arg[0].md, &rd->arg[1].md, &rd->arg[2].md, &rd->scratch_md};
        void *ptrs[4] = {ddst, wei, dsrc, base + rd->scratch_offset};
        SS_TRY(execute(rd->prim, 4, kinds, mds, ptrs, "convolution backward data"));
        if (rd->arg[2].reorder) SS_TRY(reorder(&rd->arg[2], &rd->arg[2].md, dsrc, &p->src, grad_in));
    }
    if (grad_weight) {
        void *src, *dwei = base + rw->arg[2].offset;
        /* diff_dst is still at the start of the workspace when the data direction put it there in this format */
        if (!ddst || !dnnl_memory_desc_equal(&rd->arg[0].md, &rw->arg[0].md))
            SS_TRY(operand_in(&rw->arg[0], &p->dst, grad_out, base, &ddst));
        SS_TRY(operand_in(&rw->arg[1], &p->src, in, base, &src));
        const int kinds[4] = {DNNL_ARG_DIFF_DST, DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_SCRATCHPAD};
        const dnnl_memory_desc_t *mds[4] = {&rw->arg[0].md, &rw->arg[1].md, &rw->arg[2].md, &rw->scratch_md};
        void *ptrs[4] = {ddst, src, dwei, base + rw->scratch_offset};
        SS_TRY(execute(rw->prim, 4, kinds, mds, ptrs, "convolution backward weights"));
        SS_TRY(reorder(&rw->arg[2], &rw->arg[2].md, dwei, &p->weights, grad_weight));
    }
    return SS_OK;
}

#else /* no oneDNN in this build: conv2d.c always takes its im2col path */

int conv2d_onednn_available(void) { return 0; }
const char *conv2d_onednn_describe(void) { return NULL; }
int conv2d_onednn_forward(const conv_geom *g, float *out, const float *in, const float *weight, const float *bias,
                          ss_nn_workspace *ws)
{
    return SS_FAIL(SS_ERR_ARG, "conv2d: libscalespace was built without oneDNN");
}
int conv2d_onednn_backward(const conv_geom *g, float *grad_in, float *grad_weight, const float *grad_out,
                           const float *in, const float *weight, ss_nn_workspace *ws)
{
    return SS_FAIL(SS_ERR_ARG, "conv2d: libscalespace was built without oneDNN");
}

#endif
