// Direct 2-d convolution for inputs of a few channels (an RGB stem: 3 → 16…64 channels, 3×3 or 7×7, stride 2).
//
// ds_conv2d_direct's tile (6 pixels × 16 output channels) is a poor fit there: with 27 taps its loop is short, and the
// store's transpose into NCHW costs as much as the multiply-adds. Here a tile is 4 output channels × 16 consecutive
// pixels of one output row instead: each tap loads two 8-wide runs of a padded, phase-split copy of the image
// (ds_fill_padded_plane, as the depthwise kernel uses, so any stride reads consecutive slots) and broadcasts four
// weights, 8 independent FMA chains (a 24-pixel tile's 12 chains spilled), and the tile stores straight into NCHW rows
// with no transpose. The weights are
// read from ds_conv2d_direct_pack's panels (16 channels, k-major), four channels at a time.
#include "direct_conv_rows.h"

#include "dispatch.h"
#include "partial_avx2.h"
#include "phase_split.h"
#include "piecewise_avx2.h"

#include <immintrin.h>

#define RC_OC 4          // output channels per tile
#define RC_NR 16         // channels per packed panel (ds_conv2d_direct_pack)
#define RC_MAX_COLUMNS 64   // tap columns the kernel takes (kernel_w); wider filters stay on the general kernel

int ds_conv2d_rows_suits(const ds_conv2d_shape *s) {
    return ds_use_avx2() && s->channels <= 4 && s->kernel_w <= RC_MAX_COLUMNS && s->out_w >= 8;
}

static ds_padded_layout layout(const ds_conv2d_shape *s) {
    return ds_padded_layout_for(s->kernel_h, s->kernel_w, s->stride_h, s->stride_w, s->dilation_h, s->dilation_w,
                                s->out_h, s->out_w);
}

size_t ds_conv2d_rows_scratch_size(const ds_conv2d_shape *s) {
    const ds_padded_layout l = layout(s);
    return (size_t)(s->channels * l.rows * l.stride_w * l.phase_len);
}

typedef struct {
    const ds_conv2d_shape *s;
    const float *planes;            // the image's padded planes
    ptrdiff_t plane_floats, row_len;
    ptrdiff_t columns[RC_MAX_COLUMNS];   // per tap column j: its offset within a padded row
    const float *packed;
    ptrdiff_t k, out_channels;
    const float *bias;
    int accumulate;
    ds_activation act;
    float *y;                       // the image's output
} rc_image;

// Output channels [oc, oc + 4) × pixels [ox, ox + 8·V) of output row oy; only the first `keep` pixels of the last
// vector are stored.
__attribute__((target("avx2,fma"), always_inline))
static inline void rc_tile(const rc_image *p, ptrdiff_t oy, ptrdiff_t ox, ptrdiff_t oc, const int V, ptrdiff_t keep,
                           const int KW) {
    const ds_conv2d_shape *s = p->s;
    __m256 acc[RC_OC][2];
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < RC_OC; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) acc[o][v] = _mm256_setzero_ps();
    const float *w = p->packed + (oc / RC_NR) * p->k * RC_NR + oc % RC_NR;   // tap t's four weights at w + t·16
    for (ptrdiff_t c = 0; c < s->channels; c++) {
        for (ptrdiff_t i = 0; i < s->kernel_h; i++) {
            const float *row = p->planes + c * p->plane_floats + (oy * s->stride_h + i * s->dilation_h) * p->row_len + ox;
            const ptrdiff_t kernel_w = KW ? KW : s->kernel_w;   // KW: known when compiled, the loop unrolled
            for (ptrdiff_t j = 0; j < kernel_w; j++, w += RC_NR) {
                __m256 x[2];
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++) x[v] = _mm256_loadu_ps(row + p->columns[j] + 8 * v);
                _Pragma("clang loop unroll(full)")
                for (int o = 0; o < RC_OC; o++) {
                    const __m256 weight = _mm256_broadcast_ss(w + o);
                    _Pragma("clang loop unroll(full)")
                    for (int v = 0; v < V; v++) acc[o][v] = _mm256_fmadd_ps(weight, x[v], acc[o][v]);
                }
            }
        }
    }
    const ds_piecewise_constants k = ds_piecewise_constants_for(p->act);
    const int piecewise = ds_is_piecewise(p->act.kind);
    // Constant bounds (a missing channel skipped inside): a loop bound known only at run time would keep the
    // accumulators in memory, stored after every FMA.
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < RC_OC; o++) {
        if (oc + o >= p->out_channels) continue;
        float *out = p->y + (oc + o) * s->out_h * s->out_w + oy * s->out_w + ox;
        const __m256 bias = _mm256_set1_ps(p->bias ? p->bias[oc + o] : 0.0f);
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) {
            const ptrdiff_t count = v == V - 1 ? keep : 8;
            __m256 value = _mm256_add_ps(acc[o][v], bias);
            if (p->accumulate) {
                float old[8] = {0};
                for (ptrdiff_t q = 0; q < count; q++) old[q] = out[8 * v + q];
                value = _mm256_add_ps(value, _mm256_loadu_ps(old));
            }
            if (piecewise) value = ds_piecewise8(value, p->act.kind, &k);
            ds_store_first_avx2(out + 8 * v, value, count);
        }
    }
}

