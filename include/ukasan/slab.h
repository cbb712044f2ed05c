/* ukasan: the Linux kernel slab API in user space, checked by KASAN.
 * C and C++. Kernel names and semantics (include/linux/slab.h). */
#ifndef UKASAN_SLAB_H
#define UKASAN_SLAB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned int gfp_t;
typedef unsigned int slab_flags_t;

/* gfp flags: only __GFP_ZERO changes behaviour; the rest are accepted. */
#define __GFP_ZERO 0x100u
#define __GFP_NOWARN 0x200u
#define GFP_ATOMIC 0x1u
#define GFP_NOWAIT 0x2u
#define GFP_KERNEL 0x4u

/* slab flags */
#define SLAB_HWCACHE_ALIGN 0x00002000u   /* align objects on cache lines */
#define SLAB_PANIC 0x00040000u           /* abort if kmem_cache_create fails */
#define SLAB_TYPESAFE_BY_RCU 0x00080000u /* not quarantined, not poisoned on free */
#define SLAB_ACCOUNT 0x04000000u         /* accepted, no effect */
/* Every other SLAB_* flag of Linux 6.1 is accepted too, as <ukasan/kslab.h> says. */

/* kmalloc(0) returns this; dereferencing it is a null-ptr-deref. */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)

#define KMALLOC_MAX_CACHE_SIZE 8192

struct kmem_cache;

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
                                     slab_flags_t flags, void (*ctor)(void *));
void kmem_cache_destroy(struct kmem_cache *s);
void *kmem_cache_alloc(struct kmem_cache *s, gfp_t flags);
void *kmem_cache_zalloc(struct kmem_cache *s, gfp_t flags);
/* lru is ignored. */
struct list_lru;
void *kmem_cache_alloc_lru(struct kmem_cache *s, struct list_lru *lru, gfp_t flags);
void kmem_cache_free(struct kmem_cache *s, void *objp);
/* Returns the number allocated: size on success, 0 on failure (nothing allocated). */
int kmem_cache_alloc_bulk(struct kmem_cache *s, gfp_t flags, size_t size, void **p);
void kmem_cache_free_bulk(struct kmem_cache *s, size_t size, void **p);
int kmem_cache_shrink(struct kmem_cache *s);
unsigned int kmem_cache_size(struct kmem_cache *s);
const char *kmem_cache_name(struct kmem_cache *s);

void *kmalloc(size_t size, gfp_t flags);
void *kzalloc(size_t size, gfp_t flags);
void *kmalloc_array(size_t n, size_t size, gfp_t flags);
void *kcalloc(size_t n, size_t size, gfp_t flags);
void *krealloc(const void *p, size_t new_size, gfp_t flags);
size_t ksize(const void *objp);
void kfree(const void *objp);
void kfree_sensitive(const void *objp);

#ifdef __cplusplus
}
#endif
#endif /* UKASAN_SLAB_H */
