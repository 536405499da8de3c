// Depthwise 2-d convolution (one filter per channel: MobileNet, EfficientNet, the PP-OCR
// backbones). It does ~9 multiply-adds per output, so it is bound by memory, not arithmetic: the
// goal is to read each input plane once from memory and keep everything else in L1/L2.
//
// Each plane is first copied into a zero-padded scratch plane whose columns are split by phase
// modulo the horizontal stride (column u goes to phase u % stride, slot u / stride). Then for any
// stride, dilation and padding, a kernel tap (i, j) reads a *contiguous* run of the scratch plane
// for consecutive output columns, so the inner loop is plain 8-wide loads and FMAs with no bounds
// checks; the borders cost nothing extra. Bias and the activation run on the row before it is stored.
#include "CKernels.h"
#include "dispatch.h"
#include "partial_avx2.h"
#include "phase_split.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// Extra zeroed slots after each phase row, so the last 8-wide block of a row may read past its end.
#define DW_OVERRUN 8

typedef struct {
    ptrdiff_t rows;        // padded rows the outputs read
    ptrdiff_t phase_len;   // slots per phase row, overrun included
    ptrdiff_t stride_w;
} dw_layout;

static dw_layout layout_for(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                            ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w) {
    const ptrdiff_t columns = (out_w - 1) * stride_w + (kernel_w - 1) * dilation_w + 1;
    dw_layout l;
    l.rows = (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1;
    l.phase_len = (columns + stride_w - 1) / stride_w + DW_OVERRUN;
    l.stride_w = stride_w;
    return l;
}

size_t ds_depthwise_scratch_size(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t stride_h, ptrdiff_t stride_w,
                                 ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w) {
    const dw_layout l = layout_for(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, out_h, out_w);
    return (size_t)(l.rows * l.stride_w * l.phase_len) * (size_t)ds_parallel_threads();
}

// Copies plane x (height × width) into the padded, phase-split scratch plane.
static void fill_padded(const float *x, ptrdiff_t height, ptrdiff_t width, ptrdiff_t pad_top, ptrdiff_t pad_left,
                        dw_layout l, float *buffer) {
    const ptrdiff_t sw = l.stride_w, row_len = sw * l.phase_len;
    for (ptrdiff_t r = 0; r < l.rows; r++) {
        float *row = buffer + r * row_len;
        const ptrdiff_t iy = r - pad_top;
        if (iy < 0 || iy >= height) {
            memset(row, 0, (size_t)row_len * sizeof(float));
            continue;
        }
        const float *src = x + iy * width;
        if (sw == 1) {
            // [0, begin): left padding; [begin, end): the image row; [end, phase_len): right padding and overrun.
            const ptrdiff_t begin = pad_left < l.phase_len ? pad_left : l.phase_len;
            const ptrdiff_t end = pad_left + width < l.phase_len ? pad_left + width : l.phase_len;
            memset(row, 0, (size_t)begin * sizeof(float));
            if (end > begin) memcpy(row + begin, src, (size_t)(end - begin) * sizeof(float));
            const ptrdiff_t tail = end > begin ? end : begin;
            memset(row + tail, 0, (size_t)(l.phase_len - tail) * sizeof(float));
            continue;
        }
        ds_phase_split_row(src, width, pad_left, sw, l.phase_len, row, l.phase_len);
    }
}

// Where tap t = i·kw + j starts in the scratch plane for output (0, 0).
static void tap_offsets(ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                        dw_layout l, ptrdiff_t *offsets) {
    const ptrdiff_t row_len = l.stride_w * l.phase_len;
    for (ptrdiff_t i = 0; i < kernel_h; i++)
        for (ptrdiff_t j = 0; j < kernel_w; j++) {
            const ptrdiff_t u = j * dilation_w;
            offsets[i * kernel_w + j] = i * dilation_h * row_len + (u % l.stride_w) * l.phase_len + u / l.stride_w;
        }
}

static void plane_portable(const float *buffer, const float *w, ptrdiff_t taps, const ptrdiff_t *offsets,
                           float bias, ptrdiff_t row_step, ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
        const float *base = buffer + oy * row_step;
        float *out = y + oy * out_w;
        for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] = bias;
        for (ptrdiff_t t = 0; t < taps; t++) {
            const float weight = w[t];
            const float *src = base + offsets[t];
            for (ptrdiff_t ox = 0; ox < out_w; ox++) out[ox] += weight * src[ox];
        }
    }
}

