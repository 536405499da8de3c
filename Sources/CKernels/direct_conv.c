// Direct 2-d convolution in NCHW: no im2col matrix, no packing of the image.
//
// Seen as a GEMM, Y^T[pixel][oc] = Σ_k X[pixel][k] · W^T[k][oc] where k runs over (input channel, tap row, tap
// column). Row `pixel` of X is never built: it is the image read at base(pixel) + offset(k), base(pixel) being the
// pixel's window corner in a zero-padded copy of the image (or the image itself when nothing is padded) and offset(k)
// a table computed once per call. So a tile of 6 pixels × 16 output channels is the GEMM micro-kernel's loop with its
// 6 broadcasts read straight from the image, at any stride and dilation, and the 16-wide weight vectors from filters
// packed once at load (ds_conv2d_direct_pack). The tile's pixels may lie in different rows or even different images,
// so small feature maps fill whole tiles and nothing is wasted at the row ends.
//
// The tile holds 16 channels × 6 pixels in registers; the store transposes it to 16 runs of ≤ 6 pixels in NCHW and
// adds the bias, a residual (accumulate), and a piecewise activation on the way (a smooth one runs over the output
// afterwards).
#include "CKernels.h"
#include "direct_conv_rows.h"
#include "dispatch.h"
#include "piecewise_avx2.h"

#include <immintrin.h>
#include <string.h>

#define DC_MR 6    // output pixels per tile
#define DC_NR 16   // output channels per packed panel
// Padded images per pass: up to this many floats of copies (so a pass of small maps stays in L2).
#define DC_PASS_FLOATS (64 * 1024)
// Tiles per block: a block's pixels run against every panel in turn while their inputs are still in cache.
#define DC_BLOCK_TILES 16

size_t ds_conv2d_direct_packed_size(ptrdiff_t out_channels, ptrdiff_t k) {
    return (size_t)((out_channels + DC_NR - 1) / DC_NR) * (size_t)k * DC_NR;
}

void ds_conv2d_direct_pack(const float *w, ptrdiff_t out_channels, ptrdiff_t k, float *packed) {
    const ptrdiff_t panels = (out_channels + DC_NR - 1) / DC_NR;
    for (ptrdiff_t p = 0; p < panels; p++) {
        for (ptrdiff_t kk = 0; kk < k; kk++) {
            float *dst = packed + (p * k + kk) * DC_NR;
            for (ptrdiff_t l = 0; l < DC_NR; l++) {
                const ptrdiff_t oc = p * DC_NR + l;
                dst[l] = oc < out_channels ? w[oc * k + kk] : 0.0f;
            }
        }
    }
}

// Where a call reads its images: the caller's tensor in place, or zero-padded copies in scratch.
typedef struct {
    ptrdiff_t rows, columns;   // extent of a (padded) plane the windows read
    int in_place;              // no padding needed: windows read the caller's image directly
    ptrdiff_t images_per_pass;
} dc_layout;

static dc_layout layout_for(const ds_conv2d_shape *s, ptrdiff_t batch) {
    dc_layout l;
    l.rows = (s->out_h - 1) * s->stride_h + (s->kernel_h - 1) * s->dilation_h + 1;
    l.columns = (s->out_w - 1) * s->stride_w + (s->kernel_w - 1) * s->dilation_w + 1;
    l.in_place = s->pad_top == 0 && s->pad_left == 0 && l.rows <= s->height && l.columns <= s->width;
    if (l.in_place) {
        l.images_per_pass = batch;
    } else {
        const ptrdiff_t per_image = s->channels * l.rows * l.columns;
        const ptrdiff_t fit = per_image > 0 ? DC_PASS_FLOATS / per_image : batch;
        l.images_per_pass = fit < 1 ? 1 : (fit > batch ? batch : fit);
    }
    return l;
}

static ptrdiff_t taps(const ds_conv2d_shape *s) { return s->channels * s->kernel_h * s->kernel_w; }

size_t ds_conv2d_direct_scratch_size(const ds_conv2d_shape *s, ptrdiff_t batch) {
    if (ds_conv2d_rows_suits(s)) return ds_conv2d_rows_scratch_size(s);
    const dc_layout l = layout_for(s, batch);
    // The tap offsets (ptrdiff_t, two floats each, rounded up to 16 floats) then the padded images.
    const size_t offsets = ((size_t)taps(s) * 2 + 15) / 16 * 16;
    return offsets + (l.in_place ? 0 : (size_t)(l.images_per_pass * s->channels * l.rows * l.columns));
}

