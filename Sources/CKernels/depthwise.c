// Depthwise 2-d convolution (one filter per channel: MobileNet, EfficientNet, the PP-OCR
// backbones). It does ~9 multiply-adds per output, so it is bound by memory, not arithmetic: the
// goal is to read each input plane once from memory and keep everything else in L1/L2.
//
// Each plane is first copied into a zero-padded scratch plane whose columns are split by phase
// modulo the horizontal stride (column u goes to phase u % stride, slot u / stride). Then for any
// stride, dilation and padding, a kernel tap (i, j) reads a *contiguous* run of the scratch plane
// for consecutive output columns, so the inner loop is plain 8-wide loads and FMAs with no bounds
// checks; the borders cost nothing extra. Bias and the activation run on the row before it is stored.
//
// On AVX-512 the common filters (3×3 and 5×5, stride 1 or 2) of a depthwise convolution proper need no copy:
// depthwise_avx512.c reads the plane in place through masked loads, with the same sums in the same order.
#include "CKernels.h"
#include "depthwise_internal.h"
#include "dispatch.h"
#include "partial_avx2.h"
#include "phase_split.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ds_depthwise_scratch_size(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                                 ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w) {
    const ds_padded_layout l =
        ds_padded_layout_for(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, out_h, out_w);
    return (size_t)(l.rows * l.stride_w * l.phase_len) * (size_t)ds_parallel_threads();
}

// Where tap t = i·kw + j starts in the scratch plane for output (0, 0).
static void tap_offsets(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                        ds_padded_layout l, ptrdiff_t *offsets) {
    const ptrdiff_t row_len = l.stride_w * l.phase_len;
    for (ptrdiff_t i = 0; i < kernel_h; i++)
        for (ptrdiff_t j = 0; j < kernel_w; j++) {
            const ptrdiff_t u = j * dilation_w;
            offsets[i * kernel_w + j] = i * dilation_h * row_len + (u % l.stride_w) * l.phase_len + u / l.stride_w;
        }
}

static void plane_portable(const float *buffer, const float *w, ptrdiff_t taps, const ptrdiff_t *offsets,
                           float bias, ptrdiff_t row_step, ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
        const float *base = buffer + oy * row_step;
        float *out = y + oy * out_w;
        for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] = bias;
        for (ptrdiff_t t = 0; t < taps; t++) {
            const float weight = w[t];
            const float *src = base + offsets[t];
            for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] += weight * src[ox];
        }
    }
}

// Four 8-wide blocks of an output row at a time: four independent FMA chains hide the FMA latency.
__attribute__((target("avx2,fma")))
static void plane_avx2(const float *buffer, const float *w, ptrdiff_t taps, const ptrdiff_t *offsets,
                       float bias, ptrdiff_t row_step, ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    const __m256 b = _mm256_set1_ps(bias);
    const ptrdiff_t full = out_w & ~(ptrdiff_t)7, rest = out_w - full;
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
        const float *base = buffer + oy * row_step;
        float *out = y + oy * out_w;
        ptrdiff_t ox = 0;
        for (; ox + 32 <= out_w; ox += 32) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b;
            for (ptrdiff_t t = 0; t < taps; t++) {
                const __m256 weight = _mm256_broadcast_ss(w + t);
                const float *src = base + offsets[t] + ox;
                a0 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src), a0);
                a1 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 8), a1);
                a2 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 16), a2);
                a3 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 24), a3);
            }
            _mm256_storeu_ps(out + ox, a0);
            _mm256_storeu_ps(out + ox + 8, a1);
            _mm256_storeu_ps(out + ox + 16, a2);
            _mm256_storeu_ps(out + ox + 24, a3);
        }
        for (; ox + 16 <= out_w; ox += 16) {
            __m256 a0 = b, a1 = b;
            for (ptrdiff_t t = 0; t < taps; t++) {
                const __m256 weight = _mm256_broadcast_ss(w + t);
                const float *src = base + offsets[t] + ox;
                a0 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src), a0);
                a1 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 8), a1);
            }
            _mm256_storeu_ps(out + ox, a0);
            _mm256_storeu_ps(out + ox + 8, a1);
        }
        for (; ox < full; ox += 8) {
            __m256 a0 = b;
            for (ptrdiff_t t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(base + offsets[t] + ox), a0);
            _mm256_storeu_ps(out + ox, a0);
        }
        if (rest) {
            // The scratch row's overrun slots make the 8-wide loads safe; only the store is cut short.
            __m256 a0 = b;
            for (ptrdiff_t t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(base + offsets[t] + ox), a0);
            ds_store_first_avx2(out + ox, a0, rest);
        }
    }
}

