// Vectorised exp, sigmoid and tanh (Cephes-style polynomial exp, as in avx_mathfun), and the
// cheap activations. Accuracy: exp within ~2 ulp over the float range, which keeps sigmoid and
// tanh well inside the engine's conformance tolerance (rtol 1e-4, atol 1e-5).
#include "CKernels.h"
#include "dispatch.h"
#include "piecewise_avx2.h"

#include <immintrin.h>
#include <math.h>

__attribute__((target("avx2,fma")))
static inline __m256 exp256(__m256 x) {
    // x second: min/max return their second operand when either is NaN, so NaN stays NaN.
    x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-88.3762626647949f), x);
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), r = x − n·ln 2 (ln 2 split in two for precision).
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i n = _mm256_cvttps_epi32(fx);
    n = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

__attribute__((target("avx2,fma")))
static void vexp_avx2(const float *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = expf(x[i]);
}

// Softmax of `rows` contiguous rows of `length`: the maximum and the sum in four vector accumulators each (a scalar
// loop's chain of dependent max and add cost 4× the exponentials on attention's 128-wide rows), exp(x − max) in
// between, then the scale by 1 / sum.
__attribute__((target("avx2,fma")))
static void softmax_rows_avx2(const float *x, float *y, ptrdiff_t rows, ptrdiff_t length) {
    for (ptrdiff_t r = 0; r < rows; r++, x += length, y += length) {
        __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
        ptrdiff_t j = 0;
        // x second: a NaN in the row makes the maximum NaN, and with it every output (as the scalar loop did).
        for (; j + 32 <= length; j += 32) {
            m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
            m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
            m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + j + 16));
            m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + j + 24));
        }
        for (; j + 8 <= length; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
        float lanes[8];
        _mm256_storeu_ps(lanes, _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
        float maximum = -INFINITY;
        for (int l = 0; l < 8; l++) maximum = lanes[l] != lanes[l] || lanes[l] > maximum ? lanes[l] : maximum;
        for (; j < length; j++) maximum = x[j] != x[j] || x[j] > maximum ? x[j] : maximum;

        const __m256 shift = _mm256_set1_ps(maximum);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        j = 0;
        for (; j + 16 <= length; j += 16) {
            const __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift));
            const __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), shift));
            _mm256_storeu_ps(y + j, e0);
            _mm256_storeu_ps(y + j + 8, e1);
            s0 = _mm256_add_ps(s0, e0);
            s1 = _mm256_add_ps(s1, e1);
        }
        for (; j + 8 <= length; j += 8) {
            const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), shift));
            _mm256_storeu_ps(y + j, e);
            s0 = _mm256_add_ps(s0, e);
        }
        _mm256_storeu_ps(lanes, _mm256_add_ps(s0, s1));
        float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for (; j < length; j++) {
            y[j] = expf(x[j] - maximum);
            sum += y[j];
        }
        const __m256 inverse = _mm256_set1_ps(1.0f / sum);
        j = 0;
        for (; j + 8 <= length; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), inverse));
        for (; j < length; j++) y[j] *= 1.0f / sum;
    }
}

void ds_softmax_rows(const float *x, float *y, ptrdiff_t rows, ptrdiff_t length) {
    if (ds_use_avx2()) { softmax_rows_avx2(x, y, rows, length); return; }
    for (ptrdiff_t r = 0; r < rows; r++, x += length, y += length) {
        float maximum = -INFINITY;
        for (ptrdiff_t j = 0; j < length; j++) maximum = x[j] != x[j] || x[j] > maximum ? x[j] : maximum;
        float sum = 0;
        for (ptrdiff_t j = 0; j < length; j++) sum += (y[j] = expf(x[j] - maximum));
        const float inverse = 1.0f / sum;
        for (ptrdiff_t j = 0; j < length; j++) y[j] *= inverse;
    }
}

// The smooth activations on eight floats. The loops below and the GEMM's and direct convolution's in-register
// epilogues (ds_smooth8) all compute them here, so a value gets the same bits whichever applied its activation.
__attribute__((target("avx2,fma")))
static inline __m256 sigmoid8(__m256 v) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), v))));
}

// tanh(x) = sign(x) · (1 − 2 / (exp(2|x|) + 1)); absolute error ~1e-7 near zero.
__attribute__((target("avx2,fma")))
static inline __m256 tanh8(__m256 v) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    const __m256 sign = _mm256_and_ps(v, sign_mask);
    const __m256 e = exp256(_mm256_mul_ps(two, _mm256_andnot_ps(sign_mask, v)));
    const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
    return _mm256_or_ps(t, sign);
}

__attribute__((target("avx2,fma")))
static inline __m256 silu8(__m256 v) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(v, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), v))));
}

// On AVX-512 the vector loops below hand their whole 8-float blocks to ds_smooth_avx512 (the same bits, 16 lanes at a
// time: EfficientNet's SiLU 0.5 → 0.36 ns a value) and keep only their scalar tail. Returns where the tail starts.
static ptrdiff_t smooth_blocks_avx512(const float *x, float *y, ptrdiff_t n, ds_activation_kind kind) {
    if (!ds_use_avx512()) return 0;
    const ptrdiff_t blocks = n & ~(ptrdiff_t)7;
    ds_smooth_avx512(x, y, blocks, kind);
    return blocks;
}

