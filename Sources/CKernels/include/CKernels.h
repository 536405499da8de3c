// deepserve's hot loops: packed GEMM, GEMV, im2col and vectorised activations.
//
// Each kernel has an AVX2+FMA version (compiled with a per-function target attribute, so the
// module needs no build flags) and a portable one; the choice is made once, at first use, from
// what the CPU reports. See docs/ARCHITECTURE.md (Kernels) and bench/RESULTS.md for the measurements behind the design.
#ifndef DEEPSERVE_CKERNELS_H
#define DEEPSERVE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element-wise function applied to a GEMM's result while it is still in cache.
typedef enum {
    DS_ACTIVATION_NONE = 0,
    DS_ACTIVATION_RELU = 1,
    DS_ACTIVATION_LEAKY_RELU = 2,   // alpha: slope for x < 0
    DS_ACTIVATION_CLIP = 3,         // alpha: min, beta: max
    DS_ACTIVATION_SIGMOID = 4,
    DS_ACTIVATION_TANH = 5,
    DS_ACTIVATION_HARD_SIGMOID = 6, // max(0, min(1, alpha·x + beta))
    DS_ACTIVATION_HARD_SWISH = 7,   // x · max(0, min(1, x / 6 + 1/2))
    DS_ACTIVATION_SILU = 8,         // x · sigmoid(x) (Swish)
    DS_ACTIVATION_GELU = 9,         // x/2 · (1 + erf(x/√2))
} ds_activation_kind;

typedef struct {
    ds_activation_kind kind;
    float alpha;
    float beta;
} ds_activation;

/// C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, then + row_bias[i] + col_bias[j], then activation.
///
/// Matrices are row-major with leading dimensions lda/ldb/ldc; op(X) is Xᵀ when trans_x != 0.
/// row_bias (length M) and col_bias (length N) may be NULL. With beta == 0, C is not read
/// (it may hold NaNs). Safe to call from many threads at once; splits its tiles over the calling
/// thread's attached pool (ds_pool_attach) when the product is large enough.
void ds_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
              float alpha, const float *a, ptrdiff_t lda,
              const float *b, ptrdiff_t ldb,
              float beta, float *c, ptrdiff_t ldc,
              const float *row_bias, const float *col_bias, ds_activation activation);

// MARK: Intra-op parallelism (threads.c)

/// A pool of helper threads a runner lends its kernels (intra-op parallelism).
typedef struct ds_pool ds_pool;

/// Starts `helpers` helper threads (they sleep when idle). NULL when helpers < 1 or threads can't start.
ds_pool *ds_pool_create(int helpers);
/// Stops and joins the helpers. The pool must not be attached to a thread that still runs kernels.
void ds_pool_destroy(ds_pool *pool);
/// The pool's helper count (0 for NULL).
int ds_pool_helpers(const ds_pool *pool);
/// Lets the calling thread's kernels split their work over `pool`, `threads` threads in all (the caller and
/// threads − 1 helpers, capped at the pool's size). NULL or threads < 2: kernels run on the caller alone.
void ds_pool_attach(ds_pool *pool, int threads);
/// How many threads the calling thread's kernels may use now (1 inside a parallel region).
int ds_parallel_threads(void);
/// Runs body(context, i) for i in 0..<count on the calling thread and its attached pool's helpers; returns when
/// all are done. Serial without a pool, or when called from inside a region.
///
/// Indices are claimed one at a time, so any thread may run any index: a body needing scratch of its own takes the
/// ds_parallel_slot()-th share of ds_parallel_threads() shares laid out before the region.
void ds_parallel_for(ptrdiff_t count, void (*body)(void *context, ptrdiff_t index), void *context);
/// Inside a region's body: which of its threads runs it (0 for the runner, then 1 ... threads − 1).
int ds_parallel_slot(void);

/// Floats needed to hold A (m × k) pre-packed for ds_sgemm_prepacked.
size_t ds_sgemm_packed_a_size(ptrdiff_t m, ptrdiff_t k);

/// Packs alpha · op(A) once (e.g. a layer's weights at load) into `packed`
/// (ds_sgemm_packed_a_size floats, 64-byte aligned).
void ds_sgemm_pack_a(int trans_a, ptrdiff_t m, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda, float *packed);

