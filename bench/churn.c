/* Allocation churn workload for comparing allocators under LD_PRELOAD:
 * THREADS threads, each with a window of WINDOW live blocks; every op frees a
 * random slot of the window and allocates a block of random size in
 * [MIN, MAX] bytes, writing its first and last byte. Prints the wall time.
 * Usage: churn [threads=2] [ops per thread=2000000] [window=4096] [min=16] [max=1024] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long g_ops = 2000000, g_window = 4096, g_min = 16, g_max = 1024;

static void* worker(void* arg) {
  uint64_t x = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
  char** win = calloc((size_t)g_window, sizeof(char*));
  uint64_t sum = 0;
  for (long i = 0; i < g_ops; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    long k = (long)(x % (uint64_t)g_window);
    size_t n = (size_t)(g_min + (long)((x >> 32) % (uint64_t)(g_max - g_min + 1)));
    if (win[k]) sum += (unsigned char)win[k][0];
    free(win[k]);
    win[k] = malloc(n);
    win[k][0] = (char)i;
    win[k][n - 1] = (char)i;
  }
  for (long k = 0; k < g_window; k++) free(win[k]);
  free(win);
  return (void*)(uintptr_t)sum;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  if (argc > 2) g_ops = atol(argv[2]);
  if (argc > 3) g_window = atol(argv[3]);
  if (argc > 4) g_min = atol(argv[4]);
  if (argc > 5) g_max = atol(argv[5]);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t t[64];
  for (long i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("churn: %d threads x %ld ops, window %ld, sizes %ld-%ld: %.3f s (%.0f ns/op)\n", threads, g_ops, g_window,
         g_min, g_max, s, s * 1e9 / ((double)threads * (double)g_ops));
  return 0;
}
