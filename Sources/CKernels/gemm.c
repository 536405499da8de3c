// Packed single-precision GEMM in the Goto/BLIS style: B is packed into KC×NC panels of NR-wide
// columns, A into MC×KC panels of MR-tall rows, and a register-blocked MR×NR micro-kernel
// (12 AVX2 accumulators) computes each C tile. The bias and activation epilogue runs on each tile
// right after its last K block, while the tile is still in L1.
//
// Block sizes: measured on the project's machines (shared/KERNELS.md): KC 512 / MC 96 / NC 2048.
// They can be overridden at compile time (-DKC=…) for tuning experiments.
#include "CKernels.h"
#include "dispatch.h"

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

// Packs rows [i0, i0+mc) × columns [p0, p0+kc) of alpha·op(A) into MR-row slivers, zero-padded.
static void pack_a(int trans, const float *a, ptrdiff_t lda, ptrdiff_t i0, ptrdiff_t mc,
                   ptrdiff_t p0, ptrdiff_t kc, float alpha, float *out) {
    // Element (i, p) of op(A) lives at a[i*rs + p*cs].
    const ptrdiff_t rs = trans ? 1 : lda, cs = trans ? lda : 1;
    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
        const ptrdiff_t rows = mc - ir < MR ? mc - ir : MR;
        const float *src = a + (i0 + ir) * rs + p0 * cs;
        for (ptrdiff_t p = 0; p < kc; p++) {
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

typedef void (*micro_kernel_fn)(ptrdiff_t kc, const float *a, const float *b, float *c,
                                ptrdiff_t ldc, int accumulate);

__attribute__((target("avx2,fma")))
static void micro_kernel_avx2(ptrdiff_t kc, const float *a, const float *b, float *c,
                              ptrdiff_t ldc, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 ai;
        ai = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
        a += MR;
        b += NR;
    }
#define DS_STORE_ROW(r, lo, hi)                                                   \
    do {                                                                          \
        float *row = c + (r) * ldc;                                               \
        if (accumulate) {                                                         \
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));                         \
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));                     \
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
}

static void micro_kernel_portable(ptrdiff_t kc, const float *a, const float *b, float *c,
                                  ptrdiff_t ldc, int accumulate) {
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

static void apply_epilogue(float *c, ptrdiff_t ldc, ptrdiff_t rows, ptrdiff_t cols,
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

// MARK: - GEMV (m == 1): no packing, one pass over B

__attribute__((target("avx2,fma")))
static float dot_avx2(const float *x, const float *y, ptrdiff_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    float total = _mm_cvtss_f32(h);
    for (; i < n; i++) total += x[i] * y[i];
    return total;
}

// Four dot products of x with consecutive rows of b at once: x is loaded once per step for all
// four, and eight independent accumulators keep the FMA units busy (a GEMV is load-bound).
__attribute__((target("avx2,fma")))
static void dot4_avx2(const float *x, const float *b, ptrdiff_t ldb, ptrdiff_t n, float *out) {
    const float *r0 = b, *r1 = b + ldb, *r2 = b + 2 * ldb, *r3 = b + 3 * ldb;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0 + i), a0);
        a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r1 + i), a1);
        a2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r2 + i), a2);
        a3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r3 + i), a3);
        c0 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r0 + i + 8), c0);
        c1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1 + i + 8), c1);
        c2 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r2 + i + 8), c2);
        c3 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r3 + i + 8), c3);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0 + i), a0);
        a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r1 + i), a1);
        a2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r2 + i), a2);
        a3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r3 + i), a3);
    }
    a0 = _mm256_add_ps(a0, c0); a1 = _mm256_add_ps(a1, c1); a2 = _mm256_add_ps(a2, c2); a3 = _mm256_add_ps(a3, c3);
    // Transpose-and-add: one vector holding the four horizontal sums.
    const __m256 s01 = _mm256_hadd_ps(a0, a1), s23 = _mm256_hadd_ps(a2, a3);
    const __m256 s = _mm256_hadd_ps(s01, s23);
    const __m128 sums = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    _mm_storeu_ps(out, sums);
    for (; i < n; i++) {
        out[0] += x[i] * r0[i];
        out[1] += x[i] * r1[i];
        out[2] += x[i] * r2[i];
        out[3] += x[i] * r3[i];
    }
}

static float dot_portable(const float *x, const float *y, ptrdiff_t n) {
    float total = 0;
    for (ptrdiff_t i = 0; i < n; i++) total += x[i] * y[i];
    return total;
}

__attribute__((target("avx2,fma")))
static void axpy_avx2(float a, const float *x, float *y, ptrdiff_t n) {
    const __m256 va = _mm256_set1_ps(a);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

static void axpy_portable(float a, const float *x, float *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] += a * x[i];
}

