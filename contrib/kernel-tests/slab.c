/*
 * ukasan's replacement for tools/lib/slab.c in the kernel's user-space test
 * harnesses: kmalloc/kfree over ukasan's namespaced API, with the harness's
 * rule (a kmalloc that may not sleep fails) and its counter.
 */
#include <stdio.h>

#include <linux/gfp.h>
#include <linux/slab.h>
#include <urcu/uatomic.h>

#include <ukasan/kslab.h>

int kmalloc_nr_allocated;
int kmalloc_verbose;

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	if (!(gfp & __GFP_DIRECT_RECLAIM))
		return NULL;
	p = ukasan_kmalloc(size, (ukasan_gfp_t)gfp | ((gfp & __GFP_ZERO) ? UKASAN_GFP_ZERO : 0));
	if (!p)
		return NULL;
	uatomic_inc(&kmalloc_nr_allocated);
	if (kmalloc_verbose)
		printf("Allocating %p from malloc\n", p);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	uatomic_dec(&kmalloc_nr_allocated);
	if (kmalloc_verbose)
		printf("Freeing %p to malloc\n", p);
	ukasan_kfree(p);
}