__attribute__((target("avx2,fma")))
static void vsigmoid_avx2(const float *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = smooth_blocks_avx512(x, y, n, DS_ACTIVATION_SIGMOID);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, sigmoid8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

__attribute__((target("avx2,fma")))
static void vtanh_avx2(const float *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = smooth_blocks_avx512(x, y, n, DS_ACTIVATION_TANH);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = tanhf(x[i]);
}

__attribute__((target("avx2,fma")))
static void vsilu_avx2(float *x, ptrdiff_t n) {
    ptrdiff_t i = smooth_blocks_avx512(x, x, n, DS_ACTIVATION_SILU);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, silu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

// erf(x) by Abramowitz & Stegun 7.1.26: 1 − (a1·t + … + a5·t⁵)·exp(−x²), t = 1 / (1 + p·|x|),
// sign restored; absolute error below 1.5e-7, well inside the engine's 1e-4 relative tolerance.
#define ERF_P 0.3275911f
#define ERF_A1 0.254829592f
#define ERF_A2 -0.284496736f
#define ERF_A3 1.421413741f
#define ERF_A4 -1.453152027f
#define ERF_A5 1.061405429f

__attribute__((target("avx2,fma")))
static inline __m256 erf256(__m256 x) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_and_ps(x, sign_mask), a = _mm256_andnot_ps(sign_mask, x);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), a, one));
    __m256 poly = _mm256_set1_ps(ERF_A5);
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A4));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A3));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A2));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(ERF_A1));
    poly = _mm256_mul_ps(poly, t);
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
    const __m256 y = _mm256_fnmadd_ps(poly, e, one);
    return _mm256_or_ps(y, sign);
}

__attribute__((target("avx2,fma")))
static void verf_avx2(const float *x, float *y, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        // NaN in, NaN out (the polynomial would turn it into ±1).
        _mm256_storeu_ps(y + i, _mm256_blendv_ps(erf256(v), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    }
    for (; i < n; i++) y[i] = erff(x[i]);
}

// GELU(x) = x/2 · (1 + erf(x/√2)).
__attribute__((target("avx2,fma")))
static inline __m256 gelu8(__m256 v) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), r2 = _mm256_set1_ps(0.70710678118654752f);
    return _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf256(_mm256_mul_ps(v, r2))));
}