/// ds_sgemm with A already packed by ds_sgemm_pack_a: skips re-packing the weights on every call.
void ds_sgemm_prepacked(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *packed_a,
                        int trans_b, const float *b, ptrdiff_t ldb,
                        float beta, float *c, ptrdiff_t ldc,
                        const float *row_bias, const float *col_bias, ds_activation activation);

/// `count` row-major products C_i[m×n] = A[a_offsets[i] …][m×k] · B[b_offsets[i] …][k×n] (+ col_bias, then activation),
/// C_i at c + i·m·n: a batched MatMul. With intra-op threads, small products are spread over the threads whole.
void ds_sgemm_batched(ptrdiff_t count, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, const ptrdiff_t *a_offsets,
                      const float *b, const ptrdiff_t *b_offsets, float *c, const float *col_bias, ds_activation activation);

/// Floats needed to hold op(B) (k × n) pre-packed for ds_sgemm_prepacked_b.
size_t ds_sgemm_packed_b_size(ptrdiff_t k, ptrdiff_t n);

/// Packs op(B) once (e.g. a dense layer's weights at load) into `packed` (64-byte aligned).
void ds_sgemm_pack_b(int trans_b, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb, float *packed);

/// ds_sgemm with B already packed by ds_sgemm_pack_b. Unlike ds_sgemm it never takes the GEMV
/// path, so callers keep the unpacked B for m == 1.
void ds_sgemm_prepacked_b(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                          const float *packed_b, float beta, float *c, ptrdiff_t ldc,
                          const float *row_bias, const float *col_bias, ds_activation activation);

/// Applies an activation in place to n floats.
void ds_activation_apply(float *x, ptrdiff_t n, ds_activation activation);

/// Softmax over each of `rows` contiguous rows of `length` floats (y may be x). A NaN in a row makes the row NaN.
void ds_softmax_rows(const float *x, float *y, ptrdiff_t rows, ptrdiff_t length);
/// y[i] = exp(x[i]); in place allowed.
void ds_vexp(const float *x, float *y, ptrdiff_t n);
/// y[i] = erf(x[i]) within 1.5e-7; in place allowed.
void ds_verf(const float *x, float *y, ptrdiff_t n);
/// y[i] = 1 / (1 + exp(-x[i])); in place allowed.
void ds_vsigmoid(const float *x, float *y, ptrdiff_t n);
/// y[i] = tanh(x[i]); in place allowed.
void ds_vtanh(const float *x, float *y, ptrdiff_t n);

/// The LSTM cell with ONNX's default activations, for `rows` sequences. Row r of `gates` (rows `gate_stride` floats
/// apart) holds the pre-activations [i | o | f | c̃], h floats each; then, with σ the sigmoid,
/// cell[r] ← σ(f)·cell[r] + σ(i)·tanh(c̃) and hidden[r] ← σ(o)·tanh(cell[r]). `cell` and `hidden` are rows × h.
/// Bit for bit what ds_vsigmoid and ds_vtanh followed by separate multiplies and adds give.
void ds_lstm_cell(const float *gates, ptrdiff_t gate_stride, ptrdiff_t rows, ptrdiff_t h, float *cell, float *hidden);

/// Unfolds one image (channels × height × width) into columns for convolution-as-GEMM, for the
/// output rows [out_row_begin, out_row_begin + out_rows):
/// col[(c·kh + i)·kw + j][r·out_w + ox] = x[c][(out_row_begin + r)·stride_h − pad_top + i·dil_h][ox·stride_w − pad_left + j·dil_w],
/// zero outside the image, rows of `col` being `ld_col` floats apart (≥ out_rows·out_w; larger when
/// several images share one column matrix). Unfolding a band of rows at a time keeps the columns in cache.
void ds_im2col(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
               ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col, ptrdiff_t ld_col);

/// A 2-d convolution's geometry for ds_conv2d_direct: one group's input channels and image size, the window, and the
/// output size (from SpatialWindow, already checked).
typedef struct {
    ptrdiff_t channels, height, width;
    ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
    ptrdiff_t out_h, out_w;
} ds_conv2d_shape;

