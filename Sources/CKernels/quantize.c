// Per-tensor QuantizeLinear to 8 bits: y = saturate(round_half_even(x / scale) + zero), NaN → zero.
// The same operations in the same order as the engine's scalar Swift (IEEE division, round to
// nearest even, then the add, exact below 2^24), so both paths give identical bytes.
#include "CKernels.h"
#include "dispatch.h"

#include <immintrin.h>
#include <math.h>

static inline float quantize_one(float x, float scale, float zero, float low, float high) {
    float q = nearbyintf(x / scale) + zero;   // default rounding mode: to nearest, ties to even
    if (isnan(q)) return zero;
    return q < low ? low : (q > high ? high : q);
}

__attribute__((target("avx2")))
static ptrdiff_t quantize_avx2(const float *x, ptrdiff_t n, float scale, float zero, float low, float high, uint8_t *y,
                               int is_signed) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zero);
    const __m256 vlow = _mm256_set1_ps(low), vhigh = _mm256_set1_ps(high);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 q = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm256_add_ps(q, vz);
        const __m256 nan = _mm256_cmp_ps(q, q, _CMP_UNORD_Q);
        q = _mm256_min_ps(_mm256_max_ps(q, vlow), vhigh);
        q = _mm256_blendv_ps(q, vz, nan);
        const __m256i v = _mm256_cvtps_epi32(q);   // integral and in range: exact
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, v);
        for (int j = 0; j < 8; j++) y[i + j] = is_signed ? (uint8_t)(int8_t)lanes[j] : (uint8_t)lanes[j];
    }
    return i;
}

void ds_quantize_8bit(const float *x, ptrdiff_t n, float scale, float zero, int is_signed, uint8_t *y) {
    const float low = is_signed ? -128.0f : 0.0f, high = is_signed ? 127.0f : 255.0f;
    ptrdiff_t i = ds_use_avx2() ? quantize_avx2(x, n, scale, zero, low, high, y, is_signed) : 0;
    for (; i < n; i++) {
        const float q = quantize_one(x[i], scale, zero, low, high);
        y[i] = is_signed ? (uint8_t)(int8_t)q : (uint8_t)q;
    }
}
