// The GEMM's blocks on AVX-512 (internal to CKernels; gemm.c decides when): tiles of up to 12 rows × 32 columns, two
// 6-row slivers of packed A against two 16-column slivers of B, 24 zmm accumulators. The packed layouts are the AVX2
// kernels' (6-row A slivers, 16-column B slivers, the same K blocks), so weights packed once serve either path, and
// every element is the same chain of fused multiply-adds in the same order (p ascending from zero, then C, the row
// bias, the column bias, the activation): the bits are the AVX2 kernels' bits. Why 12 × 32: a zmm holds a B sliver's
// row, and 24 accumulators are the most that leave registers for two B vectors and a broadcast (32 in all), with 14
// loads per 24 FMAs, which the load ports sustain (MLAS's AVX-512F kernel is the same shape).
#include "gemm_internal.h"
#include "piecewise_avx2.h"
#include "piecewise_avx512.h"

#include <immintrin.h>

// One tile of R rows (rows 0–5 from the A sliver at a0, 6–11 from the one at a1, each laid out a[p·6 + r]) and W zmm
// columns (column block w at b + w·b_sliver, row p of it b_row further per p; lanes outside `masks[w]` are neither
// loaded nor stored). With `ep` (the tile's last K block of a product with an epilogue, every column in the tile) the
// epilogue is applied in registers as the AVX2 store applies it; otherwise the sums (plus C when accumulating) are
// stored as they are. R and W are constants at every call, so the loops unroll and the accumulators stay in registers.
__attribute__((target("avx512f"), always_inline))
static inline void tile(ptrdiff_t kc, const float *a0, const float *a1, const float *b, ptrdiff_t b_row,
                        ptrdiff_t b_sliver, const __mmask16 *masks, float *c, ptrdiff_t ldc, int accumulate,
                        const ds_gemm_tile_epilogue *ep, const int R, const int W) {
    __m512 acc[12][2];
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < R; r++) {
        _Pragma("clang loop unroll(full)")
        for (int w = 0; w < W; w++) acc[r][w] = _mm512_setzero_ps();
    }
    const float *b1 = b + b_sliver;
    const __mmask16 m0 = masks[0], m1 = masks[W - 1];
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m512 v0 = _mm512_maskz_loadu_ps(m0, b);
        const __m512 v1 = W > 1 ? _mm512_maskz_loadu_ps(m1, b1) : v0;
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) {
            const __m512 ar = _mm512_set1_ps(r < 6 ? a0[r] : a1[r - 6]);
            acc[r][0] = _mm512_fmadd_ps(ar, v0, acc[r][0]);
            if (W > 1) acc[r][1] = _mm512_fmadd_ps(ar, v1, acc[r][1]);
        }
        a0 += 6;
        a1 += 6;
        b += b_row;
        b1 += b_row;
    }
    const piecewise16_constants k = piecewise16_constants_for(ep ? ep->act : (ds_activation){0});
    const int piecewise = ep && ds_is_piecewise(ep->act.kind);
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < R; r++) {
        float *row = c + r * ldc;
        _Pragma("clang loop unroll(full)")
        for (int w = 0; w < W; w++) {
            const __mmask16 m = masks[w];
            __m512 v = acc[r][w];
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, row + 16 * w));
            if (ep) {
                if (ep->row_bias) v = _mm512_add_ps(v, _mm512_set1_ps(ep->row_bias[r]));
                if (ep->col_bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, ep->col_bias + 16 * w));
                if (piecewise) v = piecewise16(v, ep->act.kind, &k);
            }
            _mm512_mask_storeu_ps(row + 16 * w, m, v);
        }
    }
    if (ep && ep->act.kind != DS_ACTIVATION_NONE && !piecewise)
        for (int w = 0; w < W; w++) ds_smooth_tile16_avx512(c + 16 * w, ldc, R, ep->act.kind);
}

#define TILE_CASE(R)                                                                                               \
    case R:                                                                                                        \
        if (w == 2) tile(kc, a0, a1, b, b_row, b_sliver, masks, c, ldc, accumulate, ep, R, 2);                     \
        else tile(kc, a0, a1, b, b_row, b_sliver, masks, c, ldc, accumulate, ep, R, 1);                            \
        break;

__attribute__((target("avx512f")))
static void tile_any(ptrdiff_t kc, const float *a0, const float *a1, const float *b, ptrdiff_t b_row,
                     ptrdiff_t b_sliver, const __mmask16 *masks, int w, float *c, ptrdiff_t ldc, int accumulate,
                     const ds_gemm_tile_epilogue *ep, ptrdiff_t rows) {
    switch (rows) {
    TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11)
    default: TILE_CASE(12)
    }
}
#undef TILE_CASE

