// Winograd convolution for 3×3 and 5×5 filters at stride 1: F(2×2, 3×3) and F(2×2, 5×5) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2015).
//
// Each 2×2 block of output pixels ("tile") reads a p×p patch d of the (zero-padded) input, p = r + 1 for an r×r filter
// g. With the constant matrices Bᵀ (p×p), G (p×r) and Aᵀ (2×p),
//
//     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// so the 4r² multiply-adds per tile, channel and filter of the direct convolution become p² — 36 → 16 for 3×3
// (2.25× fewer), 100 → 36 for 5×5 (2.8× fewer) — done as p² independent GEMMs, one per position ξ of the transformed
// tile: M_ξ[oc][tile] = Σ_c U_ξ[oc][c] · V_ξ[c][tile], with U_ξ = (G g Gᵀ)_ξ packed once at load and V_ξ = (Bᵀ d B)_ξ
// computed per run.
//
// F(2×2, 3×3) interpolates at 0, ±1 and ∞: its transforms are additions and halves, so the result differs from the
// direct sum by rounding alone. F(2×2, 5×5) adds ±2 (the matrices below, which F(4×4, 3×3) shares for Bᵀ): factors
// up to 5 in Bᵀ and 1/24 in G, a few more ulp (measured ≤ 5e-6 of the output's magnitude at 32 input channels).
//
// Vectorisation: both transforms run on eight tiles at once, one tile per lane (wg_layout says which); on AVX-512 on
// sixteen (winograd_avx512.c). The tiles of an image are processed a block of tile rows at a time, so V and M of a
// block stay in L2 while their GEMMs run.
#include "CKernels.h"
#include "dispatch.h"
#include "piecewise_avx2.h"
#include "winograd_internal.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// A block of tile rows: V and M of at most this many floats together (so they stay in cache between the transforms
// and the GEMMs), unless that leaves fewer than WG_MIN_BLOCK_TILES tiles: every block reads all 16 (or 36) filter
// matrices, so a block narrower than that reads more filters than it computes with.
#define WG_BLOCK_FLOATS (192 * 1024)
#define WG_MIN_BLOCK_TILES 64

// The patch a tile reads (p = r + 1) and the positions of its transform (p²), for an r×r filter (3 or 5).
static ptrdiff_t patch_for(ptrdiff_t kernel) { return kernel + 1; }
static ptrdiff_t positions_for(ptrdiff_t kernel) { return patch_for(kernel) * patch_for(kernel); }

