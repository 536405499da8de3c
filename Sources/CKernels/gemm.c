// Packed single-precision GEMM in the Goto/BLIS style: B is packed into KC×NC panels of NR-wide
// columns, A into MC×KC panels of MR-tall rows, and a register-blocked MR×NR micro-kernel
// (12 AVX2 accumulators) computes each C tile. The bias and activation epilogue runs on each tile
// right after its last K block, while the tile is still in L1.
//
// Block sizes: measured on the project's machines (shared/KERNELS.md): KC 512 / MC 96 / NC 2048.
// They can be overridden at compile time (-DKC=…) for tuning experiments.
#include "CKernels.h"
#include "dispatch.h"
#include "gemm_internal.h"
#include "piecewise_avx2.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 16
#ifndef KC
#define KC 512
#endif
#ifndef MC
#define MC 96
#endif
#ifndef NC
#define NC 2048
#endif
// Products at most this many columns wide read A in place (micro_kernel_inplace_avx2) instead of packing it. Measured
// (best of five, interleaved): 32×3136·3136×16 50 -> 87 GFLOP/s, 128×512·512×64 71 -> 97, 128×512·512×128 93 -> 98;
// at 1024³ in place was slower (87 against 92: six rows 4 KiB apart share L1 sets), so wide products still pack.
// K blocks at most this deep run their tiles along C's rows (see gemm_window). Then the B block (≤ 64 × NC floats,
// 512 KiB) stays in L2.
#ifndef SHORT_K_ALONG_ROWS
#define SHORT_K_ALONG_ROWS 64
#endif
#ifndef INPLACE_A_MAX_N
#define INPLACE_A_MAX_N 128
#endif

// MARK: - Per-thread packing buffers

// Packing buffers are reused across calls on the same thread (allocating and faulting in ~4 MB per
// call would cost more than a small GEMM) and freed when the thread exits.
typedef struct {
    float *a;
    float *b;
} pack_buffers;

static pthread_key_t pack_key;
static pthread_once_t pack_key_once = PTHREAD_ONCE_INIT;

static void pack_buffers_free(void *p) {
    pack_buffers *buffers = p;
    free(buffers->a);
    free(buffers->b);
    free(buffers);
}

static void pack_key_create(void) { pthread_key_create(&pack_key, pack_buffers_free); }

static pack_buffers *thread_pack_buffers(void) {
    pthread_once(&pack_key_once, pack_key_create);
    pack_buffers *buffers = pthread_getspecific(pack_key);
    if (!buffers) {
        buffers = calloc(1, sizeof *buffers);
        if (!buffers) abort();
        buffers->a = aligned_alloc(64, sizeof(float) * MC * KC);
        buffers->b = aligned_alloc(64, sizeof(float) * KC * NC);
        if (!buffers->a || !buffers->b) abort();
        pthread_setspecific(pack_key, buffers);
    }
    return buffers;
}

// MARK: - Packing

// Eight columns of `rows` (≤ 6) rows of A (row-major, lda apart), times alpha, stored as eight groups of six, the
// missing rows zero: a 6×8 block transposed in registers, where the scalar loop read each row with a stride of lda,
// one float at a time (half the time of a 32 × 3136 · 3136 × 16 product went there).
__attribute__((target("avx2,fma")))
static void pack_a_block_avx2(const float *src, ptrdiff_t lda, ptrdiff_t rows, float alpha, float *out) {
    const __m256 scale = _mm256_set1_ps(alpha), zero = _mm256_setzero_ps();
#define DS_ROW(i) ((i) < rows ? _mm256_mul_ps(scale, _mm256_loadu_ps(src + (i) * lda)) : zero)
    const __m256 r0 = DS_ROW(0), r1 = DS_ROW(1), r2 = DS_ROW(2), r3 = DS_ROW(3), r4 = DS_ROW(4), r5 = DS_ROW(5);
#undef DS_ROW
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, zero, 0x44), u5 = _mm256_shuffle_ps(t4, zero, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, zero, 0x44), u7 = _mm256_shuffle_ps(t5, zero, 0xEE);
    // Column c of the block: rows 0–3 in the low half of one vector, rows 4–5 in the low half of its partner.
    const __m256 lo[4] = {u0, u1, u2, u3}, hi[4] = {u4, u5, u6, u7};
    for (int c = 0; c < 4; c++) {
        _mm_storeu_ps(out + 6 * c, _mm256_castps256_ps128(lo[c]));
        _mm_storel_pi((__m64 *)(out + 6 * c + 4), _mm256_castps256_ps128(hi[c]));
        _mm_storeu_ps(out + 6 * (c + 4), _mm256_extractf128_ps(lo[c], 1));
        _mm_storel_pi((__m64 *)(out + 6 * (c + 4) + 4), _mm256_extractf128_ps(hi[c], 1));
    }
}

// Packs rows [i0, i0+mc) × columns [p0, p0+kc) of alpha·op(A) into MR-row slivers, zero-padded.
static void pack_a(int trans, const float *a, ptrdiff_t lda, ptrdiff_t i0, ptrdiff_t mc,
                   ptrdiff_t p0, ptrdiff_t kc, float alpha, float *out) {
    // Element (i, p) of op(A) lives at a[i*rs + p*cs].
    const ptrdiff_t rs = trans ? 1 : lda, cs = trans ? lda : 1;
    const int blocks = !trans && ds_use_avx2();
    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
        const ptrdiff_t rows = mc - ir < MR ? mc - ir : MR;
        const float *src = a + (i0 + ir) * rs + p0 * cs;
        ptrdiff_t p = 0;
        if (blocks) {
            // The same products alpha·a (and zeros past the last row), so the same bits as the loop below.
            for (; p + 8 <= kc; p += 8, out += 8 * MR) pack_a_block_avx2(src + p, lda, rows, alpha, out);
        }
        for (; p < kc; p++) {
            ptrdiff_t r = 0;
            for (; r < rows; r++) out[r] = alpha * src[r * rs + p * cs];
            for (; r < MR; r++) out[r] = 0;
            out += MR;
        }
    }
}

// Packs rows [p0, p0+kc) × columns [j0, j0+nc) of op(B) into NR-column slivers, zero-padded.
static void pack_b(int trans, const float *b, ptrdiff_t ldb, ptrdiff_t p0, ptrdiff_t kc,
                   ptrdiff_t j0, ptrdiff_t nc, float *out) {
    const ptrdiff_t rs = trans ? 1 : ldb, cs = trans ? ldb : 1;   // element (p, j) at b[p*rs + j*cs]
    for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
        const ptrdiff_t cols = nc - jr < NR ? nc - jr : NR;
        const float *src = b + p0 * rs + (j0 + jr) * cs;
        if (!trans && cols == NR) {
            for (ptrdiff_t p = 0; p < kc; p++) {
                memcpy(out, src + p * rs, sizeof(float) * NR);
                out += NR;
            }
            continue;
        }
        for (ptrdiff_t p = 0; p < kc; p++) {
            ptrdiff_t c = 0;
            for (; c < cols; c++) out[c] = src[p * rs + c * cs];
            for (; c < NR; c++) out[c] = 0;
            out += NR;
        }
    }
}

// MARK: - Micro-kernels

typedef ds_gemm_tile_epilogue tile_epilogue;