// MARK: - 3×3 and 5×5 filters, four output rows at a time

// The common filters (3×3 and 5×5, stride 1 or 2, no vertical dilation) run a register tile of four output rows by
// one or two 8-wide column blocks: eight independent FMA chains instead of the row kernel's one to four, so the FMA
// latency no longer sets the pace on narrow maps (56, 28, 14 and 7 columns). The rows of a tile share their input
// rows, each loaded once for every output row that reads it. Each output still sums bias + Σ w·x over the taps in
// (row, column) order, one FMA at a time: the bits are those of plane_avx2.
#define DW_TILE_ROWS 4

typedef struct {
    const float *buffer;            // the padded, phase-split plane
    const ptrdiff_t *columns;       // per tap column j: its offset within a scratch row
    ptrdiff_t row_len;              // floats from one padded input row to the next
    const float *w;                 // the plane's kernel_h × kernel_w weights
    float bias;
    float low, high;                // outputs clamped to [low, high] in the store: ReLU, ReLU6, Clip, or ±∞ for none
    float *y;
    ptrdiff_t out_w;
} dw_tile_plane;

// Output rows [oy, oy + R) × columns [ox, ox + 8·V) (only the first `keep` columns of the last block stored).
// K (taps per side), S (vertical stride), R and V are constants at every call, so the loops unroll completely.
__attribute__((target("avx2,fma"), always_inline))
static inline void dw_tile(const dw_tile_plane *p, ptrdiff_t oy, ptrdiff_t ox, const int K, const int S, const int R,
                           const int V, const int PARTIAL, ptrdiff_t keep) {
    __m256 acc[DW_TILE_ROWS][2];
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < R; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) acc[o][v] = _mm256_set1_ps(p->bias);
    // Weights are broadcast where they are used, and the input row is one pointer stepped down the tile: left to
    // itself the compiler hoists all K·K broadcasts and every row × column address out of the tile, which do not fit
    // in registers beside the accumulators and spill (twice the loads). The empty asm statements stop that.
    const float *w = p->w;
    __asm__("" : "+r"(w));
    const float *row = p->buffer + oy * S * p->row_len + ox;
    const ptrdiff_t row_len = p->row_len;
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < (R - 1) * S + K; r++) {          // input rows the tile reads, top to bottom
        __asm__("" : "+r"(row));
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < K; j++) {
            __m256 x[2];
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++) x[v] = _mm256_loadu_ps(row + p->columns[j] + 8 * v);
            _Pragma("clang loop unroll(full)")
            for (int o = 0; o < R; o++) {
                const int i = r - o * S;                      // the tap row input row r is for output row o
                if (i < 0 || i >= K) continue;
                const __m256 weight = _mm256_broadcast_ss(w + i * K + j);
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) acc[o][v] = _mm256_fmadd_ps(weight, x[v], acc[o][v]);
            }
        }
        row += row_len;
    }
    const __m256 low = _mm256_set1_ps(p->low), high = _mm256_set1_ps(p->high);
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < R; o++) {
        float *out = p->y + (oy + o) * p->out_w + ox;
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) {
            // As ds_piecewise8 clamps (x the second operand: NaN stays NaN), so the bits are a separate pass's.
            const __m256 value = _mm256_min_ps(high, _mm256_max_ps(low, acc[o][v]));
            if (PARTIAL && v == V - 1) ds_store_first_avx2(out + 8 * v, value, keep);
            else _mm256_storeu_ps(out + 8 * v, value);
        }
    }
}