typedef struct {
    const ds_conv2d_shape *s;
    const float *image;              // first image of the pass (padded copy or the caller's)
    ptrdiff_t image_stride, plane_stride, row_stride;
    const ptrdiff_t *offsets;        // per tap k, relative to a window's corner
    ptrdiff_t k, pixels_per_image, pixels;   // pixels: in this pass
    const float *packed;
    ptrdiff_t out_channels, panels;
    const float *bias;
    int accumulate;
    ds_activation act;
    int act_in_store;                // piecewise activation applied by the store
    int rows_of_three;               // kernel_w 3, dilation_w 1: the taps come in runs of three adjacent ones
    float *y;                        // the pass's first output image
    ptrdiff_t y_image_stride;
    ptrdiff_t blocks, panel_chunks;
} dc_pass;

#define DC_BLOCK_PIXELS (DC_BLOCK_TILES * DC_MR)

// A block's pixels: each one's window corner in the images read, and its output (channel 0). Filled once per block
// by stepping through the pixels (no division per pixel), then used by every panel.
typedef struct {
    const float *in[DC_BLOCK_PIXELS];
    float *out[DC_BLOCK_PIXELS];
} dc_block;

static void fill_block(const dc_pass *p, ptrdiff_t t_begin, ptrdiff_t count, dc_block *block) {
    const ds_conv2d_shape *s = p->s;
    ptrdiff_t n = t_begin / p->pixels_per_image, q = t_begin % p->pixels_per_image;
    ptrdiff_t oh = q / s->out_w, ow = q % s->out_w;
    for (ptrdiff_t i = 0; i < count; i++) {
        block->in[i] = p->image + n * p->image_stride + oh * s->stride_h * p->row_stride + ow * s->stride_w;
        block->out[i] = p->y + n * p->y_image_stride + oh * s->out_w + ow;
        if (++ow == s->out_w) {
            ow = 0;
            if (++oh == s->out_h) oh = 0, n++;
        }
    }
}

// MARK: AVX2

__attribute__((target("avx2,fma"))) static inline void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The common tile: six consecutive outputs of all 16 channels, nothing to accumulate. Bias and activation are
// elementwise, so they run on the accumulators as they lie (a pixel's channels in the lanes: one bias vector per half
// instead of a broadcast per channel), and the transposition goes through 128-bit halves — 4×4 transposes and a
// 2-wide interleave, single-op shuffles everywhere — rather than transpose8, whose vperm2f128 Zen 1 splits into eight
// ops each. Same additions and activation as the general store below, so the same bits. Measured (C harness,
// one thread, Zen 1, interleaved): the encoder's 32 → 64 3×3 stride-2 layer at batch 32, whose 288 taps leave the
// store a tenth of the tile, 0.96–0.97× its time; ResNet's stride-2 3×3s and the 5×5s 0.97–1.0×.
__attribute__((target("avx2,fma"))) static void store_whole_tile_avx2(const dc_pass *p, float *out, ptrdiff_t plane,
                                                                      ptrdiff_t oc0, const __m256 acc[12],
                                                                      const ds_piecewise_constants *k) {
    float *const y = out + oc0 * plane;   // channel oc0 of the six pixels
    for (int half = 0; half < 2; half++) {
        const __m256 bias = p->bias ? _mm256_loadu_ps(p->bias + oc0 + 8 * half) : _mm256_setzero_ps();
        __m256 v[6];
        for (int m = 0; m < DC_MR; m++) {
            v[m] = p->bias ? _mm256_add_ps(acc[2 * m + half], bias) : acc[2 * m + half];
            if (p->act_in_store) v[m] = ds_piecewise8(v[m], p->act.kind, k);
        }
        for (int upper = 0; upper < 2; upper++) {   // channels 8·half + 4·upper + (0…3)
            __m128 q[6];
            for (int m = 0; m < DC_MR; m++) q[m] = upper ? _mm256_extractf128_ps(v[m], 1) : _mm256_castps256_ps128(v[m]);
            float *row = y + (8 * half + 4 * upper) * plane;
            // Pixels 0–3: a 4×4 transpose, one 4-wide store per channel.
            const __m128 t0 = _mm_unpacklo_ps(q[0], q[1]), t1 = _mm_unpackhi_ps(q[0], q[1]);
            const __m128 t2 = _mm_unpacklo_ps(q[2], q[3]), t3 = _mm_unpackhi_ps(q[2], q[3]);
            _mm_storeu_ps(row, _mm_movelh_ps(t0, t2));
            _mm_storeu_ps(row + plane, _mm_movehl_ps(t2, t0));
            _mm_storeu_ps(row + 2 * plane, _mm_movelh_ps(t1, t3));
            _mm_storeu_ps(row + 3 * plane, _mm_movehl_ps(t3, t1));
            // Pixels 4–5: interleaved pairs, one 2-wide store per channel.
            const __m128 u0 = _mm_unpacklo_ps(q[4], q[5]), u1 = _mm_unpackhi_ps(q[4], q[5]);
            _mm_storel_pi((__m64 *)(row + 4), u0);
            _mm_storeh_pi((__m64 *)(row + plane + 4), u0);
            _mm_storel_pi((__m64 *)(row + 2 * plane + 4), u1);
            _mm_storeh_pi((__m64 *)(row + 3 * plane + 4), u1);
        }
    }
}

