// Convolution's unfold (im2col) and fold (col2im) for one image in NCHW layout.
#include "CKernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// A per-thread scratch buffer for the column-padded copy of an image (freed when the thread exits).
static pthread_key_t padded_key;
static pthread_once_t padded_once = PTHREAD_ONCE_INIT;
typedef struct { float *data; size_t capacity; } scratch;
static void scratch_free(void *p) { scratch *s = p; free(s->data); free(s); }
static void padded_key_create(void) { pthread_key_create(&padded_key, scratch_free); }

static float *padded_buffer(size_t count) {
    pthread_once(&padded_once, padded_key_create);
    scratch *s = pthread_getspecific(padded_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) abort();
        pthread_setspecific(padded_key, s);
    }
    if (s->capacity < count) {
        free(s->data);
        s->data = malloc(count * sizeof(float));
        if (!s->data) abort();
        s->capacity = count;
    }
    return s->data;
}

// Copies n floats in 8-float blocks, the last block overlapping the one before (n >= 8): two vector
// moves for a 14-wide row instead of a loop with a scalar tail.
static inline void copy_row(float *dst, const float *src, ptrdiff_t n) {
    if (n < 8) {
        for (ptrdiff_t i = 0; i < n; i++) dst[i] = src[i];
        return;
    }
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) memcpy(dst + i, src + i, 8 * sizeof(float));
    if (i < n) memcpy(dst + n - 8, src + n - 8, 8 * sizeof(float));
}

// Stride-1 unfold: pad the columns of the input rows this band of output rows reads, then every
// column row is a plain copy. (Only those rows: a 160×160 map unfolded one output row at a time
// would otherwise copy the whole image once per row.)
static void im2col_stride1(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                           ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                           ptrdiff_t stride_h, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                           ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col, ptrdiff_t ld_col) {
    const ptrdiff_t reach = out_w + (kernel_w - 1) * dilation_w;   // padded columns any row reads
    const ptrdiff_t padded_w = reach > pad_left + width ? reach : pad_left + width;
    ptrdiff_t first = out_row_begin * stride_h - pad_top;
    ptrdiff_t last = (out_row_begin + out_rows - 1) * stride_h - pad_top + (kernel_h - 1) * dilation_h;   // inclusive
    if (first < 0) first = 0;
    if (last > height - 1) last = height - 1;
    const ptrdiff_t rows = last >= first ? last - first + 1 : 0;
    float *padded = padded_buffer((size_t)(channels * (rows > 0 ? rows : 1) * padded_w));
    for (ptrdiff_t c = 0; c < channels; c++) {
        for (ptrdiff_t r = 0; r < rows; r++) {
            float *row = padded + (c * rows + r) * padded_w;
            for (ptrdiff_t i = 0; i < pad_left; i++) row[i] = 0;
            memcpy(row + pad_left, x + (c * height + first + r) * width, width * sizeof(float));
            for (ptrdiff_t i = pad_left + width; i < padded_w; i++) row[i] = 0;
        }
    }
    for (ptrdiff_t c = 0; c < channels; c++) {
        for (ptrdiff_t ki = 0; ki < kernel_h; ki++) {
            for (ptrdiff_t kj = 0; kj < kernel_w; kj++) {
                for (ptrdiff_t row = 0; row < out_rows; row++) {
                    const ptrdiff_t iy = (out_row_begin + row) * stride_h - pad_top + ki * dilation_h;
                    float *dst = col + row * out_w;
                    if (iy < 0 || iy >= height) {
                        for (ptrdiff_t ox = 0; ox < out_w; ox++) dst[ox] = 0;
                    } else {
                        copy_row(dst, padded + (c * rows + iy - first) * padded_w + kj * dilation_w, out_w);
                    }
                }
                col += ld_col;
            }
        }
    }
}


void ds_im2col(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
               ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col, ptrdiff_t ld_col) {
    if (stride_w == 1) {
        im2col_stride1(x, channels, height, width, kernel_h, kernel_w, pad_top, pad_left, stride_h, dilation_h,
                       dilation_w, out_row_begin, out_rows, out_w, col, ld_col);
        return;
    }
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
                col += ld_col;
            }
        }
    }
}

void ds_col2im_add(const float *col, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                   ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                   ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                   ptrdiff_t in_h, ptrdiff_t in_w, float *x, ptrdiff_t ld_col) {
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
                col += ld_col;
            }
        }
    }
}
