/* Allocations from a library constructor, the program's constructor, TLS
 * destructors at thread exit and atexit handlers at process exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char* early_string(void);
void early_thread_value(size_t n);

static char* g_ctor;
__attribute__((constructor)) static void ctor(void) { g_ctor = strdup("program constructor"); }
static void at_exit(void) {
  free(g_ctor);
  void* volatile p = malloc(100);
  free(p);
}

static void* worker(void* arg) {
  early_thread_value((size_t)arg);
  return NULL;
}

int main(void) {
  atexit(at_exit);
  for (int round = 0; round < 50; round++) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void*)(16 + 100 * i));
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  }
  early_thread_value(64); /* the main thread's value is destroyed at exit */
  printf("%s / %s\n", early_string(), g_ctor);
  return 0;
}
