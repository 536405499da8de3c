// The LSTM cell on AVX-512 (internal to CKernels; ds_lstm_cell decides when): sixteen units at a time, through
// activations.c's exp, sigmoid and tanh operation for operation (same constants, same order, floor as a round toward
// −∞, bit operations on integers), so every unit gets the AVX2 path's bits — a stream's tokens then don't depend on
// which path, or which batch, computed its step.
#include "piecewise_avx2.h"

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(88.3762626647949f), x);
    x = _mm512_max_ps(_mm512_set1_ps(-88.3762626647949f), x);
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    __m512i n = _mm512_cvttps_epi32(fx);
    n = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(n));
}

AVX512 static inline __m512 sigmoid16(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
}

AVX512 static inline __m512 tanh16(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512i bits = _mm512_castps_si512(v), sign_mask = _mm512_set1_epi32((int)0x80000000u);
    const __m512i sign = _mm512_and_si512(bits, sign_mask);
    const __m512 magnitude = _mm512_castsi512_ps(_mm512_andnot_si512(sign_mask, bits));
    const __m512 e = exp512(_mm512_mul_ps(two, magnitude));
    const __m512 t = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

AVX512 void ds_lstm_cell_avx512(const float *gates, ptrdiff_t gate_stride, ptrdiff_t rows, ptrdiff_t h, float *cell,
                                float *hidden) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *g = gates + r * gate_stride;
        float *c = cell + r * h, *out = hidden + r * h;
        ptrdiff_t i = 0;
        for (; i + 16 <= h; i += 16) {
            const __m512 input = sigmoid16(_mm512_loadu_ps(g + i));
            const __m512 output = sigmoid16(_mm512_loadu_ps(g + h + i));
            const __m512 forget = sigmoid16(_mm512_loadu_ps(g + 2 * h + i));
            const __m512 candidate = tanh16(_mm512_loadu_ps(g + 3 * h + i));
            const __m512 next = _mm512_add_ps(_mm512_mul_ps(forget, _mm512_loadu_ps(c + i)), _mm512_mul_ps(input, candidate));
            _mm512_storeu_ps(c + i, next);
            _mm512_storeu_ps(out + i, _mm512_mul_ps(output, tanh16(next)));
        }
        ds_lstm_cell_row_avx2(g, h, i, c, out);
    }
}