__attribute__((target("avx2,fma")))
static void vgelu_avx2(float *x, ptrdiff_t n) {
    ptrdiff_t i = smooth_blocks_avx512(x, x, n, DS_ACTIVATION_GELU);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

__attribute__((target("avx2,fma")))
static inline __m256 smooth8(__m256 v, ds_activation_kind kind) {
    switch (kind) {
    case DS_ACTIVATION_SIGMOID: return sigmoid8(v);
    case DS_ACTIVATION_TANH: return tanh8(v);
    case DS_ACTIVATION_SILU: return silu8(v);
    case DS_ACTIVATION_GELU: return gelu8(v);
    default: return v;
    }
}

__attribute__((target("avx2,fma")))
void ds_smooth_tile16(float *c, ptrdiff_t ldc, ptrdiff_t rows, ds_activation_kind kind) {
    if (ds_use_avx512()) {
        ds_smooth_tile16_avx512(c, ldc, rows, kind);
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        _mm256_storeu_ps(row, smooth8(_mm256_loadu_ps(row), kind));
        _mm256_storeu_ps(row + 8, smooth8(_mm256_loadu_ps(row + 8), kind));
    }
}

void ds_verf(const float *x, float *y, ptrdiff_t n) {
    if (ds_use_avx2()) { verf_avx2(x, y, n); return; }
    for (ptrdiff_t i = 0; i < n; i++) y[i] = erff(x[i]);
}

void ds_vexp(const float *x, float *y, ptrdiff_t n) {
    if (ds_use_avx2()) { vexp_avx2(x, y, n); return; }
    for (ptrdiff_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

void ds_vsigmoid(const float *x, float *y, ptrdiff_t n) {
    if (ds_use_avx2()) { vsigmoid_avx2(x, y, n); return; }
    for (ptrdiff_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void ds_vtanh(const float *x, float *y, ptrdiff_t n) {
    if (ds_use_avx2()) { vtanh_avx2(x, y, n); return; }
    for (ptrdiff_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

static inline float sigmoid1(float x) { return 1.0f / (1.0f + expf(-x)); }

// One element of the LSTM cell, as the vector loop's tail and the portable path compute it (the vector functions'
// own tails use these same scalar formulas).
static inline void lstm_cell1(const float *g, ptrdiff_t h, ptrdiff_t i, float *c, float *hidden) {
    const float input = sigmoid1(g[i]), output = sigmoid1(g[h + i]), forget = sigmoid1(g[2 * h + i]);
    const float candidate = tanhf(g[3 * h + i]);
    const float product = forget * c[i], fresh = input * candidate;
    c[i] = product + fresh;
    hidden[i] = output * tanhf(c[i]);
}

// The cell of one row from unit `first` on: eight units at a time, then one at a time (lstm_cell1). The AVX-512 loop
// (activations_avx512.c) runs the units before `first` sixteen at a time with the same operations, so every unit gets
// the same bits on either path.
__attribute__((target("avx2,fma")))
void ds_lstm_cell_row_avx2(const float *g, ptrdiff_t h, ptrdiff_t first, float *c, float *out) {
    ptrdiff_t i = first;
    for (; i + 8 <= h; i += 8) {
        const __m256 input = sigmoid8(_mm256_loadu_ps(g + i));
        const __m256 output = sigmoid8(_mm256_loadu_ps(g + h + i));
        const __m256 forget = sigmoid8(_mm256_loadu_ps(g + 2 * h + i));
        const __m256 candidate = tanh8(_mm256_loadu_ps(g + 3 * h + i));
        // Multiplies and an add, not an FMA: the same bits as the per-gate path for custom activations.
        const __m256 next = _mm256_add_ps(_mm256_mul_ps(forget, _mm256_loadu_ps(c + i)), _mm256_mul_ps(input, candidate));
        _mm256_storeu_ps(c + i, next);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(output, tanh8(next)));
    }
    for (; i < h; i++) lstm_cell1(g, h, i, c, out);
}

void ds_lstm_cell(const float *gates, ptrdiff_t gate_stride, ptrdiff_t rows, ptrdiff_t h, float *cell, float *hidden) {
    if (ds_use_avx512()) { ds_lstm_cell_avx512(gates, gate_stride, rows, h, cell, hidden); return; }
    if (ds_use_avx2()) {
        for (ptrdiff_t r = 0; r < rows; r++) ds_lstm_cell_row_avx2(gates + r * gate_stride, h, 0, cell + r * h, hidden + r * h);
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t i = 0; i < h; i++) lstm_cell1(gates + r * gate_stride, h, i, cell + r * h, hidden + r * h);
}

// The piecewise-linear activations, 8 at a time. Clip keeps NaN as NaN (as the portable loop
// does): max/min return their second operand when either is NaN, so x goes second.
__attribute__((target("avx2,fma")))
static void piecewise_avx2(float *x, ptrdiff_t n, ds_activation act) {
    const ds_piecewise_constants k = ds_piecewise_constants_for(act);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, ds_piecewise8(_mm256_loadu_ps(x + i), act.kind, &k));
    for (; i < n; i++) {
        const float v = x[i];
        switch (act.kind) {
        case DS_ACTIVATION_RELU: x[i] = v < 0 ? 0 : v; break;
        case DS_ACTIVATION_LEAKY_RELU: x[i] = v >= 0 ? v : v * act.alpha; break;
        case DS_ACTIVATION_CLIP: x[i] = v < act.alpha ? act.alpha : (v > act.beta ? act.beta : v); break;
        case DS_ACTIVATION_HARD_SIGMOID: {
            const float h = act.alpha * v + act.beta;
            x[i] = h < 0 ? 0 : (h > 1 ? 1 : h);
            break;
        }
        default: {
            const float h = v / 6.0f + 0.5f;
            x[i] = v * (h < 0 ? 0 : (h > 1 ? 1 : h));
            break;
        }
        }
    }
}

void ds_activation_apply(float *x, ptrdiff_t n, ds_activation act) {
    if (ds_is_piecewise(act.kind) && ds_use_avx2()) {
        piecewise_avx2(x, n, act);
        return;
    }
    switch (act.kind) {
    case DS_ACTIVATION_NONE:
        return;
    case DS_ACTIVATION_RELU:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];   // NaN stays NaN, as max(0, x) does in the AVX2 path
        return;
    case DS_ACTIVATION_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : x[i] * act.alpha;
        return;
    case DS_ACTIVATION_CLIP:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] < act.alpha ? act.alpha : (x[i] > act.beta ? act.beta : x[i]);
        return;
    case DS_ACTIVATION_HARD_SIGMOID:
        for (ptrdiff_t i = 0; i < n; i++) {
            const float h = act.alpha * x[i] + act.beta;
            x[i] = h < 0 ? 0 : (h > 1 ? 1 : h);
        }
        return;
    case DS_ACTIVATION_HARD_SWISH:
        for (ptrdiff_t i = 0; i < n; i++) {
            const float h = x[i] / 6.0f + 0.5f;
            x[i] = x[i] * (h < 0 ? 0 : (h > 1 ? 1 : h));
        }
        return;
    case DS_ACTIVATION_GELU:
        if (ds_use_avx2()) { vgelu_avx2(x, n); return; }
        for (ptrdiff_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return;
    case DS_ACTIVATION_SILU:
        if (ds_use_avx2()) { vsilu_avx2(x, n); return; }
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    case DS_ACTIVATION_SIGMOID:
        ds_vsigmoid(x, x, n);
        return;
    case DS_ACTIVATION_TANH:
        ds_vtanh(x, x, n);
        return;
    }
}