// G (p×r) of F(2, 3) and of F(2, 5), in doubles: the filter transform runs once, at load.
static const double G3[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double G5[6][5] = {
    {1.0 / 4, 0, 0, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
    {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
    {0, 0, 0, 0, 1},
};

size_t ds_winograd_packed_size(ptrdiff_t out_channels, ptrdiff_t channels, ptrdiff_t kernel) {
    return (size_t)positions_for(kernel) * ds_sgemm_packed_a_size(out_channels, channels);
}

void ds_winograd_pack(const float *w, ptrdiff_t out_channels, ptrdiff_t channels, ptrdiff_t kernel, float *packed) {
    const ptrdiff_t r = kernel, p = patch_for(kernel), positions = positions_for(kernel);
    const double *g_matrix = r == 3 ? &G3[0][0] : &G5[0][0];   // p × r
    const size_t plane = (size_t)(out_channels * channels);
    float *u = malloc((size_t)positions * plane * sizeof(float));   // U_ξ[oc][c], ξ-major
    for (ptrdiff_t o = 0; o < out_channels; o++) {
        for (ptrdiff_t c = 0; c < channels; c++) {
            const float *g = w + (o * channels + c) * r * r;
            double gg[6][5];   // G g (p × r)
            for (ptrdiff_t i = 0; i < p; i++)
                for (ptrdiff_t j = 0; j < r; j++) {
                    double sum = 0;
                    for (ptrdiff_t k = 0; k < r; k++) sum += g_matrix[i * r + k] * g[k * r + j];
                    gg[i][j] = sum;
                }
            for (ptrdiff_t i = 0; i < p; i++)   // (G g) Gᵀ (p × p)
                for (ptrdiff_t j = 0; j < p; j++) {
                    double sum = 0;
                    for (ptrdiff_t k = 0; k < r; k++) sum += gg[i][k] * g_matrix[j * r + k];
                    u[(size_t)(p * i + j) * plane + (size_t)(o * channels + c)] = (float)sum;
                }
        }
    }
    const size_t each = ds_sgemm_packed_a_size(out_channels, channels);
    for (ptrdiff_t xi = 0; xi < positions; xi++)
        ds_sgemm_pack_a(0, out_channels, channels, 1.0f, u + (size_t)xi * plane, channels, packed + (size_t)xi * each);
    free(u);
}


static wg_layout layout_for(const ds_conv2d_shape *s, ptrdiff_t out_channels) {
    wg_layout l;
    l.patch = patch_for(s->kernel_h);
    l.positions = positions_for(s->kernel_h);
    l.tiles_h = (s->out_h + 1) / 2;
    l.tiles_w = (s->out_w + 1) / 2;
    l.narrow = l.tiles_w <= WG_LANES / 2;
    l.row_tiles = l.narrow ? WG_LANES / 2 : (l.tiles_w + WG_LANES - 1) / WG_LANES * WG_LANES;
    l.group_rows = l.narrow ? 2 : 1;
    l.layout_rows = (l.tiles_h + l.group_rows - 1) / l.group_rows * l.group_rows;
    l.rows = 2 * l.layout_rows + l.patch - 2;
    // + 8: a group's loads reach column 2·8 + p − 3 past its first (a narrow row's 4-wide ones 8 + p − 3), so the
    // last group's reach 2·row_tiles + p − 3 ≤ 2·row_tiles + 3.
    l.columns = 2 * l.row_tiles + 8;
    const ptrdiff_t per_row = l.positions * (s->channels + out_channels) * l.row_tiles;
    const ptrdiff_t fit = per_row > 0 ? WG_BLOCK_FLOATS / per_row : 1;
    const ptrdiff_t least = (WG_MIN_BLOCK_TILES + l.row_tiles - 1) / l.row_tiles;
    l.block_rows = fit > least ? fit : least;
    l.block_rows = (l.block_rows + l.group_rows - 1) / l.group_rows * l.group_rows;
    if (l.block_rows > l.layout_rows) l.block_rows = l.layout_rows;
    return l;
}

int ds_winograd_suits(const ds_conv2d_shape *s) {
    return ds_use_avx2() && (s->kernel_h == 3 || s->kernel_h == 5) && s->kernel_w == s->kernel_h && s->stride_h == 1 &&
           s->stride_w == 1 && s->dilation_h == 1 && s->dilation_w == 1 && s->out_h > 0 && s->out_w > 0;
}

double ds_winograd_lane_use(const ds_conv2d_shape *s) {
    const wg_layout l = layout_for(s, 1);
    return (double)(l.tiles_h * l.tiles_w) / (double)(l.layout_rows * l.row_tiles);
}

// The padded planes' floats, rounded up to 64 bytes, so V and M start aligned as the scratch does.
static size_t padded_floats(const ds_conv2d_shape *s, const wg_layout *l) {
    return ((size_t)(s->channels * l->rows * l->columns) + 15) / 16 * 16;
}

size_t ds_winograd_scratch_size(const ds_conv2d_shape *s, ptrdiff_t out_channels) {
    const wg_layout l = layout_for(s, out_channels);
    const ptrdiff_t tiles = l.block_rows * l.row_tiles;
    return padded_floats(s, &l) + (size_t)l.positions * (size_t)(tiles * (s->channels + out_channels));
}


// Columns 2t, 2t+1, 2t+2, 2t+3 of eight consecutive tiles t, from a padded row starting at the group's first column.
__attribute__((target("avx2,fma"))) static inline void tile_columns(const float *row, __m256 c[4]) {
    const __m256 a = _mm256_loadu_ps(row), b = _mm256_loadu_ps(row + 8);
    const __m256 a2 = _mm256_loadu_ps(row + 2), b2 = _mm256_loadu_ps(row + 10);
    // shuffle_ps picks within 128-bit halves; permute4x64 (0xD8) puts the halves' pairs back in order.
    c[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    c[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
    c[2] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a2, b2, 0x88)), 0xD8));
    c[3] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a2, b2, 0xDD)), 0xD8));
}