// Every output row of the plane in tiles of R rows. When the rows or columns don't divide evenly, the last tile
// overlaps the one before it and recomputes a few outputs (to the same values) rather than running a narrower tile.
__attribute__((target("avx2,fma"), always_inline))
static inline void dw_tiles(const dw_tile_plane *p, ptrdiff_t out_h, const int K, const int S, const int R) {
    const ptrdiff_t out_w = p->out_w;
    for (ptrdiff_t row = 0; row < out_h; row += R) {
        const ptrdiff_t oy = row + R <= out_h ? row : out_h - R;
        ptrdiff_t ox = 0;
        for (; ox + 16 <= out_w; ox += 16) dw_tile(p, oy, ox, K, S, R, 2, 0, 8);
        if (ox + 8 <= out_w) {
            dw_tile(p, oy, ox, K, S, R, 1, 0, 8);
            ox += 8;
        }
        if (ox < out_w) {
            if (out_w >= 8) dw_tile(p, oy, out_w - 8, K, S, R, 1, 0, 8);
            else dw_tile(p, oy, 0, K, S, R, 1, 1, out_w);   // the scratch row's overrun slots make 8-wide loads safe
        }
    }
}

__attribute__((target("avx2,fma")))
static void plane_tiled_avx2(const dw_tile_plane *p, ptrdiff_t out_h, ptrdiff_t kernel, ptrdiff_t stride_h) {
    if (out_h < DW_TILE_ROWS) {
        if (kernel == 3) stride_h == 1 ? dw_tiles(p, out_h, 3, 1, 1) : dw_tiles(p, out_h, 3, 2, 1);
        else stride_h == 1 ? dw_tiles(p, out_h, 5, 1, 1) : dw_tiles(p, out_h, 5, 2, 1);
        return;
    }
    if (kernel == 3) stride_h == 1 ? dw_tiles(p, out_h, 3, 1, DW_TILE_ROWS) : dw_tiles(p, out_h, 3, 2, DW_TILE_ROWS);
    else stride_h == 1 ? dw_tiles(p, out_h, 5, 1, DW_TILE_ROWS) : dw_tiles(p, out_h, 5, 2, DW_TILE_ROWS);
}

// MARK: - Banks: several filters over one padded plane

// Filters that share an input plane (a bank over a one-channel image, a channel multiplier), two at a time, in tiles of
// two output rows by two 8-wide column blocks, tap by tap: each tap loads the four input vectors once for both filters
// and broadcasts each filter's weight once for four FMAs, into eight independent accumulators. The four-row tiles
// above give an output row one chain of K·K dependent FMAs fed a few at a time, and at stride 2 most input rows feed
// one output row only, so there the chains set the pace (the encoder's 1 → 32 3×3 stride-2 bank: ~14 GFLOP/s on
// Zen 1), and a broadcast per two FMAs. Each output is still bias + Σ w·x over the taps in (row, column) order, one
// FMA at a time: the bits of the tiles above.
#define DW_BANK 2

