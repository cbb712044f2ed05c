/*
 * make kernel-tests' check that the shim really puts the harness on ukasan:
 * a radix_tree_node freed the way the kernel frees it (call_rcu, then
 * kmem_cache_free from the RCU callback) and read afterwards must be
 * reported as a slab-use-after-free in the reading function, with the
 * call_rcu caller as the node's "Last potentially related work creation".
 * (The upstream harness's shim misses this read: it keeps freed nodes on a
 * private free list.) Built from the harness's own objects by run.sh.
 */
#include <stdio.h>

#include <linux/radix-tree.h>
#include <linux/slab.h>

#include "test.h"

static RADIX_TREE(planted_tree, GFP_KERNEL);

static noinline unsigned int stale_node_count(struct radix_tree_node *node)
{
	return *(volatile unsigned char *)&node->count;
}

int main(void)
{
	struct radix_tree_node *node = NULL;
	void __rcu **slot;

	rcu_register_thread();
	radix_tree_init();
	item_insert(&planted_tree, 0);
	item_insert(&planted_tree, 1); /* two items: the tree gets a node */
	__radix_tree_lookup(&planted_tree, 1, &node, &slot);
	item_delete(&planted_tree, 1);
	item_delete(&planted_tree, 0); /* the node goes through call_rcu */
	rcu_barrier();
	printf("planted: node %p count %u\n", (void *)node, node ? stale_node_count(node) : 0);
	rcu_unregister_thread();
	return 0;
}