// The same for four tiles (128-bit halves): a narrow group's two tile rows fill the low and the high half.
__attribute__((target("avx2,fma"))) static inline void tile_columns4(const float *row, __m128 c[4]) {
    const __m128 a = _mm_loadu_ps(row), b = _mm_loadu_ps(row + 4);
    const __m128 a2 = _mm_loadu_ps(row + 2), b2 = _mm_loadu_ps(row + 6);
    c[0] = _mm_shuffle_ps(a, b, 0x88);
    c[1] = _mm_shuffle_ps(a, b, 0xDD);
    c[2] = _mm_shuffle_ps(a2, b2, 0x88);
    c[3] = _mm_shuffle_ps(a2, b2, 0xDD);
}

// Columns 2t … 2t+5 of eight consecutive tiles t (F(2×2, 5×5)'s 6-wide patches), as tile_columns does for four.
__attribute__((target("avx2,fma"))) static inline void tile_columns6(const float *row, __m256 c[6]) {
    tile_columns(row, c);   // columns 2t … 2t+3
    const __m256 a = _mm256_loadu_ps(row + 4), b = _mm256_loadu_ps(row + 12);
    c[4] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    c[5] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// The same for four tiles (a narrow group's half).
__attribute__((target("avx2,fma"))) static inline void tile_columns6_4(const float *row, __m128 c[6]) {
    tile_columns4(row, c);
    const __m128 a = _mm_loadu_ps(row + 4), b = _mm_loadu_ps(row + 8);
    c[4] = _mm_shuffle_ps(a, b, 0x88);
    c[5] = _mm_shuffle_ps(a, b, 0xDD);
}

// Row i of group g's patches (P = 4 or 6 columns each), one tile per lane, from the block row whose patches start at
// `top`: on narrow maps the low half from this tile row, the high half from the next one (two padded rows down).
__attribute__((target("avx2,fma"), always_inline))
static inline void patch_row(const wg_layout *l, const float *top, int i, ptrdiff_t g, __m256 col[6], const int P) {
    if (l->narrow) {
        __m128 low[6], high[6];
        if (P == 4) {
            tile_columns4(top + i * l->columns, low);
            tile_columns4(top + (i + 2) * l->columns, high);
        } else {
            tile_columns6_4(top + i * l->columns, low);
            tile_columns6_4(top + (i + 2) * l->columns, high);
        }
        for (int k = 0; k < P; k++) col[k] = _mm256_set_m128(high[k], low[k]);
    } else if (P == 4) {
        tile_columns(top + i * l->columns + 2 * WG_LANES * g, col);
    } else {
        tile_columns6(top + i * l->columns + 2 * WG_LANES * g, col);
    }
}

// Bᵀ x for F(2, 3) (points 0, ±1, ∞) on four vectors: rows x0 − x2, x1 + x2, x2 − x1, x1 − x3.
__attribute__((target("avx2,fma"))) static inline void input_transform4(const __m256 x[4], __m256 t[4]) {
    t[0] = _mm256_sub_ps(x[0], x[2]);
    t[1] = _mm256_add_ps(x[1], x[2]);
    t[2] = _mm256_sub_ps(x[2], x[1]);
    t[3] = _mm256_sub_ps(x[1], x[3]);
}

// Bᵀ x for F(2, 5) (points 0, ±1, ±2, ∞) on six vectors:
//     Bᵀ = [ 4  0 −5  0  1  0 ]
//          [ 0 −4 −4  1  1  0 ]
//          [ 0  4 −4 −1  1  0 ]
//          [ 0 −2 −1  2  1  0 ]
//          [ 0  2 −1 −2  1  0 ]
//          [ 0  4  0 −5  0  1 ]
__attribute__((target("avx2,fma"))) static inline void input_transform6(const __m256 x[6], __m256 t[6]) {
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
    const __m256 a = _mm256_fnmadd_ps(four, x[2], x[4]);   // x4 − 4 x2
    const __m256 b = _mm256_fnmadd_ps(four, x[1], x[3]);   // x3 − 4 x1
    const __m256 c = _mm256_sub_ps(x[4], x[2]);
    const __m256 e = _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1]));
    t[0] = _mm256_fnmadd_ps(five, x[2], _mm256_fmadd_ps(four, x[0], x[4]));
    t[1] = _mm256_add_ps(a, b);
    t[2] = _mm256_sub_ps(a, b);
    t[3] = _mm256_add_ps(c, e);
    t[4] = _mm256_sub_ps(c, e);
    t[5] = _mm256_fnmadd_ps(five, x[3], _mm256_fmadd_ps(four, x[1], x[5]));
}

