// 2-d max and average pooling (NCHW). Loops run taps outside and output columns inside, over
// `restrict` rows, so the compiler vectorises the inner loop instead of chaining a compare or an
// add through every tap of one window.
#include "CKernels.h"

#include <math.h>

void ds_pool2d(const float *x, ptrdiff_t planes, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
               ptrdiff_t pad_top, ptrdiff_t pad_left, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_h, ptrdiff_t out_w, const ptrdiff_t *column_begin, const ptrdiff_t *column_end,
               const float *divisors, float *y) {
    const int is_max = divisors == NULL;
    for (ptrdiff_t plane = 0; plane < planes; plane++) {
        const float *src = x + plane * height * width;
        for (ptrdiff_t oy = 0; oy < out_h; oy++) {
            float *restrict out = y + (plane * out_h + oy) * out_w;
            for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] = is_max ? -INFINITY : 0.0f;
            for (ptrdiff_t i = 0; i < kernel_h; i++) {
                const ptrdiff_t iy = oy * stride_h - pad_top + i * dilation_h;
                if (iy < 0 || iy >= height) continue;
                const float *restrict row = src + iy * width;
                for (ptrdiff_t j = 0; j < kernel_w; j++) {
                    const ptrdiff_t offset = j * dilation_w - pad_left;
                    // Output columns [column_begin[j], column_end[j]) read inside the image for tap j.
                    const float *restrict tap = row + offset;
                    if (is_max && stride_w == 2) {
                        // The common 2×2/2 and 3×3/2 case: a constant stride lets the compiler vectorise.
                        for (ptrdiff_t ox = column_begin[j]; ox < column_end[j]; ox++) {
                            const float v = tap[2 * ox];
                            out[ox] = v > out[ox] ? v : out[ox];
                        }
                    } else if (is_max) {
                        for (ptrdiff_t ox = column_begin[j]; ox < column_end[j]; ox++) {
                            const float v = tap[ox * stride_w];
                            out[ox] = v > out[ox] ? v : out[ox];
                        }
                    } else {
                        for (ptrdiff_t ox = column_begin[j]; ox < column_end[j]; ox++) out[ox] += row[ox * stride_w + offset];
                    }
                }
            }
            if (!is_max) {
                const float *d = divisors + oy * out_w;
                for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] *= d[ox];
            }
        }
    }
}