/// Floats ds_conv2d_direct_pack writes for `out_channels` filters of k = channels·kernel_h·kernel_w weights.
size_t ds_conv2d_direct_packed_size(ptrdiff_t out_channels, ptrdiff_t k);
/// Packs filters w[oc][k] (one group's) into panels of 16 channels, k-major: packed[panel][k][16], zero-filled past
/// out_channels. `packed` must be 32-byte aligned.
void ds_conv2d_direct_pack(const float *w, ptrdiff_t out_channels, ptrdiff_t k, float *packed);
/// Floats of scratch ds_conv2d_direct needs for `batch` images of shape `s`.
size_t ds_conv2d_direct_scratch_size(const ds_conv2d_shape *s, ptrdiff_t batch);
/// Direct convolution of `batch` images (s->channels planes each, x_image_stride floats apart) with filters packed by
/// ds_conv2d_direct_pack: y[n][oc][pixel] = act(bias[oc] + (accumulate ? y : 0) + Σ w · x), x zero outside the image,
/// output images y_image_stride floats apart. Splits its tiles over the calling thread's pool when it has one.
/// `scratch`: ds_conv2d_direct_scratch_size floats, 64-byte aligned.
void ds_conv2d_direct(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                      const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate,
                      ds_activation act, float *y, ptrdiff_t y_image_stride, float *scratch);

/// Nonzero when ds_winograd_conv2d runs `s`: AVX2 present, a 3×3 or 5×5 window at stride 1 without dilation.
int ds_winograd_suits(const ds_conv2d_shape *s);
/// Floats ds_winograd_pack writes for `out_channels` kernel×kernel filters (3 or 5) of `channels` input channels.
size_t ds_winograd_packed_size(ptrdiff_t out_channels, ptrdiff_t channels, ptrdiff_t kernel);
/// Transforms filters w[oc][c][kernel][kernel] (one group's; kernel 3 or 5) for Winograd F(2×2, 3×3) or F(2×2, 5×5)
/// and packs them for the GEMM: (kernel + 1)² matrices, one per transformed position. `packed`: 64-byte aligned.
void ds_winograd_pack(const float *w, ptrdiff_t out_channels, ptrdiff_t channels, ptrdiff_t kernel, float *packed);
/// The share of V's and M's tile slots that hold tiles of `s` (the rest pad rows out to whole 8-tile groups): a map
/// 5 tiles wide (9 or 10 pixels) fills 5 of 8, 7 tiles (14 pixels) 7 of 8.
double ds_winograd_lane_use(const ds_conv2d_shape *s);
/// Floats of scratch ds_winograd_conv2d needs for one image of shape `s` (it runs a batch an image at a time).
size_t ds_winograd_scratch_size(const ds_conv2d_shape *s, ptrdiff_t out_channels);
/// ds_conv2d_direct's contract for a shape ds_winograd_suits accepts, with filters from ds_winograd_pack. The sums are
/// those of the direct convolution up to rounding. `scratch`: ds_winograd_scratch_size floats, 64-byte aligned.
void ds_winograd_conv2d(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                        const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate,
                        ds_activation act, float *y, ptrdiff_t y_image_stride, float *scratch);

/// The inverse scatter of ds_im2col, accumulating: x[c][y][x] += col[...] (used by ConvTranspose);
/// rows of `col` are `ld_col` floats apart (≥ in_h·in_w).
void ds_col2im_add(const float *col, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                   ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                   ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                   ptrdiff_t in_h, ptrdiff_t in_w, float *x, ptrdiff_t ld_col);

/// 2-d pooling of `planes` images. Max pooling when `divisors` is NULL, else average pooling
/// that multiplies each output by divisors[oy·out_w + ox] (1 / the window's count). For kernel
/// column j, output columns [column_begin[j], column_end[j]) are the ones that read inside the image.
void ds_pool2d(const float *x, ptrdiff_t planes, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
               ptrdiff_t pad_top, ptrdiff_t pad_left, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_h, ptrdiff_t out_w, const ptrdiff_t *column_begin, const ptrdiff_t *column_end,
               const float *divisors, float *y);