// acc[2m], acc[2m+1]: channels 0–7 and 8–15 of pixel m, whose output (channel 0) is out[m]. Stores channels
// [oc0, oc0 + channels) of pixels [0, count), adding bias and residual and applying the activation on the way.
__attribute__((target("avx2,fma"))) static void store_tile_avx2(const dc_pass *p, float *const *out, ptrdiff_t count,
                                                                ptrdiff_t oc0, ptrdiff_t channels, __m256 acc[12]) {
    const ptrdiff_t plane = p->pixels_per_image;
    // Runs of pixels whose outputs are consecutive: a run breaks only where an image ends. Almost always there is one
    // run of all six pixels (`whole`), stored with a 4-wide and a 2-wide store; otherwise each run's lanes
    // [start, start + length) go through a small buffer, element by element (still no masked stores).
    float *at[DC_MR];
    ptrdiff_t start[DC_MR], length[DC_MR];
    int runs = 0;
    for (ptrdiff_t m = 0; m < count;) {
        ptrdiff_t run = 1;
        while (m + run < count && out[m + run] == out[m] + run) run++;
        at[runs] = out[m];
        start[runs] = m;
        length[runs++] = run;
        m += run;
    }
    const int whole = runs == 1 && count == DC_MR;
    const ds_piecewise_constants k = ds_piecewise_constants_for(p->act);
    if (whole && !p->accumulate && channels == DC_NR) {
        store_whole_tile_avx2(p, out[0], plane, oc0, acc, &k);
        return;
    }
    for (int half = 0; half < 2 && channels > 8 * half; half++) {
        __m256 r[8];   // r[l] after the transpose: channel oc0 + 8·half + l, lanes = pixels
        for (int m = 0; m < DC_MR; m++) r[m] = acc[2 * m + half];
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r);
        const ptrdiff_t first = oc0 + 8 * half;
        const ptrdiff_t lanes = channels - 8 * half < 8 ? channels - 8 * half : 8;
        for (ptrdiff_t l = 0; l < lanes; l++) {
            __m256 v = r[l];
            if (p->bias) v = _mm256_add_ps(v, _mm256_set1_ps(p->bias[first + l]));
            if (whole) {
                // Six consecutive outputs: a 4-wide and a 2-wide store (partial_avx2.h: a masked store took a third
                // of a small-K tile's time).
                float *row = out[0] + (first + l) * plane;
                if (p->accumulate) {
                    const __m128 low = _mm_loadu_ps(row), high = _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(row + 4));
                    v = _mm256_add_ps(v, _mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1));
                }
                if (p->act_in_store) v = ds_piecewise8(v, p->act.kind, &k);
                _mm_storeu_ps(row, _mm256_castps256_ps128(v));
                _mm_storel_pi((__m64 *)(row + 4), _mm256_extractf128_ps(v, 1));
                continue;
            }
            _Alignas(32) float values[8] = {0};
            const ptrdiff_t offset = (first + l) * plane;
            if (p->accumulate) {
                for (int i = 0; i < runs; i++)
                    for (ptrdiff_t j = 0; j < length[i]; j++) values[start[i] + j] = at[i][offset + j];
                v = _mm256_add_ps(v, _mm256_load_ps(values));
            }
            if (p->act_in_store) v = ds_piecewise8(v, p->act.kind, &k);
            _mm256_store_ps(values, v);
            for (int i = 0; i < runs; i++)
                for (ptrdiff_t j = 0; j < length[i]; j++) at[i][offset + j] = values[start[i] + j];
        }
    }
}

