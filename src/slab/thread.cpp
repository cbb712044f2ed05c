// Thread states: one per thread, carved from a never-freed pool and
// registered for synchronizers; a finished thread's state is reused.
#include <pthread.h>
#include <signal.h>

#include <new>

#include "platform/platform.h"
#include "slab/internal.h"

namespace ukasan {

static SlotRegistry g_slots;
SlotRegistry& thread_slots() { return g_slots; }

UKASAN_TLS ThreadState* t_state;
static pthread_key_t g_key;
static Lock g_ts_pool_lock;
static ThreadState* g_ts_pool;
static uptr g_ts_pool_left;

// The slot lock: kmem_cache_destroy may be flushing one of these magazines.
static void thread_exit_flush(ThreadState* ts) {
  quarantine().flush(ts->queue);
  LockGuard g(ts->lock);
  for (unsigned i = 0; i < kMagCaches; i++) {
    if (!ts->mags[i].count) continue;
    KmemCache* c = mag_owner(static_cast<int>(i));
    if (c) flush_magazine(c, ts->mags[i]);
  }
}

static void thread_destructor(void* p) {
  ThreadState* ts = static_cast<ThreadState*>(p);
  {
    RuntimeScope scope(ts);
    if (!scope.nested()) thread_exit_flush(ts);
  }
  t_state = nullptr;
  ts->claimed.store(0, std::memory_order_release);  // the slot may now serve a new thread
}

void threads_init() {
  if (pthread_key_create(&g_key, thread_destructor) != 0) die("pthread_key_create failed");
}

static ThreadState* new_thread_state() {
  // Reuse a slot whose thread has exited.
  for (ThreadSlot* s = thread_slots().first(); s; s = s->next) {
    u32 z = 0;
    if (!s->claimed.load(std::memory_order_relaxed) && s->claimed.compare_exchange_strong(z, 1))
      return static_cast<ThreadState*>(s);
  }
  LockGuard g(g_ts_pool_lock);
  if (!g_ts_pool_left) {
    constexpr uptr kChunk = 256 * 1024;
    g_ts_pool = static_cast<ThreadState*>(map_anon(kChunk));
    if (!g_ts_pool) die("out of memory for thread states");
    g_ts_pool_left = kChunk / sizeof(ThreadState);
  }
  g_ts_pool_left--;
  ThreadState* ts = new (g_ts_pool++) ThreadState();
  ts->claimed.store(1, std::memory_order_relaxed);
  thread_slots().register_slot(ts);
  return ts;
}

// A thread's first runtime call. Signals are blocked meanwhile: a handler
// that allocated here would find no thread state yet and try to take the
// slot pool's lock this code holds (found by signal_stress_test: a 5 kHz
// timer hitting the main thread's first allocation). Two syscalls, once per
// thread.
UKASAN_NOINLINE ThreadState* thread_state_slow() {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  ThreadState* ts = t_state;  // a handler that ran just before the block may have set it up
  if (!ts) {
    ts = new_thread_state();
    ts->tid = current_tid();
    t_state = ts;
    pthread_setspecific(g_key, ts);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ts;
}

MemStats mem_stats() {
  MemStats m{};
  u64 in = 0, out = 0;
  for (ThreadSlot* s = thread_slots().first(); s; s = s->next) {
    const ThreadState* ts = static_cast<ThreadState*>(s);
    in += ts->alloc_bytes.load(std::memory_order_relaxed);
    out += ts->freed_bytes.load(std::memory_order_relaxed);
  }
  m.in_use_bytes = in > out ? in - out : 0;  // a thread may free what another allocated
  m.slab_bytes = page_allocator().pages_of(kSpanSlab) * kPageSize;
  m.large_bytes = page_allocator().pages_of(kSpanLarge) * kPageSize;
  m.large_blocks = page_allocator().spans_of(kSpanLarge);
  m.quarantined_bytes = quarantine().stats().bytes;
  return m;
}

// ---- fork ---------------------------------------------------------------------------

void threads_fork_prepare() {
  g_ts_pool_lock.lock();  // a new thread's state, being carved out
  thread_slots().lock_all();
}

void threads_fork_parent() {
  thread_slots().unlock_all(false);
  g_ts_pool_lock.unlock();
}

// A thread that does not exist in the child may have been stopped anywhere:
// between publishing a queue chunk and recording it as its tail (recomputed
// here), in the middle of an eviction (its unclaimed nodes are freed here; a
// node it had claimed is lost, as is a node it had written but not yet
// published: those objects stay unusable in the child), or in a magazine
// operation (flushed as it stands).
static void adopt_dead_thread(ThreadState* ts) {
  SlabQuarantine::Queue& q = ts->queue;
  q.tail = q.head.load(std::memory_order_relaxed);
  while (q.tail && q.tail->next.load(std::memory_order_relaxed)) q.tail = q.tail->next.load(std::memory_order_relaxed);
  quarantine().finish_abandoned(ts->evicting, nullptr);
  quarantine().finish_abandoned(ts->extracted, nullptr);
  thread_exit_flush(ts);
}

// Runs after every other slab lock is reset: adopting a thread frees objects.
void threads_fork_child(bool locks_taken) {
  if (locks_taken) {
    thread_slots().unlock_all(true);
    g_ts_pool_lock.reset();
  }
  ThreadState* self = t_state;
  if (self) self->tid = current_tid();
  // The other threads do not exist here: hand their queues and magazines
  // back and free their slots.
  for (ThreadSlot* s = thread_slots().first(); s; s = s->next) {
    if (s == self || !s->claimed.load(std::memory_order_relaxed)) continue;
    ThreadState* ts = static_cast<ThreadState*>(s);
    ts->nesting = 0;
    adopt_dead_thread(ts);
    s->claimed.store(0, std::memory_order_relaxed);
  }
}

}  // namespace ukasan
