/* A library whose constructor allocates (before main and before the
 * program's constructors) and whose thread-specific destructors free at
 * thread exit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char* g_early;
static pthread_key_t g_key;

static void tls_free(void* p) {
  free(p);
  /* Allocating again from a TLS destructor is legal; glibc re-runs it. */
  char* again = malloc(16);
  free(again);
}

__attribute__((constructor)) static void early_ctor(void) {
  g_early = strdup("allocated in a library constructor");
  pthread_key_create(&g_key, tls_free);
}

const char* early_string(void) { return g_early; }

void early_thread_value(size_t n) {
  char* p = malloc(n);
  memset(p, 1, n);
  pthread_setspecific(g_key, p);
}