// One tile: `count` (≤ 6) pixels, their window corners in[] and outputs out[], against panel `panel`.
__attribute__((target("avx2,fma"))) static void tile_avx2(const dc_pass *p, const float *const *in, float *const *out,
                                                          ptrdiff_t count, ptrdiff_t panel) {
    // Lanes past `count` repeat pixel 0 (valid memory); the store ignores them.
    const float *b0 = in[0], *b1 = in[count > 1 ? 1 : 0], *b2 = in[count > 2 ? 2 : 0];
    const float *b3 = in[count > 3 ? 3 : 0], *b4 = in[count > 4 ? 4 : 0], *b5 = in[count > 5 ? 5 : 0];
    const float *w = p->packed + panel * p->k * DC_NR;
    const ptrdiff_t *off = p->offsets;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define DC_TAP(o, w)                                                                                                   \
    do {                                                                                                               \
        const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps((w) + 8);                                            \
        __m256 a = _mm256_broadcast_ss(b0 + (o));                                                                      \
        c00 = _mm256_fmadd_ps(a, w0, c00);                                                                             \
        c01 = _mm256_fmadd_ps(a, w1, c01);                                                                             \
        a = _mm256_broadcast_ss(b1 + (o));                                                                             \
        c10 = _mm256_fmadd_ps(a, w0, c10);                                                                             \
        c11 = _mm256_fmadd_ps(a, w1, c11);                                                                             \
        a = _mm256_broadcast_ss(b2 + (o));                                                                             \
        c20 = _mm256_fmadd_ps(a, w0, c20);                                                                             \
        c21 = _mm256_fmadd_ps(a, w1, c21);                                                                             \
        a = _mm256_broadcast_ss(b3 + (o));                                                                             \
        c30 = _mm256_fmadd_ps(a, w0, c30);                                                                             \
        c31 = _mm256_fmadd_ps(a, w1, c31);                                                                             \
        a = _mm256_broadcast_ss(b4 + (o));                                                                             \
        c40 = _mm256_fmadd_ps(a, w0, c40);                                                                             \
        c41 = _mm256_fmadd_ps(a, w1, c41);                                                                             \
        a = _mm256_broadcast_ss(b5 + (o));                                                                             \
        c50 = _mm256_fmadd_ps(a, w0, c50);                                                                             \
        c51 = _mm256_fmadd_ps(a, w1, c51);                                                                             \
    } while (0)
    if (p->rows_of_three) {
        // 3-wide rows of adjacent taps (3×3 filters, no horizontal dilation): one offset per row, the other two taps
        // at +1 and +2, folded into the loads' displacements (4–6 % on ResNet's 14×14 and 7×7 layers).
        for (ptrdiff_t i = 0; i < p->k; i += 3, w += 3 * DC_NR) {
            const ptrdiff_t o = off[i];
            DC_TAP(o, w);
            DC_TAP(o + 1, w + DC_NR);
            DC_TAP(o + 2, w + 2 * DC_NR);
        }
    } else {
        for (ptrdiff_t i = 0; i < p->k; i++, w += DC_NR) DC_TAP(off[i], w);
    }
#undef DC_TAP
    __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    const ptrdiff_t oc0 = panel * DC_NR;
    store_tile_avx2(p, out, count, oc0, p->out_channels - oc0 < DC_NR ? p->out_channels - oc0 : DC_NR, acc);
}

// MARK: AVX-512

