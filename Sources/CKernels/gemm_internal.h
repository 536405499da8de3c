// What gemm.c shares with its per-ISA block kernels (internal to CKernels).
#ifndef DEEPSERVE_CKERNELS_GEMM_INTERNAL_H
#define DEEPSERVE_CKERNELS_GEMM_INTERNAL_H

#include "CKernels.h"

#include <stddef.h>

/// What a full tile's store applies in registers after its last K block: biases and the activation, in the order
/// ds_gemm_apply_epilogue applies them (row bias, column bias, activation), so the bits are the same.
typedef struct {
    const float *row_bias;   // the tile's row values, or NULL
    const float *col_bias;   // the tile's column values, or NULL
    ds_activation act;
} ds_gemm_tile_epilogue;

/// C[rows × cols] += row_bias, += col_bias, then the activation: the epilogue of a tile applied in memory.
void ds_gemm_apply_epilogue(float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols, const float *row_bias,
                            const float *col_bias, ds_activation act);

/// One thin column's sums for a six-row sliver (lanes 0–5 of a vector stored to `sums`) into its first `rows` rows of C
/// (c the sliver's first row, ldc apart), added to C when accumulating: how both ISAs' thin-column passes store.
static inline void ds_gemm_store_thin_sliver(const float sums[8], float *c, ptrdiff_t ldc, ptrdiff_t rows,
                                             int accumulate) {
    // sums + C, as a full tile adds (same NaN payloads too).
    for (ptrdiff_t r = 0; r < 6 && r < rows; r++) c[r * ldc] = accumulate ? sums[r] + c[r * ldc] : sums[r];
}

/// One block of the blocked loop: mc × nc of C from one K block of kc.
typedef struct {
    ptrdiff_t kc, mc, nc;
    const float *a;          // packed A: 6-row slivers, each kc × 6 (a[p·6 + r]), one after another
    const float *b;          // B's first 16-column sliver: row p at b + p·b_row
    ptrdiff_t b_row;         // 16 when packed; ldb when read in place
    ptrdiff_t b_sliver;      // from one 16-column sliver to the next: 16·kc when packed, 16 in place
    float *c;
    ptrdiff_t ldc;
    int accumulate;          // add onto C (a later K block, or beta 1)
    int along_rows;          // tiles along C's rows (short K blocks) rather than down them
    int epilogue;            // the last K block of a product with biases or an activation
    const float *row_bias, *col_bias;   // the block's own (offset to its first row and column), or NULL
    ds_activation act;
} ds_gemm_block;

/// The block on AVX-512F (the caller checked ds_use_avx512()): bit for bit what the AVX2 tiles compute.
void ds_gemm_block_avx512(const ds_gemm_block *block);

#endif
