/*
 * ukasan's slab shim for the kernel's user-space test harness
 * (tools/testing/radix-tree). It replaces the harness's linux.c: the
 * harness defines the kernel's slab names itself, and this file defines
 * them over ukasan's namespaced API (<ukasan/kslab.h>), so every object is
 * a real slab object with KASAN redzones, quarantine and stacks instead of
 * a malloc'ed block recycled through a private free list.
 *
 * Kept from the harness: its rules and counters. An allocation that may not
 * sleep (no __GFP_DIRECT_RECLAIM) fails unless the cache's non_kernel budget
 * allows it (the cache's alloc hook); nr_allocated, per cache
 * (ukasan_cache_stats) and in total; kmalloc_verbose's lines.
 * call_rcu is wrapped (-Wl,--wrap) to record the caller's stack as the
 * object's aux stack, as the kernel's call_rcu does.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/gfp.h>
#include <linux/slab.h>
#include <linux/radix-tree.h>
#include <urcu/uatomic.h>

#include <ukasan/kslab.h>

int nr_allocated;  /* objects of every cache, live */
int preempt_count;
int test_verbose;

struct kmem_cache {
	struct ukasan_kmem_cache *uc;
	unsigned int size;
	pthread_mutex_t lock;         /* non_kernel */
	unsigned int non_kernel;      /* allocations without direct reclaim still allowed */
	unsigned long tallocated_base; /* ukasan's "allocated" count at the last zeroing */
	/* Newer harnesses (6.4+): called before the allocation that follows a
	 * refused one (kmem_cache_set_callback/_private). */
	void (*callback)(void *);
	void *private;
	bool exec_callback;
};

/* The harness's flags, as ukasan's (tools/include/linux/slab.h has its own values). */
static unsigned int slab_flags(unsigned int flags)
{
	unsigned int out = 0;

	if (flags & SLAB_PANIC)
		out |= UKASAN_SLAB_PANIC;
	if (flags & SLAB_RECLAIM_ACCOUNT)
		out |= UKASAN_SLAB_RECLAIM_ACCOUNT;
	/* Anything else is passed on: ukasan names bits it does not know. */
	return out | (flags & ~(unsigned int)(SLAB_PANIC | SLAB_RECLAIM_ACCOUNT));
}

static ukasan_gfp_t gfp_flags(gfp_t gfp)
{
	return (ukasan_gfp_t)gfp | ((gfp & __GFP_ZERO) ? UKASAN_GFP_ZERO : 0);
}

static bool non_kernel_allows(struct kmem_cache *c, unsigned int n)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = c->non_kernel >= n;
	if (ok)
		c->non_kernel -= n;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The cache's alloc hook: the harness's rule for one object. */
static bool may_allocate(struct ukasan_kmem_cache *uc, ukasan_gfp_t flags, void *arg)
{
	(void)uc;
	if ((gfp_t)flags & __GFP_DIRECT_RECLAIM)
		return true;
	return non_kernel_allows(arg, 1);
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
				     unsigned int flags, void (*ctor)(void *))
{
	struct kmem_cache *c = calloc(1, sizeof(*c));

	assert(c);
	c->uc = ukasan_kmem_cache_create(name, size, align, slab_flags(flags), ctor);
	if (!c->uc) {
		free(c);
		return NULL;
	}
	c->size = size;
	pthread_mutex_init(&c->lock, NULL);
	ukasan_kmem_cache_set_alloc_hook(c->uc, may_allocate, c);
	return c;
}

void kmem_cache_set_non_kernel(struct kmem_cache *c, unsigned int val)
{
	pthread_mutex_lock(&c->lock);
	c->non_kernel = val;
	pthread_mutex_unlock(&c->lock);
}

static struct ukasan_cache_stats stats(struct kmem_cache *c)
{
	struct ukasan_cache_stats st;

	ukasan_cache_stats(c->uc, &st);
	return st;
}

void kmem_cache_set_callback(struct kmem_cache *c, void (*callback)(void *))
{
	c->callback = callback;
}

void kmem_cache_set_private(struct kmem_cache *c, void *private)
{
	c->private = private;
}

unsigned long kmem_cache_nr_allocated(struct kmem_cache *c)
{
	return stats(c).live;
}

unsigned long kmem_cache_get_alloc(struct kmem_cache *c)
{
	return c->size * kmem_cache_nr_allocated(c);
}

unsigned long kmem_cache_nr_tallocated(struct kmem_cache *c)
{
	return stats(c).allocated - c->tallocated_base;
}

void kmem_cache_zero_nr_tallocated(struct kmem_cache *c)
{
	c->tallocated_base = stats(c).allocated;
}

