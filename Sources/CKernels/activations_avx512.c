// The smooth activations (Sigmoid, Tanh, SiLU, GELU) and the LSTM cell on AVX-512 (internal to CKernels; activations.c
// and ds_lstm_cell decide when): sixteen lanes at a time, through activations.c's exp, sigmoid, tanh and erf operation
// for operation (same constants, same order, floor as a round toward −∞, bit operations on integers, correctly
// rounded divisions), so every value gets the AVX2 path's bits — a stream's tokens then don't depend on which path, or
// which batch, computed its step, and an activation fused into a kernel's store gives what a separate pass gives.
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

// erf by activations.c's erf256 (Abramowitz & Stegun 7.1.26), and GELU(x) = x/2 · (1 + erf(x/√2)) as gelu8.
AVX512 static inline __m512 erf512(__m512 x) {
    const __m512i sign_mask = _mm512_set1_epi32((int)0x80000000u);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i sign = _mm512_and_si512(bits, sign_mask);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign_mask, bits));
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, one));
    __m512 poly = _mm512_set1_ps(1.061405429f);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
    poly = _mm512_mul_ps(poly, t);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
    const __m512 y = _mm512_fnmadd_ps(poly, e, one);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign));
}

AVX512 static inline __m512 gelu16(__m512 v) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), r2 = _mm512_set1_ps(0.70710678118654752f);
    return _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, erf512(_mm512_mul_ps(v, r2))));
}

AVX512 static inline __m512 silu16(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(v, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
}

AVX512 static inline __m512 smooth16(__m512 v, ds_activation_kind kind) {
    switch (kind) {
    case DS_ACTIVATION_SIGMOID: return sigmoid16(v);
    case DS_ACTIVATION_TANH: return tanh16(v);
    case DS_ACTIVATION_SILU: return silu16(v);
    case DS_ACTIVATION_GELU: return gelu16(v);
    default: return v;
    }
}

// One loop per kind, so the switch is decided once per call rather than per vector.
AVX512 static inline void smooth_run(const float *x, float *y, ptrdiff_t n, const ds_activation_kind kind) {
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, smooth16(_mm512_loadu_ps(x + i), kind));
    if (i < n) {
        const __mmask16 lanes = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, lanes, smooth16(_mm512_maskz_loadu_ps(lanes, x + i), kind));
    }
}

AVX512 void ds_smooth_avx512(const float *x, float *y, ptrdiff_t n, ds_activation_kind kind) {
    switch (kind) {
    case DS_ACTIVATION_SIGMOID: smooth_run(x, y, n, DS_ACTIVATION_SIGMOID); break;
    case DS_ACTIVATION_TANH: smooth_run(x, y, n, DS_ACTIVATION_TANH); break;
    case DS_ACTIVATION_SILU: smooth_run(x, y, n, DS_ACTIVATION_SILU); break;
    case DS_ACTIVATION_GELU: smooth_run(x, y, n, DS_ACTIVATION_GELU); break;
    default: break;
    }
}

AVX512 void ds_smooth_tile16_avx512(float *c, ptrdiff_t ldc, ptrdiff_t rows, ds_activation_kind kind) {
    for (ptrdiff_t r = 0; r < rows; r++) _mm512_storeu_ps(c + r * ldc, smooth16(_mm512_loadu_ps(c + r * ldc), kind));
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
