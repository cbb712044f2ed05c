#include <stdio.h>
#include <ukasan/slab.h>
int table[4];
volatile int idx = 4;
__attribute__((noinline)) int consumer_global_oob(void) { return table[idx]; }
int main(void) {
  char *p = kmalloc(10, GFP_KERNEL);
  p[idx + 6] = 1;
  kfree(p);
  printf("value %d\n", consumer_global_oob());
  printf("MARKER consumer continued\n");
  return 0;
}
