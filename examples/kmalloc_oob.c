/* An off-by-one write past a kmalloc() buffer, and a double free. */
#include <string.h>
#include <ukasan/slab.h>
#include <ukasan/ukasan.h>

static __attribute__((noinline)) void fill(char *buf, size_t n) {
  for (size_t i = 0; i <= n; i++) { /* <= : one byte too many */
    kasan_check_write(&buf[i], 1);
    buf[i] = 'x';
  }
}

int main(void) {
  char *buf = kmalloc(13, GFP_KERNEL);
  fill(buf, 13);
  kfree(buf);
  kfree(buf);
  return 0;
}
