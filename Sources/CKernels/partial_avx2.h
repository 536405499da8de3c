// Storing the first lanes of a vector (internal to CKernels). AMD's Zen cores run VMASKMOVPS stores in microcode, tens
// of cycles each; 4-, 2- and 1-wide stores of the same lanes cost a few.
#ifndef DEEPSERVE_CKERNELS_PARTIAL_AVX2_H
#define DEEPSERVE_CKERNELS_PARTIAL_AVX2_H

#include <immintrin.h>
#include <stddef.h>

/// Stores lanes [0, n) of v at dst[0 ..< n], 0 ≤ n ≤ 8, touching nothing past dst[n − 1].
__attribute__((target("avx2,fma"))) static inline void ds_store_first_avx2(float *dst, __m256 v, ptrdiff_t n) {
    if (n >= 8) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    __m128 part = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(dst, part);
        part = _mm256_extractf128_ps(v, 1);
        dst += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)dst, part);
        part = _mm_movehl_ps(part, part);
        dst += 2;
        n -= 2;
    }
    if (n) _mm_store_ss(dst, part);
}

#endif