// Output rows [oy, oy + R) × columns [ox, ox + 8·V) of DW_BANK planes (only `keep` columns of the last block stored).
__attribute__((target("avx2,fma"), always_inline))
static inline void dw_bank_tile(const dw_tile_plane *p, ptrdiff_t oy, ptrdiff_t ox, const int K, const int S, const int R,
                                const int V, const int PARTIAL, ptrdiff_t keep) {
    __m256 acc[DW_BANK][2][2];
    _Pragma("clang loop unroll(full)")
    for (int f = 0; f < DW_BANK; f++)
        _Pragma("clang loop unroll(full)")
        for (int o = 0; o < R; o++)
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++) acc[f][o][v] = _mm256_set1_ps(p[f].bias);
    // The second filter's weights as an offset from the first's, and both bases opaque per tap row, as in dw_tile: left
    // to itself the compiler hoists the K·K·DW_BANK broadcasts out of the tile, and they spill.
    const float *w = p[0].w;
    const ptrdiff_t w1 = p[1].w - p[0].w;
    const ptrdiff_t row_len = p[0].row_len, output_row = S * row_len;
    const float *row = p[0].buffer + oy * output_row + ox;
    const ptrdiff_t *columns = p[0].columns;
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < K; i++) {
        __asm__("" : "+r"(row), "+r"(w));
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < K; j++) {
            __m256 x[2][2];
            _Pragma("clang loop unroll(full)")
            for (int o = 0; o < R; o++)
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) x[o][v] = _mm256_loadu_ps(row + o * output_row + columns[j] + 8 * v);
            _Pragma("clang loop unroll(full)")
            for (int f = 0; f < DW_BANK; f++) {
                const __m256 weight = _mm256_broadcast_ss(w + (f ? w1 : 0) + i * K + j);
                _Pragma("clang loop unroll(full)")
                for (int o = 0; o < R; o++)
                    _Pragma("clang loop unroll(full)")
                    for (int v = 0; v < V; v++) acc[f][o][v] = _mm256_fmadd_ps(weight, x[o][v], acc[f][o][v]);
            }
        }
        row += row_len;
    }
    _Pragma("clang loop unroll(full)")
    for (int f = 0; f < DW_BANK; f++) {
        const __m256 low = _mm256_set1_ps(p[f].low), high = _mm256_set1_ps(p[f].high);
        _Pragma("clang loop unroll(full)")
        for (int o = 0; o < R; o++) {
            float *out = p[f].y + (oy + o) * p[f].out_w + ox;
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++) {
                const __m256 value = _mm256_min_ps(high, _mm256_max_ps(low, acc[f][o][v]));
                if (PARTIAL && v == V - 1) ds_store_first_avx2(out + 8 * v, value, keep);
                else _mm256_storeu_ps(out + 8 * v, value);
            }
        }
    }
}

// R output rows of DW_BANK planes, in blocks of 16 columns, then 8, the last block overlapping the one before.
__attribute__((target("avx2,fma"), always_inline))
static inline void dw_bank_row_band(const dw_tile_plane *p, ptrdiff_t oy, const int K, const int S, const int R) {
    const ptrdiff_t out_w = p[0].out_w;
    ptrdiff_t ox = 0;
    for (; ox + 16 <= out_w; ox += 16) dw_bank_tile(p, oy, ox, K, S, R, 2, 0, 8);
    if (ox == out_w) return;
    if (out_w >= 16) dw_bank_tile(p, oy, out_w - 16, K, S, R, 2, 0, 8);
    else if (out_w > 8) dw_bank_tile(p, oy, 0, K, S, R, 2, 1, out_w - 8);
    else dw_bank_tile(p, oy, 0, K, S, R, 1, 1, out_w);   // the scratch row's overrun slots make 8-wide loads safe
}

__attribute__((target("avx2,fma"), always_inline))
static inline void dw_bank_rows(const dw_tile_plane *p, ptrdiff_t out_h, const int K, const int S) {
    ptrdiff_t oy = 0;
    for (; oy + 2 <= out_h; oy += 2) dw_bank_row_band(p, oy, K, S, 2);
    if (oy < out_h) dw_bank_row_band(p, oy, K, S, 1);
}

// `p` holds DW_BANK planes over the same padded plane: the same buffer, columns and row length; their own filters,
// biases and outputs.
__attribute__((target("avx2,fma")))
static void planes_bank_avx2(const dw_tile_plane *p, ptrdiff_t out_h, ptrdiff_t kernel, ptrdiff_t stride_h) {
    if (kernel == 3) stride_h == 1 ? dw_bank_rows(p, out_h, 3, 1) : dw_bank_rows(p, out_h, 3, 2);
    else stride_h == 1 ? dw_bank_rows(p, out_h, 5, 1) : dw_bank_rows(p, out_h, 5, 2);
}

// MARK: - AVX-512 on the padded copy

