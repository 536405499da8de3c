// Winograd's input and output transforms on AVX-512 (internal to CKernels; winograd.c decides when): sixteen tiles
// per zmm, the two consecutive groups of eight that the AVX2 code takes one ymm at a time. Every lane goes through the
// AVX2 code's operations in the same order (the same adds, subtracts and fused multiply-adds; bias, residual and
// activation in the same order at the store), so V, M and Y hold the same bits on either path. Where a row has an odd
// number of groups, the last one runs alone in the low half: loads that would reach past what the AVX2 code reads are
// masked off, and only its eight lanes are stored. Where a row is one group (maps of 9–16 columns: MNIST's 14×14), a
// zmm takes two tile rows instead. Narrow layouts (two tile rows per group) stay with the AVX2 code.
#include "piecewise_avx512.h"
#include "winograd_internal.h"

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

// Even and odd elements of a 32-float pair (a, b), in order.
AVX512 static inline __m512i even_lanes(void) {
    return _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
}
AVX512 static inline __m512i odd_lanes(void) {
    return _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
}

// Columns 2t … 2t+P−1 of sixteen tiles t, one per lane: lanes 0–7 from `low`, a padded row where eight consecutive
// tiles' patches start, and lanes 8–15 from `high` (only when `pair`), where eight more start — the next group of the
// row (low + 16), or the same group of the next tile row. Lane t < 8 of c[k] is low[2t + k], lane 8 + t is high[2t + k].
AVX512 static inline void tile_columns16(const float *low, const float *high, __m512 c[6], const int P, int pair) {
    const __mmask16 second = pair ? (__mmask16)0xFFFF : 0;
    const __m512i even = even_lanes(), odd = odd_lanes();
    for (int k = 0; k < P; k += 2) {
        // The indices' lanes 8–15 (16 + 2t, 17 + 2t) pick b's elements 2t and 2t + 1.
        const __m512 a = _mm512_loadu_ps(low + k), b = _mm512_maskz_loadu_ps(second, high + k);
        c[k] = _mm512_permutex2var_ps(a, even, b);
        c[k + 1] = _mm512_permutex2var_ps(a, odd, b);
    }
}

// winograd.c's input_transform4 and input_transform6, lane for lane.
AVX512 static inline void input_transform4(const __m512 x[4], __m512 t[4]) {
    t[0] = _mm512_sub_ps(x[0], x[2]);
    t[1] = _mm512_add_ps(x[1], x[2]);
    t[2] = _mm512_sub_ps(x[2], x[1]);
    t[3] = _mm512_sub_ps(x[1], x[3]);
}

AVX512 static inline void input_transform6(const __m512 x[6], __m512 t[6]) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    const __m512 a = _mm512_fnmadd_ps(four, x[2], x[4]);
    const __m512 b = _mm512_fnmadd_ps(four, x[1], x[3]);
    const __m512 c = _mm512_sub_ps(x[4], x[2]);
    const __m512 e = _mm512_mul_ps(two, _mm512_sub_ps(x[3], x[1]));
    t[0] = _mm512_fnmadd_ps(five, x[2], _mm512_fmadd_ps(four, x[0], x[4]));
    t[1] = _mm512_add_ps(a, b);
    t[2] = _mm512_sub_ps(a, b);
    t[3] = _mm512_add_ps(c, e);
    t[4] = _mm512_sub_ps(c, e);
    t[5] = _mm512_fnmadd_ps(five, x[3], _mm512_fmadd_ps(four, x[1], x[5]));
}

