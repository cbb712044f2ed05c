/* One bug per argument, for KFENCE (kfence_sample_interval=1: every
 * allocation is a KFENCE object). Pointers are volatile so the compiler keeps
 * accesses it could prove dead (a store right before free, malloc+free). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NI __attribute__((noinline))
volatile long sink;
volatile int idx = 0;
typedef char *volatile vptr;

NI void oob_read(void) { vptr p = malloc(32); sink = p[32 + idx]; free(p); }
NI void oob_write(void) { vptr p = malloc(32); p[32 + idx] = 1; free(p); }
NI void oob_left(void) { vptr p = malloc(32); sink = p[-1 + idx]; free(p); }
NI void uaf_read(void) { vptr p = malloc(40); free(p); sink = p[3 + idx]; }
NI void uaf_write(void) { vptr p = malloc(40); free(p); p[3 + idx] = 1; }
NI void double_free(void) { vptr p = malloc(40); free(p); free(p); }
NI void interior_free(void) { vptr p = malloc(40); free(p + 1 + idx); }
NI void corrupt(void) { vptr p = malloc(9); p[9 + idx] = 0x55; free(p); }
NI void memcpy_slack(void) { vptr p = malloc(9); char d[16]; memcpy(d, (char *)p, 10 + idx); sink = d[0]; free(p); }
NI void leak(void) { sink = (long)malloc(77); sink = 0; }
/* Correct use: every size up to a page, calloc, realloc in and out of the
 * pool, aligned allocations, strings through libc. */
NI void ok(void) {
  for (size_t n = 1; n <= 4096; n += 37) {
    char *p = malloc(n);
    memset(p, 1, n);
    p = realloc(p, n + 5000);
    p[n + 4999] = 2;
    p = realloc(p, n);
    free(p);
  }
  int *z = calloc(100, sizeof(int));
  for (int i = 0; i < 100; i++) if (z[i]) abort();
  free(z);
  void *a;
  if (posix_memalign(&a, 256, 100) || (unsigned long)a % 256) abort();
  free(a);
  char *s = strdup("kfence");
  if (strlen(s) != 6) abort();
  free(s);
}

int main(int argc, char **argv) {
  static const struct { const char *n; void (*f)(void); } t[] = {
      {"oob-read", oob_read},       {"oob-write", oob_write},         {"oob-left", oob_left},
      {"uaf-read", uaf_read},       {"uaf-write", uaf_write},         {"double-free", double_free},
      {"interior-free", interior_free}, {"corrupt", corrupt},       {"leak", leak}, {"memcpy-slack", memcpy_slack},
      {"ok", ok},
  };
  for (int a = 1; a < argc; a++)
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++)
      if (!strcmp(argv[a], t[i].n)) t[i].f();
  printf("continued\n");
  return 0;
}
