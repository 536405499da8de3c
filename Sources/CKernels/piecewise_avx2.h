// The activations on eight floats (internal to CKernels): shared by ds_activation_apply and the GEMM's and direct
// convolution's in-register epilogues, so a tile activated in registers gets exactly the bits a row activated in memory
// gets. The piecewise-linear ones inline, in registers; the smooth ones (exp inside) on the stored tile.
#ifndef DEEPSERVE_CKERNELS_PIECEWISE_AVX2_H
#define DEEPSERVE_CKERNELS_PIECEWISE_AVX2_H

#include "CKernels.h"

#include <immintrin.h>

typedef struct {
    __m256 zero, one, alpha, beta, sixth, half;
} ds_piecewise_constants;

__attribute__((target("avx2,fma"))) static inline ds_piecewise_constants ds_piecewise_constants_for(ds_activation act) {
    return (ds_piecewise_constants){_mm256_setzero_ps(), _mm256_set1_ps(1.0f), _mm256_set1_ps(act.alpha),
                                    _mm256_set1_ps(act.beta), _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f)};
}

/// Nonzero for the kinds ds_piecewise8 computes.
static inline int ds_is_piecewise(ds_activation_kind kind) {
    return kind == DS_ACTIVATION_RELU || kind == DS_ACTIVATION_LEAKY_RELU || kind == DS_ACTIVATION_CLIP ||
           kind == DS_ACTIVATION_HARD_SIGMOID || kind == DS_ACTIVATION_HARD_SWISH;
}

/// `kind` (one of ds_is_piecewise's) applied to v. NaN stays NaN (max/min return their second operand on NaN).
__attribute__((target("avx2,fma"))) static inline __m256 ds_piecewise8(__m256 v, ds_activation_kind kind,
                                                                      const ds_piecewise_constants *k) {
    switch (kind) {
    case DS_ACTIVATION_RELU:
        return _mm256_max_ps(k->zero, v);
    case DS_ACTIVATION_LEAKY_RELU:
        return _mm256_blendv_ps(_mm256_mul_ps(v, k->alpha), v, _mm256_cmp_ps(v, k->zero, _CMP_GE_OQ));
    case DS_ACTIVATION_CLIP:
        return _mm256_min_ps(k->beta, _mm256_max_ps(k->alpha, v));
    case DS_ACTIVATION_HARD_SIGMOID:
        return _mm256_min_ps(k->one, _mm256_max_ps(k->zero, _mm256_fmadd_ps(k->alpha, v, k->beta)));
    default:   // DS_ACTIVATION_HARD_SWISH
        return _mm256_mul_ps(v, _mm256_min_ps(k->one, _mm256_max_ps(k->zero, _mm256_fmadd_ps(v, k->sixth, k->half))));
    }
}

/// Sigmoid, Tanh, SiLU or GELU applied to `rows` rows of 16 floats (ldc apart) in place, as ds_activation_apply's vector
/// loops compute them (activations.c): for a tile just stored. Not inlined into the tile's store, where every call
/// would spill the other accumulators (all vector registers are caller-saved).
void ds_smooth_tile16(float *c, ptrdiff_t ldc, ptrdiff_t rows, ds_activation_kind kind);

/// The same on AVX-512 (activations_avx512.c), with the same bits: ds_smooth_tile16's rows, and x[0..<n] into y (n a
/// multiple of 8, so that the scalar tail of the AVX2 loops is never this function's).
void ds_smooth_tile16_avx512(float *c, ptrdiff_t ldc, ptrdiff_t rows, ds_activation_kind kind);
void ds_smooth_avx512(const float *x, float *y, ptrdiff_t n, ds_activation_kind kind);

/// The LSTM cell (ds_lstm_cell) of one row's units from `first` on, AVX2 (activations.c), and of `rows` rows on
/// AVX-512 (activations_avx512.c), which leaves each row's last units, past a multiple of 16, to the AVX2 one.
void ds_lstm_cell_row_avx2(const float *gates, ptrdiff_t h, ptrdiff_t first, float *cell, float *hidden);
void ds_lstm_cell_avx512(const float *gates, ptrdiff_t gate_stride, ptrdiff_t rows, ptrdiff_t h, float *cell, float *hidden);

#endif
