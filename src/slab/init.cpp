// The slab layer's life cycle: bring-up, and its fork handlers.
#include "platform/platform.h"
#include "shadow/shadow.h"
#include "slab/internal.h"

namespace ukasan {

void slab_init(u64 quarantine_bytes, u64 queue_bytes) {
  if (!page_allocator().init()) die("cannot reserve the slab arena");
#if UKASAN_DYNAMIC_SHADOW
  shadow_init_dynamic(page_allocator().base(), page_allocator().base() + page_allocator().size());
#endif
  slab_set_quarantine(quarantine_bytes, queue_bytes);
  uptr lo, hi;
  if (loader_text(&lo, &hi)) {
    g_loader_lo = lo;
    g_loader_size = hi - lo;
  }
  if (!caches_init()) die("cannot create the kmalloc caches");
  threads_init();
  report_set_object_describer(describe_object);
}

// Lock order: thread-state pool -> thread slots -> quarantine -> caches ->
// pages (the order the allocation and free paths nest them in). A thread
// stopped in the middle of a free or an eviction holds none of them, and
// the child repairs what it left (threads_fork_child).
void slab_fork_prepare() {
  threads_fork_prepare();
  quarantine_fork_prepare();
  caches_lock().lock();
  for (u32 i = 0; i < cache_count(); i++) cache_by_index(i)->lock.lock();
  page_allocator().lock().lock();
}

void slab_fork_parent() {
  page_allocator().lock().unlock();
  for (u32 i = cache_count(); i-- > 0;) cache_by_index(i)->lock.unlock();
  caches_lock().unlock();
  quarantine_fork_parent();
  threads_fork_parent();
}

void slab_fork_child(bool locks_taken) {
  if (locks_taken) {
    // Not taken by prepare: reports take it under the report lock, which
    // prepare takes after the slab's. Its critical sections only copy an
    // entry; one cut short by the fork leaves at worst a wrong aux stack.
    aux_lock().reset();
    page_allocator().lock().reset();
    for (u32 i = 0; i < cache_count(); i++) cache_by_index(i)->lock.reset();
    caches_lock().reset();
  }
  quarantine_fork_child(locks_taken);
  threads_fork_child(locks_taken);
}

}  // namespace ukasan
