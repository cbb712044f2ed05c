/* One byte past the end (and, with argv[1] = "left", one byte before the
 * start; with "far", argv[3] bytes past the end): expect SLUB debug's
 * "BUG <cache> (Not tainted): Right (Left) Redzone overwritten" when the
 * block is freed. With "memset", "memmove", "memcmp" or "bcmp" the byte past
 * the end is written or read by that libc call: KASAN's report at the call. */
#include <stdlib.h>
#include <string.h>
char other[1 << 16];
volatile int sink;
int main(int argc, char** argv) {
  size_t n = argc > 2 ? strtoul(argv[2], 0, 0) : 24;
  volatile char* volatile p = malloc(n);
  if (argc > 1 && !strcmp(argv[1], "memset"))
    memset((char*)p, 1, n + 1);
  else if (argc > 1 && !strcmp(argv[1], "memmove"))
    memmove(other, (char*)p, n + 1);
  else if (argc > 1 && !strcmp(argv[1], "memcmp"))
    sink = memcmp(other, (char*)p, n + 1);
  else if (argc > 1 && !strcmp(argv[1], "bcmp"))
    sink = bcmp(other, (char*)p, n + 1);
  else if (argc > 1 && !strcmp(argv[1], "left"))
    p[-1] = 'x';
  else if (argc > 3 && !strcmp(argv[1], "far"))
    p[n + strtoul(argv[3], 0, 0)] = 'x';
  else
    p[n] = 'x';
  free((void*)p);
  return 0;
}
