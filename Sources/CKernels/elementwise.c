// Float element-wise arithmetic for the broadcasting loops of Add, Sub, Mul, Div, Max and Min:
// one contiguous run at a time, each operand either walking (step 1) or held (step 0, a value
// broadcast along the run: a scalar, or a per-channel constant over H·W).
#include "CKernels.h"
#include "dispatch.h"

#include <immintrin.h>

// NaN propagates through Max and Min, as numpy's maximum/minimum (and the Swift loops) do.
static inline float max_nan(float a, float b) { return a != a ? a : (b != b ? b : (a > b ? a : b)); }
static inline float min_nan(float a, float b) { return a != a ? a : (b != b ? b : (a < b ? a : b)); }

static inline float apply1(ds_binary_op op, float a, float b) {
    switch (op) {
    case DS_BINARY_ADD: return a + b;
    case DS_BINARY_SUB: return a - b;
    case DS_BINARY_MUL: return a * b;
    case DS_BINARY_DIV: return a / b;
    case DS_BINARY_MAX: return max_nan(a, b);
    default: return min_nan(a, b);
    }
}

__attribute__((target("avx2,fma")))
static inline __m256 apply8(ds_binary_op op, __m256 a, __m256 b) {
    switch (op) {
    case DS_BINARY_ADD: return _mm256_add_ps(a, b);
    case DS_BINARY_SUB: return _mm256_sub_ps(a, b);
    case DS_BINARY_MUL: return _mm256_mul_ps(a, b);
    case DS_BINARY_DIV: return _mm256_div_ps(a, b);
    case DS_BINARY_MAX: {
        // max_ps returns its second operand when either is NaN: blend a back in where a is NaN.
        const __m256 m = _mm256_max_ps(a, b);
        return _mm256_blendv_ps(m, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
    default: {
        const __m256 m = _mm256_min_ps(a, b);
        return _mm256_blendv_ps(m, a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
    }
}

__attribute__((target("avx2,fma")))
static void run_avx2(ds_binary_op op, const float *x, int x_step, const float *y, int y_step, float *z, ptrdiff_t n) {
    ptrdiff_t i = 0;
    const __m256 xs = _mm256_set1_ps(x[0]), ys = _mm256_set1_ps(y[0]);
    for (; i + 16 <= n; i += 16) {
        const __m256 a0 = x_step ? _mm256_loadu_ps(x + i) : xs, a1 = x_step ? _mm256_loadu_ps(x + i + 8) : xs;
        const __m256 b0 = y_step ? _mm256_loadu_ps(y + i) : ys, b1 = y_step ? _mm256_loadu_ps(y + i + 8) : ys;
        _mm256_storeu_ps(z + i, apply8(op, a0, b0));
        _mm256_storeu_ps(z + i + 8, apply8(op, a1, b1));
    }
    for (; i < n; i++) z[i] = apply1(op, x[x_step ? i : 0], y[y_step ? i : 0]);
}

void ds_binary_f32(ds_binary_op op, const float *x, int x_step, const float *y, int y_step, float *z, ptrdiff_t n) {
    if (n <= 0) return;
    if (ds_use_avx2()) {
        run_avx2(op, x, x_step, y, y_step, z, n);
        return;
    }
    for (ptrdiff_t i = 0; i < n; i++) z[i] = apply1(op, x[x_step ? i : 0], y[y_step ? i : 0]);
}

// MARK: - Sums

__attribute__((target("avx2,fma")))
static double sum_avx2(const float *x, ptrdiff_t n) {
    // Four double accumulators (16 floats a round): the additions' latency is hidden, and the sum stays as exact as
    // the scalar double loop's, only in another order.
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
        s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8)));
        s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12)));
    }
    const __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) total += x[i];
    return total;
}

double ds_sum_f32(const float *x, ptrdiff_t n) {
    if (ds_use_avx2()) return sum_avx2(x, n);
    double total = 0;
    for (ptrdiff_t i = 0; i < n; i++) total += x[i];
    return total;
}
