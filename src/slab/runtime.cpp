// Runtime bring-up, thread states, the quarantine callback, large blocks,
// free validation, drain and fork.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <new>

#include "platform/options.h"
#include "platform/platform.h"
#include "platform/print.h"
#include "report/report.h"
#include "shadow/shadow.h"
#include "slab/slab.h"

namespace ukasan {

bool caches_init();
bool kmalloc_caches_init();
void release_object(KmemCache* c, void* obj, ThreadState* ts);
void flush_magazine(KmemCache* c, Magazine& m);
Lock& caches_lock();
KmemCache* mag_owner(int id);

static SlotRegistry g_slots;
static SlabQuarantine g_quarantine;
bool g_quarantine_enabled = true;

SlotRegistry& thread_slots() { return g_slots; }
SlabQuarantine& quarantine() { return g_quarantine; }

// ---- the quarantine callback ------------------------------------------------

static Span* large_span_of_node(QNode* n) {
  return reinterpret_cast<Span*>(reinterpret_cast<uptr>(n) - offsetof(Span, large_free));
}

uptr SlabQuarantineCb::size(QNode* n) {
  uptr a = reinterpret_cast<uptr>(n);
  // Slab nodes live in the arena; large-block nodes live in span descriptors,
  // which are outside it.
  if (page_allocator().contains(a)) return quarantine_charge(page_allocator().span_of(a)->cache->slot_size);
  return quarantine_charge(large_span_of_node(n)->npages * kPageSize);
}

static void large_release(Span* s) {
  s->large_alloc.state.store(kObjFree, std::memory_order_relaxed);
  // The shadow keeps saying "freed page" so a dangling pointer into the
  // released range is still reported as use-after-free.
  page_allocator().free_span(s, /*release=*/true);
}

EvictHook g_evict_hook = nullptr;

// UKASAN_OPTIONS=debug_stress=1 (tests): yield after an evictor claims a
// group, so that a protocol bug becomes a likely failure instead of a rare one.
void SlabQuarantineCb::in_flight() {
  if (UKASAN_UNLIKELY(options().debug_stress)) sched_yield();
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
  uptr a = reinterpret_cast<uptr>(n);
  EvictHook hook = __atomic_load_n(&g_evict_hook, __ATOMIC_ACQUIRE);
  if (page_allocator().contains(a)) {
    KmemCache* c = page_allocator().span_of(a)->cache;
    if (hook) hook(c, a - c->free_meta_off, nullptr);
    release_object(c, reinterpret_cast<void*>(a - c->free_meta_off), static_cast<ThreadState*>(ctx));
  } else {
    Span* s = large_span_of_node(n);
    if (hook) hook(nullptr, s->user, s);
    large_release(s);
  }
}

// ---- thread states ------------------------------------------------------------

static UKASAN_TLS ThreadState* t_state;
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
static UKASAN_NOINLINE ThreadState* thread_state_slow() {
  runtime_init();
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

ThreadState* thread_state() {
  ThreadState* ts = t_state;
  if (UKASAN_LIKELY(ts)) return ts;
  return thread_state_slow();
}

// The background evictor's state (see below); the fork handlers reset it.
static std::atomic<bool> g_evictor_running{false};
static std::atomic<bool> g_evictor_tried{false};

// ---- drain / fork ----------------------------------------------------------------

void quarantine_drain_all() {
  ThreadState* ts = thread_state();
  RuntimeScope scope(ts);
  if (scope.nested()) return;  // a signal handler: the interrupted code may hold the global lock
  auto every = [](QNode*) { return true; };
  quarantine().extract(every, /*tag=*/0, [](auto fn) { for_each_thread_queue(fn); }, ts->extracted, /*wait_claimed=*/false);
  quarantine().free_extracted(ts->extracted, nullptr);
}

// fork() in a multithreaded program: the prepare handler takes every runtime
// lock in lock order (slot pool -> slot -> quarantine -> cache -> page), so the child never
// inherits a lock held by a thread that does not exist there. It waits for
// nothing else: a thread stopped in the middle of a free or an eviction holds
// no lock, and the child repairs what it left (fork_child).
static void fork_prepare() {
  if (in_report()) return;  // the symbolizer being spawned by a report: it only execs
  g_ts_pool_lock.lock();     // a new thread's state, being carved out
  thread_slots().lock_all();
  quarantine().global_lock().lock();
  SlabQuarantine::pool_lock().lock();
  caches_lock().lock();
  for (u32 i = 0; i < cache_count(); i++) cache_by_index(i)->lock.lock();
  page_allocator().lock().lock();
  report_lock_for_fork();
}

static void fork_parent() {
  if (in_report()) return;  // the symbolizer being spawned by a report: it only execs
  report_unlock_after_fork(false);
  page_allocator().lock().unlock();
  for (u32 i = cache_count(); i-- > 0;) cache_by_index(i)->lock.unlock();
  caches_lock().unlock();
  SlabQuarantine::pool_lock().unlock();
  quarantine().global_lock().unlock();
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

static void fork_child() {
  if (in_report()) return;  // the symbolizer being spawned by a report: it only execs
  report_unlock_after_fork(true);
  page_allocator().lock().reset();
  for (u32 i = 0; i < cache_count(); i++) cache_by_index(i)->lock.reset();
  caches_lock().reset();
  SlabQuarantine::pool_lock().reset();
  quarantine().global_lock().reset();
  thread_slots().unlock_all(true);
  g_ts_pool_lock.reset();
  // The evictor thread does not exist in the child: allocations evict again
  // (a new evictor is started if the quarantine overflows there).
  g_evictor_running.store(false, std::memory_order_relaxed);
  g_evictor_tried.store(false, std::memory_order_relaxed);
  platform_after_fork_child();
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

void reduce_in_runtime(ThreadState* ts) { quarantine().reduce(ts, ts->evicting); }

void reduce_once(ThreadState* ts) {
  if (!runtime_enter(ts)) return;
  reduce_in_runtime(ts);
  runtime_exit(ts);
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

// Outside runtime code: pthread_create allocates, and an allocation inside
// our own runtime code would only get the signal-nested (try-lock) path.
void evictor_maybe_start() {
  if (options().evict_thread && !g_evictor_running.load(std::memory_order_relaxed) && quarantine().over_limit())
    start_evictor();
}

// ---- init --------------------------------------------------------------------------

static std::atomic<int> g_init{0};  // 0 not started, 1 in progress, 2 done
static UKASAN_TLS bool t_initializing;

bool runtime_ready() { return g_init.load(std::memory_order_acquire) == 2; }

void runtime_init() {
  if (UKASAN_LIKELY(g_init.load(std::memory_order_acquire) == 2)) return;
  int expected = 0;
  if (!g_init.compare_exchange_strong(expected, 1)) {
    if (t_initializing) return;  // re-entered from inside init on this thread
    while (g_init.load(std::memory_order_acquire) != 2) sched_yield();
    return;
  }
  t_initializing = true;
  options_init_from_env();
  report_init();
  shadow_init();
  if (!page_allocator().init()) die("cannot reserve the slab arena");
#if UKASAN_DYNAMIC_SHADOW
  shadow_init_dynamic(page_allocator().base(), page_allocator().base() + page_allocator().size());
#endif
  u64 qbytes = options_quarantine_bytes();
  g_quarantine_enabled = qbytes > 0;
  g_quarantine.init(qbytes, options().quarantine_cache_kb << 10);
  if (!caches_init() || !kmalloc_caches_init()) die("cannot create the kmalloc caches");
  if (pthread_key_create(&g_key, thread_destructor) != 0) die("pthread_key_create failed");
  g_init.store(2, std::memory_order_release);
  // Late steps may allocate through libc (which may be us): run them after
  // the runtime is usable.
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  t_initializing = false;
}

// Map the shadow and set up the runtime before any other constructor of the
// program (constructors of libraries that depend on us run later).
__attribute__((constructor(101))) static void ukasan_ctor() { runtime_init(); }
__attribute__((destructor(101))) static void ukasan_dtor() { report_at_exit(); }

void runtime_set_quarantine_bytes(u64 bytes) {
  g_quarantine_enabled = bytes > 0;
  g_quarantine.init(bytes, options().quarantine_cache_kb << 10);
}

// ---- large blocks --------------------------------------------------------------------

// Eviction on the allocation path of page-backed blocks (the slab path does
// it inside take_object). Without it a program that churns only large blocks
// grows the quarantine without bound.
static void reduce_on_alloc() {
  if (!quarantine().over_limit()) return;
  if (UKASAN_UNLIKELY(options().evict_thread)) evictor_maybe_start();
  if (!quarantine().over_limit(alloc_reduce_slack())) return;
  reduce_once(thread_state());
}

static Span* large_span_alloc(uptr npages) {
  reduce_on_alloc();
  Span* s = page_allocator().alloc_span(npages, kSpanLarge);
  if (!s) {
    quarantine_drain_all();
    s = page_allocator().alloc_span(npages, kSpanLarge);
  }
  return s;
}

void* large_alloc(uptr size, gfp_t flags, uptr ip, uptr align) {
  if (size > (1ull << 40) - 3 * kPageSize || !is_pow2(align) || align > (1ull << 30)) return nullptr;
  uptr data = round_up(size, kPageSize);
  uptr extra = align > kPageSize ? align - kPageSize : 0;  // slack to place the block at `align`
  uptr npages = (data + extra) / kPageSize + 2;  // a redzone page on each side
  Span* s = large_span_alloc(npages);
  if (!s) return nullptr;
  uptr user = round_up(s->start + kPageSize, align > kPageSize ? align : kPageSize);
  s->user = user;
  ThreadState* ts = thread_state();
  AllocMeta& am = s->large_alloc;
  am.alloc_tid = static_cast<u32>(ts->tid);
  am.requested = static_cast<u32>(size);
  am.kind = 0;
  am.alloc_stack = options().stacktrace ? save_stack_from(ip) : 0;
  am.check = meta_check(user);
  s->large_free.free_stack = 0;
  s->large_free.free_tid = 0;
  s->large_free.node.next = nullptr;
  s->cache = nullptr;
  s->large_size = size;
  poison(s->start, npages * kPageSize, kShadowPageRedzone);
  unpoison(user, size);
  am.state.store(kObjAllocated, std::memory_order_release);
  if (flags & __GFP_ZERO) memset(reinterpret_cast<void*>(user), 0, size);
  return reinterpret_cast<void*>(user);
}

uptr large_size(const Span* s) { return s->large_size; }

static void large_free(Span* s, uptr ip) {
  ThreadState* ts = thread_state();
  s->large_free.free_tid = static_cast<u32>(ts->tid);
  s->large_free.free_stack = options().stacktrace ? save_stack_from(ip) : 0;
  poison(s->user, round_up(large_size(s), kPageSize), kShadowPageFree);
  if (UKASAN_UNLIKELY(!runtime_enter(ts))) {
    quarantine().put_nested(ts->queue, &s->large_free.node);
    return;
  }
  if (g_quarantine_enabled) {
    if (UKASAN_UNLIKELY(quarantine().put(ts->queue, &s->large_free.node, quarantine_charge(s->npages * kPageSize), 0)))
      reduce_after_transfer(ts);
  } else
    large_release(s);
  runtime_exit(ts);
}

// ---- free validation ------------------------------------------------------------------

bool free_check(const void* ptr, KmemCache* expected, uptr ip, Span** span_out) {
  uptr p = reinterpret_cast<uptr>(ptr);
  Span* s = page_allocator().span_of(p);
  if (!s) {
    report_free_error(p, ip, FreeError::kInvalidFree, "the pointer was not allocated by ukasan");
    return false;
  }
  AllocMeta* am;
  if (s->kind == kSpanSlab) {
    KmemCache* c = s->cache;
    if (slab_object_of(s, p) != p || p < s->start + c->lead) {
      report_free_error(p, ip, FreeError::kInvalidFree, "the pointer is not at the start of an object");
      return false;
    }
    if (expected && expected != c) {
      report_free_error(p, ip, FreeError::kInvalidFree, "the object belongs to another cache");
      return false;
    }
    if (c->state.load(std::memory_order_relaxed) != kCacheActive) {
      report_free_error(p, ip, FreeError::kInvalidFree, "the object's cache was destroyed");
      return false;
    }
    am = alloc_meta(c, p);
  } else if (s->kind == kSpanLarge) {
    if (p != s->user) {
      report_free_error(p, ip, FreeError::kInvalidFree, "the pointer is not at the start of the block");
      return false;
    }
    if (expected) {
      report_free_error(p, ip, FreeError::kInvalidFree, "a kmalloc block freed with kmem_cache_free");
      return false;
    }
    am = &s->large_alloc;
  } else {
    bool freed = *mem_to_shadow(p) == kShadowPageFree;
    report_free_error(p, ip, freed ? FreeError::kDoubleFree : FreeError::kInvalidFree,
                      freed ? nullptr : "the pointer was not allocated by ukasan");
    return false;
  }
  // The CAS makes two racing frees of one object safe: exactly one wins.
  u8 st = kObjAllocated;
  if (!am->state.compare_exchange_strong(st, kObjQuarantined, std::memory_order_acq_rel)) {
    if (st == kObjQuarantined || st == kObjFree)
      report_free_error(p, ip, FreeError::kDoubleFree, nullptr);
    else
      report_free_error(p, ip, FreeError::kInvalidFree, "the object's metadata is corrupted");
    return false;
  }
  *span_out = s;
  return true;
}

void free_validated(void* ptr, Span* s, uptr ip) {
  if (s->kind == kSpanSlab)
    cache_free(s->cache, ptr, ip);
  else
    large_free(s, ip);
}

}  // namespace ukasan
