#include "CKernels.h"
#include "dispatch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

// DEEPSERVE_KERNELS caps the instruction sets the kernels may use, so CI can run the engine's
// tests on every path of a machine that has them all: "portable" (plain C), "avx2" (no AVX-512).
// Unset or anything else: whatever the CPU has.
static int kernels_capped_at(const char *level) {
    const char *value = getenv("DEEPSERVE_KERNELS");
    return value && strcmp(value, level) == 0;
}

// -1: not yet probed; 0/1: the CPU lacks / has AVX2 and FMA. Every thread computes the same
// answer, so a relaxed race on first use is harmless.
static int cpu_avx2_fma = -1;
static int force_portable = 0;

static int cpu_has_avx2_fma(void) {
    int known = __atomic_load_n(&cpu_avx2_fma, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !kernels_capped_at("portable");
        __atomic_store_n(&cpu_avx2_fma, known, __ATOMIC_RELAXED);
    }
    return known;
}

int ds_use_avx2(void) {
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && cpu_has_avx2_fma();
}

void ds_force_portable(int force) { __atomic_store_n(&force_portable, force != 0, __ATOMIC_RELAXED); }

// Same for AVX-512F.
static int cpu_avx512 = -1;

static int cpu_has_avx512(void) {
    int known = __atomic_load_n(&cpu_avx512, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && !kernels_capped_at("avx2");
        __atomic_store_n(&cpu_avx512, known, __ATOMIC_RELAXED);
    }
    return known;
}

static int force_avx2 = 0;

int ds_use_avx512(void) {
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && !__atomic_load_n(&force_avx2, __ATOMIC_RELAXED) &&
           cpu_has_avx512();
}

void ds_force_avx2(int force) { __atomic_store_n(&force_avx2, force != 0, __ATOMIC_RELAXED); }

// Same for AVX-512 VNNI (VPDPBUSD, with the BW byte shuffles around it), used by the int8 GEMM.
static int cpu_vnni = -1;

static int cpu_has_avx512_vnni(void) {
    int known = __atomic_load_n(&cpu_vnni, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vnni") && !kernels_capped_at("portable") && !kernels_capped_at("avx2");
        __atomic_store_n(&cpu_vnni, known, __ATOMIC_RELAXED);
    }
    return known;
}

int ds_use_avx512_vnni(void) {
#ifdef DS_IGEMM_EMULATE_VNNI
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && !kernels_capped_at("portable");
#endif
    return !__atomic_load_n(&force_portable, __ATOMIC_RELAXED) && cpu_has_avx512_vnni();
}

// -1: not yet probed. AMD's Zen and Zen+ (family 17h, models below 30h) and Hygon's Dhyana (family 18h, a Zen) have
// 128-bit FMA units and split every 256-bit FMA in two; Zen 2 and later, and Intel's cores since Haswell, issue two
// whole 256-bit FMAs a cycle.
static int cpu_halved_fma = -1;

int ds_cpu_splits_256bit_fma(void) {
    int known = __atomic_load_n(&cpu_halved_fma, __ATOMIC_RELAXED);
    if (known < 0) {
        unsigned int highest, ebx, ecx, edx, eax;
        known = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (__get_cpuid(0, &highest, &ebx, &ecx, &edx) && highest >= 1) {
            // The vendor string is EBX, EDX, ECX: "AuthenticAMD" or "HygonGenuine".
            char vendor[13];
            memcpy(vendor, &ebx, 4);
            memcpy(vendor + 4, &edx, 4);
            memcpy(vendor + 8, &ecx, 4);
            vendor[12] = 0;
            __get_cpuid(1, &eax, &ebx, &ecx, &edx);
            unsigned int family = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
            if (family == 0xf) {
                family += (eax >> 20) & 0xff;
                model |= ((eax >> 16) & 0xf) << 4;
            }
            known = (strcmp(vendor, "AuthenticAMD") == 0 && family == 0x17 && model < 0x30) ||
                    (strcmp(vendor, "HygonGenuine") == 0 && family == 0x18);
        }
#endif
        __atomic_store_n(&cpu_halved_fma, known, __ATOMIC_RELAXED);
    }
    return known;
}

const char *ds_kernel_isa(void) { return ds_use_avx512() ? "avx512f" : ds_use_avx2() ? "avx2-fma" : "portable"; }
