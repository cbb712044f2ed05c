/* kmem_cache_destroy latency while K threads churn kmalloc/kfree.
 *   destroy_latency K ROUNDS
 * Each round: create a cache, allocate 64 objects, free them, destroy it;
 * only the destroy call is timed. Prints one line:
 *   K=.. rounds=.. destroy_us p50=.. p99=.. max=.. rounds_per_s=..
 * The churners free and allocate 16..1040-byte blocks in a window of 256, so
 * the quarantine transfers and evicts all the time; with K above the number
 * of cores most churners are descheduled at any moment, some of them in the
 * middle of a free or an eviction.
 * The destroying thread itself is one of K+1 runnable threads and is
 * sometimes preempted during the call (which no protocol can avoid): the
 * line also gives the largest latency of the calls during which it was not
 * preempted (no involuntary context switch, getrusage(RUSAGE_THREAD)), and
 * how many were. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <ukasan/slab.h>
#include <ukasan/ukasan.h>

static atomic_int g_stop;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void* churn(void* arg) {
  unsigned x = (unsigned)(uintptr_t)arg * 2654435761u;
  void* win[256] = {0};
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    for (int i = 0; i < 256; i++) {
      x = x * 1103515245u + 12345u;
      kfree(win[i]);
      win[i] = kmalloc(16 + (x >> 8) % 1024, GFP_KERNEL);
    }
  }
  for (int i = 0; i < 256; i++) kfree(win[i]);
  return NULL;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: destroy_latency K ROUNDS\n");
    return 2;
  }
  int k = atoi(argv[1]), rounds = atoi(argv[2]);
  if (k < 0 || k > 1024 || rounds < 1) {
    fprintf(stderr, "destroy_latency: K in 0..1024, ROUNDS >= 1\n");
    return 2;
  }
  pthread_t* th = calloc((size_t)k + 1, sizeof(pthread_t));
  double* lat = calloc((size_t)rounds, sizeof(double));
  double max_running = 0;
  int preempted = 0;
  for (int i = 0; i < k; i++) pthread_create(&th[i], NULL, churn, (void*)(uintptr_t)(i + 1));
  /* Let the churners fill the quarantine first (steady state). */
  struct timespec warm = {0, 300 * 1000 * 1000};
  nanosleep(&warm, NULL);
  double t0 = now_us();
  for (int r = 0; r < rounds; r++) {
    struct kmem_cache* c = kmem_cache_create("lat_victim", 64, 0, 0, NULL);
    void* objs[64];
    for (int i = 0; i < 64; i++) objs[i] = kmem_cache_alloc(c, GFP_KERNEL);
    for (int i = 0; i < 64; i++) kmem_cache_free(c, objs[i]);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_THREAD, &ru0);
    double a = now_us();
    kmem_cache_destroy(c);
    lat[r] = now_us() - a;
    getrusage(RUSAGE_THREAD, &ru1);
    if (ru1.ru_nivcsw != ru0.ru_nivcsw)
      preempted++;
    else if (lat[r] > max_running)
      max_running = lat[r];
  }
  double total = now_us() - t0;
  atomic_store(&g_stop, 1);
  for (int i = 0; i < k; i++) pthread_join(th[i], NULL);
  qsort(lat, (size_t)rounds, sizeof(double), cmp);
  printf("K=%d rounds=%d destroy_us p50=%.1f p99=%.1f max=%.1f max_not_preempted=%.1f preempted=%d rounds_per_s=%.0f "
         "reports=%llu\n",
         k, rounds, lat[rounds / 2], lat[(int)(rounds * 0.99)], lat[rounds - 1], max_running, preempted,
         rounds / (total / 1e6), (unsigned long long)ukasan_report_count());
  return 0;
}