static __mmask16 lanes(ptrdiff_t count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

// MARK: - Thin columns

// A block whose width leaves one or two columns past a multiple of 16 (a 7×7 map's 49 pixels: 48 + 1) would give them
// a tile of their own, 12 FMAs per K step for every 12 rows whatever the lanes used: the 49-wide product spent a
// quarter of its multiply-adds on one column. Those columns instead go down the packed A slivers together: the six
// rows of a sliver in six lanes of a ymm times each column's broadcast value, eight slivers in flight to cover the FMA
// latency. Per column that is a sixth of a tile's multiply-adds, but every K step loads six values of A for one or two
// FMAs, where a tile loads one for 16–32 columns: from three columns on (a 14 × 14 map's 196 = 192 + 4) the thin pass
// was no faster than the tile it replaced (C harness, interleaved), so those keep the tile.
#ifndef THIN_COLUMNS   // a harness may build with another
#define THIN_COLUMNS 2
#endif

// Columns [j, j + C) of the block for slivers [s, s + N): each row's sum over p ascending from zero, one FMA at a
// time, then C when accumulating — the chain a tile computes for that element, so the same bits. The epilogue is the
// caller's.
__attribute__((target("avx512f,avx512vl"), always_inline))
static inline void thin_column_slivers(const ds_gemm_block *x, ptrdiff_t j, ptrdiff_t s, const int N, const int C) {
    const ptrdiff_t kc = x->kc;
    const float *b[2];
    _Pragma("clang loop unroll(full)")
    for (int c = 0; c < C; c++) b[c] = x->b + ((j + c) / 16) * x->b_sliver + (j + c) % 16;
    const float *a = x->a + s * 6 * kc;
    __m256 acc[8][2];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < N; i++)
        _Pragma("clang loop unroll(full)")
        for (int c = 0; c < C; c++) acc[i][c] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m256 v[2];
        _Pragma("clang loop unroll(full)")
        for (int c = 0; c < C; c++) v[c] = _mm256_set1_ps(b[c][p * x->b_row]);
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < N; i++) {
            const __m256 rows = _mm256_maskz_loadu_ps(0x3F, a + i * 6 * kc + p * 6);
            _Pragma("clang loop unroll(full)")
            for (int c = 0; c < C; c++) acc[i][c] = _mm256_fmadd_ps(rows, v[c], acc[i][c]);
        }
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < N; i++)
        _Pragma("clang loop unroll(full)")
        for (int c = 0; c < C; c++) {
            float sums[8];
            _mm256_storeu_ps(sums, acc[i][c]);
            ds_gemm_store_thin_sliver(sums, x->c + (s + i) * 6 * x->ldc + j + c, x->ldc, x->mc - (s + i) * 6,
                                      x->accumulate);
        }
}

#define THIN_GROUP(N)                                                                                              \
    case N:                                                                                                        \
        if (count == 2) thin_column_slivers(x, first, s, N, 2);                                                    \
        else thin_column_slivers(x, first, s, N, 1);                                                               \
        break;

// Columns [first, first + count), count 1 or 2.
__attribute__((target("avx512f,avx512vl")))
static void thin_columns(const ds_gemm_block *x, ptrdiff_t first, ptrdiff_t count) {
    if (count <= 0) return;
    const ptrdiff_t slivers = (x->mc + 5) / 6;
    for (ptrdiff_t s = 0; s < slivers; s += 8) {
        switch (slivers - s) {
        THIN_GROUP(1) THIN_GROUP(2) THIN_GROUP(3) THIN_GROUP(4) THIN_GROUP(5) THIN_GROUP(6) THIN_GROUP(7)
        default: THIN_GROUP(8)
        }
    }
    // As a tile narrower than its zmm columns: the epilogue in memory.
    if (x->epilogue)
        ds_gemm_apply_epilogue(x->c + first, x->ldc, x->mc, count, x->row_bias,
                               x->col_bias ? x->col_bias + first : NULL, x->act);
}
#undef THIN_GROUP

// MARK: - Blocks

void ds_gemm_block_avx512(const ds_gemm_block *x) {
    const ptrdiff_t kc = x->kc, mc = x->mc;
    const ptrdiff_t thin = x->nc % 16 <= THIN_COLUMNS ? x->nc % 16 : 0, nc = x->nc - thin;
    thin_columns(x, nc, thin);
    const ptrdiff_t row_tiles = (mc + 11) / 12, col_tiles = (nc + 31) / 32;
    for (ptrdiff_t t = 0; t < row_tiles * col_tiles; t++) {
        // The order of gemm_window's AVX2 tiles: down the rows under one B tile, or along C's rows for short K blocks.
        const ptrdiff_t jr = (x->along_rows ? t % col_tiles : t / row_tiles) * 32;
        const ptrdiff_t ir = (x->along_rows ? t / col_tiles : t % row_tiles) * 12;
        const ptrdiff_t rows = mc - ir < 12 ? mc - ir : 12, cols = nc - jr < 32 ? nc - jr : 32;
        const int w = cols > 16 ? 2 : 1;
        const __mmask16 masks[2] = {lanes(cols), lanes(cols > 16 ? cols - 16 : 0)};
        const float *a0 = x->a + ir * kc;
        const float *b = x->b + (jr / 16) * x->b_sliver;
        float *c = x->c + ir * x->ldc + jr;
        const int full = cols == 16 * w;
        const ds_gemm_tile_epilogue ep = {x->row_bias ? x->row_bias + ir : NULL, x->col_bias ? x->col_bias + jr : NULL,
                                          x->act};
        tile_any(kc, a0, a0 + 6 * kc, b, x->b_row, x->b_sliver, masks, w, c, x->ldc, x->accumulate,
                 x->epilogue && full ? &ep : NULL, rows);
        // A tile narrower than its zmm columns gets the epilogue in memory, as the AVX2 edge tiles do.
        if (x->epilogue && !full) ds_gemm_apply_epilogue(c, x->ldc, rows, cols, ep.row_bias, ep.col_bias, x->act);
    }
}
