/* Writes into a freed block, then churns the heap until the block leaves the
 * quarantine: expect "BUG kmalloc-128 (Not tainted): Poison overwritten" (SLUB
 * debug's report: found at eviction).
 * Usage: uaf_write [SIZE OFFSET [thread]] (default 100 40): two bytes at
 * OFFSET (one if OFFSET is the last byte); "thread": a thread is created and
 * joined first (the process is no longer single-threaded for glibc). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static void* nothing(void* arg) { return arg; }
int main(int argc, char** argv) {
  if (argc > 3 && !strcmp(argv[3], "thread")) {
    pthread_t t;
    if (pthread_create(&t, 0, nothing, 0) || pthread_join(t, 0)) return 2;
  }
  size_t size = argc > 2 ? strtoul(argv[1], 0, 0) : 100;
  size_t off = argc > 2 ? strtoul(argv[2], 0, 0) : 40;
  volatile char* volatile p = malloc(size);
  memset((char*)p, 1, size);
  free((void*)p);
  p[off] = 'A'; /* write after free */
  if (off + 1 < size) p[off + 1] = 'B';
  for (int i = 0; i < 200000; i++) {
    void* volatile q = malloc(64 + (i % 8) * 16);
    free(q);
  }
  return 0;
}