typedef void (*micro_kernel_fn)(ptrdiff_t kc, const float *a, const float *b, float *c,
                                ptrdiff_t ldc, int accumulate, const tile_epilogue *epilogue);

// The 6×16 tile: element (r, p) of the A sliver at a[r·a_row + p·a_col] — packed (1, MR) or read in place from a
// row-major A (lda, 1). Both wrappers below pass constants, so each compiles to its own loop.
__attribute__((target("avx2,fma"), always_inline))
static inline void micro_tile_avx2(ptrdiff_t kc, const float *a, const ptrdiff_t a_row, const ptrdiff_t a_col,
                                   const float *b, const ptrdiff_t b_row, float *c, ptrdiff_t ldc, int accumulate,
                                   const tile_epilogue *ep) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 ai;
        ai = _mm256_broadcast_ss(a + 0 * a_row); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1 * a_row); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2 * a_row); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3 * a_row); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4 * a_row); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5 * a_row); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
        a += a_col;
        b += b_row;
    }
    const ds_piecewise_constants k = ds_piecewise_constants_for(ep ? ep->act : (ds_activation){0});
    const int piecewise = ep && ds_is_piecewise(ep->act.kind);
#define DS_STORE_ROW(r, lo, hi)                                                   \
    do {                                                                          \
        float *row = c + (r) * ldc;                                               \
        if (accumulate) {                                                         \
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));                         \
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));                     \
        }                                                                         \
        if (ep) {                                                                 \
            if (ep->row_bias) {                                                   \
                const __m256 bias = _mm256_broadcast_ss(ep->row_bias + (r));      \
                lo = _mm256_add_ps(lo, bias);                                     \
                hi = _mm256_add_ps(hi, bias);                                     \
            }                                                                     \
            if (ep->col_bias) {                                                   \
                lo = _mm256_add_ps(lo, _mm256_loadu_ps(ep->col_bias));            \
                hi = _mm256_add_ps(hi, _mm256_loadu_ps(ep->col_bias + 8));        \
            }                                                                     \
            if (piecewise) {                                                      \
                lo = ds_piecewise8(lo, ep->act.kind, &k);                         \
                hi = ds_piecewise8(hi, ep->act.kind, &k);                         \
            }                                                                     \
        }                                                                         \
        _mm256_storeu_ps(row, lo);                                                \
        _mm256_storeu_ps(row + 8, hi);                                            \
    } while (0)
    DS_STORE_ROW(0, c00, c01);
    DS_STORE_ROW(1, c10, c11);
    DS_STORE_ROW(2, c20, c21);
    DS_STORE_ROW(3, c30, c31);
    DS_STORE_ROW(4, c40, c41);
    DS_STORE_ROW(5, c50, c51);
#undef DS_STORE_ROW
    if (ep && ep->act.kind != DS_ACTIVATION_NONE && !piecewise) ds_smooth_tile16(c, ldc, MR, ep->act.kind);
}

__attribute__((target("avx2,fma")))
static void micro_kernel_avx2(ptrdiff_t kc, const float *a, const float *b, float *c,
                              ptrdiff_t ldc, int accumulate, const tile_epilogue *ep) {
    micro_tile_avx2(kc, a, 1, MR, b, NR, c, ldc, accumulate, ep);
}

// Six rows of a row-major A read where they lie (lda apart), for products too narrow to repay packing A: with one or
// two 16-column slivers each value of A is used 16 or 32 times, and copying A into slivers cost as much as the
// multiply-adds (32 × 3136 · 3136 × 16). The same products in the same order as the packed kernel's.
__attribute__((target("avx2,fma")))
static void micro_kernel_inplace_avx2(ptrdiff_t kc, const float *a, ptrdiff_t lda, const float *b, float *c,
                                      ptrdiff_t ldc, int accumulate, const tile_epilogue *ep) {
    micro_tile_avx2(kc, a, lda, 1, b, NR, c, ldc, accumulate, ep);
}

// Packed A against 16 columns of a row-major B read where they lie (ldb apart), for products whose B is used by few
// row tiles (see INPLACE_B): copying B into slivers cost up to a fifth of a 24-row pointwise convolution.
__attribute__((target("avx2,fma")))
static void micro_kernel_inplace_b_avx2(ptrdiff_t kc, const float *a, const float *b, ptrdiff_t ldb, float *c,
                                        ptrdiff_t ldc, int accumulate, const tile_epilogue *ep) {
    micro_tile_avx2(kc, a, 1, MR, b, ldb, c, ldc, accumulate, ep);
}

// The store of a tile of R < 6 rows and 16 columns: accumulate, biases and activation exactly as the full kernel's
// store applies them. col_bias is the tile's own 16 (the epilogue's, or 16 further on for a wide tile's right half).
__attribute__((target("avx2,fma"), always_inline))
static inline void store_short_tile(float *c, ptrdiff_t ldc, int accumulate, const tile_epilogue *ep,
                                    const float *col_bias, __m256 *lo, __m256 *hi, const int R) {
    const ds_piecewise_constants k = ds_piecewise_constants_for(ep ? ep->act : (ds_activation){0});
    const int piecewise = ep && ds_is_piecewise(ep->act.kind);
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < R; r++) {
        float *row = c + r * ldc;
        if (accumulate) {
            lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(row));
            hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(row + 8));
        }
        if (ep) {
            if (ep->row_bias) {
                const __m256 bias = _mm256_broadcast_ss(ep->row_bias + r);
                lo[r] = _mm256_add_ps(lo[r], bias);
                hi[r] = _mm256_add_ps(hi[r], bias);
            }
            if (col_bias) {
                lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(col_bias));
                hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(col_bias + 8));
            }
            if (piecewise) {
                lo[r] = ds_piecewise8(lo[r], ep->act.kind, &k);
                hi[r] = ds_piecewise8(hi[r], ep->act.kind, &k);
            }
        }
        _mm256_storeu_ps(row, lo[r]);
        _mm256_storeu_ps(row + 8, hi[r]);
    }
    if (ep && ep->act.kind != DS_ACTIVATION_NONE && !piecewise) ds_smooth_tile16(c, ldc, R, ep->act.kind);
}

// A tile of fewer than six rows (the last sliver of a product whose row count is not a multiple of six: a batch of
// 16 or 32 sequences, 16 or 24 output channels), all 16 columns: the same products in the same order as the full
// kernel's rows (so a row's bits don't depend on the tile it fell in), stored with the same epilogue, instead of a
// full tile into a scratch tile and a scalar copy. R is a constant at every call, so the loops unroll.
__attribute__((target("avx2,fma"), always_inline))
static inline void short_tile_avx2(ptrdiff_t kc, const float *a, const float *b, const ptrdiff_t b_row, float *c,
                                   ptrdiff_t ldc, int accumulate, const tile_epilogue *ep, const int R) {
    __m256 lo[MR - 1], hi[MR - 1];
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) {
            const __m256 ai = _mm256_broadcast_ss(a + r);
            lo[r] = _mm256_fmadd_ps(ai, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(ai, b1, hi[r]);
        }
        a += MR;
        b += b_row;
    }
    store_short_tile(c, ldc, accumulate, ep, ep ? ep->col_bias : NULL, lo, hi, R);
}