// V_ξ[c][tile] = (Bᵀ d B)_ξ for channel c of the block, as winograd.c's input_channel does it.
__attribute__((target("avx512f"), always_inline))
static inline void input_channel(const wg_pass *p, ptrdiff_t c, const int P) {
    const wg_layout *l = &p->l;
    const float *plane = p->padded + c * l->rows * l->columns;
    const ptrdiff_t stride = p->block_tiles * p->s->channels;
    float *v = p->v + c * p->block_tiles;
    const ptrdiff_t groups = l->row_tiles / WG_LANES;
    // One group a row: two tile rows per zmm instead (their V lie together), the second one's patches two padded rows
    // down; otherwise two groups of one tile row.
    const int row_pairs = groups == 1;
    const ptrdiff_t rows = p->block_tiles / l->row_tiles;
    for (ptrdiff_t r = 0; r < rows; r += row_pairs ? 2 : 1) {
        const float *top = plane + 2 * (p->first_row + r) * l->columns;
        for (ptrdiff_t g = 0; g < groups; g += 2) {
            const int pair = row_pairs ? r + 1 < rows : g + 1 < groups;
            const __mmask16 stored = pair ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
            __m512 t[6][6];
            for (int i = 0; i < P; i++) {
                __m512 col[6];
                const float *low = top + i * l->columns + 2 * WG_LANES * g;
                tile_columns16(low, row_pairs ? low + 2 * l->columns : low + 2 * WG_LANES, col, P, pair);
                if (P == 4) input_transform4(col, t[i]);
                else input_transform6(col, t[i]);
            }
            float *dst = v + r * l->row_tiles + WG_LANES * g;
            for (int j = 0; j < P; j++) {
                __m512 column[6], out[6];
                for (int a = 0; a < P; a++) column[a] = t[a][j];
                if (P == 4) input_transform4(column, out);
                else input_transform6(column, out);
                for (int a = 0; a < P; a++) _mm512_mask_storeu_ps(dst + (P * a + j) * stride, stored, out[a]);
            }
        }
    }
}

AVX512 void ds_winograd_input3_avx512(void *pass, ptrdiff_t c) { input_channel(pass, c, 4); }
AVX512 void ds_winograd_input5_avx512(void *pass, ptrdiff_t c) { input_channel(pass, c, 6); }

AVX512 static inline __mmask16 first_lanes(ptrdiff_t count) {
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

// Tiles 0–7 (low) or 8–15 (high) of y0 and y1 — each tile's left and right pixel — as 16 consecutive pixels.
AVX512 static inline __m512 pixels_of_low_tiles(__m512 y0, __m512 y1) {
    return _mm512_permutex2var_ps(y0, _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0), y1);
}
AVX512 static inline __m512 pixels_of_high_tiles(__m512 y0, __m512 y1) {
    return _mm512_permutex2var_ps(y0, _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8), y1);
}

// `count` (≤ 16) of v's pixels at dst: plus the residual there, then the activation (winograd.c's store_pixels).
AVX512 static inline void store_pixels(const wg_pass *p, float *dst, ptrdiff_t count, __m512 v,
                                       const piecewise16_constants *k) {
    const __mmask16 mask = first_lanes(count);
    if (p->accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst));
    if (p->act_in_store) v = piecewise16(v, p->act.kind, k);
    _mm512_mask_storeu_ps(dst, mask, v);
}

// Row i (0 or 1) of sixteen tiles' outputs from column ox: y0 and y1 hold each tile's left and right pixel.
AVX512 static inline void store_tile_row(const wg_pass *p, float *plane, ptrdiff_t oy, ptrdiff_t ox, int i, __m512 y0,
                                         __m512 y1, const piecewise16_constants *k) {
    const ds_conv2d_shape *s = p->s;
    if (oy + i >= s->out_h) return;
    const __m512 left = pixels_of_low_tiles(y0, y1), right = pixels_of_high_tiles(y0, y1);
    const ptrdiff_t columns = s->out_w - ox < 4 * WG_LANES ? s->out_w - ox : 4 * WG_LANES;
    float *dst = plane + (oy + i) * s->out_w + ox;
    store_pixels(p, dst, columns < 16 ? columns : 16, left, k);
    if (columns > 16) store_pixels(p, dst + 16, columns - 16, right, k);
}

