/* Built with -O2 -fomit-frame-pointer (as Debian builds its packages): a
 * heap overflow by memcpy five calls deep. The report's Call Trace must name
 * every function (DWARF unwinding); the alloc stack, taken by the fast
 * frame-pointer walk, may stop early but prints no frame that is not code. */
#include <stdlib.h>
#include <string.h>

#define NI __attribute__((noinline, noipa))
volatile int extra = 1;
volatile long sink;

NI long level5(size_t n) {
  char src[64] = {0};
  char *p = malloc(n);
  memcpy(p, src, n + extra); /* one byte past the end */
  long r = p[0];
  free(p);
  return r + 1;
}
NI long level4(size_t n) { return level5(n) + 1; }
NI long level3(size_t n) { return level4(n) * 3 + 1; }
NI long level2(size_t n) { return level3(n) * 2 + 1; }
NI long level1(size_t n) { return level2(n) + extra; }

int main(int argc, char **argv) {
  sink = level1(argc > 1 ? (size_t)atoi(argv[1]) : 24);
  return 0;
}
