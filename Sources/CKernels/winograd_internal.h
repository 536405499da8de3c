// What winograd.c shares with its AVX-512 transforms (internal to CKernels): the layout of a call's tiles and the
// state of one block's pass. See winograd.c for the algorithm.
#ifndef DEEPSERVE_CKERNELS_WINOGRAD_INTERNAL_H
#define DEEPSERVE_CKERNELS_WINOGRAD_INTERNAL_H

#include "CKernels.h"

#include <stddef.h>

#define WG_LANES 8

// Where a call's pieces lie: tiles, the padded plane the input transform reads, and the block of tile rows.
// Eight consecutive tiles of V and M make a group, one tile per lane. On maps of at least 5 tiles a row (9 outputs),
// a group lies in one tile row and a row has whole groups (tiles_w rounded up to 8); on narrower maps ("narrow": a
// 7×7 map is 4 tiles a row) a row has 4 tiles and a group holds two rows, so no lane is spent on padding there.
typedef struct {
    ptrdiff_t patch, positions;   // p and p² (patch_for)
    ptrdiff_t tiles_h, tiles_w;
    int narrow;                // 4 tiles a row, two rows a group
    ptrdiff_t row_tiles;       // tiles per tile row in V and M: 4 (narrow) or tiles_w rounded up to whole groups
    ptrdiff_t group_rows;      // tile rows a group spans: 2 (narrow) or 1
    ptrdiff_t layout_rows;     // tile rows in V and M: tiles_h rounded up to whole groups
    ptrdiff_t rows, columns;   // padded plane: every group reads whole, in bounds
    ptrdiff_t block_rows;      // tile rows per block (a multiple of group_rows)
} wg_layout;

typedef struct {
    const ds_conv2d_shape *s;
    wg_layout l;
    const float *padded;      // the image's zero-padded planes (rows × columns each)
    float *v, *m;             // V_ξ[c][tile] and M_ξ[oc][tile] of the block, ξ-major
    ptrdiff_t first_row, block_tiles;   // the block: tile rows from first_row, block_tiles tiles
    ptrdiff_t out_channels;
    const float *bias;
    int accumulate;
    ds_activation act;
    int act_in_store;
    float *y;                 // the image's output
    const float *packed;      // U_ξ, each packed as the GEMM's A
    size_t packed_stride;     // floats from U_ξ to U_ξ+1
} wg_pass;

// The AVX-512 transforms of one input channel (V) or one output channel (Y) of a block, for layouts that are not
// narrow: two groups (16 tiles) per zmm, the AVX2 code's operations lane for lane, so the same bits
// (winograd_avx512.c). 3: F(2×2, 3×3); 5: F(2×2, 5×5).
void ds_winograd_input3_avx512(void *pass, ptrdiff_t c);
void ds_winograd_input5_avx512(void *pass, ptrdiff_t c);
void ds_winograd_output3_avx512(void *pass, ptrdiff_t o);
void ds_winograd_output5_avx512(void *pass, ptrdiff_t o);

#endif
