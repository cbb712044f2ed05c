/* A 5 kHz timer signal whose handler calls malloc and free, interrupting
 * the main thread inside malloc/free while two threads churn: must finish
 * (no deadlock, no livelock) with no report. Runs for 3 seconds. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_ticks;
static volatile int g_stop;

static void on_tick(int sig) {
  (void)sig;
  void* a = malloc(24 + (g_ticks % 500));
  void* b = calloc(1, 64);
  free(a);
  free(b);
  g_ticks++;
}

static void* churn(void* arg) {
  void* v[64] = {0};
  unsigned x = (unsigned)(size_t)arg;
  while (!g_stop) {
    for (int i = 0; i < 64; i++) {
      x = x * 1103515245 + 12345;
      free(v[i]);
      v[i] = malloc(16 + (x >> 8) % 3000);
    }
  }
  for (int i = 0; i < 64; i++) free(v[i]);
  return NULL;
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_tick;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  struct sigevent sev = {0};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGUSR2;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) return 2;
  pthread_t th[2];
  for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn, (void*)(i + 1));
  struct itimerspec its = {{0, 200000}, {0, 200000}};
  timer_settime(timer, 0, &its, NULL);
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long ops = 0;
  do {
    void* p = malloc(40 + ops % 1000);
    void* q = realloc(malloc(10), 100 + ops % 5000);
    free(p);
    free(q);
    ops++;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 3000000000L);
  struct itimerspec off = {{0, 0}, {0, 0}};
  timer_settime(timer, 0, &off, NULL);
  g_stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  puts(g_ticks > 1000 && ops > 1000 ? "ok" : "timer did not fire");
  return 0;
}
