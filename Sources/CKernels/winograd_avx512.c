// Winograd's input and output transforms on AVX-512 (internal to CKernels; winograd.c decides when): sixteen tiles
// per zmm, the two consecutive groups of eight that the AVX2 code takes one ymm at a time. Every lane goes through the
// AVX2 code's operations in the same order (the same adds, subtracts and fused multiply-adds; bias, residual and
// activation in the same order at the store), so V, M and Y hold the same bits on either path. Where a row has an odd
// number of groups, the last one runs alone in the low half: loads that would reach past what the AVX2 code reads are
// masked off, and only its eight lanes are stored. Narrow layouts (two tile rows per group) stay with the AVX2 code.
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

// Columns 2t … 2t+P−1 of sixteen consecutive tiles t (lanes 8–15 only when `pair`), from a padded row starting at the
// first group's first column. Lane t of c[k] is row[2t + k].
AVX512 static inline void tile_columns16(const float *row, __m512 c[6], const int P, int pair) {
    const __mmask16 high = pair ? (__mmask16)0xFFFF : 0;
    const __m512i even = even_lanes(), odd = odd_lanes();
    for (int k = 0; k < P; k += 2) {
        const __m512 a = _mm512_loadu_ps(row + k), b = _mm512_maskz_loadu_ps(high, row + k + 16);
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
    for (ptrdiff_t r = 0; r * l->row_tiles < p->block_tiles; r++) {
        const float *top = plane + 2 * (p->first_row + r) * l->columns;
        for (ptrdiff_t g = 0; g < groups; g += 2) {
            const int pair = g + 1 < groups;
            const __mmask16 stored = pair ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
            __m512 t[6][6];
            for (int i = 0; i < P; i++) {
                __m512 col[6];
                tile_columns16(top + i * l->columns + 2 * WG_LANES * g, col, P, pair);
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
    const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i high = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512 left = _mm512_permutex2var_ps(y0, low, y1), right = _mm512_permutex2var_ps(y0, high, y1);
    const ptrdiff_t columns = s->out_w - ox < 4 * WG_LANES ? s->out_w - ox : 4 * WG_LANES;
    float *dst = plane + (oy + i) * s->out_w + ox;
    store_pixels(p, dst, columns < 16 ? columns : 16, left, k);
    if (columns > 16) store_pixels(p, dst + 16, columns - 16, right, k);
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
    for (ptrdiff_t r = 0; r * l->row_tiles < p->block_tiles; r++) {
        const ptrdiff_t oy = 2 * (p->first_row + r);
        for (ptrdiff_t g = 0; g < groups; g += 2) {
            const __mmask16 read = g + 1 < groups ? (__mmask16)0xFFFF : (__mmask16)0x00FF;
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
                store_tile_row(p, plane, oy, 2 * WG_LANES * g, i, _mm512_add_ps(y0, bias), _mm512_add_ps(y1, bias), &k);
            }
        }
    }
}

AVX512 void ds_winograd_output3_avx512(void *pass, ptrdiff_t o) { output_channel(pass, o, 4); }
AVX512 void ds_winograd_output5_avx512(void *pass, ptrdiff_t o) { output_channel(pass, o, 6); }
