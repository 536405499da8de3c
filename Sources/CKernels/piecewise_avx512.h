// The piecewise-linear activations on sixteen floats (internal to CKernels): ds_piecewise8's operations in the same
// order, so the AVX-512 epilogues (GEMM tiles, Winograd's output transform) store the AVX2 kernels' bits.
#ifndef DEEPSERVE_CKERNELS_PIECEWISE_AVX512_H
#define DEEPSERVE_CKERNELS_PIECEWISE_AVX512_H

#include "CKernels.h"

#include <immintrin.h>

typedef struct {
    __m512 zero, one, alpha, beta, sixth, half;
} piecewise16_constants;

__attribute__((target("avx512f"))) static inline piecewise16_constants piecewise16_constants_for(ds_activation act) {
    return (piecewise16_constants){_mm512_setzero_ps(), _mm512_set1_ps(1.0f), _mm512_set1_ps(act.alpha),
                                   _mm512_set1_ps(act.beta), _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f)};
}

// ds_piecewise8 on sixteen floats: the same operations in the same order, so the same bits.
__attribute__((target("avx512f"))) static inline __m512 piecewise16(__m512 v, ds_activation_kind kind,
                                                                   const piecewise16_constants *k) {
    switch (kind) {
    case DS_ACTIVATION_RELU:
        return _mm512_max_ps(k->zero, v);
    case DS_ACTIVATION_LEAKY_RELU:
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, k->zero, _CMP_GE_OQ), _mm512_mul_ps(v, k->alpha), v);
    case DS_ACTIVATION_CLIP:
        return _mm512_min_ps(k->beta, _mm512_max_ps(k->alpha, v));
    case DS_ACTIVATION_HARD_SIGMOID:
        return _mm512_min_ps(k->one, _mm512_max_ps(k->zero, _mm512_fmadd_ps(k->alpha, v, k->beta)));
    default:   // DS_ACTIVATION_HARD_SWISH
        return _mm512_mul_ps(v, _mm512_min_ps(k->one, _mm512_max_ps(k->zero, _mm512_fmadd_ps(v, k->sixth, k->half))));
    }
}

#endif
