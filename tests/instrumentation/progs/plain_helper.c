/* Built WITHOUT instrumentation: its stack buffers are never (un)poisoned by
 * its own code, so stale poison left under them by dead instrumented frames
 * shows up when they go through the runtime's memset/memcpy/strlen checks. */
#include <string.h>
void *(*volatile plain_memset)(void *, int, size_t) = memset;
void *(*volatile plain_memcpy)(void *, const void *, size_t) = memcpy;
size_t (*volatile plain_strlen)(const char *) = strlen;
/* Touch `kb` KiB of stack below the caller through the checked libc calls. */
__attribute__((noinline)) long plain_touch_stack(int kb) {
  char buf[64 << 10];
  if (kb > 64) kb = 64;
  char *p = buf + sizeof(buf) - ((size_t)kb << 10);
  plain_memset(p, 'a', ((size_t)kb << 10) - 1);
  p[((size_t)kb << 10) - 1] = 0;
  plain_memcpy(buf, p, 128);
  return (long)plain_strlen(p) + buf[5];
}