// Every tile of output rows [first, last): four channels at a time, the row's inputs staying in L1 across them.
__attribute__((target("avx2,fma"), always_inline))
static inline void rc_rows_of(const rc_image *p, ptrdiff_t first, ptrdiff_t last, const int KW) {
    const ptrdiff_t out_w = p->s->out_w;
    for (ptrdiff_t oy = first; oy < last; oy++) {
        for (ptrdiff_t oc = 0; oc < p->out_channels; oc += RC_OC) {
            ptrdiff_t ox = 0;
            for (; ox + 16 <= out_w; ox += 16) rc_tile(p, oy, ox, oc, 2, 8, KW);
            // The rest: more than 8 pixels as one 16-wide tile, its second vector partly stored (a 1-vector tile has
            // only four FMA chains, half what hides the FMA latency: 28-pixel rows ran 1.4x slower as 16 + 8 + 4).
            // The padded rows' overrun slots make the last vector's 8-wide loads safe.
            if (out_w - ox > 8) rc_tile(p, oy, ox, oc, 2, out_w - ox - 8, KW);
            else if (ox < out_w) rc_tile(p, oy, ox, oc, 1, out_w - ox, KW);
        }
    }
}

__attribute__((target("avx2,fma")))
static void rc_rows(const rc_image *p, ptrdiff_t first, ptrdiff_t last) {
    // The common stems, their tap loop unrolled: 3×3 (MobileNet, EfficientNet…) and 7×7 (ResNet, DenseNet: 0.53× the
    // time of the loop bounded at run time, 3 → 64 at 224×224, stride 2).
    if (p->s->kernel_w == 3) rc_rows_of(p, first, last, 3);
    else if (p->s->kernel_w == 7) rc_rows_of(p, first, last, 7);
    else rc_rows_of(p, first, last, 0);
}

// MARK: AVX-512

// The AVX-512 tile: 8 output channels × 16·V pixels (V zmm per channel, 8V FMA chains), the last vector's loads and
// stores masked to its `keep` pixels (so no overrun slots are needed past the AVX2 tile's). Each output value is the
// AVX2 tile's chain of FMAs in the same order, stored with the same bias, residual and activation steps: same bits.
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void rc_tile512(const rc_image *p, ptrdiff_t oy, ptrdiff_t ox, ptrdiff_t oc, const int V, ptrdiff_t keep,
                              const int KW) {
    const ds_conv2d_shape *s = p->s;
    enum { OC = 8 };
    const __mmask16 last = keep >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << keep) - 1);
    __m512 acc[OC][2];
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < OC; o++)
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) acc[o][v] = _mm512_setzero_ps();
    const float *w = p->packed + (oc / RC_NR) * p->k * RC_NR + oc % RC_NR;   // tap t's eight weights at w + t·16
    for (ptrdiff_t c = 0; c < s->channels; c++) {
        for (ptrdiff_t i = 0; i < s->kernel_h; i++) {
            const float *row = p->planes + c * p->plane_floats + (oy * s->stride_h + i * s->dilation_h) * p->row_len + ox;
            const ptrdiff_t kernel_w = KW ? KW : s->kernel_w;
            for (ptrdiff_t j = 0; j < kernel_w; j++, w += RC_NR) {
                __m512 x[2];
                _Pragma("clang loop unroll(full)")
                for (int v = 0; v < V; v++)
                    x[v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : (__mmask16)0xFFFF, row + p->columns[j] + 16 * v);
                _Pragma("clang loop unroll(full)")
                for (int o = 0; o < OC; o++) {
                    const __m512 weight = _mm512_set1_ps(w[o]);
                    _Pragma("clang loop unroll(full)")
                    for (int v = 0; v < V; v++) acc[o][v] = _mm512_fmadd_ps(weight, x[v], acc[o][v]);
                }
            }
        }
    }
    const int piecewise = ds_is_piecewise(p->act.kind);
    _Pragma("clang loop unroll(full)")
    for (int o = 0; o < OC; o++) {
        if (oc + o >= p->out_channels) continue;
        float *out = p->y + (oc + o) * s->out_h * s->out_w + oy * s->out_w + ox;
        const __m512 bias = _mm512_set1_ps(p->bias ? p->bias[oc + o] : 0.0f);
        _Pragma("clang loop unroll(full)")
        for (int v = 0; v < V; v++) {
            const __mmask16 m = v == V - 1 ? last : (__mmask16)0xFFFF;
            __m512 value = _mm512_add_ps(acc[o][v], bias);
            if (p->accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(m, out + 16 * v));
            if (piecewise) {
                // ds_piecewise8 on each half: the AVX2 tile's activation, bit for bit.
                const ds_piecewise_constants k = ds_piecewise_constants_for(p->act);
                const __m256 lo = ds_piecewise8(_mm512_castps512_ps256(value), p->act.kind, &k);
                const __m256 hi = ds_piecewise8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(value), 1)),
                                                p->act.kind, &k);
                value = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                                            _mm256_castps_pd(hi), 1));
            }
            _mm512_mask_storeu_ps(out + 16 * v, m, value);
        }
    }
}

