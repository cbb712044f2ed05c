/* ukasan: the kernel slab API under ukasan_ names, for shims.
 *
 * <ukasan/slab.h> exports the kernel's own names (kmem_cache_create, kmalloc,
 * kfree, ...). A program that defines those names itself -- a kernel test
 * harness with its own slab shim (tools/testing/radix-tree's linux.c), or
 * any code built against the kernel's <linux/slab.h> -- reaches the same
 * allocator through the names below instead. This header defines no kernel
 * name (no gfp_t, GFP_*, SLAB_*, struct kmem_cache), so it can be included
 * next to the kernel's <linux/slab.h> and <linux/gfp.h>.
 *
 * Each ukasan_X is the kernel-named X with the same semantics; each records
 * its own caller's return address for stacks and reports, as X does. The
 * runtime itself never calls the kernel names (they may be the program's).
 * C and C++. */
#ifndef UKASAN_KSLAB_H
#define UKASAN_KSLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation flags. Bits 0-31 are the caller's own (a shim puts the kernel's
 * gfp_t there): ukasan ignores them and hands them, as given, to the cache's
 * alloc hook. ukasan acts only on the UKASAN_GFP_* bits, 32 and up. */
typedef uint64_t ukasan_gfp_t;
#define UKASAN_GFP_CALLER_MASK 0xffffffffull
#define UKASAN_GFP_ZERO (1ull << 32) /* the object is zeroed (the kernel's __GFP_ZERO) */

/* Cache flags: the values of Linux 6.1's SLAB_* (a shim may still translate
 * name by name: newer kernels renumbered them). Every flag of 6.1 is
 * handled, as follows; any other bit is ignored with one warning line.
 * Honoured: */
#define UKASAN_SLAB_HWCACHE_ALIGN 0x00002000u   /* objects aligned on 64 bytes */
#define UKASAN_SLAB_PANIC 0x00040000u           /* create failure aborts the process */
#define UKASAN_SLAB_TYPESAFE_BY_RCU 0x00080000u /* freed objects neither quarantined nor poisoned */
#define UKASAN_SLAB_NOLEAKTRACE 0x00800000u     /* objects neither scanned nor reported by kmemleak */
/* Always on under KASAN, accepted as such: redzones, poisoning, stored
 * alloc/free stacks, consistency checks of every free. */
#define UKASAN_SLAB_CONSISTENCY_CHECKS 0x00000100u
#define UKASAN_SLAB_RED_ZONE 0x00000400u
#define UKASAN_SLAB_POISON 0x00000800u
#define UKASAN_SLAB_STORE_USER 0x00010000u
#define UKASAN_SLAB_KASAN 0x08000000u
/* Ignored by design (no meaning in user space, or the kernel's own internals):
 * memory zones, cgroup/reclaim accounting, NUMA spreading, tracing,
 * debugobjects, fault injection (use the alloc hook), KFENCE sampling (the
 * slab API is never sampled), kmalloc caches, user-copy flags. */
#define UKASAN_SLAB_KMALLOC 0x00001000u
#define UKASAN_SLAB_CACHE_DMA 0x00004000u
#define UKASAN_SLAB_CACHE_DMA32 0x00008000u
#define UKASAN_SLAB_RECLAIM_ACCOUNT 0x00020000u
#define UKASAN_SLAB_MEM_SPREAD 0x00100000u
#define UKASAN_SLAB_TRACE 0x00200000u
#define UKASAN_SLAB_DEBUG_OBJECTS 0x00400000u
#define UKASAN_SLAB_FAILSLAB 0x02000000u
#define UKASAN_SLAB_ACCOUNT 0x04000000u
#define UKASAN_SLAB_NO_USER_FLAGS 0x10000000u
#define UKASAN_SLAB_SKIP_KFENCE 0x20000000u
/* Every bit above. */
#define UKASAN_SLAB_KNOWN_FLAGS 0x3efffd00u

struct ukasan_kmem_cache; /* the same object as the kernel-named API's struct kmem_cache */

