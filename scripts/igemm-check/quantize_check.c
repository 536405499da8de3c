// ds_quantize_8bit: the AVX2 path against the scalar one, byte for byte, with NaN, ±inf, huge values and
// ties, both signednesses. Built by scripts/check-igemm.sh.
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
void ds_force_portable(int);
int main(void){ int n=100003; float*x=malloc(4*n); uint8_t*a=malloc(n),*b=malloc(n); srand(3); long bad=0;
 for(int t=0;t<20;t++){ float scale = (t%5==0)? 1e-30f : (rand()/(float)RAND_MAX+0.001f)*0.1f; float zero = (t%2)? (float)(rand()%256) : (float)(rand()%256-128);
  for(int i=0;i<n;i++){ int r=rand()%1000; x[i]= r==0?NAN: r==1?INFINITY: r==2?-INFINITY: r==3? 1e30f : (rand()/(float)RAND_MAX-0.5f)*40.0f; if(r==4) x[i]=(rand()%200-100)*scale*0.5f; }
  int s = !(t%2);
  ds_force_portable(0); ds_quantize_8bit(x,n,scale,zero,s,a); ds_force_portable(1); ds_quantize_8bit(x,n,scale,zero,s,b);
  for(int i=0;i<n;i++) if(a[i]!=b[i]) bad++; }
 printf("quantize mismatches %ld\n",bad); return bad!=0; }
