// 2-d max and average pooling (NCHW). Loops run taps outside and output columns inside, over
// `restrict` rows, so the compiler vectorises the inner loop instead of chaining a compare or an
// add through every tap of one window.
#include "CKernels.h"
#include "dispatch.h"

#include <immintrin.h>
#include <math.h>

// 2×2 max pooling with stride 2 and no padding (every VGG/LeNet-style CNN): out[ox] = max of four inputs.
// As the general loop does, a NaN input is skipped (max_ps returns its second operand, the running
// maximum, when the first is NaN), and of equal values the first seen is kept.
__attribute__((target("avx2,fma")))
static void max_pool_2x2_avx2(const float *x, ptrdiff_t planes, ptrdiff_t height, ptrdiff_t width,
                              ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    for (ptrdiff_t plane = 0; plane < planes; plane++) {
        const float *src = x + plane * height * width;
        for (ptrdiff_t oy = 0; oy < out_h; oy++) {
            const float *r0 = src + 2 * oy * width, *r1 = r0 + width;
            float *out = y + (plane * out_h + oy) * out_w;
            ptrdiff_t ox = 0;
            for (; ox + 8 <= out_w; ox += 8) {
                const __m256 lo0 = _mm256_loadu_ps(r0 + 2 * ox), hi0 = _mm256_loadu_ps(r0 + 2 * ox + 8);
                const __m256 lo1 = _mm256_loadu_ps(r1 + 2 * ox), hi1 = _mm256_loadu_ps(r1 + 2 * ox + 8);
                // Even and odd columns of each row (shuffle works per 128-bit lane; permute restores the order).
                const __m256 even0 = _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo0, hi0, 0x88)), 0xD8) ,
                             odd0 = _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo0, hi0, 0xDD)), 0xD8);
                const __m256 even1 = _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo1, hi1, 0x88)), 0xD8),
                             odd1 = _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo1, hi1, 0xDD)), 0xD8);
                __m256 m = _mm256_set1_ps(-INFINITY);
                m = _mm256_max_ps(_mm256_castpd_ps(even0), m);
                m = _mm256_max_ps(_mm256_castpd_ps(odd0), m);
                m = _mm256_max_ps(_mm256_castpd_ps(even1), m);
                m = _mm256_max_ps(_mm256_castpd_ps(odd1), m);
                _mm256_storeu_ps(out + ox, m);
            }
            for (; ox < out_w; ox++) {
                float m = -INFINITY;
                const float v[4] = {r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]};
                for (int t = 0; t < 4; t++) m = v[t] > m ? v[t] : m;
                out[ox] = m;
            }
        }
    }
}

// Even and odd elements of 16 floats from `p`, in order (shuffle works per 128-bit lane; permute restores the order).
__attribute__((target("avx2,fma"), always_inline))
static inline void deinterleave16(const float *p, __m256 *even, __m256 *odd) {
    const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

// 3×3 max pooling with stride 2 (ResNet's and DenseNet's stem, GoogLeNet's reductions), any padding up to the window.
// Eight outputs at a time whose windows lie inside the row; the taps are taken in the general loop's order (rows, then
// columns) with the new value as max_ps's first operand, so NaNs are skipped and, of equal values, the first seen is
// kept, as there. Columns whose windows cross the border, and rows outside the image, are handled as the general loop
// does. The general loop ran 0.5 ms on ResNet's 64×112² map (onnxruntime: 0.27).
__attribute__((target("avx2,fma")))
static void max_pool_3x3s2_avx2(const float *x, ptrdiff_t planes, ptrdiff_t height, ptrdiff_t width,
                                ptrdiff_t pad_top, ptrdiff_t pad_left, ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    // Outputs [vector_begin, vector_end) read columns 2·ox − pad_left … + 17 (the loads' last) inside the row.
    ptrdiff_t vector_begin = (pad_left + 1) / 2, vector_end = vector_begin;
    while (vector_end < out_w && 2 * vector_end - pad_left + 18 <= width) vector_end++;
    for (ptrdiff_t plane = 0; plane < planes; plane++) {
        const float *src = x + plane * height * width;
        for (ptrdiff_t oy = 0; oy < out_h; oy++) {
            float *out = y + (plane * out_h + oy) * out_w;
            const float *rows[3];
            int count = 0;
            for (ptrdiff_t i = 0; i < 3; i++) {
                const ptrdiff_t iy = 2 * oy - pad_top + i;
                if (iy >= 0 && iy < height) rows[count++] = src + iy * width;
            }
            ptrdiff_t ox = 0;
            // Scalar: the general loop's order and comparison, skipping columns outside the image.
#define DS_MAX3X3_SCALAR(ox_)                                                                 \
            do {                                                                              \
                float m = -INFINITY;                                                          \
                for (int r = 0; r < count; r++)                                               \
                    for (ptrdiff_t j = 0; j < 3; j++) {                                       \
                        const ptrdiff_t ix = 2 * (ox_) - pad_left + j;                        \
                        if (ix < 0 || ix >= width) continue;                                  \
                        const float v = rows[r][ix];                                          \
                        m = v > m ? v : m;                                                    \
                    }                                                                         \
                out[ox_] = m;                                                                 \
            } while (0)
            for (; ox < vector_begin && ox < out_w; ox++) DS_MAX3X3_SCALAR(ox);
            for (; ox + 8 <= vector_end; ox += 8) {
                __m256 m = _mm256_set1_ps(-INFINITY);
                for (int r = 0; r < count; r++) {
                    const float *base = rows[r] + 2 * ox - pad_left;
                    __m256 t0, t1, t2, unused;
                    deinterleave16(base, &t0, &t1);
                    deinterleave16(base + 2, &t2, &unused);
                    m = _mm256_max_ps(t0, m);
                    m = _mm256_max_ps(t1, m);
                    m = _mm256_max_ps(t2, m);
                }
                _mm256_storeu_ps(out + ox, m);
            }
            for (; ox < out_w; ox++) DS_MAX3X3_SCALAR(ox);
#undef DS_MAX3X3_SCALAR
        }
    }
}

void ds_pool2d(const float *x, ptrdiff_t planes, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
               ptrdiff_t pad_top, ptrdiff_t pad_left, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_h, ptrdiff_t out_w, const ptrdiff_t *column_begin, const ptrdiff_t *column_end,
               const float *divisors, float *y) {
    const int is_max = divisors == NULL;
    if (is_max && kernel_h == 2 && kernel_w == 2 && stride_h == 2 && stride_w == 2 && pad_top == 0 && pad_left == 0 &&
        dilation_h == 1 && dilation_w == 1 && 2 * out_h <= height && 2 * out_w <= width && ds_use_avx2()) {
        max_pool_2x2_avx2(x, planes, height, width, out_h, out_w, y);
        return;
    }
    if (is_max && kernel_h == 3 && kernel_w == 3 && stride_h == 2 && stride_w == 2 && dilation_h == 1 && dilation_w == 1 &&
        pad_top >= 0 && pad_top < 3 && pad_left >= 0 && pad_left < 3 && ds_use_avx2()) {
        max_pool_3x3s2_avx2(x, planes, height, width, pad_top, pad_left, out_h, out_w, y);
        return;
    }
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
