// Exact 8-bit integer GEMM for MatMulInteger / QLinearMatMul:
//   C[i][j] = Σ_p (A[i][p] − a_zero[i]) · (B[p][j] − b_zero[j])   in int32, wrapping mod 2^32,
// which is what the ONNX reference (and the engine's plain Swift kernel) computes.
//
// The AVX-512 VNNI kernel uses VPDPBUSD, which multiplies unsigned bytes by signed bytes and adds
// groups of four products into each int32 lane (no saturation: that is VPDPBUSDS). Any signedness
// is reduced to that one form by moving operands by 128:
//   a_u = A + oa  (oa = 128 for int8 A, flipping the sign bit; 0 for uint8)      — unsigned
//   b_s = B − ob  (ob = 128 for uint8 B, flipping the sign bit; 0 for int8)       — signed
// and, with za = a_zero[i] + oa and zb = b_zero[j] − ob,
//   C = Σ a_u·b_s − zb·Σ_p a_u − za·Σ_p b_s + K·za·zb,
// an identity in the integers, hence exact mod 2^32 with wrapping int32 arithmetic. Row sums of
// a_u and column sums of b_s are computed while packing.
//
// Layout: B is packed once per call into 32-column panels of K/4 groups of 4 bytes per column
// (the VPDPBUSD operand order), zero-padded in K to a multiple of 4 and in N to 32; A is packed
// 6 rows at a time, also zero-padded. A 6×32 tile keeps 12 zmm accumulators. K is not blocked:
// these are transformer and small-CNN shapes (K ≤ a few thousand), whose packed B panel of
// K·32 bytes stays in L1/L2.
#include "CKernels.h"
#include "dispatch.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define IMR 6
#define INR 32

static void *aligned_bytes(size_t size) {
    size_t rounded = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) abort();
    return p;
}

// The portable reference: widen, subtract the zero points, multiply-add with uint32 wrapping.
static void igemm_portable(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a, ptrdiff_t lda, int a_signed,
                           const int32_t *a_zero, const uint8_t *b, ptrdiff_t ldb, int b_signed,
                           const int32_t *b_zero, int32_t *c, ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < m; i++) {
        uint32_t *row = (uint32_t *)(c + i * ldc);
        for (ptrdiff_t j = 0; j < n; j++) row[j] = 0;
        const uint32_t za = a_zero ? (uint32_t)a_zero[i] : 0;
        for (ptrdiff_t p = 0; p < k; p++) {
            const uint8_t raw = a[i * lda + p];
            const uint32_t av = (a_signed ? (uint32_t)(int32_t)(int8_t)raw : (uint32_t)raw) - za;
            if (av == 0) continue;
            const uint8_t *source = b + p * ldb;
            for (ptrdiff_t j = 0; j < n; j++) {
                const uint32_t bv = (b_signed ? (uint32_t)(int32_t)(int8_t)source[j] : (uint32_t)source[j]) -
                                    (b_zero ? (uint32_t)b_zero[j] : 0);
                row[j] += av * bv;
            }
        }
    }
}

#ifdef DS_IGEMM_EMULATE_VNNI
// Test builds only (`-DDS_IGEMM_EMULATE_VNNI`): VPDPBUSD's definition in scalar C, so the VNNI
// packing and correction terms can be checked on a CPU without VNNI.
static void igemm_tile_vnni(ptrdiff_t groups, const uint8_t *a, const int8_t *b, int32_t *out) {
    uint32_t acc[IMR * INR] = {0};
    for (ptrdiff_t g = 0; g < groups; g++, a += IMR * 4, b += INR * 4)
        for (int r = 0; r < IMR; r++)
            for (int j = 0; j < INR; j++)
                for (int t = 0; t < 4; t++) acc[r * INR + j] += (uint32_t)((int32_t)a[r * 4 + t] * (int32_t)b[j * 4 + t]);
    memcpy(out, acc, sizeof acc);
}
#else
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void igemm_tile_vnni(ptrdiff_t groups, const uint8_t *a, const int8_t *b, int32_t *out) {
    __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
    __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
    __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();
    __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();
    __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();
    __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();
    const int32_t *a4 = (const int32_t *)a;
    for (ptrdiff_t g = 0; g < groups; g++) {
        const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
        __m512i ai;
        ai = _mm512_set1_epi32(a4[0]); c00 = _mm512_dpbusd_epi32(c00, ai, b0); c01 = _mm512_dpbusd_epi32(c01, ai, b1);
        ai = _mm512_set1_epi32(a4[1]); c10 = _mm512_dpbusd_epi32(c10, ai, b0); c11 = _mm512_dpbusd_epi32(c11, ai, b1);
        ai = _mm512_set1_epi32(a4[2]); c20 = _mm512_dpbusd_epi32(c20, ai, b0); c21 = _mm512_dpbusd_epi32(c21, ai, b1);
        ai = _mm512_set1_epi32(a4[3]); c30 = _mm512_dpbusd_epi32(c30, ai, b0); c31 = _mm512_dpbusd_epi32(c31, ai, b1);
        ai = _mm512_set1_epi32(a4[4]); c40 = _mm512_dpbusd_epi32(c40, ai, b0); c41 = _mm512_dpbusd_epi32(c41, ai, b1);
        ai = _mm512_set1_epi32(a4[5]); c50 = _mm512_dpbusd_epi32(c50, ai, b0); c51 = _mm512_dpbusd_epi32(c51, ai, b1);
        a4 += IMR;
        b += INR * 4;
    }
    _mm512_store_si512(out + 0, c00);   _mm512_store_si512(out + 16, c01);
    _mm512_store_si512(out + 32, c10);  _mm512_store_si512(out + 48, c11);
    _mm512_store_si512(out + 64, c20);  _mm512_store_si512(out + 80, c21);
    _mm512_store_si512(out + 96, c30);  _mm512_store_si512(out + 112, c31);
    _mm512_store_si512(out + 128, c40); _mm512_store_si512(out + 144, c41);
    _mm512_store_si512(out + 160, c50); _mm512_store_si512(out + 176, c51);
}
#endif