__attribute__((target("avx2,fma")))
static void micro_kernel_short_avx2(ptrdiff_t kc, const float *a, const float *b, ptrdiff_t b_row, float *c,
                                    ptrdiff_t ldc, int accumulate, const tile_epilogue *ep, ptrdiff_t rows) {
    switch (rows) {
    case 1: short_tile_avx2(kc, a, b, b_row, c, ldc, accumulate, ep, 1); break;
    case 2: short_tile_avx2(kc, a, b, b_row, c, ldc, accumulate, ep, 2); break;
    case 3: short_tile_avx2(kc, a, b, b_row, c, ldc, accumulate, ep, 3); break;
    case 4: short_tile_avx2(kc, a, b, b_row, c, ldc, accumulate, ep, 4); break;
    default: short_tile_avx2(kc, a, b, b_row, c, ldc, accumulate, ep, 5); break;
    }
}

// A tile of 1–3 rows over two neighbouring slivers (32 columns): R rows × 16 columns alone keep only 2R accumulators,
// too few FMA chains to hide the FMA's latency (a 2-row tile ran at ~60 % of the full kernel's speed per row: the
// last rows of a batch of 8 LSTM streams). Over 32 columns the chains double. Same products in the same order as the
// other kernels, each half stored as a short tile stores it, so the bits are the same.
__attribute__((target("avx2,fma"), always_inline))
static inline void wide_short_tile_avx2(ptrdiff_t kc, const float *a, const float *b, const float *b2,
                                        const ptrdiff_t b_row, float *c, ptrdiff_t ldc, int accumulate,
                                        const tile_epilogue *ep, const int R) {
    __m256 lo[3], hi[3], lo2[3], hi2[3];
    _Pragma("clang loop unroll(full)")
    for (int r = 0; r < R; r++) lo[r] = hi[r] = lo2[r] = hi2[r] = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        // The rows' values first, then each B vector loaded once and used by every row: R + 1 registers beside the
        // 4R accumulators. Loading the four B vectors first needs 4 + 1 + 12 for 3 rows, one more than AVX2 has, and
        // the spill made a 3-row tile (a batch of 9) run at 0.72× this speed (interleaved C harness, 256 × 1024).
        __m256 ai[3];
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) ai[r] = _mm256_broadcast_ss(a + r);
        __m256 bv = _mm256_loadu_ps(b);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) lo[r] = _mm256_fmadd_ps(ai[r], bv, lo[r]);
        bv = _mm256_loadu_ps(b + 8);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) hi[r] = _mm256_fmadd_ps(ai[r], bv, hi[r]);
        bv = _mm256_loadu_ps(b2);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) lo2[r] = _mm256_fmadd_ps(ai[r], bv, lo2[r]);
        bv = _mm256_loadu_ps(b2 + 8);
        _Pragma("clang loop unroll(full)")
        for (int r = 0; r < R; r++) hi2[r] = _mm256_fmadd_ps(ai[r], bv, hi2[r]);
        a += MR;
        b += b_row;
        b2 += b_row;
    }
    const float *col_bias = ep ? ep->col_bias : NULL;
    store_short_tile(c, ldc, accumulate, ep, col_bias, lo, hi, R);
    store_short_tile(c + NR, ldc, accumulate, ep, col_bias ? col_bias + NR : NULL, lo2, hi2, R);
}

// b2 is the next sliver: NR · kc further on when B is packed, NR when it is read in place (b_row apart).
__attribute__((target("avx2,fma")))
static void micro_kernel_wide_short_avx2(ptrdiff_t kc, const float *a, const float *b, const float *b2, ptrdiff_t b_row,
                                         float *c, ptrdiff_t ldc, int accumulate, const tile_epilogue *ep, ptrdiff_t rows) {
    switch (rows) {
    case 1: wide_short_tile_avx2(kc, a, b, b2, b_row, c, ldc, accumulate, ep, 1); break;
    case 2: wide_short_tile_avx2(kc, a, b, b2, b_row, c, ldc, accumulate, ep, 2); break;
    default: wide_short_tile_avx2(kc, a, b, b2, b_row, c, ldc, accumulate, ep, 3); break;
    }
}

// The left half of a tile (6 × 8) for an edge of at most 8 columns: the full kernel would multiply 16 columns to keep
// 8 or fewer (a 7×7 feature map has 49 = 3·16 + 1 columns). Same products, same order as the full kernel's columns.
__attribute__((target("avx2,fma")))
static void micro_kernel_narrow_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps();
    __m256 c3 = _mm256_setzero_ps(), c4 = _mm256_setzero_ps(), c5 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(b);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, c3);
        c4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, c4);
        c5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, c5);
        a += MR;
        b += NR;
    }
    _mm256_storeu_ps(c, c0);
    _mm256_storeu_ps(c + ldc, c1);
    _mm256_storeu_ps(c + 2 * ldc, c2);
    _mm256_storeu_ps(c + 3 * ldc, c3);
    _mm256_storeu_ps(c + 4 * ldc, c4);
    _mm256_storeu_ps(c + 5 * ldc, c5);
}

// MARK: - Thin columns

// One or two columns past a multiple of 16 (a 7×7 map's 49 pixels: 48 + 1) would take a tile of their own, six FMAs
// per K step for every six rows (the narrow kernel) whatever the lanes used: a 49-wide product spent an eighth of its
// multiply-adds on its last column. Instead they go down the packed A slivers: a sliver's six rows in lanes 0–5 of a
// ymm times each column's broadcast value, several slivers in flight to cover the FMA latency (five cycles on Zen 1).
// Per column that is one FMA per K step for six rows. Each element is its row's sum over p ascending from zero, one
// FMA at a time, then C when accumulating: the chain the tiles compute for it, so the same bits. The AVX-512 tiles
// have their own pass (gemm_avx512.c); the thresholds were measured separately.
#ifndef THIN_COLUMNS
#define THIN_COLUMNS 2
#endif
#if THIN_COLUMNS > 2
#error "thin_columns_avx2 takes one or two columns"
#endif

// Columns [0, C) of a packed B sliver's K block (column c at b[p·NR + c]) for row slivers [0, N) of packed A (`a`,
// kc × 6 each), rows [0, rows) stored at c (ldc apart).
__attribute__((target("avx2,fma"), always_inline))
static inline void thin_slivers_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                     ptrdiff_t rows, int accumulate, const int N, const int C) {
    __m256 acc[8][2];
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < N; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < C; j++) acc[i][j] = _mm256_setzero_ps();
    // Eight-lane loads take the next step's first two rows in lanes 6–7 (never stored). Only the last sliver's last
    // step would read past the block, so that one load alone is masked: vmaskmovps on every load made the pass slower
    // than the tiles it replaces on Zen 1 (0.86–0.90× the time unmasked, 1.05–1.08× masked).
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m256 v[2];
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < C; j++) v[j] = _mm256_broadcast_ss(b + p * NR + j);
        _Pragma("clang loop unroll(full)")
        for (int i = 0; i < N; i++) {
            const float *rows = a + i * MR * kc + p * MR;
            const __m256 sliver = i == N - 1 && p == kc - 1 ? _mm256_maskload_ps(rows, six) : _mm256_loadu_ps(rows);
            _Pragma("clang loop unroll(full)")
            for (int j = 0; j < C; j++) acc[i][j] = _mm256_fmadd_ps(sliver, v[j], acc[i][j]);
        }
    }
    _Pragma("clang loop unroll(full)")
    for (int i = 0; i < N; i++)
        _Pragma("clang loop unroll(full)")
        for (int j = 0; j < C; j++) {
            float sums[8];
            _mm256_storeu_ps(sums, acc[i][j]);
            ds_gemm_store_thin_sliver(sums, c + i * MR * ldc + j, ldc, rows - i * MR, accumulate);
        }
}

