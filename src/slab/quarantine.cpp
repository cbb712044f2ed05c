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

UKASAN_TLS uptr t_evict_ip;

SlabQuarantine g_quarantine;
bool g_quarantine_enabled = true;

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

// The chunk pool links every chunk of a new block at once: its pages in one
// call rather than a fault each (64 per 256 KiB block).
void* SlabQuarantineCb::map(uptr bytes) {
  void* m = map_anon(bytes);
  if (m) populate_pages(m, bytes);
  return m;
}

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
    // Unlocked relaxed reads: a slab being released meanwhile (cache
    // destroy) at worst makes this prefetch the wrong lines; a cache
    // descriptor is never unmapped.
    if (__atomic_load_n(&s->kind, __ATOMIC_RELAXED) != kSpanSlab) return;
    KmemCache* c = __atomic_load_n(&s->cache, __ATOMIC_RELAXED);
    if (!c) return;
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

static void really_free(const NodeObject& o, void* ctx) {
  EvictHook hook = __atomic_load_n(&g_evict_hook, __ATOMIC_ACQUIRE);
  if (hook) hook(o.c, o.obj, o.large, false);
  if (o.c)
    release_object(o.c, reinterpret_cast<void*>(o.obj), static_cast<ThreadState*>(ctx));
  else
    large_release(o.large);
}

// ---- the second quarantine (quarantine_keep_referenced) -------------------------------
// Objects the last scan found referenced from live memory (kMetaDangling)
// are not recycled when the quarantine evicts them: they join this FIFO,
// bounded by quarantine_keep_mb, and are recycled when it overflows. Only
// kmalloc/heap objects and large blocks: their caches are never destroyed,
// so kmem_cache_destroy never has to look here. The objects stay
// kObjQuarantined (a double free is still one) and poisoned.
static Lock g_keep_lock;
static QNode* g_keep_head;
static QNode* g_keep_tail;
static uptr g_keep_bytes;
static std::atomic<u64> g_keep_total{0};  // objects ever kept (statistics, tests)

static AllocMeta* meta_of(const NodeObject& o) { return o.c ? alloc_meta(o.c, o.obj) : &o.large->large_alloc; }

// Takes the oldest kept object if the FIFO is over bound (under g_keep_lock).
static bool keep_pop_over_bound_locked(NodeObject* out, uptr bound) {
  if (g_keep_bytes <= bound || !g_keep_head) return false;
  QNode* n = g_keep_head;
  g_keep_head = link_decode(n->next);
  if (!g_keep_head) g_keep_tail = nullptr;
  *out = object_of_node(n);
  g_keep_bytes -= SlabQuarantineCb::size(n);
  return true;
}

// Recycles the oldest kept objects until the FIFO is within bound (0: all),
// each outside the lock.
static void release_kept_over(uptr bound, void* ctx) {
  for (;;) {
    NodeObject o;
    g_keep_lock.lock();
    const bool got = keep_pop_over_bound_locked(&o, bound);
    g_keep_lock.unlock();
    if (!got) return;
    really_free(o, ctx);
  }
}

static bool keep(QNode* n, const NodeObject& o, void* ctx) {
  if (o.c && !o.c->is_kmalloc) return false;
  AllocMeta* am = meta_of(o);
  if (!(am->kind & kMetaDangling)) return false;
  am->kind = static_cast<u8>(am->kind & ~kMetaDangling);  // a later scan sets it again if still referenced
  const uptr bound = options().quarantine_keep_mb << 20;
  n->next = link_encode(nullptr);
  g_keep_lock.lock();
  if (g_keep_tail)
    g_keep_tail->next = link_encode(n);
  else
    g_keep_head = n;
  g_keep_tail = n;
  g_keep_bytes += SlabQuarantineCb::size(n);
  g_keep_lock.unlock();
  g_keep_total.fetch_add(1, std::memory_order_relaxed);
  release_kept_over(bound, ctx);
  return true;
}

u64 quarantine_kept_total() { return g_keep_total.load(std::memory_order_relaxed); }

// Every kept object, for fn (under the lock: they stay kept meanwhile).
template <class F>
static void for_each_kept(F fn) {
  LockGuard g(g_keep_lock);
  for (QNode* n = g_keep_head; n; n = link_decode(n->next)) fn(n);
}

