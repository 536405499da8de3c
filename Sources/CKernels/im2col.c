// Convolution's unfold (im2col) and fold (col2im) for one image in NCHW layout.
#include "CKernels.h"


void ds_im2col(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
               ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col) {
    for (ptrdiff_t c = 0; c < channels; c++) {
        const float *plane = x + c * height * width;
        for (ptrdiff_t ki = 0; ki < kernel_h; ki++) {
            for (ptrdiff_t kj = 0; kj < kernel_w; kj++) {
                for (ptrdiff_t row = 0; row < out_rows; row++) {
                    const ptrdiff_t oy = out_row_begin + row;
                    const ptrdiff_t iy = oy * stride_h - pad_top + ki * dilation_h;
                    float *dst = col + row * out_w;
                    if (iy < 0 || iy >= height) {
                        for (ptrdiff_t ox = 0; ox < out_w; ox++) dst[ox] = 0;
                        continue;
                    }
                    const float *src_row = plane + iy * width;
                    const ptrdiff_t x0 = kj * dilation_w - pad_left;
                    if (stride_w == 1) {
                        // Valid ox: 0 <= ox + x0 < width.
                        ptrdiff_t lo = -x0 > 0 ? -x0 : 0;
                        ptrdiff_t hi = width - x0 < out_w ? width - x0 : out_w;
                        if (lo > out_w) lo = out_w;
                        if (hi < lo) hi = lo;
                        // Plain loops, not memcpy: rows are short (tens of floats) and the calls dominate.
                        const float *src = src_row + x0;
                        ptrdiff_t ox = 0;
                        for (; ox < lo; ox++) dst[ox] = 0;
                        for (; ox < hi; ox++) dst[ox] = src[ox];
                        for (; ox < out_w; ox++) dst[ox] = 0;
                    } else {
                        for (ptrdiff_t ox = 0; ox < out_w; ox++) {
                            const ptrdiff_t ix = ox * stride_w + x0;
                            dst[ox] = (ix >= 0 && ix < width) ? src_row[ix] : 0.0f;
                        }
                    }
                }
                col += out_rows * out_w;
            }
        }
    }
}

void ds_col2im_add(const float *col, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                   ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                   ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                   ptrdiff_t in_h, ptrdiff_t in_w, float *x) {
    // `height`/`width` describe x (the fold's output); `in_h`/`in_w` the column grid.
    for (ptrdiff_t c = 0; c < channels; c++) {
        float *plane = x + c * height * width;
        for (ptrdiff_t ki = 0; ki < kernel_h; ki++) {
            for (ptrdiff_t kj = 0; kj < kernel_w; kj++) {
                for (ptrdiff_t oy = 0; oy < in_h; oy++) {
                    const ptrdiff_t iy = oy * stride_h - pad_top + ki * dilation_h;
                    const float *src = col + oy * in_w;
                    if (iy < 0 || iy >= height) continue;
                    float *dst_row = plane + iy * width;
                    for (ptrdiff_t ox = 0; ox < in_w; ox++) {
                        const ptrdiff_t ix = ox * stride_w - pad_left + kj * dilation_w;
                        if (ix >= 0 && ix < width) dst_row[ix] += src[ox];
                    }
                }
                col += in_h * in_w;
            }
        }
    }
}