// Columns [0, count) (count ≤ 2) of B's last packed sliver against the block's `rows` rows of packed A: eight slivers
// at a time for one column, six for two (twelve accumulators of the sixteen registers).
__attribute__((target("avx2,fma")))
static void thin_columns_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc, ptrdiff_t rows,
                              ptrdiff_t count, int accumulate) {
    const ptrdiff_t group = count == 2 ? 6 : 8;
    for (ptrdiff_t s = 0; s * MR < rows; s += group) {
        const ptrdiff_t slivers = (rows - s * MR + MR - 1) / MR, here = rows - s * MR;
        const float *as = a + s * MR * kc;
        float *cs = c + s * MR * ldc;
#define DS_THIN(N, C)                                                                                               \
    case N: thin_slivers_avx2(kc, as, b, cs, ldc, here, accumulate, N, C); break;
        if (count == 2) {
            switch (slivers < 6 ? slivers : 6) {
            DS_THIN(1, 2) DS_THIN(2, 2) DS_THIN(3, 2) DS_THIN(4, 2) DS_THIN(5, 2) default: DS_THIN(6, 2)
            }
        } else {
            switch (slivers < 8 ? slivers : 8) {
            DS_THIN(1, 1) DS_THIN(2, 1) DS_THIN(3, 1) DS_THIN(4, 1) DS_THIN(5, 1) DS_THIN(6, 1) DS_THIN(7, 1)
            default: DS_THIN(8, 1)
            }
        }
#undef DS_THIN
    }
}

// (Never given an epilogue: gemm_window applies it after this kernel.)
static void micro_kernel_portable(ptrdiff_t kc, const float *a, const float *b, float *c,
                                  ptrdiff_t ldc, int accumulate, const tile_epilogue *epilogue) {
    (void)epilogue;
    float acc[MR][NR] = {{0}};
    for (ptrdiff_t p = 0; p < kc; p++) {
        for (int r = 0; r < MR; r++) {
            const float ar = a[r];
            for (int j = 0; j < NR; j++) acc[r][j] += ar * b[j];
        }
        a += MR;
        b += NR;
    }
    for (int r = 0; r < MR; r++) {
        float *row = c + r * ldc;
        for (int j = 0; j < NR; j++) row[j] = accumulate ? row[j] + acc[r][j] : acc[r][j];
    }
}

// MARK: - Epilogue

void ds_gemm_apply_epilogue(float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols,
                            const float *row_bias, const float *col_bias, ds_activation act) {
    for (ptrdiff_t i = 0; i < rows; i++) {
        float *row = c + i * ldc;
        if (row_bias) {
            const float bias = row_bias[i];
            for (ptrdiff_t j = 0; j < cols; j++) row[j] += bias;
        }
        if (col_bias)
            for (ptrdiff_t j = 0; j < cols; j++) row[j] += col_bias[j];
        if (act.kind != DS_ACTIVATION_NONE) ds_activation_apply(row, cols, act);
    }
}

static int needs_epilogue(const float *row_bias, const float *col_bias, ds_activation act) {
    return row_bias || col_bias || act.kind != DS_ACTIVATION_NONE;
}

// MARK: - One-row products

// A product of one row (a batch of one) runs through the same packed panels as any other, with kernels that compute
// each column with the same fused multiply-adds, in the same order, as every row of micro_kernel_avx2. So a row's
// result never depends on how many rows the product has: step-batched generation relies on it (a stream alone and
// the same stream inside a batch must sample the same tokens, and a 1-ulp change in a logit can flip one). A
// dot-product GEMV, faster by a little for m == 1, sums in another order and gave different bits.

// One row (element p at a[p · a_step]: a packed sliver's first row, or the caller's row itself) against four
// consecutive NR-wide slivers of packed B (64 columns); eight independent accumulators hide the FMA latency that one
// sliver's two chains would expose.
__attribute__((target("avx2,fma")))
static void row_kernel4_avx2(ptrdiff_t kc, const float *a, ptrdiff_t a_step, const float *b, float *out) {
    const ptrdiff_t s = kc * NR;   // from one sliver to the next
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
    __m256 c4 = _mm256_setzero_ps(), c5 = _mm256_setzero_ps(), c6 = _mm256_setzero_ps(), c7 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 ai = _mm256_broadcast_ss(a + p * a_step);
        const float *bp = b + p * NR;
        c0 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp), c0);
        c1 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + 8), c1);
        c2 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + s), c2);
        c3 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + s + 8), c3);
        c4 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + 2 * s), c4);
        c5 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + 2 * s + 8), c5);
        c6 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + 3 * s), c6);
        c7 = _mm256_fmadd_ps(ai, _mm256_load_ps(bp + 3 * s + 8), c7);
    }
    _mm256_storeu_ps(out, c0);
    _mm256_storeu_ps(out + 8, c1);
    _mm256_storeu_ps(out + 16, c2);
    _mm256_storeu_ps(out + 24, c3);
    _mm256_storeu_ps(out + 32, c4);
    _mm256_storeu_ps(out + 40, c5);
    _mm256_storeu_ps(out + 48, c6);
    _mm256_storeu_ps(out + 56, c7);
}

// One row against one NR-wide sliver.
__attribute__((target("avx2,fma")))
static void row_kernel_avx2(ptrdiff_t kc, const float *a, ptrdiff_t a_step, const float *b, float *out) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 ai = _mm256_broadcast_ss(a + p * a_step);
        c0 = _mm256_fmadd_ps(ai, _mm256_load_ps(b + p * NR), c0);
        c1 = _mm256_fmadd_ps(ai, _mm256_load_ps(b + p * NR + 8), c1);
    }
    _mm256_storeu_ps(out, c0);
    _mm256_storeu_ps(out + 8, c1);
}

// Row `crow` (nc columns) from a packed A sliver holding one row and a packed B block; the epilogue runs per NR-wide
// tile, exactly as gemm_window runs it, so that too matches a row of a bigger product.
static void row_panel_avx2(ptrdiff_t kc, const float *a, ptrdiff_t a_step, const float *b_block, ptrdiff_t nc, float *crow, int accumulate,
                           int epilogue, const float *row_bias, const float *col_bias, ds_activation act) {
    float sums[4 * NR];
    for (ptrdiff_t jr = 0; jr < nc;) {
        ptrdiff_t width;
        if (nc - jr >= 4 * NR) {
            row_kernel4_avx2(kc, a, a_step, b_block + jr * kc, sums);
            width = 4 * NR;
        } else {
            row_kernel_avx2(kc, a, a_step, b_block + jr * kc, sums);
            width = nc - jr < NR ? nc - jr : NR;
        }
        for (ptrdiff_t j = 0; j < width; j++) crow[jr + j] = accumulate ? crow[jr + j] + sums[j] : sums[j];
        if (epilogue)
            for (ptrdiff_t t = 0; t < width; t += NR)
                ds_gemm_apply_epilogue(crow + jr + t, 0, 1, width - t < NR ? width - t : NR, row_bias,
                               col_bias ? col_bias + jr + t : NULL, act);
        jr += width;
    }
}

