// Convolution's unfold (im2col) and fold (col2im) for one image in NCHW layout.
#include "CKernels.h"
#include "dispatch.h"
#include "phase_split.h"

#include <immintrin.h>
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

// Unfold through a phase-split copy: the input rows this band of output rows reads are padded once and split into
// `stride_w` phases (phase φ holds padded columns φ, φ + s, φ + 2s, …), so the columns tap kj reads for consecutive
// outputs are consecutive in phase (kj·dilation) mod s, and every column row is a plain vector copy. (Only the rows of
// the band: a 160×160 map unfolded one output row at a time would otherwise copy the whole image once per row.)
static void im2col_phased(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                          ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                          ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                          ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col, ptrdiff_t ld_col) {
    const ptrdiff_t s = stride_w;
    const ptrdiff_t phase_len = out_w + (kernel_w - 1) * dilation_w / s;   // entries any phase is read at
    const ptrdiff_t row_len = s * phase_len;
    ptrdiff_t first = out_row_begin * stride_h - pad_top;
    ptrdiff_t last = (out_row_begin + out_rows - 1) * stride_h - pad_top + (kernel_h - 1) * dilation_h;   // inclusive
    if (first < 0) first = 0;
    if (last > height - 1) last = height - 1;
    const ptrdiff_t rows = last >= first ? last - first + 1 : 0;
    float *phased = padded_buffer((size_t)(channels * (rows > 0 ? rows : 1) * row_len));
    for (ptrdiff_t c = 0; c < channels; c++) {
        for (ptrdiff_t r = 0; r < rows; r++) {
            float *row = phased + (c * rows + r) * row_len;
            const float *src = x + (c * height + first + r) * width;
            if (s == 1) {
                // Padded column t is input column t − pad_left.
                const ptrdiff_t lead = pad_left < phase_len ? pad_left : phase_len;
                for (ptrdiff_t i = 0; i < lead; i++) row[i] = 0;
                ptrdiff_t copied = phase_len - lead < width ? phase_len - lead : width;
                if (copied < 0) copied = 0;
                memcpy(row + lead, src, (size_t)copied * sizeof(float));
                for (ptrdiff_t i = lead + copied; i < phase_len; i++) row[i] = 0;
                continue;
            }
            ds_phase_split_row(src, width, pad_left, s, phase_len, row, phase_len);
        }
    }
    for (ptrdiff_t c = 0; c < channels; c++) {
        for (ptrdiff_t ki = 0; ki < kernel_h; ki++) {
            for (ptrdiff_t kj = 0; kj < kernel_w; kj++) {
                const ptrdiff_t reach = kj * dilation_w;
                const ptrdiff_t offset = (reach % s) * phase_len + reach / s;
                for (ptrdiff_t row = 0; row < out_rows; row++) {
                    const ptrdiff_t iy = (out_row_begin + row) * stride_h - pad_top + ki * dilation_h;
                    float *dst = col + row * out_w;
                    if (iy < 0 || iy >= height) {
                        for (ptrdiff_t ox = 0; ox < out_w; ox++) dst[ox] = 0;
                    } else {
                        copy_row(dst, phased + (c * rows + iy - first) * row_len + offset, out_w);
                    }
                }
                col += ld_col;
            }
        }
    }
}


// With intra-op threads, runs of channels unfold on different threads (each with its own phase-split buffer, a
// per-thread scratch): their column rows don't overlap.
typedef struct {
    const float *x;
    ptrdiff_t channels, height, width, kernel_h, kernel_w, pad_top, pad_left, stride_h, stride_w, dilation_h, dilation_w;
    ptrdiff_t out_row_begin, out_rows, out_w, ld_col, per_part;
    float *col;
} im2col_job;

static void im2col_part(void *context, ptrdiff_t part) {
    const im2col_job *j = context;
    const ptrdiff_t first = part * j->per_part;
    const ptrdiff_t count = first + j->per_part < j->channels ? j->per_part : j->channels - first;
    im2col_phased(j->x + first * j->height * j->width, count, j->height, j->width, j->kernel_h, j->kernel_w, j->pad_top,
                  j->pad_left, j->stride_h, j->stride_w, j->dilation_h, j->dilation_w, j->out_row_begin, j->out_rows,
                  j->out_w, j->col + first * j->kernel_h * j->kernel_w * j->ld_col, j->ld_col);
}

// Below this many column entries an unfold stays on one thread.
#define PARALLEL_MIN_ENTRIES (1 << 16)

