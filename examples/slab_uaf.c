/* A use-after-free on a kmem_cache object, found by kasan_check_read(). */
#include <stdio.h>
#include <ukasan/slab.h>
#include <ukasan/ukasan.h>

struct session {
  int id;
  char user[28];
};

static struct kmem_cache *session_cache;

static __attribute__((noinline)) struct session *session_open(int id) {
  struct session *s = kmem_cache_alloc(session_cache, GFP_KERNEL);
  s->id = id;
  return s;
}

static __attribute__((noinline)) void session_close(struct session *s) { kmem_cache_free(session_cache, s); }

static __attribute__((noinline)) int session_id(struct session *s) {
  kasan_check_read(&s->id, sizeof(s->id)); /* what -fsanitize=kernel-address inserts */
  return s->id;
}

int main(void) {
  session_cache = kmem_cache_create("session_cache", sizeof(struct session), 0, SLAB_HWCACHE_ALIGN, NULL);
  struct session *s = session_open(42);
  session_close(s);
  printf("session id after close: %d\n", session_id(s)); /* use after free */
  return 0;
}