// MARK: - Driver

size_t ds_sgemm_packed_a_size(ptrdiff_t m, ptrdiff_t k) {
    const ptrdiff_t padded = (m + MR - 1) / MR * MR;
    return (size_t)(padded > 0 ? padded : MR) * (size_t)(k > 0 ? k : 1);
}

// Layout of a pre-packed A: K blocks of KC (outer), each holding the M rows padded to MR, packed
// as pack_a does for its MC blocks. Block (pc, ic) therefore starts at pc·Mpad + ic·kc.
void ds_sgemm_pack_a(int trans_a, ptrdiff_t m, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda, float *packed) {
    const ptrdiff_t padded = (m + MR - 1) / MR * MR;
    for (ptrdiff_t pc = 0; pc < k; pc += KC) {
        const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
        for (ptrdiff_t ic = 0; ic < m; ic += MC) {
            const ptrdiff_t mc = m - ic < MC ? m - ic : MC;
            pack_a(trans_a, a, lda, ic, mc, pc, kc, alpha, packed + pc * padded + ic * kc);
        }
    }
}

size_t ds_sgemm_packed_b_size(ptrdiff_t k, ptrdiff_t n) {
    const ptrdiff_t padded = (n + NR - 1) / NR * NR;
    return (size_t)(padded > 0 ? padded : NR) * (size_t)(k > 0 ? k : 1);
}

// Layout of a pre-packed B: NC column blocks (outer), each holding its K blocks of KC rows packed as
// pack_b does. Block (jc, pc) starts at jc·k + pc·ncp, ncp being the block's width padded to NR.
void ds_sgemm_pack_b(int trans_b, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb, float *packed) {
    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        const ptrdiff_t nc = n - jc < NC ? n - jc : NC, ncp = (nc + NR - 1) / NR * NR;
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
            pack_b(trans_b, b, ldb, pc, kc, jc, nc, packed + jc * k + pc * ncp);
        }
    }
}

// One product's operands and epilogue, as the blocked loop and its parallel split see them.
typedef struct {
    int trans_a, trans_b;
    ptrdiff_t m, n, k;
    float alpha;
    const float *a;
    ptrdiff_t lda;
    const float *prepacked_a;   // non-NULL: A packed by ds_sgemm_pack_a (a and lda unused)
    const float *b;
    ptrdiff_t ldb;
    const float *prepacked_b;   // non-NULL: B packed by ds_sgemm_pack_b (b and ldb unused)
    float beta;
    float *c;
    ptrdiff_t ldc;
    const float *row_bias, *col_bias;
    ds_activation act;
} gemm_problem;

#ifdef DS_GEMM_TUNING
int ds_gemm_inplace_b_mode = 1;   // harnesses: 0 never, 1 the policy, 2 always
#endif

// Whether a window reads B where it lies rather than packing it into slivers: a plain row-major B (a pointwise
// convolution's input, K channels of N pixels; a MatMul's right side computed at run time), no one-row block (the row
// kernel reads packed slivers only), and rows not 4 KiB apart: then every row of a sliver falls in the same L1 set, and
// 1024³ ran at 0.55–0.58× the packed speed. Packing B copies it once per row block; reading it in place costs nothing
// extra when few row tiles share each sliver, or on AVX-512, whose tiles read each B vector for 12 rows. Measured
// (interleaved C harness, Clip epilogue, bit-identical results), on AVX-512 in place against packed: 0.57–1.0× the
// time over MobileNetV2's and ResNet-50's pointwise shapes (24 × 144 · 144 × 3136 0.57×, 16 × 32 · 32 × 12544 0.71×);
// on AVX2, 0.67–0.75× at 16–32 rows over 3136 pixels, 0.86–1.0× up to 96 rows, 0.95–1.05× beyond, so AVX2 reads in
// place only windows of one row block.
static int reads_b_in_place(const gemm_problem *g, int avx2, int avx512, int inplace_a, ptrdiff_t rows) {
    if (!avx2 || g->prepacked_b || g->trans_b || inplace_a || rows % MC == 1 || g->ldb % 1024 == 0) return 0;
#ifdef DS_GEMM_TUNING
    if (ds_gemm_inplace_b_mode != 1) return ds_gemm_inplace_b_mode == 2;
#endif
    return avx512 || rows <= MC;
}