// The input transform of channel `c` for the block, P = 4 (3×3 filters) or 6 (5×5): V_ξ[c][tile] = (Bᵀ d B)_ξ, Bᵀ
// applied along each of the patch's rows, then down its columns (ξ = P·a + j for row a of column j).
__attribute__((target("avx2,fma"), always_inline))
static inline void input_channel(const wg_pass *p, ptrdiff_t c, const int P) {
    const wg_layout *l = &p->l;
    const float *plane = p->padded + c * l->rows * l->columns;
    const ptrdiff_t stride = p->block_tiles * p->s->channels;   // from V_ξ to V_ξ+1
    float *v = p->v + c * p->block_tiles;
    const ptrdiff_t groups_per_row = l->narrow ? 1 : l->row_tiles / WG_LANES;
    for (ptrdiff_t r = 0; r * l->row_tiles < p->block_tiles; r += l->group_rows) {
        const float *top = plane + 2 * (p->first_row + r) * l->columns;
        for (ptrdiff_t g = 0; g < groups_per_row; g++) {
            __m256 t[6][6];
            for (int i = 0; i < P; i++) {
                __m256 col[6];
                patch_row(l, top, i, g, col, P);
                if (P == 4) input_transform4(col, t[i]);
                else input_transform6(col, t[i]);
            }
            // Lanes past the row's last tile transform zeros of the padding: computed, never stored to the output.
            float *dst = v + r * l->row_tiles + WG_LANES * g;
            for (int j = 0; j < P; j++) {
                __m256 column[6], out[6];
                for (int a = 0; a < P; a++) column[a] = t[a][j];
                if (P == 4) input_transform4(column, out);
                else input_transform6(column, out);
                for (int a = 0; a < P; a++) _mm256_storeu_ps(dst + (P * a + j) * stride, out[a]);
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void input_channel3(void *context, ptrdiff_t c) { input_channel(context, c, 4); }
__attribute__((target("avx2,fma"))) static void input_channel5(void *context, ptrdiff_t c) { input_channel(context, c, 6); }

// Stores `count` (≤ 8) of v's pixels at dst, adding the residual there and applying the activation.
__attribute__((target("avx2,fma"))) static inline void store_pixels(const wg_pass *p, float *dst, ptrdiff_t count,
                                                                     __m256 v, const ds_piecewise_constants *k) {
    float lane[WG_LANES] = {0};
    if (p->accumulate) {
        memcpy(lane, dst, (size_t)count * sizeof(float));
        v = _mm256_add_ps(v, _mm256_loadu_ps(lane));
    }
    if (p->act_in_store) v = ds_piecewise8(v, p->act.kind, k);
    if (count == WG_LANES) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    _mm256_storeu_ps(lane, v);
    memcpy(dst, lane, (size_t)count * sizeof(float));
}

// Stores row i (0 or 1) of a group's tiles: y0 and y1 hold each tile's left and right pixel, plus `bias`.
__attribute__((target("avx2,fma"))) static inline void store_tile_row(const wg_pass *p, float *plane, ptrdiff_t oy,
                                                                       ptrdiff_t ox, int i, __m256 y0, __m256 y1,
                                                                       const ds_piecewise_constants *k) {
    const wg_layout *l = &p->l;
    const ds_conv2d_shape *s = p->s;
    if (oy + i >= s->out_h) return;
    // Lane t holds tile t's left (y0) and right (y1) pixel: interleave them into 16 consecutive pixels.
    const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
    const __m256 left = _mm256_permute2f128_ps(lo, hi, 0x20), right = _mm256_permute2f128_ps(lo, hi, 0x31);
    if (l->narrow) {   // left: the first tile row's 8 pixels; right: the next tile row's, 2 rows down
        store_pixels(p, plane + (oy + i) * s->out_w, s->out_w < WG_LANES ? s->out_w : WG_LANES, left, k);
        if (oy + 2 + i < s->out_h)
            store_pixels(p, plane + (oy + 2 + i) * s->out_w, s->out_w < WG_LANES ? s->out_w : WG_LANES, right, k);
        return;
    }
    const ptrdiff_t columns = s->out_w - ox < 2 * WG_LANES ? s->out_w - ox : 2 * WG_LANES;
    float *dst = plane + (oy + i) * s->out_w + ox;
    store_pixels(p, dst, columns < WG_LANES ? columns : WG_LANES, left, k);
    if (columns > WG_LANES) store_pixels(p, dst + WG_LANES, columns - WG_LANES, right, k);
}

// Aᵀ m: for F(2, 3) rows m0 + m1 + m2 and m1 − m2 − m3; for F(2, 5) (P = 6) m0 + m1 + m2 + m3 + m4 and
// m1 − m2 + 2 (m3 − m4) + m5.
__attribute__((target("avx2,fma"), always_inline))
static inline void output_transform(const __m256 m[6], __m256 *y0, __m256 *y1, const int P) {
    if (P == 4) {
        *y0 = _mm256_add_ps(_mm256_add_ps(m[0], m[1]), m[2]);
        *y1 = _mm256_sub_ps(_mm256_sub_ps(m[1], m[2]), m[3]);
        return;
    }
    *y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(m[0], m[1]), _mm256_add_ps(m[2], m[3])), m[4]);
    *y1 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(2.0f), _mm256_sub_ps(m[3], m[4]), _mm256_sub_ps(m[1], m[2])),
                        m[5]);
}

