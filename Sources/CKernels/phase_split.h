// Splitting a padded row by phase modulo a stride (internal to CKernels): the depthwise kernel and im2col both copy
// input rows this way, so that a strided window's taps read consecutive slots.
#ifndef DEEPSERVE_CKERNELS_PHASE_SPLIT_H
#define DEEPSERVE_CKERNELS_PHASE_SPLIT_H

#include <stddef.h>

/// For phase p in 0..<stride and slot t in 0..<phase_len: out[p · phase_stride + t] = the padded row's column
/// t · stride + p, i.e. src[t · stride + p − pad_left], or 0 outside 0..<width. Stride 2 (MobileNet's and ResNet's
/// downsampling layers) is deinterleaved eight slots at a time.
void ds_phase_split_row(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride, ptrdiff_t phase_len,
                        float *out, ptrdiff_t phase_stride);

/// ds_phase_split_row's slots whose column lies inside the row, and only those: for refilling a buffer whose padding
/// slots are zero already.
void ds_phase_split_row_interior(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride,
                                 ptrdiff_t phase_len, float *out, ptrdiff_t phase_stride);

#endif