// The blocked loop over rows [m0, m1) and columns [n0, n1) of C; m0 is a multiple of MR and n0 of NR, so a window
// starts on a sliver of a pre-packed operand. Each element is computed exactly as the whole product computes it
// (same K blocks, same kernel), so how the product is split never changes its bits.
static void gemm_window(const gemm_problem *g, ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t n0, ptrdiff_t n1) {
    const ptrdiff_t k = g->k, ldc = g->ldc;
    const ds_activation act = g->act;
    const int epilogue = needs_epilogue(g->row_bias, g->col_bias, act);
    if (g->beta != 0 && g->beta != 1)
        for (ptrdiff_t i = m0; i < m1; i++)
            for (ptrdiff_t j = n0; j < n1; j++) g->c[i * ldc + j] *= g->beta;

    const micro_kernel_fn kernel = ds_use_avx2() ? micro_kernel_avx2 : micro_kernel_portable;
    // Full tiles of the AVX2 kernel apply biases and the activation in registers, in their store: a call per tile row
    // to ds_activation_apply cost SiLU three times the GEMM itself on a 24-deep product.
    const int in_register = epilogue && kernel == micro_kernel_avx2;
    pack_buffers *buffers = thread_pack_buffers();
    float edge[MR * NR] __attribute__((aligned(64)));
    const ptrdiff_t m_padded = (g->m + MR - 1) / MR * MR;
    // AVX-512: the same tiles, 12 × 32 at a time (gemm_avx512.c), from packed A slivers only.
    const int avx512 = kernel == micro_kernel_avx2 && ds_use_avx512();
    const int inplace_a = kernel == micro_kernel_avx2 && !avx512 && !g->prepacked_a && !g->trans_a && g->alpha == 1 &&
                          g->n <= INPLACE_A_MAX_N;
    const int inplace_b = reads_b_in_place(g, kernel == micro_kernel_avx2, avx512, inplace_a, m1 - m0);

    // Column blocks are the product's NC blocks (a pre-packed B is laid out by them), clipped to the window.
    for (ptrdiff_t block = n0 / NC * NC; block < n1; block += NC) {
        const ptrdiff_t block_end = block + NC < g->n ? block + NC : g->n;
        const ptrdiff_t jc = block > n0 ? block : n0;
        const ptrdiff_t nc = (block_end < n1 ? block_end : n1) - jc;
        const ptrdiff_t block_padded = (block_end - block + NR - 1) / NR * NR;
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
            const int accumulate = pc > 0 || g->beta != 0;
            const int last_block = pc + kc == k;
            const float *b_block;
            if (g->prepacked_b) {
                b_block = g->prepacked_b + block * k + pc * block_padded + (jc - block) * kc;
            } else if (inplace_b) {
                // Full slivers are read where they lie; only a last one of fewer columns is packed, where it would lie.
                const ptrdiff_t full = nc / NR * NR;
                if (full < nc && !avx512) pack_b(0, g->b, g->ldb, pc, kc, jc + full, nc - full, buffers->b + full * kc);
                b_block = buffers->b;
            } else {
                pack_b(g->trans_b, g->b, g->ldb, pc, kc, jc, nc, buffers->b);
                b_block = buffers->b;
            }
            for (ptrdiff_t ic = m0; ic < m1; ic += MC) {
                const ptrdiff_t mc = m1 - ic < MC ? m1 - ic : MC;
                const float *a_block;
                if (mc == 1 && kernel == micro_kernel_avx2 && !g->prepacked_a && g->alpha == 1) {
                    // One row: the row kernel reads op(A)'s row where it lies (packing it would write 6 × kc floats,
                    // five rows of them zeros, to read one).
                    const ptrdiff_t rs = g->trans_a ? 1 : g->lda, cs = g->trans_a ? g->lda : 1;
                    row_panel_avx2(kc, g->a + ic * rs + pc * cs, cs, b_block, nc, g->c + ic * ldc + jc, accumulate,
                                   last_block && epilogue, g->row_bias ? g->row_bias + ic : NULL,
                                   g->col_bias ? g->col_bias + jc : NULL, act);
                    continue;
                }
                if (g->prepacked_a) {
                    a_block = g->prepacked_a + pc * m_padded + ic * kc;
                } else if (inplace_a) {
                    // Full slivers are read in place; only a last one of fewer rows is packed, where it would lie.
                    const ptrdiff_t full = mc / MR * MR;
                    if (full < mc) pack_a(0, g->a, g->lda, ic + full, mc - full, pc, kc, 1, buffers->a + full * kc);
                    a_block = buffers->a;
                } else {
                    pack_a(g->trans_a, g->a, g->lda, ic, mc, pc, kc, g->alpha, buffers->a);
                    a_block = buffers->a;
                }
                const float *row_bias = g->row_bias ? g->row_bias + ic : NULL;
                const float *col_bias = g->col_bias ? g->col_bias + jc : NULL;
                if (avx512 && mc > 1) {
                    const ds_gemm_block x = {
                        kc, mc, nc, a_block,
                        inplace_b ? g->b + pc * g->ldb + jc : b_block, inplace_b ? g->ldb : NR, inplace_b ? NR : NR * kc,
                        g->c + ic * ldc + jc, ldc, accumulate, kc <= SHORT_K_ALONG_ROWS, last_block && epilogue,
                        row_bias, col_bias, act};
                    ds_gemm_block_avx512(&x);
                    continue;
                }
                if (mc == 1 && kernel == micro_kernel_avx2) {
                    row_panel_avx2(kc, a_block, MR, b_block, nc, g->c + ic * ldc + jc, accumulate, last_block && epilogue,
                                   row_bias, col_bias, act);
                    continue;
                }
                // A last row tile of 1–3 rows runs over two slivers at once (wide_short_tile_avx2): from the first of the
                // pair, which the second then skips.
                const ptrdiff_t last_rows = mc % MR;
                const int wide_pairs = kernel == micro_kernel_avx2 && last_rows >= 1 && last_rows <= 3;
                // Tiles column sliver by column sliver, each down every row sliver (a B sliver stays in L1 while the A
                // block streams from L2) — except for short K blocks, whose C tiles are written after a few dozen
                // FMAs: going down the rows then writes to every row of C at once, more streams than the stores
                // combine, so there the tiles go row sliver by row sliver along C's rows instead, the whole (small) B
                // block staying in L2. Same tiles, same sums, in another order. Measured (interleaved C harness, Clip
                // epilogue): MobileNetV2's 16 → 96 1×1 expansion at 112×112 0.72–0.92 → 0.59 ms, a 27-tap stem's
                // im2col product 0.36 → 0.33, a 48-deep one 1.09 → 1.02; no change from K 64 to 128.
                // One or two columns past the last full sliver go down the A slivers instead (thin_columns_avx2).
                const ptrdiff_t thin =
                    kernel == micro_kernel_avx2 && !inplace_a && nc % NR <= THIN_COLUMNS ? nc % NR : 0;
                const ptrdiff_t tiled = nc - thin;
                if (thin) {
                    float *first = g->c + ic * ldc + jc + tiled;
                    thin_columns_avx2(kc, a_block, b_block + tiled * kc, first, ldc, mc, thin, accumulate);
                    if (last_block && epilogue)
                        ds_gemm_apply_epilogue(first, ldc, mc, thin, row_bias, col_bias ? col_bias + tiled : NULL, act);
                }
                const ptrdiff_t row_slivers = (mc + MR - 1) / MR, col_slivers = (tiled + NR - 1) / NR;
                const int along_rows = kc <= SHORT_K_ALONG_ROWS;
                for (ptrdiff_t t = 0; t < row_slivers * col_slivers; t++) {
                    const ptrdiff_t jr = (along_rows ? t % col_slivers : t / row_slivers) * NR;
                    const ptrdiff_t ir = (along_rows ? t / col_slivers : t % row_slivers) * MR;
                    const ptrdiff_t cols = tiled - jr < NR ? tiled - jr : NR;
                    const float *b_sliver = b_block + jr * kc;
                    // Where the tile reads B: the sliver packed (NR apart), or the columns in place (ldb apart).
                    const int b_here = inplace_b && cols == NR;
                    const float *b_cols = b_here ? g->b + pc * g->ldb + jc + jr : b_sliver;
                    const ptrdiff_t b_row = b_here ? g->ldb : NR;
                    const int pair_first = wide_pairs && jr % (2 * NR) == 0 && jr + 2 * NR <= tiled;
                    const int pair_second = wide_pairs && jr % (2 * NR) == NR && jr + NR <= tiled;
                    const ptrdiff_t rows = mc - ir < MR ? mc - ir : MR;
                    const float *a_sliver = a_block + ir * kc;
                    float *tile = g->c + (ic + ir) * ldc + jc + jr;
                    if (inplace_a && rows == MR) {
                        const float *a_rows = g->a + (ic + ir) * g->lda + pc;
                        if (cols == NR) {
                            const tile_epilogue ep = {row_bias ? row_bias + ir : NULL, col_bias ? col_bias + jr : NULL, act};
                            micro_kernel_inplace_avx2(kc, a_rows, g->lda, b_sliver, tile, ldc, accumulate,
                                                      last_block && in_register ? &ep : NULL);
                            continue;
                        }
                        micro_kernel_inplace_avx2(kc, a_rows, g->lda, b_sliver, edge, NR, 0, NULL);
                        for (ptrdiff_t r = 0; r < rows; r++)
                            for (ptrdiff_t j = 0; j < cols; j++)
                                tile[r * ldc + j] = accumulate ? tile[r * ldc + j] + edge[r * NR + j] : edge[r * NR + j];
                        if (last_block && epilogue)
                            ds_gemm_apply_epilogue(tile, ldc, rows, cols, row_bias ? row_bias + ir : NULL,
                                           col_bias ? col_bias + jr : NULL, act);
                        continue;
                    }
                    if (rows < MR && pair_second) continue;
                    if (rows < MR && pair_first) {
                        const tile_epilogue ep = {row_bias ? row_bias + ir : NULL, col_bias ? col_bias + jr : NULL, act};
                        micro_kernel_wide_short_avx2(kc, a_sliver, b_cols, b_here ? b_cols + NR : b_sliver + NR * kc,
                                                     b_row, tile, ldc, accumulate, last_block && epilogue ? &ep : NULL,
                                                     rows);
                        continue;
                    }
                    if (b_here && rows == MR) {
                        const tile_epilogue ep = {row_bias ? row_bias + ir : NULL, col_bias ? col_bias + jr : NULL, act};
                        micro_kernel_inplace_b_avx2(kc, a_sliver, b_cols, b_row, tile, ldc, accumulate,
                                                    last_block && in_register ? &ep : NULL);
                        continue;
                    }
                    if (rows == MR && cols == NR && last_block && in_register) {
                        const tile_epilogue ep = {row_bias ? row_bias + ir : NULL, col_bias ? col_bias + jr : NULL, act};
                        kernel(kc, a_sliver, b_sliver, tile, ldc, accumulate, &ep);
                        continue;
                    }
                    if (rows < MR && cols == NR && kernel == micro_kernel_avx2) {
                        const tile_epilogue ep = {row_bias ? row_bias + ir : NULL, col_bias ? col_bias + jr : NULL, act};
                        micro_kernel_short_avx2(kc, a_sliver, b_cols, b_row, tile, ldc, accumulate,
                                                last_block && epilogue ? &ep : NULL, rows);
                        continue;
                    }
                    if (rows == MR && cols == NR) {
                        kernel(kc, a_sliver, b_sliver, tile, ldc, accumulate, NULL);
                    } else {
                        if (cols <= NR / 2 && kernel == micro_kernel_avx2)
                            micro_kernel_narrow_avx2(kc, a_sliver, b_sliver, edge, NR);
                        else
                            kernel(kc, a_sliver, b_sliver, edge, NR, 0, NULL);
                        for (ptrdiff_t r = 0; r < rows; r++)
                            for (ptrdiff_t j = 0; j < cols; j++)
                                tile[r * ldc + j] = accumulate ? tile[r * ldc + j] + edge[r * NR + j]
                                                               : edge[r * NR + j];
                    }
                    if (last_block && epilogue)
                        ds_gemm_apply_epilogue(tile, ldc, rows, cols, row_bias ? row_bias + ir : NULL,
                                       col_bias ? col_bias + jr : NULL, act);
                }
            }
        }
    }
}

