/* Plain malloc/free programs for the protocol table (bench/protocol.sh),
 * run under each allocator's LD_PRELOAD.
 *   preempt fork T N     T threads churn malloc/free while the main thread
 *                        forks N children (each allocates and exits).
 *   preempt hammer T OPS T threads, OPS malloc+free each, half the frees
 *                        cross-thread (blocks handed over through shared slots).
 * Prints: "<mode> T=.. secs=.. max_op_ms=..": wall time, and the longest
 * single malloc/free/fork call seen by any thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_stop;
static int g_threads;
static long g_ops;
static _Atomic(void*)* g_slots; /* g_threads * kSlots hand-over slots */
enum { kSlots = 64 };
static _Atomic uint64_t g_max_ns;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void note(uint64_t d) {
  uint64_t m = atomic_load_explicit(&g_max_ns, memory_order_relaxed);
  while (d > m && !atomic_compare_exchange_weak(&g_max_ns, &m, d)) {
  }
}

static void* fork_churn(void* arg) {
  unsigned x = (unsigned)(uintptr_t)arg * 2654435761u;
  void* win[128] = {0};
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    for (int i = 0; i < 128; i++) {
      x = x * 1103515245u + 12345u;
      free(win[i]);
      win[i] = malloc(16 + (x >> 8) % 2048);
    }
  }
  for (int i = 0; i < 128; i++) free(win[i]);
  return NULL;
}

static void* hammer(void* arg) {
  int id = (int)(uintptr_t)arg;
  unsigned x = (unsigned)(id + 1) * 2654435761u;
  _Atomic(void*)* next = g_slots + (size_t)((id + 1) % g_threads) * kSlots;
  uint64_t worst = 0;
  for (long i = 0; i < g_ops; i++) {
    x = x * 1103515245u + 12345u;
    uint64_t t0 = now_ns();
    void* p = malloc(16 + (x >> 8) % 1024);
    uint64_t t1 = now_ns();
    if (t1 - t0 > worst) worst = t1 - t0;
    memset(p, 1, 8);
    if (x & 1) p = atomic_exchange(&next[(x >> 4) % kSlots], p); /* cross-thread: free someone else's */
    uint64_t t2 = now_ns();
    free(p);
    uint64_t t3 = now_ns();
    if (t3 - t2 > worst) worst = t3 - t2;
  }
  note(worst);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 4 || (strcmp(argv[1], "fork") && strcmp(argv[1], "hammer"))) {
    fprintf(stderr, "usage: preempt fork T N | preempt hammer T OPS\n");
    return 2;
  }
  g_threads = atoi(argv[2]);
  g_ops = atol(argv[3]);
  if (g_threads < 1 || g_threads > 4096 || g_ops < 1) {
    fprintf(stderr, "preempt: T in 1..4096, N/OPS >= 1\n");
    return 2;
  }
  pthread_t* th = calloc((size_t)g_threads, sizeof(pthread_t));
  uint64_t t0 = now_ns();
  if (!strcmp(argv[1], "fork")) {
    for (int i = 0; i < g_threads; i++) pthread_create(&th[i], NULL, fork_churn, (void*)(uintptr_t)(i + 1));
    for (long n = 0; n < g_ops; n++) {
      uint64_t a = now_ns();
      pid_t pid = fork();
      if (pid == 0) {
        void* v[16];
        for (int i = 0; i < 16; i++) v[i] = malloc(100 + i * 50);
        for (int i = 0; i < 16; i++) free(v[i]);
        _exit(0);
      }
      note(now_ns() - a);
      int st;
      waitpid(pid, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "child failed\n");
        return 1;
      }
    }
    atomic_store(&g_stop, 1);
  } else {
    g_slots = calloc((size_t)g_threads * kSlots, sizeof(void*));
    for (int i = 0; i < g_threads; i++) pthread_create(&th[i], NULL, hammer, (void*)(uintptr_t)i);
  }
  for (int i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
  double secs = (double)(now_ns() - t0) / 1e9;
  if (g_slots)
    for (size_t i = 0; i < (size_t)g_threads * kSlots; i++) free(atomic_load(&g_slots[i]));
  printf("%s T=%d secs=%.3f max_op_ms=%.2f\n", argv[1], g_threads, secs, (double)atomic_load(&g_max_ns) / 1e6);
  return 0;
}