// One tile of `count` (≤ 6) pixels against G (1–3) consecutive panels: 6 × 16G channels in 6G zmm accumulators, each
// tap's G weight vectors loaded once and used by all six pixels (9 loads per 18 FMAs at G = 3, against 8 per 12 for
// the AVX2 tile). Every channel of every pixel is the same chain of FMAs in the same order as tile_avx2's, and the
// store is store_tile_avx2 itself on each panel's halves, so the bits are the AVX2 tile's.
//
// Why not 4 panels (24 accumulators, 10 loads per 24 FMAs, MLAS's shape): clang schedules every broadcast of a row of
// three taps (18 of them) ahead of its FMAs, and with 24 accumulators that spilled — 33 stack accesses per 72 FMAs in
// the generated loop. Three panels with an ordering point between the taps of a row keep everything in registers: the
// encoder's 32 → 64 3×3 at batch 32 0.77 → 0.68 ms, the GAN's ConvTranspose phases (128 → 64) 5.8 → 4.9 ms for the
// model at batch 32 (minima).
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void tile_avx512(const dc_pass *p, const float *const *in, float *const *out, ptrdiff_t count,
                               ptrdiff_t panel, const int G) {
    const float *b0 = in[0], *b1 = in[count > 1 ? 1 : 0], *b2 = in[count > 2 ? 2 : 0];
    const float *b3 = in[count > 3 ? 3 : 0], *b4 = in[count > 4 ? 4 : 0], *b5 = in[count > 5 ? 5 : 0];
    const float *w = p->packed + panel * p->k * DC_NR;
    const ptrdiff_t next = p->k * DC_NR;   // from one panel to the next
    const ptrdiff_t *off = p->offsets;
    __m512 acc[6][3];
    _Pragma("clang loop unroll(full)")
    for (int m = 0; m < 6; m++) {
        _Pragma("clang loop unroll(full)")
        for (int g = 0; g < G; g++) acc[m][g] = _mm512_setzero_ps();
    }
#define DC_TAP512(o, wp)                                                                                               \
    do {                                                                                                               \
        __m512 wv[3];                                                                                                  \
        _Pragma("clang loop unroll(full)")                                                                             \
        for (int g = 0; g < G; g++) wv[g] = _mm512_loadu_ps((wp) + g * next);                                         \
        const float *const bs[6] = {b0, b1, b2, b3, b4, b5};                                                           \
        _Pragma("clang loop unroll(full)")                                                                             \
        for (int m = 0; m < 6; m++) {                                                                                  \
            const __m512 a = _mm512_set1_ps(bs[m][o]);                                                                 \
            _Pragma("clang loop unroll(full)")                                                                         \
            for (int g = 0; g < G; g++) acc[m][g] = _mm512_fmadd_ps(a, wv[g], acc[m][g]);                            \
        }                                                                                                              \
    } while (0)
    if (p->rows_of_three) {
        for (ptrdiff_t i = 0; i < p->k; i += 3, w += 3 * DC_NR) {
            const ptrdiff_t o = off[i];
            DC_TAP512(o, w);
            __asm__("" : "+r"(w));   // the next tap's loads wait for this one's (see above)
            DC_TAP512(o + 1, w + DC_NR);
            __asm__("" : "+r"(w));
            DC_TAP512(o + 2, w + 2 * DC_NR);
        }
    } else {
        for (ptrdiff_t i = 0; i < p->k; i++, w += DC_NR) DC_TAP512(off[i], w);
    }
#undef DC_TAP512
    for (int g = 0; g < G; g++) {
        __m256 halves[12];
        for (int m = 0; m < 6; m++) {
            halves[2 * m] = _mm512_castps512_ps256(acc[m][g]);
            halves[2 * m + 1] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[m][g]), 1));
        }
        const ptrdiff_t oc0 = (panel + g) * DC_NR;
        store_tile_avx2(p, out, count, oc0, p->out_channels - oc0 < DC_NR ? p->out_channels - oc0 : DC_NR, halves);
    }
}

// Panels [panel, panel + panels) (1–3) for one tile.
__attribute__((target("avx512f,avx2,fma")))
static void tiles_avx512(const dc_pass *p, const float *const *in, float *const *out, ptrdiff_t count, ptrdiff_t panel,
                         ptrdiff_t panels) {
    switch (panels) {
    case 1: tile_avx512(p, in, out, count, panel, 1); break;
    case 2: tile_avx512(p, in, out, count, panel, 2); break;
    default: tile_avx512(p, in, out, count, panel, 3); break;
    }
}

