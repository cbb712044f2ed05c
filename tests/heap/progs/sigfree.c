/* free() (and malloc) from a signal handler that interrupts the thread at
 * arbitrary points, including inside malloc/free: must not deadlock. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void* volatile g_slot;
static volatile sig_atomic_t g_handled;

static void handler(int sig) {
  (void)sig;
  void* p = g_slot;
  g_slot = NULL;
  free(p);
  g_handled++;
}

static pthread_t g_main;
static volatile int g_done;

static void* killer(void* arg) {
  (void)arg;
  for (int i = 0; i < 3000; i++) {
    sig_atomic_t before = g_handled;
    pthread_kill(g_main, SIGUSR1);
    while (g_handled == before) sched_yield();
  }
  g_done = 1;
  return NULL;
}

int main(void) {
  signal(SIGUSR1, handler);
  g_main = pthread_self();
  pthread_t k;
  pthread_create(&k, NULL, killer, NULL);
  while (!g_done) {
    void* volatile a = malloc(48);
    void* volatile b = malloc(3000);
    free(a);
    free(b);
    if (!g_slot) g_slot = malloc(64); /* may leak one block if a signal lands here: fine */
  }
  pthread_join(k, NULL);
  puts("ok");
  return 0;
}
