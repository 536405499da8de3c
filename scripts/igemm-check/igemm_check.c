// ds_igemm against its portable path on random shapes (1…100, every signedness, with and without
// zero points, odd leading dimensions). Built by scripts/check-igemm.sh natively and with VPDPBUSD
// emulated in scalar C, so the VNNI packing and correction terms are checked on a CPU without VNNI.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
void ds_force_portable(int);
int main(void) {
    int sizes[] = {1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 64, 65, 100};
    int ns = sizeof sizes / sizeof *sizes; srand(1); long bad = 0, total = 0;
    printf("%s\n", ds_igemm_isa());
    for (int t = 0; t < 400; t++) {
        int m = sizes[rand() % ns], n = sizes[rand() % ns], k = sizes[rand() % ns];
        int as = rand() % 2, bs = rand() % 2, lda = k + rand() % 3, ldb = n + rand() % 3, ldc = n + rand()%2;
        uint8_t *a = malloc(m * lda), *b = malloc(k * ldb);
        for (int i = 0; i < m * lda; i++) a[i] = rand();
        for (int i = 0; i < k * ldb; i++) b[i] = rand();
        int32_t *za = malloc(4 * m), *zb = malloc(4 * n);
        for (int i = 0; i < m; i++) za[i] = as ? (int8_t)rand() : (uint8_t)rand();
        for (int i = 0; i < n; i++) zb[i] = bs ? (int8_t)rand() : (uint8_t)rand();
        int32_t *c1 = malloc(4 * m * ldc), *c2 = malloc(4 * m * ldc);
        int usez = rand() % 2;
        ds_force_portable(0);
        ds_igemm(m, n, k, a, lda, as, usez ? za : NULL, b, ldb, bs, usez ? zb : NULL, c1, ldc);
        ds_force_portable(1);
        ds_igemm(m, n, k, a, lda, as, usez ? za : NULL, b, ldb, bs, usez ? zb : NULL, c2, ldc);
        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) { total++; if (c1[i*ldc+j] != c2[i*ldc+j]) bad++; }
        free(a); free(b); free(za); free(zb); free(c1); free(c2);
    }
    printf("bad %ld of %ld\n", bad, total);
    return bad != 0;
}