// MARK: Portable

static void tile_portable(const dc_pass *p, const float *const *in, float *const *out, ptrdiff_t count,
                          ptrdiff_t panel) {
    float acc[DC_MR][DC_NR] = {{0}};
    const float *w = p->packed + panel * p->k * DC_NR;
    for (ptrdiff_t i = 0; i < p->k; i++, w += DC_NR) {
        const ptrdiff_t o = p->offsets[i];
        for (ptrdiff_t m = 0; m < count; m++) {
            const float a = in[m][o];
            for (int l = 0; l < DC_NR; l++) acc[m][l] += a * w[l];
        }
    }
    const ptrdiff_t oc0 = panel * DC_NR;
    const ptrdiff_t channels = p->out_channels - oc0 < DC_NR ? p->out_channels - oc0 : DC_NR;
    for (ptrdiff_t m = 0; m < count; m++) {
        for (ptrdiff_t l = 0; l < channels; l++) {
            float *dst = out[m] + (oc0 + l) * p->pixels_per_image;
            float v = acc[m][l];
            if (p->bias) v += p->bias[oc0 + l];
            if (p->accumulate) v += *dst;
            *dst = v;
        }
    }
}

// MARK: Driver

// Work item `index`: block index / panel_chunks of pixels, against its chunk of panels.
static void run_item(void *context, ptrdiff_t index) {
    const dc_pass *p = context;
    const ptrdiff_t block_index = index / p->panel_chunks, chunk = index % p->panel_chunks;
    const ptrdiff_t panel_begin = chunk * p->panels / p->panel_chunks, panel_end = (chunk + 1) * p->panels / p->panel_chunks;
    const ptrdiff_t t_begin = block_index * DC_BLOCK_PIXELS;
    const ptrdiff_t count = p->pixels - t_begin < DC_BLOCK_PIXELS ? p->pixels - t_begin : DC_BLOCK_PIXELS;
    dc_block block;
    fill_block(p, t_begin, count, &block);
    const int avx2 = ds_use_avx2();
    if (avx2 && ds_use_avx512()) {
        // The panels in groups of at most three, as even as they come (4 → 2 + 2, 7 → 3 + 2 + 2): a lone panel
        // would reload its six broadcasts for a third of the FMAs.
        for (ptrdiff_t panel = panel_begin; panel < panel_end;) {
            const ptrdiff_t left = panel_end - panel, groups = (left + 2) / 3, group = (left + groups - 1) / groups;
            for (ptrdiff_t i = 0; i < count; i += DC_MR)
                tiles_avx512(p, block.in + i, block.out + i, count - i < DC_MR ? count - i : DC_MR, panel, group);
            panel += group;
        }
        return;
    }
    for (ptrdiff_t panel = panel_begin; panel < panel_end; panel++) {
        for (ptrdiff_t i = 0; i < count; i += DC_MR) {
            const ptrdiff_t tile = count - i < DC_MR ? count - i : DC_MR;
            if (avx2) tile_avx2(p, block.in + i, block.out + i, tile, panel);
            else tile_portable(p, block.in + i, block.out + i, tile, panel);
        }
    }
}

// Copies `images` images (channels × height × width, image_stride apart) into zero-padded planes of l.rows × l.columns.
static void pad_images(const ds_conv2d_shape *s, dc_layout l, const float *x, ptrdiff_t x_image_stride,
                       ptrdiff_t images, float *dst) {
    const ptrdiff_t right = l.columns - s->pad_left - s->width;   // may be negative: columns the windows never read
    for (ptrdiff_t n = 0; n < images; n++) {
        for (ptrdiff_t c = 0; c < s->channels; c++) {
            const float *plane = x + n * x_image_stride + c * s->height * s->width;
            for (ptrdiff_t r = 0; r < l.rows; r++, dst += l.columns) {
                const ptrdiff_t iy = r - s->pad_top;
                if (iy < 0 || iy >= s->height) {
                    memset(dst, 0, (size_t)l.columns * sizeof(float));
                    continue;
                }
                const ptrdiff_t left = s->pad_left < l.columns ? s->pad_left : l.columns;
                memset(dst, 0, (size_t)left * sizeof(float));
                const ptrdiff_t copy = right >= 0 ? s->width : s->width + right;
                if (copy > 0) memcpy(dst + left, plane + iy * s->width, (size_t)copy * sizeof(float));
                if (right > 0) memset(dst + left + s->width, 0, (size_t)right * sizeof(float));
            }
        }
    }
}

