/* Linked with -lukasan (no preload): malloc is ukasan's, which reports the
 * exact requested size as usable (glibc rounds it up). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  void* volatile p = malloc(13);
  size_t u = malloc_usable_size(p);
  free(p);
  printf("usable %zu\n", u);
  return u == 13 ? 0 : 1;
}