static void igemm_vnni(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a, ptrdiff_t lda, int a_signed,
                       const int32_t *a_zero, const uint8_t *b, ptrdiff_t ldb, int b_signed,
                       const int32_t *b_zero, int32_t *c, ptrdiff_t ldc) {
    const ptrdiff_t groups = (k + 3) / 4, panels = (n + INR - 1) / INR;
    const uint8_t a_flip = a_signed ? 0x80 : 0, b_flip = b_signed ? 0 : 0x80;
    const int32_t oa = a_signed ? 128 : 0, ob = b_signed ? 0 : 128;
    // Pack B: panel q, group g, column j, byte t → b_s[4g + t][32q + j].
    int8_t *pb = aligned_bytes((size_t)panels * groups * INR * 4);
    int32_t *col_sums = aligned_bytes(sizeof(int32_t) * panels * INR);
    memset(pb, 0, (size_t)panels * groups * INR * 4);
    memset(col_sums, 0, sizeof(int32_t) * panels * INR);
    for (ptrdiff_t p = 0; p < k; p++) {
        const uint8_t *source = b + p * ldb;
        const ptrdiff_t g = p / 4, t = p % 4;
        for (ptrdiff_t j = 0; j < n; j++) {
            const int8_t value = (int8_t)(source[j] ^ b_flip);
            pb[((j / INR) * groups + g) * INR * 4 + (j % INR) * 4 + t] = value;
            col_sums[j] += value;
        }
    }
    uint8_t *pa = aligned_bytes((size_t)groups * 4 * IMR);
    int32_t tile[IMR * INR] __attribute__((aligned(64)));
    for (ptrdiff_t i0 = 0; i0 < m; i0 += IMR) {
        const ptrdiff_t rows = m - i0 < IMR ? m - i0 : IMR;
        // Pack A: group g, row r, byte t → a_u[i0 + r][4g + t].
        memset(pa, 0, (size_t)groups * 4 * IMR);
        uint32_t row_sums[IMR] = {0};
        for (ptrdiff_t r = 0; r < rows; r++) {
            const uint8_t *source = a + (i0 + r) * lda;
            for (ptrdiff_t p = 0; p < k; p++) {
                const uint8_t value = source[p] ^ a_flip;
                pa[(p / 4) * 4 * IMR + r * 4 + p % 4] = value;
                row_sums[r] += value;
            }
        }
        for (ptrdiff_t q = 0; q < panels; q++) {
            igemm_tile_vnni(groups, pa, pb + q * groups * INR * 4, tile);
            const ptrdiff_t cols = n - q * INR < INR ? n - q * INR : INR;
            for (ptrdiff_t r = 0; r < rows; r++) {
                const uint32_t za = (uint32_t)((a_zero ? a_zero[i0 + r] : 0) + oa);
                uint32_t *target = (uint32_t *)(c + (i0 + r) * ldc + q * INR);
                for (ptrdiff_t j = 0; j < cols; j++) {
                    const uint32_t zb = (uint32_t)((b_zero ? b_zero[q * INR + j] : 0) - ob);
                    target[j] = (uint32_t)tile[r * INR + j] - zb * row_sums[r] - za * (uint32_t)col_sums[q * INR + j] +
                                (uint32_t)k * za * zb;
                }
            }
        }
    }
    free(pa);
    free(pb);
    free(col_sums);
}

// AVX2 (no VNNI; the machines this project builds on today): operands widened to int16 with their
// zero points already subtracted (|value| ≤ 510), VPMADDWD adds pairs of int16 products into int32
// lanes exactly (2·510² < 2^31), so no correction terms are needed. (VPMADDUBSW, which onnxruntime
// uses on AVX2, would saturate pairs in int16 and is not exact on full-range data.)
// Layout: B in 16-column panels of K/2 groups of 2 int16 per column; A 6 rows at a time.
#define JNR 16