// Filters that share an input plane (a channel multiplier, a bank of filters over a one-channel image) keep the
// padded copy on AVX-512 too: made once for all of them, it costs less than depthwise_avx512.c's masked loads and, at
// stride 2, permutes for each (the encoder's 1 → 32 3×3 stride 2 and the digit CNN's 1 → 32 5×5 at batch 32 took
// 1.13× and 1.08× the time in place).
//
// dw_tile on zmm: R output rows × 16·V columns, the last block's loads and stores masked to `keep` columns (so no
// overlapping tiles or overrun reads at the row end). The same FMAs in the same order and the same clamp: the bits of
// the AVX2 tiles.
__attribute__((target("avx512f"), always_inline))
static inline void dw_tile512(const dw_tile_plane *p, ptrdiff_t oy, ptrdiff_t ox, const int K, const int S, const int R,
                              const int V, ptrdiff_t keep) {
    const __mmask16 last = keep >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << keep) - 1);
    __m512 acc[DW_TILE_ROWS][2];
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < R; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) acc[o][v] = _mm512_set1_ps(p->bias);
    const float *w = p->w;
    __asm__("" : "+r"(w));
    const float *row = p->buffer + oy * S * p->row_len + ox;
    const ptrdiff_t row_len = p->row_len;
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < (R - 1) * S + K; r++) {
        __asm__("" : "+r"(row));
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < K; j++) {
            __m512 x[2];
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++)
                x[v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : (__mmask16)0xFFFF, row + p->columns[j] + 16 * v);
            _Pragma("clang loop unroll(full)")
            for (int o = 0; o < R; o++) {
                const int i = r - o * S;
                if (i < 0 || i >= K) continue;
                const __m512 weight = _mm512_set1_ps(w[i * K + j]);
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) acc[o][v] = _mm512_fmadd_ps(weight, x[v], acc[o][v]);
            }
        }
        row += row_len;
    }
    ds_depthwise_store_tile512(p->y + oy * p->out_w + ox, p->out_w, acc, R, V, last, p->low, p->high);
}

__attribute__((target("avx512f"), always_inline))
static inline void dw_tiles512(const dw_tile_plane *p, ptrdiff_t out_h, const int K, const int S, const int R) {
    const ptrdiff_t out_w = p->out_w;
    for (ptrdiff_t row = 0; row < out_h; row += R) {
        const ptrdiff_t oy = row + R <= out_h ? row : out_h - R;
        ptrdiff_t ox = 0;
        for (; ox + 32 <= out_w; ox += 32) dw_tile512(p, oy, ox, K, S, R, 2, 16);
        if (out_w - ox > 16) dw_tile512(p, oy, ox, K, S, R, 2, out_w - ox - 16);
        else if (ox < out_w) dw_tile512(p, oy, ox, K, S, R, 1, out_w - ox);
    }
}

__attribute__((target("avx512f")))
static void plane_tiled_avx512(const dw_tile_plane *p, ptrdiff_t out_h, ptrdiff_t kernel, ptrdiff_t stride_h) {
    const int rows = out_h < DW_TILE_ROWS ? 1 : DW_TILE_ROWS;
    if (rows == 1) {
        if (kernel == 3) stride_h == 1 ? dw_tiles512(p, out_h, 3, 1, 1) : dw_tiles512(p, out_h, 3, 2, 1);
        else stride_h == 1 ? dw_tiles512(p, out_h, 5, 1, 1) : dw_tiles512(p, out_h, 5, 2, 1);
        return;
    }
    if (kernel == 3) stride_h == 1 ? dw_tiles512(p, out_h, 3, 1, DW_TILE_ROWS) : dw_tiles512(p, out_h, 3, 2, DW_TILE_ROWS);
    else stride_h == 1 ? dw_tiles512(p, out_h, 5, 1, DW_TILE_ROWS) : dw_tiles512(p, out_h, 5, 2, DW_TILE_ROWS);
}

// MARK: - Driver

