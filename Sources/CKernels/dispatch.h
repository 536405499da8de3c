// Run-time choice between the AVX2+FMA kernels and the portable ones (internal to CKernels).
#ifndef DEEPSERVE_CKERNELS_DISPATCH_H
#define DEEPSERVE_CKERNELS_DISPATCH_H

/// Nonzero when the AVX2+FMA kernels may run: the CPU has both and portable mode is not forced.
int ds_use_avx2(void);

/// Nonzero when the AVX-512F float kernels may run: the CPU has AVX-512F (with AVX2 and FMA), and DEEPSERVE_KERNELS
/// does not cap the kernels at "avx2" or "portable", and portable mode is not forced.
int ds_use_avx512(void);

/// Nonzero when the AVX-512 VNNI int8 kernels may run (AVX-512F, BW and VNNI; portable mode not forced).
int ds_use_avx512_vnni(void);

/// How many pieces a kernel cuts its work into per intra-op thread: a few, so that a thread whose core is busy
/// elsewhere leaves its share to the others (ds_parallel_for hands pieces out one at a time).
#define DS_PARTS_PER_THREAD 4

#endif