// MARK: - Parallel split

// Below this many multiply-adds a product runs on one thread: a region's hand-off costs a few microseconds.
#define PARALLEL_MIN_WORK (1 << 20)

// MARK: - One-column products

// A product with one column (a 1×1 convolution on a 1×1 map: a squeeze-excitation block, a classifier head written as
// a convolution) would fill one of each tile's 16 columns. Instead each 6-row sliver of pre-packed A, laid out
// a[p·6 + r], is multiplied element by element with x expanded the same way (x6[p·6 + r] = x[p]), 24 floats (four
// values of p) per step in three accumulators, whose lanes are then folded into the six rows' sums: A is read once,
// in order, at memory speed.
typedef struct {
    const gemm_problem *problem;
    float *expanded;     // x6 for every K block, in order: 6·k floats
    ptrdiff_t slivers_per_part;
} gemv_job;

__attribute__((target("avx2,fma")))
static void gemv_slivers(const gemm_problem *g, const float *x6, ptrdiff_t first, ptrdiff_t last) {
    const ptrdiff_t k = g->k, m_padded = (g->m + MR - 1) / MR * MR;
    for (ptrdiff_t s = first; s < last; s++) {
        float sums[MR] = {0};
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            const ptrdiff_t kc = k - pc < KC ? k - pc : KC, floats = kc * MR;
            const float *a = g->prepacked_a + pc * m_padded + s * MR * kc, *x = x6 + pc * MR;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps();
            ptrdiff_t i = 0;
            for (; i + 24 <= floats; i += 24) {
                acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), acc0);
                acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
                acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
            }
            float lanes[24];
            _mm256_storeu_ps(lanes, acc0);
            _mm256_storeu_ps(lanes + 8, acc1);
            _mm256_storeu_ps(lanes + 16, acc2);
            for (ptrdiff_t j = 0; j < 24; j++) sums[j % MR] += lanes[j];
            for (; i < floats; i++) sums[i % MR] += a[i] * x[i];
        }
        for (ptrdiff_t r = 0; r < MR && s * MR + r < g->m; r++) {
            float *y = g->c + (s * MR + r) * g->ldc;
            float v = (g->beta == 0 ? 0 : g->beta * *y) + sums[r];
            if (g->row_bias) v += g->row_bias[s * MR + r];
            if (g->col_bias) v += g->col_bias[0];
            *y = v;
        }
    }
}

static void gemv_part(void *context, ptrdiff_t index) {
    const gemv_job *job = context;
    const ptrdiff_t slivers = (job->problem->m + MR - 1) / MR, first = index * job->slivers_per_part;
    gemv_slivers(job->problem, job->expanded, first, first + job->slivers_per_part < slivers ? first + job->slivers_per_part : slivers);
}

// A·x for a pre-packed A and one column x (b, ldb apart), with the epilogue. Returns 0 when it could not run
// (no AVX2, or no memory for the expanded x): the caller runs the blocked loop then.
static int gemv_packed_a(const gemm_problem *g) {
    if (!ds_use_avx2()) return 0;
    float *x6 = malloc((size_t)g->k * MR * sizeof(float));
    if (!x6) return 0;
    for (ptrdiff_t p = 0; p < g->k; p++) {
        const float v = g->b[p * (g->trans_b ? 1 : g->ldb)];
        for (ptrdiff_t r = 0; r < MR; r++) x6[p * MR + r] = v;
    }
    const ptrdiff_t slivers = (g->m + MR - 1) / MR, threads = ds_parallel_threads();
    const double work = (double)g->m * (double)g->k;
    gemv_job job = {.problem = g, .expanded = x6, .slivers_per_part = slivers};
    if (threads > 1 && work >= PARALLEL_MIN_WORK) {
        const ptrdiff_t parts = threads * DS_PARTS_PER_THREAD;
        job.slivers_per_part = (slivers + parts - 1) / parts;
    }
    ds_parallel_for((slivers + job.slivers_per_part - 1) / job.slivers_per_part, gemv_part, &job);
    free(x6);
    if (g->act.kind != DS_ACTIVATION_NONE) {
        if (g->ldc == 1) ds_activation_apply(g->c, g->m, g->act);   // one run: the bits a separate pass gives
        else for (ptrdiff_t i = 0; i < g->m; i++) ds_activation_apply(g->c + i * g->ldc, 1, g->act);
    }
    return 1;
}


typedef struct {
    const gemm_problem *problem;
    int by_columns;          // split the columns (else the rows)
    ptrdiff_t step, parts;   // each part's width (a multiple of NR or MR)
} gemm_split;