struct ukasan_kmem_cache *ukasan_kmem_cache_create(const char *name, unsigned int size, unsigned int align,
                                                   unsigned int flags, void (*ctor)(void *));
void ukasan_kmem_cache_destroy(struct ukasan_kmem_cache *s);
void *ukasan_kmem_cache_alloc(struct ukasan_kmem_cache *s, ukasan_gfp_t flags);
/* kmem_cache_alloc_lru: lru (the kernel's struct list_lru *) is ignored. */
void *ukasan_kmem_cache_alloc_lru(struct ukasan_kmem_cache *s, void *lru, ukasan_gfp_t flags);
void *ukasan_kmem_cache_zalloc(struct ukasan_kmem_cache *s, ukasan_gfp_t flags);
void ukasan_kmem_cache_free(struct ukasan_kmem_cache *s, void *objp);
/* Returns size on success, 0 on failure (nothing allocated). */
int ukasan_kmem_cache_alloc_bulk(struct ukasan_kmem_cache *s, ukasan_gfp_t flags, size_t size, void **p);
void ukasan_kmem_cache_free_bulk(struct ukasan_kmem_cache *s, size_t size, void **p);
int ukasan_kmem_cache_shrink(struct ukasan_kmem_cache *s);
unsigned int ukasan_kmem_cache_size(struct ukasan_kmem_cache *s);
const char *ukasan_kmem_cache_name(struct ukasan_kmem_cache *s);

void *ukasan_kmalloc(size_t size, ukasan_gfp_t flags);
void *ukasan_kzalloc(size_t size, ukasan_gfp_t flags);
void *ukasan_kmalloc_array(size_t n, size_t size, ukasan_gfp_t flags);
void *ukasan_kcalloc(size_t n, size_t size, ukasan_gfp_t flags);
void *ukasan_krealloc(const void *p, size_t new_size, ukasan_gfp_t flags);
size_t ukasan_ksize(const void *objp);
void ukasan_kfree(const void *objp);
void ukasan_kfree_sensitive(const void *objp);

/* Allocation-failure policy: before each object of a cache is allocated
 * (kmem_cache_alloc, _zalloc, _alloc_lru, each object of _alloc_bulk, kernel
 * names and ukasan_ names alike), hook(cache, flags, arg) is called; false
 * fails that allocation (NULL; a bulk allocation frees what it got and
 * returns 0). flags: as the caller passed them (kernel-named calls: their
 * gfp_t in bits 0-31). NULL removes the hook. Set it before other threads
 * allocate from the cache. Returns 0, or -1 (reported) for a bad cache. */
typedef bool (*ukasan_alloc_hook_t)(struct ukasan_kmem_cache *s, ukasan_gfp_t flags, void *arg);
int ukasan_kmem_cache_set_alloc_hook(struct ukasan_kmem_cache *s, ukasan_alloc_hook_t hook, void *arg);

/* Per-cache counters, over the cache's life: objects the API gave out and
 * took back. Exact once the threads that use the cache are quiet. */
struct ukasan_cache_stats {
  uint64_t allocated;   /* objects allocated */
  uint64_t freed;       /* objects freed (into the quarantine or the cache) */
  uint64_t live;        /* allocated - freed */
  uint32_t object_size; /* as created */
  uint32_t slot_size;   /* bytes each object takes in its slab (object, redzone, metadata) */
};
/* Returns 0, or -1 (reported, *out zeroed) for a bad cache. */
int ukasan_cache_stats(struct ukasan_kmem_cache *s, struct ukasan_cache_stats *out);

/* The kernel's kasan_record_aux_stack(): records the caller's stack as the
 * latest "potentially related work creation" of the object containing p
 * (the two latest are kept, until the object is allocated again); its
 * reports print them after "Freed by task". No effect for a pointer that is
 * not in an object. kasan_record_aux_stack{,_noalloc} are exported too. */
void ukasan_record_aux_stack(void *p);
void ukasan_record_aux_stack_noalloc(void *p);

#ifdef __cplusplus
}
#endif
#endif /* UKASAN_KSLAB_H */
