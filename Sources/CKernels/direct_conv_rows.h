// Direct convolution of inputs with a few channels, a row of pixels at a time (internal to CKernels):
// ds_conv2d_direct hands such shapes to it.
#ifndef DEEPSERVE_CKERNELS_DIRECT_CONV_ROWS_H
#define DEEPSERVE_CKERNELS_DIRECT_CONV_ROWS_H

#include "CKernels.h"

/// Nonzero when ds_conv2d_rows runs `s` (AVX2 present, at most 4 input channels, rows of 8 pixels or more).
int ds_conv2d_rows_suits(const ds_conv2d_shape *s);
/// Floats of scratch ds_conv2d_rows needs: one image's padded planes.
size_t ds_conv2d_rows_scratch_size(const ds_conv2d_shape *s);
/// ds_conv2d_direct's contract (filters from ds_conv2d_direct_pack), for a shape ds_conv2d_rows_suits accepts.
void ds_conv2d_rows(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                    const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate, ds_activation act,
                    float *y, ptrdiff_t y_image_stride, float *scratch);

#endif
