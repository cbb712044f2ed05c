// Declarations shared by the files of src/slab only (the kernel's
// mm/kasan/kasan.h pattern); the other layers use slab/slab.h.
#pragma once
#include "slab/slab.h"

namespace ukasan {

// ---- thread.cpp: thread states ----------------------------------------------------
SlotRegistry& thread_slots();
void threads_init();
// Calls fn(queue) for every thread's quarantine queue (for Quarantine::extract).
template <typename Fn>
inline void for_each_thread_queue(Fn fn) {
  for (ThreadSlot* s = thread_slots().first(); s; s = s->next) fn(static_cast<ThreadState*>(s)->queue);
}
void threads_fork_prepare();  // the pool lock, then every slot lock
void threads_fork_parent();
void threads_fork_child(bool locks_taken);  // adopts the threads that do not exist in the child

// ---- cache.cpp: caches, magazines, the depot --------------------------------------
bool caches_init();   // the descriptors and the kmalloc caches
Lock& caches_lock();
KmemCache* cache_by_index(u32 i);
u32 cache_count();
KmemCache* mag_owner(int id);
// Returns a free object to the allocator proper (after the quarantine, or
// directly for non-quarantined frees). ts: the caller's own thread state
// (its magazine takes the object), or nullptr (straight to the slab).
void release_object(KmemCache* c, void* obj, ThreadState* ts);
void flush_magazine(KmemCache* c, Magazine& m);
// After an eviction step: every few steps, if the depot blocks idle since
// the last pass are many, the registered caches give them back to their
// slabs and release their empty slabs (memory the quarantine's turnover
// left idle when the program's sizes changed).
void cache_trim_step();
// Frees obj (validated by free_check as an allocated object of c).
void cache_free(KmemCache* c, void* obj, uptr ip);
// Up to max of c's live objects, for the destroy-leak report (c->lock not held:
// the cache is destroyed, nothing else changes its slabs).
unsigned cache_live_objects(KmemCache* c, LeakedObject* out, unsigned max);

// ---- aux.cpp: the aux stacks' table (its lock, a leaf, is reset in a forked child) ---
Lock& aux_lock();

// ---- large.cpp: page-backed blocks --------------------------------------------------
void large_free(Span* s, uptr ip);
void large_release(Span* s);  // after the quarantine

// ---- quarantine.cpp: the quarantine glue and the evictor ----------------------------
// The filter bit of a cache's objects in quarantine batches (a summary that
// lets kmem_cache_destroy skip batches holding none of them). The kmalloc
// and heap caches, which are never destroyed, set no bit (and a tag of 0
// makes extract walk everything), so the batches of a program's malloc/kmalloc
// churn never match a destroyed cache.
inline u64 quarantine_tag(const KmemCache* c) { return c->is_kmalloc ? 0 : u64(1) << (c->index & 63); }
// How far past its bound the quarantine may go before an allocation evicts:
// 0, or two batches while the background evictor (evict_thread=1) runs.
uptr alloc_reduce_slack();
// Evicts one batch; the caller is inside runtime code (runtime_enter).
void reduce_in_runtime(ThreadState* ts);
// After a free's put() moved the queue to the FIFO: evict one batch if the
// FIFO is two batches past what allocations tolerate.
void reduce_after_transfer(ThreadState* ts);
// The same, entering runtime code itself (a no-op when nested in a signal handler).
void reduce_once(ThreadState* ts);
// Eviction on the allocation path of page-backed blocks.
void reduce_on_alloc();
// Starts the evictor if the option asks for it and the quarantine has
// overflowed. Must be called outside runtime code (runtime_enter): it creates
// a thread, which allocates.
void evictor_maybe_start();
void quarantine_fork_prepare();
void quarantine_fork_parent();
void quarantine_fork_child(bool locks_taken);  // also forgets the evictor thread

// ---- object.cpp ---------------------------------------------------------------------
// The report's object describer (installed by slab_init).
void describe_object(uptr addr, uptr obj_hint, ObjectInfo* out);

}  // namespace ukasan
