// How long stopping the world takes when threads outnumber cores: N threads
// spin (or sleep in a system call), the main thread times REPS scans of a
// tiny heap through __lsan_do_recoverable_leak_check (ukasan or ASan/LSan
// under LD_PRELOAD). Prints median and max.
//   bench_leak_stop THREADS REPS spin|sleep
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"
#include <unistd.h>

static volatile int g_stop;
static int g_sleep;

static void* worker(void* arg) {
  (void)arg;
  void* volatile mine = malloc(64);
  while (!g_stop) {
    if (g_sleep)
      usleep(1000);
    else
      for (volatile int i = 0; i < 1000; i++) {
      }
  }
  free(mine);
  return NULL;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 16;
  int reps = argc > 2 ? atoi(argv[2]) : 20;
  g_sleep = argc > 3 && strcmp(argv[3], "sleep") == 0;
  int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "__lsan_do_recoverable_leak_check");
  if (!check || n > 1024 || reps > 1000) return 2;
  pthread_t t[1024];
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, worker, NULL);
  usleep(50000);
  double d[1000];
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    check();
    d[r] = bench_now() - t0;
  }
  g_stop = 1;
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  qsort(d, reps, sizeof(double), bench_cmp_double);
  printf("%d %s threads: scan median %.2f ms, max %.2f ms\n", n, g_sleep ? "sleeping" : "spinning", d[reps / 2] * 1e3,
         d[reps - 1] * 1e3);
  return 0;
}