static void gemm_part(void *context, ptrdiff_t index) {
    const gemm_split *split = context;
    const gemm_problem *g = split->problem;
    const ptrdiff_t begin = index * split->step;
    if (split->by_columns) {
        const ptrdiff_t end = begin + split->step < g->n ? begin + split->step : g->n;
        gemm_window(g, 0, g->m, begin, end);
    } else {
        const ptrdiff_t end = begin + split->step < g->m ? begin + split->step : g->m;
        gemm_window(g, begin, end, 0, g->n);
    }
}

// The runner's buffer for an operand every window shares, packed once before a split (grown as needed, freed when
// the thread exits).
static pthread_key_t shared_key;
static pthread_once_t shared_key_once = PTHREAD_ONCE_INIT;
typedef struct { float *data; size_t capacity; } shared_buffer;
static void shared_buffer_free(void *p) { shared_buffer *s = p; free(s->data); free(s); }
static void shared_key_create(void) { pthread_key_create(&shared_key, shared_buffer_free); }

static float *shared_operand(size_t floats) {
    pthread_once(&shared_key_once, shared_key_create);
    shared_buffer *s = pthread_getspecific(shared_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        pthread_setspecific(shared_key, s);
    }
    if (s->capacity < floats) {
        free(s->data);
        s->data = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        s->capacity = s->data ? floats : 0;
    }
    return s->data;
}

// Cuts `extent` (rows or columns, `slivers` slivers of `width`) into at most `wanted` windows of whole slivers.
static void cut_windows(ptrdiff_t slivers, ptrdiff_t wanted, ptrdiff_t width, ptrdiff_t extent, gemm_split *split) {
    const ptrdiff_t parts = slivers < wanted ? slivers : wanted;
    split->step = (slivers + parts - 1) / parts * width;
    split->parts = (extent + split->step - 1) / split->step;
}

// Splits C into windows, DS_PARTS_PER_THREAD per thread: by columns when there are enough of them (each window packs
// only its own part of B; A is packed once and shared), else by rows (B packed once). A window never starts inside a
// sliver.
static void gemm_run(const gemm_problem *g) {
    if (g->n == 1 && g->prepacked_a && gemv_packed_a(g)) return;
    const int threads = ds_parallel_threads();
    const double work = (double)g->m * (double)g->n * (double)g->k;
    if (threads < 2 || work < PARALLEL_MIN_WORK) {
        gemm_window(g, 0, g->m, 0, g->n);
        return;
    }
    const ptrdiff_t column_slivers = (g->n + NR - 1) / NR, row_slivers = (g->m + MR - 1) / MR;
    const ptrdiff_t wanted = (ptrdiff_t)threads * DS_PARTS_PER_THREAD;
    gemm_problem shared = *g;
    gemm_split split = {.problem = &shared};
    if (column_slivers >= 2 * threads || column_slivers >= row_slivers) {
        split.by_columns = 1;
        cut_windows(column_slivers, wanted, NR, g->n, &split);
        // Every column window reads all of A: pack it once rather than once per window.
        float *packed = g->prepacked_a ? NULL : shared_operand(ds_sgemm_packed_a_size(g->m, g->k));
        if (packed) {
            ds_sgemm_pack_a(g->trans_a, g->m, g->k, g->alpha, g->a, g->lda, packed);
            shared.prepacked_a = packed;
        }
    } else {
        split.by_columns = 0;
        cut_windows(row_slivers, wanted, MR, g->m, &split);
        // Every row window reads all of B: pack it once.
        float *packed = g->prepacked_b ? NULL : shared_operand(ds_sgemm_packed_b_size(g->k, g->n));
        if (packed) {
            ds_sgemm_pack_b(g->trans_b, g->k, g->n, g->b, g->ldb, packed);
            shared.prepacked_b = packed;
        }
    }
    ds_parallel_for(split.parts, gemm_part, &split);
}

// C = beta·C (or 0), then the epilogue: what a GEMM with an empty product leaves.
static void degenerate(ptrdiff_t m, ptrdiff_t n, float beta, float *c, ptrdiff_t ldc,
                       const float *row_bias, const float *col_bias, ds_activation act) {
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
    if (needs_epilogue(row_bias, col_bias, act)) ds_gemm_apply_epilogue(c, ldc, m, n, row_bias, col_bias, act);
}

void ds_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
              float alpha, const float *a, ptrdiff_t lda,
              const float *b, ptrdiff_t ldb,
              float beta, float *c, ptrdiff_t ldc,
              const float *row_bias, const float *col_bias, ds_activation act) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        degenerate(m, n, beta, c, ldc, row_bias, col_bias, act);
        return;
    }
    // m == 1 too: see "One-row products".
    const gemm_problem g = {trans_a, trans_b, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, beta, c, ldc, row_bias, col_bias, act};
    gemm_run(&g);
}

void ds_sgemm_prepacked(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *packed_a,
                        int trans_b, const float *b, ptrdiff_t ldb,
                        float beta, float *c, ptrdiff_t ldc,
                        const float *row_bias, const float *col_bias, ds_activation act) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        degenerate(m, n, beta, c, ldc, row_bias, col_bias, act);
        return;
    }
    const gemm_problem g = {0, trans_b, m, n, k, 1, NULL, 0, packed_a, b, ldb, NULL, beta, c, ldc, row_bias, col_bias, act};
    gemm_run(&g);
}

void ds_sgemm_prepacked_b(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                          const float *packed_b, float beta, float *c, ptrdiff_t ldc,
                          const float *row_bias, const float *col_bias, ds_activation act) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        degenerate(m, n, beta, c, ldc, row_bias, col_bias, act);
        return;
    }
    const gemm_problem g = {trans_a, 0, m, n, k, alpha, a, lda, NULL, NULL, 0, packed_b, beta, c, ldc, row_bias, col_bias, act};
    gemm_run(&g);
}

// MARK: - Batches of small products

typedef struct {
    ptrdiff_t m, n, k;
    const float *a, *b;
    const ptrdiff_t *a_offsets, *b_offsets;
    float *c;
    const float *col_bias;
    ds_activation act;
} gemm_batch;

static void gemm_batch_item(void *context, ptrdiff_t index) {
    const gemm_batch *g = context;
    ds_sgemm(0, 0, g->m, g->n, g->k, 1, g->a + g->a_offsets[index], g->k, g->b + g->b_offsets[index], g->n, 0,
             g->c + index * g->m * g->n, g->n, NULL, g->col_bias, g->act);
}

void ds_sgemm_batched(ptrdiff_t count, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, const ptrdiff_t *a_offsets,
                      const float *b, const ptrdiff_t *b_offsets, float *c, const float *col_bias, ds_activation act) {
    if (count <= 0 || m <= 0 || n <= 0) return;
    const gemm_batch batch = {m, n, k, a, b, a_offsets, b_offsets, c, col_bias, act};
    // Large products split their own tiles; small ones (attention's per-head products) go one per thread.
    if ((double)m * (double)n * (double)k >= PARALLEL_MIN_WORK) {
        for (ptrdiff_t i = 0; i < count; i++) gemm_batch_item((void *)&batch, i);
    } else {
        ds_parallel_for(count, gemm_batch_item, (void *)&batch);
    }
}