__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void rc_rows512_of(const rc_image *p, ptrdiff_t first, ptrdiff_t last, const int KW) {
    const ptrdiff_t out_w = p->s->out_w;
    for (ptrdiff_t oy = first; oy < last; oy++) {
        for (ptrdiff_t oc = 0; oc < p->out_channels; oc += 8) {
            ptrdiff_t ox = 0;
            for (; ox + 32 <= out_w; ox += 32) rc_tile512(p, oy, ox, oc, 2, 16, KW);
            if (out_w - ox > 16) rc_tile512(p, oy, ox, oc, 2, out_w - ox - 16, KW);
            else if (ox < out_w) rc_tile512(p, oy, ox, oc, 1, out_w - ox, KW);
        }
    }
}

__attribute__((target("avx512f,avx2,fma")))
static void rc_rows512(const rc_image *p, ptrdiff_t first, ptrdiff_t last) {
    if (p->s->kernel_w == 3) rc_rows512_of(p, first, last, 3);
    else if (p->s->kernel_w == 7) rc_rows512_of(p, first, last, 7);
    else rc_rows512_of(p, first, last, 0);
}

typedef struct {
    const rc_image *image;
    ptrdiff_t rows_per_part;
} rc_job;

static void rc_part(void *context, ptrdiff_t part) {
    const rc_job *job = context;
    const ptrdiff_t first = part * job->rows_per_part, out_h = job->image->s->out_h;
    const ptrdiff_t last = first + job->rows_per_part < out_h ? first + job->rows_per_part : out_h;
    if (ds_use_avx512()) rc_rows512(job->image, first, last);
    else rc_rows(job->image, first, last);
}

void ds_conv2d_rows(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                    const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate, ds_activation act,
                    float *y, ptrdiff_t y_image_stride, float *scratch) {
    const ds_padded_layout l = layout(s);
    rc_image image = {
        .s = s, .planes = scratch, .plane_floats = l.rows * l.stride_w * l.phase_len, .row_len = l.stride_w * l.phase_len,
        .packed = packed, .k = s->channels * s->kernel_h * s->kernel_w, .out_channels = out_channels, .bias = bias,
        .accumulate = accumulate, .act = act,
    };
    for (ptrdiff_t j = 0; j < s->kernel_w; j++) {
        const ptrdiff_t u = j * s->dilation_w;
        image.columns[j] = (u % l.stride_w) * l.phase_len + u / l.stride_w;
    }
    // Rows are independent: with intra-op threads they go in bands, a few per thread.
    const ptrdiff_t threads = ds_parallel_threads(), parts = threads > 1 ? threads * DS_PARTS_PER_THREAD : 1;
    rc_job job = {.image = &image, .rows_per_part = (s->out_h + parts - 1) / parts};
    for (ptrdiff_t n = 0; n < batch; n++) {
        for (ptrdiff_t c = 0; c < s->channels; c++)
            ds_fill_padded_plane(x + n * x_image_stride + c * s->height * s->width, s->height, s->width, s->pad_top,
                                 s->pad_left, l, 0, scratch + c * image.plane_floats);
        image.y = y + n * y_image_stride;
        ds_parallel_for((s->out_h + job.rows_per_part - 1) / job.rows_per_part, rc_part, &job);
        if (act.kind != DS_ACTIVATION_NONE && !ds_is_piecewise(act.kind))
            ds_activation_apply(image.y, out_channels * s->out_h * s->out_w, act);
    }
}