void ds_im2col(const float *x, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
               ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
               ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
               ptrdiff_t out_row_begin, ptrdiff_t out_rows, ptrdiff_t out_w, float *col, ptrdiff_t ld_col) {
    const ptrdiff_t threads = ds_parallel_threads();
    const double entries = (double)channels * (double)kernel_h * (double)kernel_w * (double)out_rows * (double)out_w;
    if (threads < 2 || channels < 2 || entries < PARALLEL_MIN_ENTRIES) {
        im2col_phased(x, channels, height, width, kernel_h, kernel_w, pad_top, pad_left, stride_h, stride_w, dilation_h,
                      dilation_w, out_row_begin, out_rows, out_w, col, ld_col);
        return;
    }
    const ptrdiff_t parts = channels < DS_PARTS_PER_THREAD * threads ? channels : DS_PARTS_PER_THREAD * threads;
    const im2col_job job = {x, channels, height, width, kernel_h, kernel_w, pad_top, pad_left, stride_h, stride_w,
                            dilation_h, dilation_w, out_row_begin, out_rows, out_w, ld_col, (channels + parts - 1) / parts, col};
    ds_parallel_for((channels + job.per_part - 1) / job.per_part, im2col_part, (void *)&job);
}

// dst[i · stride] += src[i] for i < n. Stride 2 (every stride-2 ConvTranspose: GAN and decoder upsampling) with AVX2:
// eight sources spread over sixteen destinations, the odd lanes blended back unchanged (adding 0 would turn −0 into +0).
__attribute__((target("avx2,fma")))
static void strided_add_avx2(float *dst, const float *src, ptrdiff_t n, ptrdiff_t stride) {
    ptrdiff_t i = 0;
    if (stride == 1) {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_add_ps(_mm256_loadu_ps(dst + i), _mm256_loadu_ps(src + i)));
    } else if (stride == 2) {
        const __m256 zero = _mm256_setzero_ps();
        for (; i + 8 < n; i += 8) {   // "<": the second destination vector reads one past the last one written
            const __m256 v = _mm256_loadu_ps(src + i);
            const __m256 lo = _mm256_unpacklo_ps(v, zero), hi = _mm256_unpackhi_ps(v, zero);
            float *d = dst + 2 * i;
            const __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
            _mm256_storeu_ps(d, _mm256_blend_ps(_mm256_add_ps(d0, _mm256_permute2f128_ps(lo, hi, 0x20)), d0, 0xAA));
            _mm256_storeu_ps(d + 8, _mm256_blend_ps(_mm256_add_ps(d1, _mm256_permute2f128_ps(lo, hi, 0x31)), d1, 0xAA));
        }
    }
    for (; i < n; i++) dst[i * stride] += src[i];
}

static void strided_add_portable(float *dst, const float *src, ptrdiff_t n, ptrdiff_t stride) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i * stride] += src[i];
}

void ds_col2im_add(const float *col, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                   ptrdiff_t kernel_h, ptrdiff_t kernel_w, ptrdiff_t pad_top, ptrdiff_t pad_left,
                   ptrdiff_t stride_h, ptrdiff_t stride_w, ptrdiff_t dilation_h, ptrdiff_t dilation_w,
                   ptrdiff_t in_h, ptrdiff_t in_w, float *x, ptrdiff_t ld_col) {
    // `height`/`width` describe x (the fold's output); `in_h`/`in_w` the column grid.
    void (*const add)(float *, const float *, ptrdiff_t, ptrdiff_t) = ds_use_avx2() ? strided_add_avx2 : strided_add_portable;
    for (ptrdiff_t c = 0; c < channels; c++) {
        float *plane = x + c * height * width;
        for (ptrdiff_t ki = 0; ki < kernel_h; ki++) {
            for (ptrdiff_t kj = 0; kj < kernel_w; kj++) {
                // Columns ox land at ix = ox·stride − pad + kj·dilation: those in [0, width) are [first, end).
                const ptrdiff_t before = pad_left - kj * dilation_w, last = width - 1 + pad_left - kj * dilation_w;
                const ptrdiff_t first = before > 0 ? (before + stride_w - 1) / stride_w : 0;
                ptrdiff_t end = last < 0 ? 0 : last / stride_w + 1;
                if (end > in_w) end = in_w;
                for (ptrdiff_t oy = 0; oy < in_h && first < end; oy++) {
                    const ptrdiff_t iy = oy * stride_h - pad_top + ki * dilation_h;
                    if (iy < 0 || iy >= height) continue;
                    add(plane + iy * width + first * stride_w - before, col + oy * in_w + first, end - first, stride_w);
                }
                col += ld_col;
            }
        }
    }
}
