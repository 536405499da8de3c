// The depthwise kernel's AVX-512 plane (internal to CKernels; depthwise.c decides when).
#ifndef DEEPSERVE_CKERNELS_DEPTHWISE_INTERNAL_H
#define DEEPSERVE_CKERNELS_DEPTHWISE_INTERNAL_H

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

#endif