typedef struct {
    const float *x;
    ptrdiff_t channels, filters_per_plane, height, width;
    const float *w;
    ptrdiff_t taps;
    const ptrdiff_t *offsets;
    const float *bias;
    ptrdiff_t pad_top, pad_left;
    ds_padded_layout layout;
    ptrdiff_t row_step, out_h, out_w;
    ds_activation act;
    float *y, *scratch;
    ptrdiff_t scratch_floats, planes, per_part;
    int avx2, avx512;
    int tiled;                      // plane_tiled_avx2 suits the filter (square 3 or 5, stride 1 or 2, no vertical dilation)
    int inplace;                    // ds_depthwise_plane_avx512 suits it too, one filter per plane (runs instead, no copy)
    ptrdiff_t kernel, stride_h, columns[5];
    int clamps;                     // the activation is a clamp the tiles apply in their store (none, ReLU, Clip)
    float clamp_low, clamp_high;
} depthwise_job;

// Planes [part · per_part, …) of a depthwise convolution, in the padded plane of the thread running it.
static void depthwise_part(void *context, ptrdiff_t part) {
    const depthwise_job *j = context;
    float *buffer = j->scratch + ds_parallel_slot() * j->scratch_floats;
    const ptrdiff_t first = part * j->per_part;
    const ptrdiff_t last = first + j->per_part < j->planes ? first + j->per_part : j->planes;
    for (ptrdiff_t plane = first; plane < last; plane++) {
        const ptrdiff_t c = plane % j->channels, source = plane / j->filters_per_plane;
        float *out = j->y + plane * j->out_h * j->out_w;
        const float b = j->bias ? j->bias[c] : 0.0f;
        if (j->inplace) {
            const ds_depthwise_plane p = {
                .x = j->x + source * j->height * j->width, .height = j->height, .width = j->width,
                .pad_top = j->pad_top, .pad_left = j->pad_left, .w = j->w + c * j->taps, .bias = b,
                .low = j->clamp_low, .high = j->clamp_high, .y = out, .out_h = j->out_h, .out_w = j->out_w,
                .kernel = j->kernel, .stride = j->stride_h,
            };
            ds_depthwise_plane_avx512(&p);
            if (!j->clamps && j->act.kind != DS_ACTIVATION_NONE) ds_activation_apply(out, j->out_h * j->out_w, j->act);
            continue;
        }
        // Consecutive filters of one input plane share its padded copy.
        if (plane == first || source != (plane - 1) / j->filters_per_plane)
            ds_fill_padded_plane(j->x + source * j->height * j->width, j->height, j->width, j->pad_top, j->pad_left,
                                 j->layout, plane > first, buffer);
        if (j->tiled && !j->avx512 && plane + DW_BANK <= last && (plane + DW_BANK - 1) / j->filters_per_plane == source) {
            // DW_BANK filters of this padded plane at once (planes_bank_avx2).
            dw_tile_plane bank[DW_BANK];
            for (int f = 0; f < DW_BANK; f++) {
                const ptrdiff_t cf = (plane + f) % j->channels;
                bank[f] = (dw_tile_plane){
                    .buffer = buffer, .columns = j->columns, .row_len = j->layout.stride_w * j->layout.phase_len,
                    .w = j->w + cf * j->taps, .bias = j->bias ? j->bias[cf] : 0.0f, .low = j->clamp_low,
                    .high = j->clamp_high, .y = j->y + (plane + f) * j->out_h * j->out_w, .out_w = j->out_w,
                };
            }
            planes_bank_avx2(bank, j->out_h, j->kernel, j->stride_h);
            if (!j->clamps && j->act.kind != DS_ACTIVATION_NONE)
                for (int f = 0; f < DW_BANK; f++) ds_activation_apply(bank[f].y, j->out_h * j->out_w, j->act);
            plane += DW_BANK - 1;   // the loop steps past the last of them
            continue;
        }
        if (j->tiled) {
            const dw_tile_plane tiles = {
                .buffer = buffer, .columns = j->columns, .row_len = j->layout.stride_w * j->layout.phase_len,
                .w = j->w + c * j->taps, .bias = b, .low = j->clamp_low, .high = j->clamp_high, .y = out,
                .out_w = j->out_w,
            };
            if (j->avx512) plane_tiled_avx512(&tiles, j->out_h, j->kernel, j->stride_h);
            else plane_tiled_avx2(&tiles, j->out_h, j->kernel, j->stride_h);
            if (!j->clamps && j->act.kind != DS_ACTIVATION_NONE) ds_activation_apply(out, j->out_h * j->out_w, j->act);
            continue;
        }
        if (j->avx2)
            plane_avx2(buffer, j->w + c * j->taps, j->taps, j->offsets, b, j->row_step, j->out_h, j->out_w, out);
        else
            plane_portable(buffer, j->w + c * j->taps, j->taps, j->offsets, b, j->row_step, j->out_h, j->out_w, out);
        if (j->act.kind != DS_ACTIVATION_NONE) ds_activation_apply(out, j->out_h * j->out_w, j->act);
    }
}

