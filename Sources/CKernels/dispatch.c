#include "CKernels.h"
#include "dispatch.h"

// -1: not yet probed; 0/1: the CPU lacks / has AVX2 and FMA. Every thread computes the same
// answer, so a relaxed race on first use is harmless.
static int cpu_avx2_fma = -1;
static int force_portable = 0;

static int cpu_has_avx2_fma(void) {
    int known = __atomic_load_n(&cpu_avx2_fma, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&cpu_avx2_fma, known, __ATOMIC_RELAXED);
    }
    return known;
}

int ds_use_avx2(void) {
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && cpu_has_avx2_fma();
}

void ds_force_portable(int force) { __atomic_store_n(&force_portable, force != 0, __ATOMIC_RELAXED); }

// Same for AVX-512 VNNI (VPDPBUSD, with the BW byte shuffles around it), used by the int8 GEMM.
static int cpu_vnni = -1;

static int cpu_has_avx512_vnni(void) {
    int known = __atomic_load_n(&cpu_vnni, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vnni");
        __atomic_store_n(&cpu_vnni, known, __ATOMIC_RELAXED);
    }
    return known;
}

int ds_use_avx512_vnni(void) {
#ifdef DS_IGEMM_EMULATE_VNNI
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED);
#endif
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && cpu_has_avx512_vnni();
}

const char *ds_kernel_isa(void) { return ds_use_avx2() ? "avx2-fma" : "portable"; }