__attribute__((target("avx2")))
static void igemm_tile_avx2(ptrdiff_t groups, const int16_t *a, const int16_t *b, int32_t *out) {
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    const int32_t *a2 = (const int32_t *)a;
    for (ptrdiff_t g = 0; g < groups; g++) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)b), b1 = _mm256_load_si256((const __m256i *)(b + 16));
        __m256i ai;
#define DS_IGEMM_ROW(r, lo, hi)                                                        \
        ai = _mm256_set1_epi32(a2[r]);                                                 \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(ai, b0));                          \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(ai, b1));
        DS_IGEMM_ROW(0, c00, c01) DS_IGEMM_ROW(1, c10, c11) DS_IGEMM_ROW(2, c20, c21)
        DS_IGEMM_ROW(3, c30, c31) DS_IGEMM_ROW(4, c40, c41) DS_IGEMM_ROW(5, c50, c51)
#undef DS_IGEMM_ROW
        a2 += IMR;
        b += JNR * 2;
    }
    __m256i *o = (__m256i *)out;
    _mm256_store_si256(o + 0, c00);  _mm256_store_si256(o + 1, c01);
    _mm256_store_si256(o + 2, c10);  _mm256_store_si256(o + 3, c11);
    _mm256_store_si256(o + 4, c20);  _mm256_store_si256(o + 5, c21);
    _mm256_store_si256(o + 6, c30);  _mm256_store_si256(o + 7, c31);
    _mm256_store_si256(o + 8, c40);  _mm256_store_si256(o + 9, c41);
    _mm256_store_si256(o + 10, c50); _mm256_store_si256(o + 11, c51);
}

static inline int32_t igemm_value(uint8_t raw, int is_signed) { return is_signed ? (int32_t)(int8_t)raw : (int32_t)raw; }

static void igemm_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a, ptrdiff_t lda, int a_signed,
                       const int32_t *a_zero, const uint8_t *b, ptrdiff_t ldb, int b_signed,
                       const int32_t *b_zero, int32_t *c, ptrdiff_t ldc) {
    const ptrdiff_t groups = (k + 1) / 2, panels = (n + JNR - 1) / JNR;
    const size_t panel_values = (size_t)groups * JNR * 2;
    int16_t *pb = aligned_bytes(sizeof(int16_t) * panels * panel_values);
    memset(pb, 0, sizeof(int16_t) * panels * panel_values);
    for (ptrdiff_t p = 0; p < k; p++) {
        const uint8_t *source = b + p * ldb;
        const ptrdiff_t g = p / 2, t = p % 2;
        for (ptrdiff_t j = 0; j < n; j++) {
            const int32_t value = igemm_value(source[j], b_signed) - (b_zero ? b_zero[j] : 0);
            pb[(j / JNR) * panel_values + (size_t)g * JNR * 2 + (j % JNR) * 2 + t] = (int16_t)value;
        }
    }
    int16_t *pa = aligned_bytes(sizeof(int16_t) * groups * 2 * IMR);
    int32_t tile[IMR * JNR] __attribute__((aligned(64)));
    for (ptrdiff_t i0 = 0; i0 < m; i0 += IMR) {
        const ptrdiff_t rows = m - i0 < IMR ? m - i0 : IMR;
        memset(pa, 0, sizeof(int16_t) * groups * 2 * IMR);
        for (ptrdiff_t r = 0; r < rows; r++) {
            const uint8_t *source = a + (i0 + r) * lda;
            const int32_t za = a_zero ? a_zero[i0 + r] : 0;
            for (ptrdiff_t p = 0; p < k; p++) pa[(p / 2) * 2 * IMR + r * 2 + p % 2] = (int16_t)(igemm_value(source[p], a_signed) - za);
        }
        for (ptrdiff_t q = 0; q < panels; q++) {
            igemm_tile_avx2(groups, pa, pb + q * panel_values, tile);
            const ptrdiff_t cols = n - q * JNR < JNR ? n - q * JNR : JNR;
            for (ptrdiff_t r = 0; r < rows; r++) memcpy(c + (i0 + r) * ldc + q * JNR, tile + r * JNR, sizeof(int32_t) * cols);
        }
    }
    free(pa);
    free(pb);
}

void ds_igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a, ptrdiff_t lda, int a_signed,
              const int32_t *a_zero, const uint8_t *b, ptrdiff_t ldb, int b_signed, const int32_t *b_zero,
              int32_t *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k > 0 && ds_use_avx512_vnni()) {
        igemm_vnni(m, n, k, a, lda, a_signed, a_zero, b, ldb, b_signed, b_zero, c, ldc);
    } else if (k > 0 && ds_use_avx2()) {
        igemm_avx2(m, n, k, a, lda, a_signed, a_zero, b, ldb, b_signed, b_zero, c, ldc);
    } else {
        igemm_portable(m, n, k, a, lda, a_signed, a_zero, b, ldb, b_signed, b_zero, c, ldc);
    }
}

const char *ds_igemm_isa(void) {
    return ds_use_avx512_vnni() ? "avx512-vnni" : ds_use_avx2() ? "avx2" : "portable";
}
