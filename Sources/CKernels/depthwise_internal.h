// The depthwise kernel's AVX-512 plane (internal to CKernels; depthwise.c decides when).
#ifndef DEEPSERVE_CKERNELS_DEPTHWISE_INTERNAL_H
#define DEEPSERVE_CKERNELS_DEPTHWISE_INTERNAL_H

#include <immintrin.h>
#include <stddef.h>

/// The widest input row ds_depthwise_plane_avx512 takes (its rows above and below the image read a zero row this long).
#define DS_DEPTHWISE_INPLACE_MAX_WIDTH 4096

typedef struct {
    const float *x;                 // the input plane, height × width, read where it lies
    ptrdiff_t height, width, pad_top, pad_left;
    const float *w;                 // kernel × kernel weights
    float bias;
    float low, high;                // outputs clamped to [low, high] in the store: ReLU, ReLU6, Clip, or ±∞ for none
    float *y;
    ptrdiff_t out_h, out_w;
    ptrdiff_t kernel;               // 3 or 5
    ptrdiff_t stride;               // 1 or 2, both axes; no dilation
} ds_depthwise_plane;

/// Whether ds_depthwise_plane_avx512 takes a filter of this geometry.
int ds_depthwise_inplace_suits(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                               ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t width);

/// One output plane: bias + Σ w·x over the taps in (row, column) order, one fused multiply-add at a time, then the
/// clamp — the bits of the padded-copy kernels, with no copy.
void ds_depthwise_plane_avx512(const ds_depthwise_plane *p);

/// The store of both AVX-512 depthwise tiles (R rows × V zmm of outputs, rows out_w apart from y, the last zmm's lanes
/// cut to `last`), clamped as ds_piecewise8 clamps (the sum the second operand: NaN stays NaN), so the bits are a
/// separate pass's.
__attribute__((target("avx512f"), always_inline))
static inline void ds_depthwise_store_tile512(float *y, ptrdiff_t out_w, __m512 acc[][2], const int R, const int V,
                                              __mmask16 last, float low, float high) {
    const __m512 lower = _mm512_set1_ps(low), upper = _mm512_set1_ps(high);
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < R; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++)
            _mm512_mask_storeu_ps(y + o * out_w + 16 * v, v == V - 1 ? last : (__mmask16)0xFFFF,
                                  _mm512_min_ps(upper, _mm512_max_ps(lower, acc[o][v])));
}

#endif