// y[0..n) = alpha · x[0..k) · op(B) + beta · y, x with stride incx.
static void gemv(int trans_b, ptrdiff_t n, ptrdiff_t k, float alpha, const float *x, ptrdiff_t incx,
                 const float *b, ptrdiff_t ldb, float beta, float *y) {
    const int fast = ds_use_avx2();
    if (trans_b && incx == 1) {
        ptrdiff_t j = 0;
        if (fast) {
            for (; j + 4 <= n; j += 4) {
                float d[4];
                dot4_avx2(x, b + j * ldb, ldb, k, d);
                for (int r = 0; r < 4; r++) y[j + r] = alpha * d[r] + (beta == 0 ? 0 : beta * y[j + r]);
            }
        }
        for (; j < n; j++) {
            const float d = fast ? dot_avx2(x, b + j * ldb, k) : dot_portable(x, b + j * ldb, k);
            y[j] = alpha * d + (beta == 0 ? 0 : beta * y[j]);
        }
        return;
    }
    if (beta == 0) memset(y, 0, sizeof(float) * n);
    else if (beta != 1) for (ptrdiff_t j = 0; j < n; j++) y[j] *= beta;
    if (!trans_b) {
        for (ptrdiff_t p = 0; p < k; p++) {
            const float xp = alpha * x[p * incx];
            if (fast) axpy_avx2(xp, b + p * ldb, y, n);
            else axpy_portable(xp, b + p * ldb, y, n);
        }
    } else {
        for (ptrdiff_t j = 0; j < n; j++) {
            float d = 0;
            for (ptrdiff_t p = 0; p < k; p++) d += x[p * incx] * b[j * ldb + p];
            y[j] += alpha * d;
        }
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

// The shared blocked loop; A and B each come pre-packed (non-NULL prepacked pointer) or are packed per block.
static void gemm_blocked(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *a, ptrdiff_t lda, const float *prepacked,
                         const float *b, ptrdiff_t ldb, const float *prepacked_b, float beta, float *c, ptrdiff_t ldc,
                         const float *row_bias, const float *col_bias, ds_activation act) {
    const int epilogue = needs_epilogue(row_bias, col_bias, act);
    if (beta != 0 && beta != 1)
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] *= beta;

    const micro_kernel_fn kernel = ds_use_avx2() ? micro_kernel_avx2 : micro_kernel_portable;
    pack_buffers *buffers = thread_pack_buffers();
    float edge[MR * NR] __attribute__((aligned(64)));
    const ptrdiff_t m_padded = (m + MR - 1) / MR * MR;

    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        const ptrdiff_t nc = n - jc < NC ? n - jc : NC;
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
            const int accumulate = pc > 0 || beta != 0;
            const int last_block = pc + kc == k;
            const float *b_block;
            if (prepacked_b) {
                b_block = prepacked_b + jc * k + pc * ((nc + NR - 1) / NR * NR);
            } else {
                pack_b(trans_b, b, ldb, pc, kc, jc, nc, buffers->b);
                b_block = buffers->b;
            }
            for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                const ptrdiff_t mc = m - ic < MC ? m - ic : MC;
                const float *a_block;
                if (prepacked) {
                    a_block = prepacked + pc * m_padded + ic * kc;
                } else {
                    pack_a(trans_a, a, lda, ic, mc, pc, kc, alpha, buffers->a);
                    a_block = buffers->a;
                }
                for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
                    const ptrdiff_t cols = nc - jr < NR ? nc - jr : NR;
                    const float *b_sliver = b_block + jr * kc;
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
                        const ptrdiff_t rows = mc - ir < MR ? mc - ir : MR;
                        const float *a_sliver = a_block + ir * kc;
                        float *tile = c + (ic + ir) * ldc + jc + jr;
                        if (rows == MR && cols == NR) {
                            kernel(kc, a_sliver, b_sliver, tile, ldc, accumulate);
                        } else {
                            kernel(kc, a_sliver, b_sliver, edge, NR, 0);
                            for (ptrdiff_t r = 0; r < rows; r++)
                                for (ptrdiff_t j = 0; j < cols; j++)
                                    tile[r * ldc + j] = accumulate ? tile[r * ldc + j] + edge[r * NR + j]
                                                                   : edge[r * NR + j];
                        }
                        if (last_block && epilogue)
                            apply_epilogue(tile, ldc, rows, cols,
                                           row_bias ? row_bias + ic + ir : NULL,
                                           col_bias ? col_bias + jc + jr : NULL, act);
                    }
                }
            }
        }
    }
}

// C = beta·C (or 0), then the epilogue: what a GEMM with an empty product leaves.
static void degenerate(ptrdiff_t m, ptrdiff_t n, float beta, float *c, ptrdiff_t ldc,
                       const float *row_bias, const float *col_bias, ds_activation act) {
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
    if (needs_epilogue(row_bias, col_bias, act)) apply_epilogue(c, ldc, m, n, row_bias, col_bias, act);
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
    if (m == 1) {
        gemv(trans_b, n, k, alpha, a, trans_a ? lda : 1, b, ldb, beta, c);
        if (needs_epilogue(row_bias, col_bias, act)) apply_epilogue(c, ldc, 1, n, row_bias, col_bias, act);
        return;
    }
    gemm_blocked(trans_a, trans_b, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, beta, c, ldc, row_bias, col_bias, act);
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
    gemm_blocked(0, trans_b, m, n, k, 1, NULL, 0, packed_a, b, ldb, NULL, beta, c, ldc, row_bias, col_bias, act);
}

void ds_sgemm_prepacked_b(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                          const float *packed_b, float beta, float *c, ptrdiff_t ldc,
                          const float *row_bias, const float *col_bias, ds_activation act) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        degenerate(m, n, beta, c, ldc, row_bias, col_bias, act);
        return;
    }
    gemm_blocked(trans_a, 0, m, n, k, alpha, a, lda, NULL, NULL, 0, packed_b, beta, c, ldc, row_bias, col_bias, act);
}
