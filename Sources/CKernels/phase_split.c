#include "phase_split.h"

#include "dispatch.h"

#include <string.h>

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

// Stride 2 into a buffer whose padding is zero already: the interior slots of `rows` consecutive rows (`x` the first
// image row, `out` its padded row, phases `phase_stride` apart), the bounds worked out once for all of them. Small
// maps are where this matters: a 14-wide row has 7 interior slots, under the eight split2_avx2 takes, and per row the
// bounds, the dispatch check and a scalar tail cost more than the copy (MobileNetV2's 576-channel 14 → 7 depthwise
// layer spent 58 % of its time here, a row at a time). Slots go eight, then four at a time, the last block
// overlapping the one before (same values rewritten); the slots where only one phase's column lies in the row, one
// at a time.
__attribute__((target("avx2,fma")))
static void split2_rows_interior_avx2(const float *x, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t pad_left,
                                      ptrdiff_t phase_len, float *out, ptrdiff_t phase_stride, ptrdiff_t row_len) {
    ptrdiff_t from = (pad_left + 1) / 2, to = (width + pad_left) / 2;
    if (to > phase_len) to = phase_len;
    if (from > to) from = to;
    // Per phase, the slots whose column lies in the row but outside [from, to): at most one range on each side.
    ptrdiff_t edge_first[4], edge_last[4], edge_phase[4];
    int edges = 0;
    for (ptrdiff_t p = 0; p < 2; p++) {
        const ptrdiff_t first_column = pad_left - p, last_column = width - 1 + pad_left - p;
        const ptrdiff_t begin = first_column > 0 ? (first_column + 1) / 2 : 0;
        ptrdiff_t end = last_column >= 0 ? last_column / 2 + 1 : 0;
        if (end > phase_len) end = phase_len;
        const ptrdiff_t left_end = end < from ? end : from, right_begin = to > begin ? to : begin;
        if (begin < left_end) edge_first[edges] = begin, edge_last[edges] = left_end, edge_phase[edges++] = p;
        if (right_begin < end) edge_first[edges] = right_begin, edge_last[edges] = end, edge_phase[edges++] = p;
    }
    const ptrdiff_t interior = to - from;
    for (ptrdiff_t r = 0; r < rows; r++, x += width, out += row_len) {
        if (interior >= 8) {
            split2_avx2(x, width, pad_left, from, to, out, phase_stride);
        } else if (interior >= 4) {
            for (ptrdiff_t t = from;; t += 4) {
                if (t + 4 > to) t = to - 4;
                const float *src = x + 2 * t - pad_left;
                const __m128 lo = _mm_loadu_ps(src), hi = _mm_loadu_ps(src + 4);
                _mm_storeu_ps(out + t, _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
                _mm_storeu_ps(out + phase_stride + t, _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
                if (t + 4 == to) break;
            }
        } else {
            _Pragma("clang loop vectorize(disable) unroll(disable)")
            for (ptrdiff_t t = from; t < to; t++) {
                out[t] = x[2 * t - pad_left];
                out[phase_stride + t] = x[2 * t + 1 - pad_left];
            }
        }
        // A few slots a row at most (a left pad of 1: phase 0's slot 0 is padding, phase 1's is column 0), so plain
        // loops: left to itself clang vectorised them, and the checks that chose a path cost more than the copy.
        for (int e = 0; e < edges; e++) {
            float *phase = out + edge_phase[e] * phase_stride;
            _Pragma("clang loop vectorize(disable) unroll(disable)")
            for (ptrdiff_t u = edge_first[e]; u < edge_last[e]; u++) phase[u] = x[2 * u + edge_phase[e] - pad_left];
        }
    }
}

void ds_phase_split_row_interior(const float *src, ptrdiff_t width, ptrdiff_t pad_left, ptrdiff_t stride,
                                 ptrdiff_t phase_len, float *out, ptrdiff_t phase_stride) {
    if (stride == 2 && ds_use_avx2()) {
        split2_rows_interior_avx2(src, 1, width, pad_left, phase_len, out, phase_stride, 0);
        return;
    }
    for (ptrdiff_t p = 0; p < stride; p++) {
        // Slot t of phase p holds column t·stride + p − pad_left: inside the row for t in [begin, end).
        const ptrdiff_t first_column = pad_left - p, last_column = width - 1 + pad_left - p;
        const ptrdiff_t begin = first_column > 0 ? (first_column + stride - 1) / stride : 0;
        ptrdiff_t end = last_column >= 0 ? last_column / stride + 1 : 0;
        if (end > phase_len) end = phase_len;
        for (ptrdiff_t t = begin; t < end; t++) out[p * phase_stride + t] = src[t * stride + p - pad_left];
    }
}

// MARK: - Padded planes

ds_padded_layout ds_padded_layout_for(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                                      ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w) {
    const ptrdiff_t columns = (out_w - 1) * stride_w + (kernel_w - 1) * dilation_w + 1;
    ds_padded_layout l;
    l.rows = (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1;
    l.phase_len = (columns + stride_w - 1) / stride_w + DS_PADDED_OVERRUN;
    l.stride_w = stride_w;
    return l;
}

// Copies n floats; vectors, not memcpy: the rows are a few dozen floats, where a library call costs more than the copy.
__attribute__((target("avx2,fma")))
static void copy_floats_avx2(const float *src, ptrdiff_t n, float *dst) {
    ptrdiff_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, _mm256_loadu_ps(src + k));
    for (; k < n; k++) dst[k] = src[k];
}

// `rows` rows of n floats (src_stride and dst_stride apart), for the refill of a padded plane: the rows of a 7×7 or
// 14×14 map are a vector or two, where a call, a dispatch check and a scalar tail per row (copy_floats) cost 12 ns a
// row, 1.9 ns a float at 7×7 (Zen 1). Vectors end on the row's last float, the last one overlapping the one before.
__attribute__((target("avx2,fma")))
static void copy_rows_avx2(const float *src, ptrdiff_t src_stride, ptrdiff_t rows, ptrdiff_t n, float *dst,
                           ptrdiff_t dst_stride) {
    if (n < 4) {
        for (ptrdiff_t r = 0; r < rows; r++, src += src_stride, dst += dst_stride)
            _Pragma("clang loop vectorize(disable) unroll(disable)")
            for (ptrdiff_t k = 0; k < n; k++) dst[k] = src[k];
        return;
    }
    if (n < 8) {
        for (ptrdiff_t r = 0; r < rows; r++, src += src_stride, dst += dst_stride) {
            const __m128 head = _mm_loadu_ps(src), tail = _mm_loadu_ps(src + n - 4);
            _mm_storeu_ps(dst, head);
            _mm_storeu_ps(dst + n - 4, tail);
        }
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++, src += src_stride, dst += dst_stride) {
        ptrdiff_t k = 0;
        for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, _mm256_loadu_ps(src + k));
        if (k < n) _mm256_storeu_ps(dst + n - 8, _mm256_loadu_ps(src + n - 8));
    }
}

static void copy_floats(const float *src, ptrdiff_t n, float *dst) {
    if (ds_use_avx2()) copy_floats_avx2(src, n, dst);
    else memcpy(dst, src, (size_t)n * sizeof(float));
}

// Copies plane x (height × width) into the padded, phase-split scratch plane. The image's pixels land in the same
// slots for every plane and nothing else is written, so after the first plane of a run (`borders_zeroed`) only those
// slots are copied: the padding around them is still zero.
void ds_fill_padded_plane(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t pad_top, ptrdiff_t pad_left,
                          ds_padded_layout l, int borders_zeroed, float *buffer) {
    const ptrdiff_t sw = l.stride_w, row_len = sw * l.phase_len;
    // Slots [begin, end) of a padded row hold the image row; the rest is left padding, right padding and overrun.
    const ptrdiff_t begin = pad_left < l.phase_len ? pad_left : l.phase_len;
    const ptrdiff_t end = pad_left + width < l.phase_len ? pad_left + width : l.phase_len;
    if (borders_zeroed) {
        const ptrdiff_t first = pad_top > 0 ? pad_top : 0, last = pad_top + height < l.rows ? pad_top + height : l.rows;
        if (sw == 2 && last > first && ds_use_avx2()) {
            split2_rows_interior_avx2(x + (first - pad_top) * width, last - first, width, pad_left, l.phase_len,
                                      buffer + first * row_len, l.phase_len, row_len);
            return;
        }
        if (sw == 1 && last > first && end > begin && begin - pad_left == 0 && ds_use_avx2()) {
            // The whole row lies in the padded row (no column cut off on the left): rows of `end − begin` floats.
            copy_rows_avx2(x + (first - pad_top) * width, width, last - first, end - begin,
                           buffer + first * row_len + begin, row_len);
            return;
        }
        for (ptrdiff_t r = first; r < last; r++) {
            const float *src = x + (r - pad_top) * width;
            if (sw == 1) {
                if (end > begin) copy_floats(src, end - begin, buffer + r * row_len + begin);
            } else {
                ds_phase_split_row_interior(src, width, pad_left, sw, l.phase_len, buffer + r * row_len, l.phase_len);
            }
        }
        return;
    }
    for (ptrdiff_t r = 0; r < l.rows; r++) {
        float *row = buffer + r * row_len;
        const ptrdiff_t iy = r - pad_top;
        if (iy < 0 || iy >= height) {
            memset(row, 0, (size_t)row_len * sizeof(float));
            continue;
        }
        const float *src = x + iy * width;
        if (sw == 1) {
            memset(row, 0, (size_t)l.phase_len * sizeof(float));
            if (end > begin) copy_floats(src, end - begin, row + begin);
            continue;
        }
        ds_phase_split_row(src, width, pad_left, sw, l.phase_len, row, l.phase_len);
    }
}