/// Floats of scratch ds_depthwise_conv2d needs: a zero-padded copy of one plane for each thread the calling thread may
/// use now (ds_parallel_threads), as each takes its own run of planes.
size_t ds_depthwise_scratch_size(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                                 ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w);

/// Depthwise 2-d convolution of `planes` (batch × channels) NCHW output planes, one kh × kw filter per
/// channel (w[c][i][j], channel c = plane % channels): y = act(bias[c] + Σ w · x), x zero outside
/// the image. Output plane p reads input plane p / filters_per_plane: 1 for a depthwise convolution;
/// m for one with a channel multiplier m (group = input channels, m filters each); the output channels
/// for a one-channel image, which every filter reads. `scratch` holds ds_depthwise_scratch_size
/// floats. Returns 0, or -1 when memory for a very large kernel's tap table could not be allocated
/// (nothing written then).
int ds_depthwise_conv2d(const float *x, ptrdiff_t planes, ptrdiff_t channels, ptrdiff_t filters_per_plane,
                        ptrdiff_t height, ptrdiff_t width,
                        const float *w, ptrdiff_t kernel_h, ptrdiff_t kernel_w, const float *bias,
                        ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                        ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w,
                        float *scratch, ds_activation act, float *y);

typedef enum {
    DS_BINARY_ADD = 0,
    DS_BINARY_SUB = 1,
    DS_BINARY_MUL = 2,
    DS_BINARY_DIV = 3,
    DS_BINARY_MAX = 4,   // NaN propagates
    DS_BINARY_MIN = 5,   // NaN propagates
} ds_binary_op;

/// z[i] = x[i·x_step] op y[i·y_step] for i < n, with each step 0 (a broadcast value) or 1.
/// z may alias x or y when their step is 1.
void ds_binary_f32(ds_binary_op op, const float *x, int x_step, const float *y, int y_step, float *z, ptrdiff_t n);

/// The sum of n floats, accumulated in double precision (vectorised; the order differs from a plain loop's).
double ds_sum_f32(const float *x, ptrdiff_t n);

/// Exact int8 GEMM: C[M×N] = (A − a_zero[row]) · (B − b_zero[col]) in int32, wrapping mod 2^32.
///
/// A (M×K) and B (K×N) are row-major bytes, read as int8 when *_signed != 0 and as uint8 otherwise;
/// a_zero (length M) and b_zero (length N) hold the zero points as int32 and may be NULL (zero).
/// C is written, not accumulated. AVX-512 VNNI (VPDPBUSD) when the CPU has it, else AVX2 (VPMADDWD), else portable C.
void ds_igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a, ptrdiff_t lda, int a_signed,
              const int32_t *a_zero, const uint8_t *b, ptrdiff_t ldb, int b_signed, const int32_t *b_zero,
              int32_t *c, ptrdiff_t ldc);

/// Per-tensor QuantizeLinear to 8 bits: y[i] = saturate(round_half_even(x[i] / scale) + zero) as
/// uint8 (is_signed == 0) or int8 bytes; NaN gives the zero point. AVX2 when available.
void ds_quantize_8bit(const float *x, ptrdiff_t n, float scale, float zero, int is_signed, uint8_t *y);

/// Which kernel ds_igemm uses on this CPU: "avx512-vnni", "avx2" or "portable".
const char *ds_igemm_isa(void);

/// Which kernels ds_sgemm and friends use on this CPU: "avx512f" (the GEMM's tiles; the other kernels stay AVX2),
/// "avx2-fma" or "portable".
const char *ds_kernel_isa(void);
/// Nonzero on a CPU that splits each 256-bit FMA into two 128-bit halves (AMD Zen and Zen+, Hygon Dhyana), so that its
/// multiply-adds cost twice what they do elsewhere against loads, stores and additions: algorithms that trade
/// multiply-adds for those (Winograd) pay on smaller layers there.
int ds_cpu_splits_256bit_fma(void);
/// Forces the portable kernels, ds_igemm's too (for tests that compare both paths); 0 restores auto-detection.
void ds_force_portable(int force);
/// Keeps the float kernels off AVX-512 (for tests that compare the AVX-512 tiles with the AVX2 ones); 0 restores
/// auto-detection.
void ds_force_avx2(int force);

#ifdef __cplusplus
}
#endif

#endif
