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

/// A zero-padded plane split by phase (the depthwise kernel's and the narrow direct convolution's scratch): `rows`
/// padded rows, each `stride_w` phases of `phase_len` slots (the columns a window reads, then DS_PADDED_OVERRUN zero
/// slots, so a kernel's last 8-wide load of a row stays inside it).
#define DS_PADDED_OVERRUN 8
typedef struct {
    ptrdiff_t rows;
    ptrdiff_t phase_len;
    ptrdiff_t stride_w;
} ds_padded_layout;

ds_padded_layout ds_padded_layout_for(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                                      ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w);

/// Copies plane x (height × width) into `buffer` laid out by `l`, zero around it. With `borders_zeroed` (the buffer
/// already holds a plane of the same geometry) only the image's slots are written.
void ds_fill_padded_plane(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t pad_top, ptrdiff_t pad_left,
                          ds_padded_layout l, int borders_zeroed, float *buffer);

#endif
