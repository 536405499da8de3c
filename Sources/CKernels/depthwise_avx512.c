// The depthwise kernel's AVX-512 plane: 3×3 and 5×5 filters, stride 1 or 2, read from the input plane where it lies.
//
// The AVX2 path first copies each plane into a zero-padded, phase-split scratch plane, so that every tap reads a
// contiguous run with plain loads (depthwise.c). On MobileNetV2 that copy cost more than the arithmetic (13 % of the
// network against 9 % in the tiles), and on 7×7 and 14×14 maps a plane's fixed costs dominated. AVX-512 needs no
// copy: a masked load reads only the lanes whose column lies in the row, zeros the others and never faults on them,
// and a row above or below the image is read from a row of zeros. Stride 2 takes a tap's sixteen even columns from
// two loads with one two-source permute (vpermt2ps) instead of a phase-split copy. Each output is still
// bias + Σ w·x over the taps in (row, column) order, one fused multiply-add at a time, the padding contributing
// w·0 as it did from the padded copy: the bits are those of the AVX2 tiles.
#include "depthwise_internal.h"

#include <immintrin.h>

// What rows above and below the image read (only their lanes inside [0, width) are ever loaded).
static const float zero_row[DS_DEPTHWISE_INPLACE_MAX_WIDTH];

int ds_depthwise_inplace_suits(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                               ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t width) {
    return kernel_h == kernel_w && (kernel_h == 3 || kernel_h == 5) && stride_h == stride_w &&
           (stride_h == 1 || stride_h == 2) && dilation_h == 1 && dilation_w == 1 &&
           width <= DS_DEPTHWISE_INPLACE_MAX_WIDTH;
}

// The lanes l of a 16-wide load at column `column` for which 0 ≤ column + l < width.
static inline __mmask16 lanes_inside(ptrdiff_t column, ptrdiff_t width) {
    const ptrdiff_t low = column < 0 ? -column : 0;
    const ptrdiff_t high = width - column < 16 ? width - column : 16;
    if (high <= low) return 0;
    return (__mmask16)(((1u << high) - 1u) & ~((1u << low) - 1u));
}

#define TILE_ROWS 4

// Output rows [oy, oy + R) × columns [ox, ox + 16·V), only the first `keep` columns of the last block stored. With
// MASKED, every load keeps to the row (the tiles at the borders); without, the caller has checked that every lane the
// tile loads lies in the row. K (taps per side), S (stride), R, V and MASKED are constants at every call, so the loops
// unroll completely.
__attribute__((target("avx512f"), always_inline))
static inline void tile(const ds_depthwise_plane *p, ptrdiff_t oy, ptrdiff_t ox, const int K, const int S,
                        const int R, const int V, const int MASKED, ptrdiff_t keep) {
    const ptrdiff_t width = p->width;
    const ptrdiff_t first_column = S * ox - p->pad_left;
    // Per tap column j, block v and (stride 2) half h: the lanes of that load inside the row, the same on every row.
    __mmask16 inside[5][2][2];
    if (MASKED)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < K; j++)
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++)
                _Pragma("clang loop unroll(full)")
                for (int h = 0; h < S; h++)
                    inside[j][v][h] = lanes_inside(first_column + j + 16 * (S * v + h), width);
    const __mmask16 last = keep >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << keep) - 1u);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __m512 acc[TILE_ROWS][2];
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < R; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) acc[o][v] = _mm512_set1_ps(p->bias);
    // As in depthwise.c's tiles: the empty asm statements keep the compiler from hoisting every broadcast and row
    // address out of the tile, which would not fit in registers beside the accumulators.
    const float *w = p->w;
    __asm__ volatile("" : "+r"(w));
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < (R - 1) * S + K; r++) {           // input rows the tile reads, top to bottom
        const ptrdiff_t iy = oy * S - p->pad_top + r;
        const float *row = (iy >= 0 && iy < p->height ? p->x + iy * width : zero_row) + first_column;
        __asm__ volatile("" : "+r"(row));
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < K; j++) {
            __m512 x[2];
            _Pragma("clang loop unroll(full)")
            for (int v = 0; v < V; v++) {
                const float *src = row + j + 16 * S * v;
                if (S == 1) {
                    x[v] = MASKED ? _mm512_maskz_loadu_ps(inside[j][v][0], src) : _mm512_loadu_ps(src);
                } else {
                    const __m512 low = MASKED ? _mm512_maskz_loadu_ps(inside[j][v][0], src) : _mm512_loadu_ps(src);
                    const __m512 high =
                        MASKED ? _mm512_maskz_loadu_ps(inside[j][v][1], src + 16) : _mm512_loadu_ps(src + 16);
                    x[v] = _mm512_permutex2var_ps(low, even, high);
                }
            }
            _Pragma("clang loop unroll(full)")
            for (int o = 0; o < R; o++) {
                const int i = r - o * S;                      // the tap row input row r is for output row o
                if (i < 0 || i >= K) continue;
                const __m512 weight = _mm512_set1_ps(w[i * K + j]);
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) acc[o][v] = _mm512_fmadd_ps(weight, x[v], acc[o][v]);
            }
            // The next tap's loads come after these multiply-adds in the code (the core still overlaps them): left
            // free, the compiler issues a whole tile's loads first and spills most of them.
            _Pragma("clang loop unroll(full)")
            for (int o = 0; o < R; o++)
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) __asm__ volatile("" : "+v"(acc[o][v]));
        }
    }
    ds_depthwise_store_tile512(p->y + oy * p->out_w + ox, p->out_w, acc, R, V, last, p->low, p->high);
}

// One band of R output rows, 32 columns at a time, the last block narrower; tiles whose every load lies in the row
// (all but the ones at the borders, on wide maps) run unmasked.
__attribute__((target("avx512f"), always_inline))
static inline void band(const ds_depthwise_plane *p, ptrdiff_t oy, const int K, const int S, const int R) {
    const ptrdiff_t out_w = p->out_w;
    for (ptrdiff_t ox = 0; ox < out_w; ox += 32) {
        const ptrdiff_t rest = out_w - ox;
        const ptrdiff_t keep = rest >= 32 ? 16 : (rest > 16 ? rest - 16 : rest);
        const ptrdiff_t first = S * ox - p->pad_left;
        if (rest > 16) {
            if (first >= 0 && first + 32 * S + K - 2 < p->width) tile(p, oy, ox, K, S, R, 2, 0, keep);
            else tile(p, oy, ox, K, S, R, 2, 1, keep);
        } else {
            if (first >= 0 && first + 16 * S + K - 2 < p->width) tile(p, oy, ox, K, S, R, 1, 0, keep);
            else tile(p, oy, ox, K, S, R, 1, 1, keep);
        }
    }
}

// Bands of four output rows, then one of the one to three left: no row is computed twice.
__attribute__((target("avx512f"), always_inline))
static inline void plane(const ds_depthwise_plane *p, const int K, const int S) {
    ptrdiff_t oy = 0;
    for (; oy + TILE_ROWS <= p->out_h; oy += TILE_ROWS) band(p, oy, K, S, TILE_ROWS);
    switch (p->out_h - oy) {
    case 1: band(p, oy, K, S, 1); break;
    case 2: band(p, oy, K, S, 2); break;
    case 3: band(p, oy, K, S, 3); break;
    default: break;
    }
}

__attribute__((target("avx512f")))
void ds_depthwise_plane_avx512(const ds_depthwise_plane *p) {
    if (p->kernel == 3) p->stride == 1 ? plane(p, 3, 1) : plane(p, 3, 2);
    else p->stride == 1 ? plane(p, 5, 1) : plane(p, 5, 2);
}
