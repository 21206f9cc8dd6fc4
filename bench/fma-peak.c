// The machine's fp32 peak, measured: every thread runs 12 independent chains of AVX-512 fused multiply-adds
// (16 lanes x 2 FLOPs each) on registers, long enough to hide the FMA latency, so the figure is the FMA units'
// throughput. Built and run by bench/sae.ts (gcc -O2 -mavx512f -mfma -pthread); prints GFLOPS for N threads.
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
static long iters = 2000000000L / CHAINS;

static void *run(void *out) {
  __m512 acc[CHAINS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 s = acc[0];
  for (int c = 1; c < CHAINS; c++) s = _mm512_add_ps(s, acc[c]);
  *(float *)out = _mm512_reduce_add_ps(s);  // keeps the chains alive
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  pthread_t t[256];
  float sink[256];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, &sink[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  double flops = (double)threads * iters * CHAINS * 16 * 2;
  printf("{\"gflops\": %.1f, \"threads\": %d, \"seconds\": %.3f, \"sink\": %g}\n", flops / s / 1e9, threads, s, sink[0]);
  return 0;
}
