/* A timer signal every 200 us whose handler calls malloc and free,
 * interrupting the main thread inside malloc/free while two threads churn:
 * must finish (no deadlock, no livelock) with no report. Runs for 3 seconds
 * and until the main thread and the handler have each done 1000 rounds.
 * The handler re-arms the timer as it returns: where its own work takes
 * longer than the period (every allocation on KFENCE's pages, whose mprotect
 * contends on mmap_lock and shoots down TLBs, 50-100 us each on some VMs),
 * a periodic timer would keep the main thread in the handler and starve it
 * of every round. */
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
static timer_t g_timer;
static const struct itimerspec g_once = {{0, 0}, {0, 200000}};

static void on_tick(int sig) {
  (void)sig;
  void* a = malloc(24 + (g_ticks % 500));
  void* b = calloc(1, 64);
  free(a);
  free(b);
  g_ticks++;
  if (!g_stop) timer_settime(g_timer, 0, &g_once, NULL); /* async-signal-safe */
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
  if (timer_create(CLOCK_MONOTONIC, &sev, &g_timer) != 0) return 2;
  pthread_t th[2];
  for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn, (void*)(i + 1));
  timer_settime(g_timer, 0, &g_once, NULL);
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
    const long ns = (now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec);
    if (ns >= 3000000000L && ops > 1000 && g_ticks > 1000) break;
    if (ns >= 90000000000L) break; /* too little progress in 90 s: reported below */
  } while (1);
  g_stop = 1;
  struct itimerspec off = {{0, 0}, {0, 0}};
  timer_settime(g_timer, 0, &off, NULL);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  if (g_ticks > 1000 && ops > 1000)
    puts("ok");
  else
    printf("no progress: %lu handler rounds, %lu main rounds\n", (unsigned long)g_ticks, ops);
  return 0;
}