void ds_conv2d_direct(const ds_conv2d_shape *s, ptrdiff_t batch, const float *x, ptrdiff_t x_image_stride,
                      const float *packed, ptrdiff_t out_channels, const float *bias, int accumulate,
                      ds_activation act, float *y, ptrdiff_t y_image_stride, float *scratch) {
    const ptrdiff_t k = taps(s), pixels_per_image = s->out_h * s->out_w;
    if (batch <= 0 || out_channels <= 0 || pixels_per_image <= 0) return;
    if (ds_conv2d_rows_suits(s)) {   // a few input channels: a row of pixels per tile (direct_conv_rows.c)
        ds_conv2d_rows(s, batch, x, x_image_stride, packed, out_channels, bias, accumulate, act, y, y_image_stride,
                       scratch);
        return;
    }
    const dc_layout l = layout_for(s, batch);
    ptrdiff_t *offsets = (ptrdiff_t *)scratch;
    float *padded = scratch + ((size_t)k * 2 + 15) / 16 * 16;
    const ptrdiff_t row_stride = l.in_place ? s->width : l.columns;
    const ptrdiff_t plane_stride = l.in_place ? s->height * s->width : l.rows * l.columns;
    for (ptrdiff_t c = 0, i = 0; c < s->channels; c++)
        for (ptrdiff_t r = 0; r < s->kernel_h; r++)
            for (ptrdiff_t q = 0; q < s->kernel_w; q++, i++)
                offsets[i] = c * plane_stride + r * s->dilation_h * row_stride + q * s->dilation_w;

    const int avx2 = ds_use_avx2();
    const int act_in_store = avx2 && ds_is_piecewise(act.kind);
    const ptrdiff_t panels = (out_channels + DC_NR - 1) / DC_NR;
    for (ptrdiff_t first = 0; first < batch; first += l.images_per_pass) {
        const ptrdiff_t images = batch - first < l.images_per_pass ? batch - first : l.images_per_pass;
        dc_pass p = {
            .s = s, .offsets = offsets, .k = k, .pixels_per_image = pixels_per_image, .pixels = images * pixels_per_image,
            .packed = packed, .out_channels = out_channels, .panels = panels, .bias = bias, .accumulate = accumulate,
            .act = act, .act_in_store = act_in_store, .y = y + first * y_image_stride, .y_image_stride = y_image_stride,
            .row_stride = row_stride, .plane_stride = plane_stride,
            .rows_of_three = s->kernel_w == 3 && s->dilation_w == 1,
        };
        if (l.in_place) {
            p.image = x + first * x_image_stride;
            p.image_stride = x_image_stride;
        } else {
            pad_images(s, l, x + first * x_image_stride, x_image_stride, images, padded);
            p.image = padded;
            p.image_stride = s->channels * l.rows * l.columns;
        }
        p.blocks = (p.pixels + DC_BLOCK_PIXELS - 1) / DC_BLOCK_PIXELS;
        // With helpers, enough items that each thread gets a few; cut the panels when the pixels alone are too few.
        const ptrdiff_t wanted = (ptrdiff_t)ds_parallel_threads() * DS_PARTS_PER_THREAD;
        p.panel_chunks = 1;
        if (wanted > DS_PARTS_PER_THREAD && p.blocks < wanted) {
            p.panel_chunks = (wanted + p.blocks - 1) / p.blocks;
            if (p.panel_chunks > panels) p.panel_chunks = panels;
        }
        const ptrdiff_t items = p.blocks * p.panel_chunks;
        if (wanted > DS_PARTS_PER_THREAD && items > 1) ds_parallel_for(items, run_item, &p);
        else for (ptrdiff_t i = 0; i < items; i++) run_item(&p, i);
    }
    if (act.kind != DS_ACTIVATION_NONE && !act_in_store) {
        for (ptrdiff_t n = 0; n < batch; n++)
            ds_activation_apply(y + n * y_image_stride, out_channels * pixels_per_image, act);
    }
}