// Four 8-wide blocks of an output row at a time: four independent FMA chains hide the FMA latency.
__attribute__((target("avx2,fma")))
static void plane_avx2(const float *buffer, const float *w, ptrdiff_t taps, const ptrdiff_t *offsets,
                       float bias, ptrdiff_t row_step, ptrdiff_t out_h, ptrdiff_t out_w, float *y) {
    const __m256 b = _mm256_set1_ps(bias);
    const ptrdiff_t full = out_w & ~(ptrdiff_t)7, rest = out_w - full;
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
        const float *base = buffer + oy * row_step;
        float *out = y + oy * out_w;
        ptrdiff_t ox = 0;
        for (; ox + 32 <= out_w; ox += 32) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b;
            for (ptrdiff_t t = 0; t < taps; t++) {
                const __m256 weight = _mm256_broadcast_ss(w + t);
                const float *src = base + offsets[t] + ox;
                a0 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src), a0);
                a1 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 8), a1);
                a2 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 16), a2);
                a3 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 24), a3);
            }
            _mm256_storeu_ps(out + ox, a0);
            _mm256_storeu_ps(out + ox + 8, a1);
            _mm256_storeu_ps(out + ox + 16, a2);
            _mm256_storeu_ps(out + ox + 24, a3);
        }
        for (; ox + 16 <= out_w; ox += 16) {
            __m256 a0 = b, a1 = b;
            for (ptrdiff_t t = 0; t < taps; t++) {
                const __m256 weight = _mm256_broadcast_ss(w + t);
                const float *src = base + offsets[t] + ox;
                a0 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src), a0);
                a1 = _mm256_fmadd_ps(weight, _mm256_loadu_ps(src + 8), a1);
            }
            _mm256_storeu_ps(out + ox, a0);
            _mm256_storeu_ps(out + ox + 8, a1);
        }
        for (; ox < full; ox += 8) {
            __m256 a0 = b;
            for (ptrdiff_t t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(base + offsets[t] + ox), a0);
            _mm256_storeu_ps(out + ox, a0);
        }
        if (rest) {
            // The scratch row's overrun slots make the 8-wide loads safe; only the store is cut short.
            __m256 a0 = b;
            for (ptrdiff_t t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + t), _mm256_loadu_ps(base + offsets[t] + ox), a0);
            ds_store_first_avx2(out + ox, a0, rest);
        }
    }
}

typedef struct {
    const float *x;
    ptrdiff_t channels, height, width;
    const float *w;
    ptrdiff_t taps;
    const ptrdiff_t *offsets;
    const float *bias;
    ptrdiff_t pad_top, pad_left;
    dw_layout layout;
    ptrdiff_t row_step, out_h, out_w;
    ds_activation act;
    float *y, *scratch;
    ptrdiff_t scratch_floats, planes, per_part;
    int avx2;
} depthwise_job;

// Planes [part · per_part, …) of a depthwise convolution, in the padded plane of the thread running it.
static void depthwise_part(void *context, ptrdiff_t part) {
    const depthwise_job *j = context;
    float *buffer = j->scratch + ds_parallel_slot() * j->scratch_floats;
    const ptrdiff_t first = part * j->per_part;
    const ptrdiff_t last = first + j->per_part < j->planes ? first + j->per_part : j->planes;
    for (ptrdiff_t plane = first; plane < last; plane++) {
        const ptrdiff_t c = plane % j->channels;
        fill_padded(j->x + plane * j->height * j->width, j->height, j->width, j->pad_top, j->pad_left, j->layout, buffer);
        float *out = j->y + plane * j->out_h * j->out_w;
        const float b = j->bias ? j->bias[c] : 0.0f;
        if (j->avx2)
            plane_avx2(buffer, j->w + c * j->taps, j->taps, j->offsets, b, j->row_step, j->out_h, j->out_w, out);
        else
            plane_portable(buffer, j->w + c * j->taps, j->taps, j->offsets, b, j->row_step, j->out_h, j->out_w, out);
        if (j->act.kind != DS_ACTIVATION_NONE) ds_activation_apply(out, j->out_h * j->out_w, j->act);
    }
}

int ds_depthwise_conv2d(const float *x, ptrdiff_t planes, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                         const float *w, ptrdiff_t kernel_h, ptrdiff_t kernel_w, const float *bias,
                         ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                         ptrdiff_t dilation_h, ptrdiff_t dilation_w, ptrdiff_t out_h, ptrdiff_t out_w,
                         float *scratch, ds_activation act, float *y) {
    if (planes <= 0 || out_h <= 0 || out_w <= 0) return 0;
    const dw_layout l = layout_for(kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, out_h, out_w);
    const ptrdiff_t taps = kernel_h * kernel_w;
    ptrdiff_t offsets_storage[64];
    ptrdiff_t *offsets = taps <= 64 ? offsets_storage : malloc((size_t)taps * sizeof(ptrdiff_t));
    if (!offsets) return -1;
    tap_offsets(kernel_h, kernel_w, dilation_h, dilation_w, l, offsets);
    const ptrdiff_t row_step = stride_h * l.stride_w * l.phase_len;
    // Planes are independent: with intra-op threads, they go in runs (a few per thread, so a thread whose core is
    // busy leaves its share to the others), each thread with its own padded plane.
    const ptrdiff_t threads = ds_parallel_threads();
    depthwise_job job = {
        .x = x, .channels = channels, .height = height, .width = width, .w = w, .taps = taps, .offsets = offsets,
        .bias = bias, .pad_top = pad_top, .pad_left = pad_left, .layout = l, .row_step = row_step,
        .out_h = out_h, .out_w = out_w, .act = act, .y = y, .scratch = scratch,
        .scratch_floats = (ptrdiff_t)(l.rows * l.stride_w * l.phase_len), .planes = planes,
        .per_part = threads > 1 ? (planes + DS_PARTS_PER_THREAD * threads - 1) / (DS_PARTS_PER_THREAD * threads) : planes, .avx2 = ds_use_avx2(),
    };
    ds_parallel_for((planes + job.per_part - 1) / job.per_part, depthwise_part, &job);
    if (offsets != offsets_storage) free(offsets);
    return 0;
}