// The output transform of output channel `o` for the block: Y = Aᵀ M A per tile (down each column, then along the two
// output rows), plus bias, residual and activation.
__attribute__((target("avx2,fma"), always_inline))
static inline void output_channel(const wg_pass *p, ptrdiff_t o, const int P) {
    const wg_layout *l = &p->l;
    const ptrdiff_t stride = p->block_tiles * p->out_channels;   // from M_ξ to M_ξ+1
    const float *m = p->m + o * p->block_tiles;
    float *plane = p->y + o * p->s->out_h * p->s->out_w;
    const __m256 bias = _mm256_set1_ps(p->bias ? p->bias[o] : 0.0f);
    const ds_piecewise_constants k = ds_piecewise_constants_for(p->act);
    const ptrdiff_t groups_per_row = l->narrow ? 1 : l->row_tiles / WG_LANES;
    for (ptrdiff_t r = 0; r * l->row_tiles < p->block_tiles; r += l->group_rows) {
        const ptrdiff_t oy = 2 * (p->first_row + r);
        for (ptrdiff_t g = 0; g < groups_per_row; g++) {
            const float *src = m + r * l->row_tiles + WG_LANES * g;
            __m256 u[2][6];   // the two output rows of Aᵀ M, per column j
            for (int j = 0; j < P; j++) {
                __m256 column[6];
                for (int a = 0; a < P; a++) column[a] = _mm256_loadu_ps(src + (P * a + j) * stride);
                output_transform(column, &u[0][j], &u[1][j], P);
            }
            for (int i = 0; i < 2; i++) {
                __m256 y0, y1;
                output_transform(u[i], &y0, &y1, P);
                store_tile_row(p, plane, oy, 2 * WG_LANES * g, i, _mm256_add_ps(y0, bias), _mm256_add_ps(y1, bias), &k);
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void output_channel3(void *context, ptrdiff_t o) { output_channel(context, o, 4); }
__attribute__((target("avx2,fma"))) static void output_channel5(void *context, ptrdiff_t o) { output_channel(context, o, 6); }

// One image (channels × height × width) being copied into zero-padded planes of l.rows × l.columns.
typedef struct {
    const ds_conv2d_shape *s;
    const wg_layout *l;
    const float *x;
    float *dst;
} wg_padding;

// Channel c's padded plane: zeros where the image doesn't reach, its rows where it does.
static void pad_channel(void *context, ptrdiff_t c) {
    const wg_padding *p = context;
    const ds_conv2d_shape *s = p->s;
    const wg_layout *l = p->l;
    float *plane = p->dst + c * l->rows * l->columns;
    memset(plane, 0, (size_t)(l->rows * l->columns) * sizeof(float));
    // Rows and columns of the image that land inside the padded plane (a negative pad would crop; ONNX forbids it).
    const ptrdiff_t copy = s->width < l->columns - s->pad_left ? s->width : l->columns - s->pad_left;
    if (copy <= 0) return;
    for (ptrdiff_t iy = 0; iy < s->height; iy++) {
        const ptrdiff_t r = iy + s->pad_top;
        if (r >= l->rows) break;
        memcpy(plane + r * l->columns + s->pad_left, p->x + (c * s->height + iy) * s->width, (size_t)copy * sizeof(float));
    }
}

// The GEMM of position ξ for the block: M_ξ (Cout × tiles) = U_ξ (Cout × C) · V_ξ (C × tiles).
static void multiply_position(void *context, ptrdiff_t xi) {
    const wg_pass *p = context;
    const ptrdiff_t channels = p->s->channels;
    ds_sgemm_prepacked(p->out_channels, p->block_tiles, channels, p->packed + (size_t)xi * p->packed_stride, 0,
                       p->v + xi * p->block_tiles * channels, p->block_tiles, 0.0f,
                       p->m + xi * p->block_tiles * p->out_channels, p->block_tiles, NULL, NULL,
                       (ds_activation){DS_ACTIVATION_NONE});
}

// `count` channels (or positions) side by side on the intra-op threads when there are several: each is independent, and a
// block's GEMMs are too small for the GEMM to split them itself (below its PARALLEL_MIN_WORK).
static void run_each(ptrdiff_t count, void (*body)(void *, ptrdiff_t), void *context) {
    if (ds_parallel_threads() > 1 && count > 1) {
        ds_parallel_for(count, body, context);
    } else {
        for (ptrdiff_t i = 0; i < count; i++) body(context, i);
    }
}

void ds_winograd_conv2d(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                        const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate,
                        ds_activation act, float *y, ptrdiff_t y_image_stride, float *scratch) {
    if (batch <= 0 || out_channels <= 0 || s->out_h <= 0 || s->out_w <= 0) return;
    const wg_layout l = layout_for(s, out_channels);
    const ptrdiff_t channels = s->channels;
    float *padded = scratch;
    float *v = padded + padded_floats(s, &l);
    float *m = v + l.positions * l.block_rows * l.row_tiles * channels;
    const size_t each = ds_sgemm_packed_a_size(out_channels, channels);
    const int act_in_store = ds_is_piecewise(act.kind);
    // The transforms: sixteen tiles per vector on AVX-512 (the same bits; narrow layouts have too few tiles a row).
    const int wide = ds_use_avx512() && !l.narrow;
    void (*input)(void *, ptrdiff_t) = l.patch == 4 ? (wide ? ds_winograd_input3_avx512 : input_channel3)
                                                    : (wide ? ds_winograd_input5_avx512 : input_channel5);
    void (*output)(void *, ptrdiff_t) = l.patch == 4 ? (wide ? ds_winograd_output3_avx512 : output_channel3)
                                                     : (wide ? ds_winograd_output5_avx512 : output_channel5);
    for (ptrdiff_t n = 0; n < batch; n++) {
        wg_padding padding = {s, &l, x + n * x_image_stride, padded};
        run_each(channels, pad_channel, &padding);
        for (ptrdiff_t first = 0; first < l.layout_rows; first += l.block_rows) {
            const ptrdiff_t rows = l.layout_rows - first < l.block_rows ? l.layout_rows - first : l.block_rows;
            wg_pass p = {
                .s = s, .l = l, .padded = padded, .v = v, .m = m, .first_row = first, .block_tiles = rows * l.row_tiles,
                .out_channels = out_channels, .bias = bias, .accumulate = accumulate, .act = act,
                .act_in_store = act_in_store, .y = y + n * y_image_stride, .packed = packed, .packed_stride = each,
            };
            run_each(channels, input, &p);
            run_each(l.positions, multiply_position, &p);
            run_each(out_channels, output, &p);
        }
    }
    if (act.kind != DS_ACTIVATION_NONE && !act_in_store) {
        for (ptrdiff_t n = 0; n < batch; n++)
            ds_activation_apply(y + n * y_image_stride, out_channels * s->out_h * s->out_w, act);
    }
}
