/* Writes into a freed block, then churns the heap until the block leaves the
 * quarantine: expect "BUG: KASAN: slab-use-after-free" (detected at eviction). */
#include <stdlib.h>
#include <string.h>
int main(void) {
  volatile char* volatile p = malloc(100);
  memset((char*)p, 1, 100);
  free((void*)p);
  p[40] = 'A'; /* write after free */
  p[41] = 'B';
  for (int i = 0; i < 200000; i++) {
    void* volatile q = malloc(64 + (i % 8) * 16);
    free(q);
  }
  return 0;
}