// Row i (0 or 1) of two tile rows' outputs (row_pairs: at most 8 tiles, 16 pixels, a row): lanes 0–7 of y0 and y1 the
// tiles of output row oy + i, lanes 8–15 (when `pair`) those of output row oy + 2 + i.
AVX512 static inline void store_tile_rows(const wg_pass *p, float *plane, ptrdiff_t oy, int i, __m512 y0, __m512 y1,
                                          int pair, const piecewise16_constants *k) {
    const ds_conv2d_shape *s = p->s;
    const ptrdiff_t columns = s->out_w < 16 ? s->out_w : 16;
    if (oy + i < s->out_h) store_pixels(p, plane + (oy + i) * s->out_w, columns, pixels_of_low_tiles(y0, y1), k);
    if (pair && oy + 2 + i < s->out_h)
        store_pixels(p, plane + (oy + 2 + i) * s->out_w, columns, pixels_of_high_tiles(y0, y1), k);
}

// winograd.c's output_transform (Aᵀ m), lane for lane.
__attribute__((target("avx512f"), always_inline))
static inline void output_transform(const __m512 m[6], __m512 *y0, __m512 *y1, const int P) {
    if (P == 4) {
        *y0 = _mm512_add_ps(_mm512_add_ps(m[0], m[1]), m[2]);
        *y1 = _mm512_sub_ps(_mm512_sub_ps(m[1], m[2]), m[3]);
        return;
    }
    *y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(m[0], m[1]), _mm512_add_ps(m[2], m[3])), m[4]);
    *y1 = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(2.0f), _mm512_sub_ps(m[3], m[4]), _mm512_sub_ps(m[1], m[2])),
                        m[5]);
}

// Y = Aᵀ M A for output channel o of the block, plus bias, residual and activation, as winograd.c's output_channel.
__attribute__((target("avx512f"), always_inline))
static inline void output_channel(const wg_pass *p, ptrdiff_t o, const int P) {
    const wg_layout *l = &p->l;
    const ptrdiff_t stride = p->block_tiles * p->out_channels;
    const float *m = p->m + o * p->block_tiles;
    float *plane = p->y + o * p->s->out_h * p->s->out_w;
    const __m512 bias = _mm512_set1_ps(p->bias ? p->bias[o] : 0.0f);
    const piecewise16_constants k = piecewise16_constants_for(p->act);
    const ptrdiff_t groups = l->row_tiles / WG_LANES;
    const int row_pairs = groups == 1;   // as in input_channel: two tile rows per zmm
    const ptrdiff_t rows = p->block_tiles / l->row_tiles;
    for (ptrdiff_t r = 0; r < rows; r += row_pairs ? 2 : 1) {
        const ptrdiff_t oy = 2 * (p->first_row + r);
        for (ptrdiff_t g = 0; g < groups; g += 2) {
            const int pair = row_pairs ? r + 1 < rows : g + 1 < groups;
            const __mmask16 read = pair ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
            const float *src = m + r * l->row_tiles + WG_LANES * g;
            __m512 u[2][6];
            for (int j = 0; j < P; j++) {
                __m512 column[6];
                for (int a = 0; a < P; a++) column[a] = _mm512_maskz_loadu_ps(read, src + (P * a + j) * stride);
                output_transform(column, &u[0][j], &u[1][j], P);
            }
            for (int i = 0; i < 2; i++) {
                __m512 y0, y1;
                output_transform(u[i], &y0, &y1, P);
                y0 = _mm512_add_ps(y0, bias);
                y1 = _mm512_add_ps(y1, bias);
                if (row_pairs) {
                    store_tile_rows(p, plane, oy, i, y0, y1, pair, &k);
                } else {
                    store_tile_row(p, plane, oy, 2 * WG_LANES * g, i, y0, y1, &k);
                }
            }
        }
    }
}

AVX512 void ds_winograd_output3_avx512(void *pass, ptrdiff_t o) { output_channel(pass, o, 4); }
AVX512 void ds_winograd_output5_avx512(void *pass, ptrdiff_t o) { output_channel(pass, o, 6); }