static void count_objects(void **objs, size_t n, int delta, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		uatomic_add(&nr_allocated, delta);
		if (kmalloc_verbose)
			printf("%s %p %s slab\n", what, objs[i], delta > 0 ? "from" : "to");
	}
}

void *kmem_cache_alloc_lru(struct kmem_cache *c, struct list_lru *lru, int gfp)
{
	void *p;

	if (c->exec_callback) {
		c->exec_callback = false;
		if (c->callback)
			c->callback(c->private);
	}
	p = ukasan_kmem_cache_alloc_lru(c->uc, lru, gfp_flags(gfp));
	if (p)
		count_objects(&p, 1, 1, "Allocating");
	else if (!(gfp & __GFP_DIRECT_RECLAIM))
		c->exec_callback = true; /* refused by the non_kernel rule */
	return p;
}

void kmem_cache_free(struct kmem_cache *c, void *p)
{
	count_objects(&p, 1, -1, "Freeing");
	ukasan_kmem_cache_free(c->uc, p);
}

/*
 * The non_kernel budget: 6.1's harness takes it for the whole batch or not
 * at all; newer ones (tools/testing/shared) object by object, through the
 * hook, keeping what the objects allocated before a refusal took.
 */
int kmem_cache_alloc_bulk(struct kmem_cache *c, gfp_t gfp, size_t size, void **p)
{
	if (kmalloc_verbose)
		pr_debug("Bulk alloc %zu\n", size);
#ifndef UKASAN_SHARED_HARNESS
	if (!(gfp & __GFP_DIRECT_RECLAIM)) {
		if (!non_kernel_allows(c, size))
			return 0;
		gfp |= __GFP_DIRECT_RECLAIM; /* paid for: the hook lets each object through */
	}
#endif
	if (!ukasan_kmem_cache_alloc_bulk(c->uc, gfp_flags(gfp), size, p))
		return 0;
	count_objects(p, size, 1, "Allocating");
	return size;
}

void kmem_cache_free_bulk(struct kmem_cache *c, size_t size, void **list)
{
	if (kmalloc_verbose)
		pr_debug("Bulk free %p[0-%zu]\n", list, size - 1);
	count_objects(list, size, -1, "Freeing");
	ukasan_kmem_cache_free_bulk(c->uc, size, list);
}

void kmem_cache_shrink(struct kmem_cache *c)
{
	ukasan_kmem_cache_shrink(c->uc);
}

/* The kernel's call_rcu records the caller as the object's aux stack. */
struct rcu_head;
void __real_urcu_memb_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *));
void __wrap_urcu_memb_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	ukasan_record_aux_stack_noalloc(head);
	__real_urcu_memb_call_rcu(head, func);
}

/*
 * maple.c calls this to check the harness's own slab. The upstream version
 * checks its private free list; this one checks what the shim promises:
 * bulk calls and the per-cache counters, with and without an alignment.
 */
void test_kmem_cache_bulk(void)
{
	static const unsigned int aligns[] = { 0, 128 };
	void *list[12];

	for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
		struct kmem_cache *c = kmem_cache_create("test_cache", 256, aligns[a], SLAB_PANIC, NULL);
		int i;

		for (i = 0; i < 5; i++)
			list[i] = kmem_cache_alloc(c, __GFP_DIRECT_RECLAIM);
		assert(kmem_cache_nr_allocated(c) == 5);
		for (i = 0; i < 5; i++)
			kmem_cache_free(c, list[i]);
		assert(kmem_cache_nr_allocated(c) == 0);

		assert(kmem_cache_alloc_bulk(c, __GFP_DIRECT_RECLAIM, 12, list) == 12);
		for (i = 0; i < 12; i++)
			assert(!aligns[a] || (unsigned long)list[i] % aligns[a] == 0);
		assert(kmem_cache_nr_allocated(c) == 12 && kmem_cache_nr_tallocated(c) == 17);
		kmem_cache_free_bulk(c, 12, list);
		assert(kmem_cache_nr_allocated(c) == 0);

		/* Without direct reclaim: only within the non_kernel budget. */
		assert(kmem_cache_alloc_bulk(c, GFP_NOWAIT, 2, list) == 0);
		kmem_cache_set_non_kernel(c, 2);
		assert(kmem_cache_alloc_bulk(c, GFP_NOWAIT, 2, list) == 2);
		assert(!kmem_cache_alloc(c, GFP_NOWAIT));
		kmem_cache_free_bulk(c, 2, list);
		kmem_cache_zero_nr_tallocated(c);
		assert(kmem_cache_nr_tallocated(c) == 0);
		ukasan_kmem_cache_destroy(c->uc);
		free(c);
	}
}
