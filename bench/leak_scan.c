// Leak-scan cost per MiB of live heap: builds a live heap of MIB MiB
// (objects of OBJ bytes, each holding a pointer to the next, plus one
// pointer table reachable from a global), then times REPS scans through
// __lsan_do_recoverable_leak_check, which ukasan and ASan/LSan both
// export (run under LD_PRELOAD of either). Prints the median.
//   bench_leak_scan MIB OBJ REPS
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

void** g_table;

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 256;
  size_t obj = argc > 2 ? strtoul(argv[2], 0, 10) : 64;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "__lsan_do_recoverable_leak_check");
  if (!check) {
    fprintf(stderr, "no __lsan_do_recoverable_leak_check: run under a leak checker\n");
    return 2;
  }
  size_t n = (mib << 20) / obj;
  g_table = malloc(n / 64 * sizeof(void*) + sizeof(void*));
  void** prev = 0;
  for (size_t i = 0; i < n; i++) {
    void** o = malloc(obj);
    memset(o, 0x11, obj);
    o[0] = prev;  // a chain within each group of 64
    prev = (i % 64 == 63) ? 0 : o;
    if (i % 64 == 63) g_table[i / 64] = o;
  }
  double t[64];
  if (reps > 64) reps = 64;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    if (check()) fprintf(stderr, "unexpected leaks\n");
    t[r] = bench_now() - t0;
  }
  qsort(t, reps, sizeof(double), bench_cmp_double);
  printf("live %zu MiB in %zu-byte objects: scan median %.1f ms (%.2f ms/MiB), min %.1f ms\n", mib, obj,
         t[reps / 2] * 1e3, t[reps / 2] * 1e3 / mib, t[0] * 1e3);
  return 0;
}
