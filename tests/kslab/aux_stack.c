/* kasan_record_aux_stack: an object whose release was deferred twice
 * (the kernel's call_rcu / queue_work record it) and then used after its
 * free. tests/shell/aux_stack.sh compares the report's stack sections. */
#include <stdio.h>
#include <ukasan/kslab.h>
#include <ukasan/ukasan.h> /* kasan_record_aux_stack: the kernel's name */

struct work {
  long data[4];
};

__attribute__((noinline)) struct work *work_new(struct ukasan_kmem_cache *c) { return ukasan_kmem_cache_zalloc(c, 0); }
__attribute__((noinline)) void queue_work_like(struct work *w) { kasan_record_aux_stack(w); }
__attribute__((noinline)) void call_rcu_like(struct work *w) { ukasan_record_aux_stack_noalloc(&w->data[2]); }
__attribute__((noinline)) void work_release(struct ukasan_kmem_cache *c, struct work *w) { ukasan_kmem_cache_free(c, w); }
__attribute__((noinline)) long work_peek(struct work *w) { return *(volatile long *)&w->data[1]; }

__attribute__((noinline)) long work_peek_past(struct work *w) { return *(volatile long *)&w->data[4]; }

int main(void) {
  struct ukasan_kmem_cache *c = ukasan_kmem_cache_create("work_cache", sizeof(struct work), 0, 0, 0);
  struct work *w = work_new(c);
  queue_work_like(w);
  call_rcu_like(w);
  call_rcu_like(w);
  queue_work_like(w);
  work_release(c, w);
  work_peek(w);
  /* Allocated again, the object has no aux stacks: its next report has no
   * such sections (the test runs without a quarantine: the object comes
   * straight back). */
  struct work *again = work_new(c);
  if (again == w) {
    printf("allocated again\n");
    work_peek_past(again);
  }
  ukasan_kmem_cache_free(c, again);
  ukasan_kmem_cache_destroy(c);
  return 0;
}
