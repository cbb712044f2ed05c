#include <stdlib.h>
int main(void) {
  char* volatile p = malloc(64);
  free(p + 8);
  return 0;
}