int ds_depthwise_conv2d(const float *x, ptrdiff_t planes, ptrdiff_t channels, ptrdiff_t filters_per_plane,
                        ptrdiff_t height, ptrdiff_t width,
                         const float *w, ptrdiff_t kernel_h, ptrdiff_t kernel_w, const float *bias,
                         ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                         ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w,
                         float *scratch, ds_activation act, float *y) {
    if (planes <= 0 || out_h <= 0 || out_w <= 0 || filters_per_plane <= 0) return 0;
    const ds_padded_layout l =
        ds_padded_layout_for(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, out_h, out_w);
    const ptrdiff_t taps = kernel_h * kernel_w;
    ptrdiff_t offsets_storage[64];
    ptrdiff_t *offsets = taps <= 64 ? offsets_storage : malloc((size_t)taps * sizeof(ptrdiff_t));
    if (!offsets) return -1;
    tap_offsets(kernel_h, kernel_w, dilation_h, dilation_w, l, offsets);
    const ptrdiff_t row_step = stride_h * l.stride_w * l.phase_len;
    // Planes are independent: with intra-op threads, they go in runs (a few per thread, so a thread whose core is
    // busy leaves its share to the others), each thread with its own padded plane.
    const ptrdiff_t threads = ds_parallel_threads();
    depthwise_job job = {
        .x = x, .channels = channels, .filters_per_plane = filters_per_plane, .height = height, .width = width,
        .w = w, .taps = taps, .offsets = offsets,
        .bias = bias, .pad_top = pad_top, .pad_left = pad_left, .layout = l, .row_step = row_step,
        .out_h = out_h, .out_w = out_w, .act = act, .y = y, .scratch = scratch,
        .scratch_floats = (ptrdiff_t)(l.rows * l.stride_w * l.phase_len), .planes = planes,
        .per_part = threads > 1 ? (planes + DS_PARTS_PER_THREAD * threads - 1) / (DS_PARTS_PER_THREAD * threads) : planes, .avx2 = ds_use_avx2(),
        .avx512 = ds_use_avx512(),
    };
    job.tiled = job.avx2 && kernel_h == kernel_w && (kernel_h == 3 || kernel_h == 5) && (stride_h == 1 || stride_h == 2) &&
                dilation_h == 1;
    job.inplace = job.tiled && job.avx512 && filters_per_plane == 1 &&
                  ds_depthwise_inplace_suits(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, width);
    job.kernel = kernel_h;
    job.stride_h = stride_h;
    job.clamps = act.kind == DS_ACTIVATION_NONE || act.kind == DS_ACTIVATION_RELU || act.kind == DS_ACTIVATION_CLIP;
    job.clamp_low = act.kind == DS_ACTIVATION_RELU ? 0.0f : (act.kind == DS_ACTIVATION_CLIP ? act.alpha : -INFINITY);
    job.clamp_high = act.kind == DS_ACTIVATION_CLIP ? act.beta : INFINITY;
    if (job.tiled)
        for (ptrdiff_t j = 0; j < kernel_w; j++) job.columns[j] = offsets[j];   // tap (0, j): its column's offset
    ds_parallel_for((planes + job.per_part - 1) / job.per_part, depthwise_part, &job);
    if (offsets != offsets_storage) free(offsets);
    return 0;
}
