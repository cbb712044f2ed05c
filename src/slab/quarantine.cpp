// The slab layer's quarantine: the callback that sizes, prefetches and
// recycles quarantined objects, eviction on the allocation and free paths,
// the background evictor, and drain.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "platform/options.h"
#include "platform/platform.h"
#include "platform/test_knobs.h"
#include "slab/internal.h"

namespace ukasan {

static SlabQuarantine g_quarantine;
bool g_quarantine_enabled = true;

SlabQuarantine& quarantine() { return g_quarantine; }

void slab_set_quarantine(u64 quarantine_bytes, u64 queue_bytes) {
  g_quarantine_enabled = quarantine_bytes > 0;
  g_quarantine.init(quarantine_bytes, queue_bytes);
}

// ---- the quarantine callback ------------------------------------------------

static EvictHook g_evict_hook;
void slab_set_evict_hook(EvictHook hook) { __atomic_store_n(&g_evict_hook, hook, __ATOMIC_RELEASE); }

static Span* large_span_of_node(QNode* n) {
  return reinterpret_cast<Span*>(reinterpret_cast<uptr>(n) - offsetof(Span, large_free));
}

// The object a quarantine node belongs to: a slab object of c, or (c null)
// the large block of span `large`. Slab nodes live in the arena; large-block
// nodes live in span descriptors, which are outside it.
struct NodeObject {
  KmemCache* c;
  uptr obj;
  Span* large;
};
static UKASAN_ALWAYS_INLINE NodeObject object_of_node(QNode* n) {
  const uptr a = reinterpret_cast<uptr>(n);
  if (page_allocator().contains(a)) {
    KmemCache* c = page_allocator().span_of(a)->cache;
    return NodeObject{c, a - c->free_meta_off, nullptr};
  }
  Span* s = large_span_of_node(n);
  return NodeObject{nullptr, s->user, s};
}

uptr SlabQuarantineCb::size(QNode* n) {
  const NodeObject o = object_of_node(n);
  return quarantine_charge(o.c ? o.c->slot_size : o.large->npages * kPageSize);
}

// Tests (g_test_knobs.evict_yield): yield after an evictor claims a group,
// so that a protocol bug becomes a likely failure instead of a rare one.
void SlabQuarantineCb::in_flight() {
  if (UKASAN_UNLIKELY(g_test_knobs.evict_yield.load(std::memory_order_relaxed))) sched_yield();
}

void* SlabQuarantineCb::map(uptr bytes) { return map_anon(bytes); }

// A synchronizer waits for an evictor to finish recycling one object it had
// claimed: usually a few hundred nanoseconds, longer only if that thread was
// descheduled right then.
void SlabQuarantineCb::relax(unsigned spins) {
  if (spins < 64)
    cpu_relax();
  else
    sched_yield();
}

// Eviction frees objects a few ahead of this one: start loading the lines
// recycle() will touch. That is the object's alloc metadata only: the
// object goes to a magazine by pointer (the node itself is not written).
void SlabQuarantineCb::prefetch(QNode* n) {
  uptr a = reinterpret_cast<uptr>(n);
  if (Span* s = page_allocator().span_of(a)) {
    if (s->kind != kSpanSlab) return;
    KmemCache* c = s->cache;
    uptr obj = a - c->free_meta_off;
    __builtin_prefetch(alloc_meta(c, obj), 1);
    // An eviction hook (the heap's free-pattern check) reads the object too:
    // start its first lines (the hardware prefetcher follows the rest).
    // Measured on the heap churn: 900 -> 745 ns/op.
    if (g_evict_hook) {
      uptr end = obj + (c->obj_bytes < 512 ? c->obj_bytes : 512);
      for (uptr l = round_down(obj, 64); l < end; l += 64) __builtin_prefetch(reinterpret_cast<void*>(l));
    }
  }
}

void SlabQuarantineCb::recycle(QNode* n, void* ctx) {
  const NodeObject o = object_of_node(n);
  EvictHook hook = __atomic_load_n(&g_evict_hook, __ATOMIC_ACQUIRE);
  if (hook) hook(o.c, o.obj, o.large, false);
  if (o.c)
    release_object(o.c, reinterpret_cast<void*>(o.obj), static_cast<ThreadState*>(ctx));
  else
    large_release(o.large);
}

// ---- eviction -------------------------------------------------------------------------

// The background evictor's state (see below); the fork handlers reset it.
static std::atomic<bool> g_evictor_running{false};
static std::atomic<bool> g_evictor_tried{false};

void reduce_in_runtime(ThreadState* ts) { quarantine().reduce(ts, ts->evicting); }

void reduce_once(ThreadState* ts) {
  if (!runtime_enter(ts)) return;
  reduce_in_runtime(ts);
  runtime_exit(ts);
}

uptr alloc_reduce_slack() {
  return g_evictor_running.load(std::memory_order_acquire) ? 2 * quarantine().batch_bytes() : 0;
}

// Eviction normally runs on the allocation path (free stays cheap). A burst
// of frees with no allocations in between (a program tearing down a big
// structure, or exiting) would then grow the quarantine without bound: once
// a transfer leaves the FIFO two batches past what allocations tolerate, the
// freeing thread evicts one batch itself. Same step bound as any reduce.
void reduce_after_transfer(ThreadState* ts) {
  if (quarantine().over_limit(alloc_reduce_slack() + 2 * quarantine().batch_bytes())) reduce_in_runtime(ts);
}

// Eviction on the allocation path of page-backed blocks (the slab path does
// it inside take_object). Without it a program that churns only large blocks
// grows the quarantine without bound.
void reduce_on_alloc() {
  if (!quarantine().over_limit()) return;
  if (UKASAN_UNLIKELY(options().evict_thread)) evictor_maybe_start();
  if (!quarantine().over_limit(alloc_reduce_slack())) return;
  reduce_once(thread_state());
}

unsigned quarantine_check() {
  EvictHook hook = __atomic_load_n(&g_evict_hook, __ATOMIC_ACQUIRE);
  if (!hook) return 0;
  ThreadState* ts = thread_state();
  RuntimeScope scope(ts);
  if (scope.nested()) return 0;  // a signal handler: the interrupted code may hold the global lock
  unsigned found = 0;
  // Under the global lock (for_each_locked): the objects stay quarantined
  // while they are checked. A report under it is safe: reporting takes no
  // quarantine lock and allocates nothing.
  quarantine().for_each_locked([](auto fn) { for_each_thread_queue(fn); }, [&](QNode* n) {
    const NodeObject o = object_of_node(n);
    found += hook(o.c, o.obj, o.large, true);
  });
  return found;
}

void quarantine_drain_all() {
  ThreadState* ts = thread_state();
  RuntimeScope scope(ts);
  if (scope.nested()) return;  // a signal handler: the interrupted code may hold the global lock
  auto every = [](QNode*) { return true; };
  quarantine().extract(every, /*tag=*/0, [](auto fn) { for_each_thread_queue(fn); }, ts->extracted, /*wait_claimed=*/false);
  quarantine().free_extracted(ts->extracted, nullptr);
}

// ---- the background evictor (evict_thread=1) ---------------------------------------
//
// A thread that evicts whenever the quarantine is over its bound, so that the
// allocation path (which then only evicts when the evictor falls two batches
// behind) stops paying for it. It is an ordinary owner: its batch in flight
// is registered like any other evictor's.

static void* evictor_main(void*) {
  ThreadState* ts = thread_state();
  for (;;) {
    if (quarantine().over_limit()) {
      reduce_once(ts);
      continue;
    }
    struct timespec pause = {0, 200 * 1000};  // 200 us: a batch is >= 1 MiB of frees
    nanosleep(&pause, nullptr);
  }
  return nullptr;
}

// Started lazily, the first time the quarantine overflows (long after libc is
// up, unlike runtime_init, which may run inside the first malloc).
static void start_evictor() {
  if (g_evictor_tried.exchange(true)) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  if (pthread_create(&th, &attr, evictor_main, nullptr) == 0) {
    pthread_setname_np(th, "ukasan-evict");
    g_evictor_running.store(true, std::memory_order_release);
  }
  pthread_attr_destroy(&attr);
}

// Outside runtime code: pthread_create allocates, and an allocation inside
// our own runtime code would only get the signal-nested (try-lock) path.
void evictor_maybe_start() {
  if (options().evict_thread && !g_evictor_running.load(std::memory_order_relaxed) && quarantine().over_limit())
    start_evictor();
}

// ---- fork ---------------------------------------------------------------------------

void quarantine_fork_prepare() {
  quarantine().global_lock().lock();
  SlabQuarantine::pool_lock().lock();
}

void quarantine_fork_parent() {
  SlabQuarantine::pool_lock().unlock();
  quarantine().global_lock().unlock();
}

void quarantine_fork_child() {
  SlabQuarantine::pool_lock().reset();
  quarantine().global_lock().reset();
  // The evictor thread does not exist in the child: allocations evict again
  // (a new evictor is started if the quarantine overflows there).
  g_evictor_running.store(false, std::memory_order_relaxed);
  g_evictor_tried.store(false, std::memory_order_relaxed);
}

}  // namespace ukasan
