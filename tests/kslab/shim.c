/* A shim in the style of tools/testing/radix-tree/linux.c: the program
 * defines the kernel's slab names itself (kmem_cache_create, kmalloc, ...)
 * over ukasan's namespaced API (<ukasan/kslab.h>), with the harness's
 * non_kernel rule as the cache's alloc hook. tests/shell/kslab.sh runs it:
 * the hook's vetoes, the per-cache counters, and a use after free of a
 * cache object reported in the program's own functions. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ukasan/kslab.h>

/* The kernel's names, as a kernel header would define them. */
typedef unsigned int gfp_t;
#define __GFP_ZERO 0x100u
#define __GFP_DIRECT_RECLAIM 0x400u
#define GFP_KERNEL 0xcc0u
#define GFP_NOWAIT 0x800u
#define SLAB_PANIC 0x00040000u

struct list_lru;
struct kmem_cache {
  struct ukasan_kmem_cache *uc;
  unsigned int non_kernel;
};

static int program_kmalloc_calls, program_kfree_calls;

static ukasan_gfp_t to_ukasan(gfp_t gfp) { return gfp | ((gfp & __GFP_ZERO) ? UKASAN_GFP_ZERO : 0); }

/* The harness's rule: an allocation that may not sleep fails unless the
 * cache's non_kernel budget allows it. */
static bool non_kernel_rule(struct ukasan_kmem_cache *uc, ukasan_gfp_t flags, void *arg) {
  struct kmem_cache *c = arg;
  (void)uc;
  if ((gfp_t)flags & __GFP_DIRECT_RECLAIM) return true;
  if (!c->non_kernel) return false;
  c->non_kernel--;
  return true;
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align, unsigned int flags,
                                     void (*ctor)(void *)) {
  struct kmem_cache *c = calloc(1, sizeof(*c));
  c->uc = ukasan_kmem_cache_create(name, size, align, (flags & SLAB_PANIC) ? UKASAN_SLAB_PANIC : 0, ctor);
  ukasan_kmem_cache_set_alloc_hook(c->uc, non_kernel_rule, c);
  return c;
}
void *kmem_cache_alloc(struct kmem_cache *c, gfp_t gfp) { return ukasan_kmem_cache_alloc(c->uc, to_ukasan(gfp)); }
void *kmem_cache_alloc_lru(struct kmem_cache *c, struct list_lru *lru, gfp_t gfp) {
  return ukasan_kmem_cache_alloc_lru(c->uc, lru, to_ukasan(gfp));
}
void kmem_cache_free(struct kmem_cache *c, void *p) { ukasan_kmem_cache_free(c->uc, p); }
void *kmalloc(size_t size, gfp_t gfp) {
  program_kmalloc_calls++;
  return ukasan_kmalloc(size, to_ukasan(gfp));
}
void kfree(void *p) {
  program_kfree_calls++;
  ukasan_kfree(p);
}

struct node {
  struct node *parent;
  unsigned long key;
};

__attribute__((noinline)) struct node *node_new(struct kmem_cache *c, unsigned long key) {
  struct node *n = kmem_cache_alloc(c, GFP_KERNEL);
  if (n) n->key = key;
  return n;
}
__attribute__((noinline)) void node_delete(struct kmem_cache *c, struct node *n) { kmem_cache_free(c, n); }
__attribute__((noinline)) unsigned long node_lookup(struct node *n) { return n->key; }

int main(void) {
  struct kmem_cache *c = kmem_cache_create("shim_node", sizeof(struct node), 0, SLAB_PANIC, NULL);
  /* The failure hook: no budget, no direct reclaim -> NULL. */
  if (kmem_cache_alloc(c, GFP_NOWAIT)) printf("hook: not vetoed\n");
  c->non_kernel = 1;
  void *a = kmem_cache_alloc_lru(c, NULL, GFP_NOWAIT);
  void *b = kmem_cache_alloc(c, GFP_NOWAIT);
  printf("hook: %s %s\n", a ? "allowed" : "vetoed", b ? "allowed" : "vetoed");
  struct node *n = node_new(c, 42);
  struct ukasan_cache_stats st;
  ukasan_cache_stats(c->uc, &st);
  printf("stats: allocated %llu freed %llu live %llu size %u\n", (unsigned long long)st.allocated,
         (unsigned long long)st.freed, (unsigned long long)st.live, st.object_size);
  kmem_cache_free(c, a);
  char *buf = kmalloc(32, GFP_KERNEL | __GFP_ZERO);
  printf("kmalloc: zeroed %d\n", buf[31] == 0);
  kfree(buf);
  /* Calls that free inside the runtime: never through the program's kfree. */
  ukasan_kfree_sensitive(ukasan_kmalloc(8, 0));
  ukasan_kfree(ukasan_krealloc(ukasan_kmalloc(8, 0), 4096, 0));
  node_delete(c, n);
  ukasan_cache_stats(c->uc, &st);
  printf("stats: allocated %llu freed %llu live %llu\n", (unsigned long long)st.allocated,
         (unsigned long long)st.freed, (unsigned long long)st.live);
  printf("key %lu\n", node_lookup(n)); /* use after free */
  printf("program kmalloc %d kfree %d\n", program_kmalloc_calls, program_kfree_calls);
  ukasan_kmem_cache_destroy(c->uc);
  free(c);
  /* Every flag of 6.1 is known; any other bit is named in one line. */
  ukasan_kmem_cache_destroy(ukasan_kmem_cache_create("all_flags", 8, 0, UKASAN_SLAB_KNOWN_FLAGS & ~UKASAN_SLAB_PANIC, NULL));
  ukasan_kmem_cache_destroy(ukasan_kmem_cache_create("odd_flags", 8, 0, 0x40000001u, NULL));
  return 0;
}
