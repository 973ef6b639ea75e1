// DRAM read bandwidth with T threads (AVX-512 loads over a 1 GiB buffer, best of 3): the physical
// limit a memory-bound decode step is compared with in docs/benchmarks.md.
//   cc -O2 -mavx512f -fopenmp bench/membw.c -o membw && ./membw [THREADS]
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2;
  const size_t n = (size_t)1 << 30;
  char* p = aligned_alloc(64, n);
  if (!p) return 1;
  memset(p, 1, n);
  double best = 0;
  int sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      __m512i acc = _mm512_setzero_si512();
#pragma omp for
      for (size_t i = 0; i < n; i += 256) {
        acc = _mm512_add_epi32(acc, _mm512_load_si512(p + i));
        acc = _mm512_add_epi32(acc, _mm512_load_si512(p + i + 64));
        acc = _mm512_add_epi32(acc, _mm512_load_si512(p + i + 128));
        acc = _mm512_add_epi32(acc, _mm512_load_si512(p + i + 192));
      }
      sink += _mm512_reduce_add_epi32(acc);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    if (n / s / 1e9 > best) best = n / s / 1e9;
  }
  printf("read bandwidth, %d threads: %.1f GB/s (checksum %d)\n", threads, best, sink & 1);
  free(p);
  return 0;
}