void SlabQuarantineCb::recycle(QNode* n, void* ctx) {
  const NodeObject o = object_of_node(n);
  if (UKASAN_UNLIKELY(options().quarantine_keep_referenced) && keep(n, o, ctx)) return;
  really_free(o, ctx);
}

// ---- eviction -------------------------------------------------------------------------

// The background evictor's state (see below); the fork handlers reset it.
static std::atomic<bool> g_evictor_running{false};
static std::atomic<bool> g_evictor_tried{false};

static RefreshHook g_refresh_hook;
void slab_set_refresh_hook(RefreshHook hook) { __atomic_store_n(&g_refresh_hook, hook, __ATOMIC_RELEASE); }
// Starts "due": the first eviction step scans, so the objects quarantined
// before any eviction (the oldest, evicted first) are seen too.
static std::atomic<u64> g_steps_since_refresh{u64(1) << 62};

// After an eviction step (nothing claimed any more, no lock held: a scan
// that stops the world waits on no one): refresh the dangling marks once
// per half quarantine of evictions, so every object is seen by a scan
// while it is quarantined.
static void maybe_refresh() {
  RefreshHook hook = __atomic_load_n(&g_refresh_hook, __ATOMIC_ACQUIRE);
  if (!hook) return;
  const uptr every = quarantine().max_bytes() / 2 / (quarantine().batch_bytes() ? quarantine().batch_bytes() : 1);
  u64 steps = g_steps_since_refresh.fetch_add(1, std::memory_order_relaxed) + 1;
  if (steps < (every ? every : 1)) return;
  if (!g_steps_since_refresh.compare_exchange_strong(steps, 0, std::memory_order_relaxed)) return;
  hook();
}

void reduce_in_runtime(ThreadState* ts) {
  if (quarantine().reduce(ts, ts->evicting)) cache_trim_step();
  if (UKASAN_UNLIKELY(options().quarantine_keep_referenced)) maybe_refresh();
}

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
  if (process_single_threaded()) {
    // Nothing can move an object out of the quarantine meanwhile: no other
    // thread exists, and a signal handler inside this scope takes the
    // nested paths, which never evict. So the quarantined objects are found
    // by their state, walking the slabs in address order (the hardware
    // prefetcher streams them) instead of chasing the FIFO's scattered
    // pointers: bash.sh's check at exit took 5 % of its run. An object a
    // handler frees meanwhile is skipped or checked whole: its kind says
    // kKindPoisoned only once its pattern is complete.
    struct Walk {
      EvictHook hook;
      unsigned found;
    } w{hook, 0};
    scan_for_each_object([](const ObjectRef& r, uptr, void* arg) {
      Walk* w = static_cast<Walk*>(arg);
      w->found += w->hook(r.cache, r.obj, r.cache ? nullptr : r.span, true);
    }, &w, /*freed=*/true);
    return w.found;
  }
  // Under the global lock (for_each_locked): the objects stay quarantined
  // while they are checked. A report under it is safe: reporting takes no
  // quarantine lock and allocates nothing.
  quarantine().for_each_locked([](auto fn) { for_each_thread_queue(fn); }, [&](QNode* n) {
    const NodeObject o = object_of_node(n);
    found += hook(o.c, o.obj, o.large, true);
  });
  for_each_kept([&](QNode* n) {
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
  release_kept_over(0, nullptr);
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
  g_keep_lock.lock();
}

void quarantine_fork_parent() {
  g_keep_lock.unlock();
  SlabQuarantine::pool_lock().unlock();
  quarantine().global_lock().unlock();
}

void quarantine_fork_child(bool locks_taken) {
  if (locks_taken) {
    g_keep_lock.reset();
    SlabQuarantine::pool_lock().reset();
    quarantine().global_lock().reset();
  }
  // The evictor thread does not exist in the child: allocations evict again
  // (a new evictor is started if the quarantine overflows there). Stored
  // only when set: a page copied in the child otherwise.
  if (g_evictor_running.load(std::memory_order_relaxed)) g_evictor_running.store(false, std::memory_order_relaxed);
  if (g_evictor_tried.load(std::memory_order_relaxed)) g_evictor_tried.store(false, std::memory_order_relaxed);
}

}  // namespace ukasan
