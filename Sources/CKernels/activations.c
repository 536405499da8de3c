// Vectorised exp, sigmoid and tanh (Cephes-style polynomial exp, as in avx_mathfun), and the
// cheap activations. Accuracy: exp within ~2 ulp over the float range, which keeps sigmoid and
// tanh well inside the engine's conformance tolerance (rtol 1e-4, atol 1e-5).
#include "CKernels.h"
#include "dispatch.h"

#include <immintrin.h>
#include <math.h>

__attribute__((target("avx2,fma")))
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
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

__attribute__((target("avx2,fma")))
static void vsigmoid_avx2(const float *x, float *y, ptrdiff_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(y + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
    }
    for (; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

// tanh(x) = sign(x) · (1 − 2 / (exp(2|x|) + 1)); absolute error ~1e-7 near zero.
__attribute__((target("avx2,fma")))
static void vtanh_avx2(const float *x, float *y, ptrdiff_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 sign = _mm256_and_ps(v, sign_mask);
        const __m256 e = exp256(_mm256_mul_ps(two, _mm256_andnot_ps(sign_mask, v)));
        const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
        _mm256_storeu_ps(y + i, _mm256_or_ps(t, sign));
    }
    for (; i < n; i++) y[i] = tanhf(x[i]);
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

void ds_activation_apply(float *x, ptrdiff_t n, ds_activation act) {
    switch (act.kind) {
    case DS_ACTIVATION_NONE:
        return;
    case DS_ACTIVATION_RELU:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        return;
    case DS_ACTIVATION_LEAKY_RELU:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : x[i] * act.alpha;
        return;
    case DS_ACTIVATION_CLIP:
        for (ptrdiff_t i = 0; i < n; i++) x[i] = x[i] < act.alpha ? act.alpha : (x[i] > act.beta ? act.beta : x[i]);
        return;
    case DS_ACTIVATION_SIGMOID:
        ds_vsigmoid(x, x, n);
        return;
    case DS_ACTIVATION_TANH:
        ds_vtanh(x, x, n);
        return;
    }
}
