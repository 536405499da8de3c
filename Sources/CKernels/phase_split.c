#include "phase_split.h"

#include "dispatch.h"

#include <immintrin.h>

static void split_scalar(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride, ptrdiff_t from,
                         ptrdiff_t to, float *out, ptrdiff_t phase_stride) {
    for (ptrdiff_t p = 0; p < stride; p++)
        for (ptrdiff_t t = from; t < to; t++) {
            const ptrdiff_t ix = t * stride + p - pad_left;
            out[p * phase_stride + t] = ix >= 0 && ix < width ? src[ix] : 0.0f;
        }
}

// Slots t in [from, to), whose both columns 2t − pad_left and 2t + 1 − pad_left lie in the row, eight at a time: 16
// loads, even and odd lanes shuffled apart. Returns where it stopped: `to`, or `from` when there are under eight.
__attribute__((target("avx2,fma")))
static ptrdiff_t split2_avx2(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t from, ptrdiff_t to,
                             float *out, ptrdiff_t phase_stride) {
    if (to - from < 8) return from;
    for (ptrdiff_t t = from;; t += 8) {
        if (t + 8 > to) t = to - 8;   // the last eight slots, overlapping the block before: rewritten with the same values
        const float *x = src + 2 * t - pad_left;
        const __m256 lo = _mm256_loadu_ps(x), hi = _mm256_loadu_ps(x + 8);
        const __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 odd = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(out + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0))));
        _mm256_storeu_ps(out + phase_stride + t,
                         _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), _MM_SHUFFLE(3, 1, 2, 0))));
        if (t + 8 == to) return to;
    }
}

void ds_phase_split_row(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride, ptrdiff_t phase_len,
                        float *out, ptrdiff_t phase_stride) {
    if (stride == 2 && ds_use_avx2()) {
        // Interior slots: 2t − pad_left ≥ 0 and 2t + 1 − pad_left ≤ width − 1.
        ptrdiff_t from = (pad_left + 1) / 2, to = (width + pad_left) / 2;
        if (to > phase_len) to = phase_len;
        if (from > to) from = to;
        split_scalar(src, width, pad_left, 2, 0, from, out, phase_stride);
        const ptrdiff_t done = split2_avx2(src, width, pad_left, from, to, out, phase_stride);
        split_scalar(src, width, pad_left, 2, done, phase_len, out, phase_stride);
        return;
    }
    split_scalar(src, width, pad_left, stride, 0, phase_len, out, phase_stride);
}

void ds_phase_split_row_interior(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride,
                                 ptrdiff_t phase_len, float *out, ptrdiff_t phase_stride) {
    // Slots [vector_from, vector_to) of every phase, written eight at a time when the stride is 2.
    ptrdiff_t vector_from = 0, vector_to = 0;
    if (stride == 2 && ds_use_avx2()) {
        ptrdiff_t from = (pad_left + 1) / 2, to = (width + pad_left) / 2;
        if (to > phase_len) to = phase_len;
        if (from > to) from = to;
        vector_from = from;
        vector_to = split2_avx2(src, width, pad_left, from, to, out, phase_stride);
    }
    for (ptrdiff_t p = 0; p < stride; p++) {
        // Slot t of phase p holds column t·stride + p − pad_left: inside the row for t in [begin, end).
        const ptrdiff_t first_column = pad_left - p, last_column = width - 1 + pad_left - p;
        const ptrdiff_t begin = first_column > 0 ? (first_column + stride - 1) / stride : 0;
        ptrdiff_t end = last_column >= 0 ? last_column / stride + 1 : 0;
        if (end > phase_len) end = phase_len;
        for (ptrdiff_t t = begin; t < end; t++) {
            if (t == vector_from && vector_to > vector_from) t = vector_to;   // already written
            if (t >= end) break;
            out[p * phase_stride + t] = src[t * stride + p - pad_left];
        }
    }
}
