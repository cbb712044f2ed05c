// The slab layer: kmem_cache objects with KASAN redzones and metadata,
// per-thread magazines, large blocks, the quarantine glue and the thread
// states. This header is what the layers above (src/runtime, src/heap) may
// use; declarations shared only by the files of this directory are in
// slab/internal.h.
#pragma once
#include <atomic>

#include "percpu/thread_slot.h"
#include "platform/lock.h"
#include "quarantine/quarantine.h"
#include "report/report.h"
#include "slab/meta.h"
#include "slab/page_alloc.h"
#include "ukasan/kslab.h"  // ukasan_alloc_hook_t, struct ukasan_cache_stats
#include "ukasan/slab.h"  // gfp_t, slab_flags_t and their flags


namespace ukasan {

// ---- the quarantine instantiation -------------------------------------
struct SlabQuarantineCb {
  using Node = QNode;
  static Node* next(Node* n) { return link_decode(n->next); }
  static void set_next(Node* n, Node* x) { n->next = link_encode(x); }
  static uptr size(Node* n);
  static void recycle(Node* n, void* ctx);  // ctx: ThreadState* or nullptr
  static void in_flight();                  // tests: widen the race windows
  static void relax(unsigned spins);        // a synchronizer waits for a claimed node
  static void prefetch(Node* n);
  static void* map(uptr bytes);
};
using SlabQuarantine = Quarantine<SlabQuarantineCb>;

// What one quarantined object of `bytes` (slot, or pages of a large block)
// costs, counted against quarantine_size_mb: the memory itself, its shadow
// (1/8) and its pointer in a batch chunk. The bound is then the memory the
// quarantine really holds, so peak RSS stays near bound + live heap.
inline uptr quarantine_charge(uptr bytes) { return bytes + bytes / 8 + sizeof(void*); }

// ---- caches -------------------------------------------------------------
enum CacheState : u8 { kCacheUnused = 0, kCacheActive = 1, kCacheDestroyed = 2 };

struct KmemCache {
  char name[64];
  u32 object_size;    // requested at create
  u32 align;
  u32 obj_bytes;      // object_size rounded to the granule
  u32 slot_size;      // object + redzone (incl. metadata), multiple of align
  u32 lead;           // redzone before the first object of a slab
  s32 alloc_meta_off; // from object start (negative: just before the object)
  u32 free_meta_off;  // from object start (0: inside the freed object)
  u32 objs_per_slab;
  u32 slot_recip;     // 2^32 / slot_size + 1 when exact for every slab offset (else 0)
  u32 slab_pages;
  slab_flags_t flags;
  void (*ctor)(void*);
  bool quarantined;
  bool is_kmalloc;
  std::atomic<u8> state;
  int mag_id;         // index of this cache's per-thread magazine, -1 if none
  u32 index;
  u32 destroy_tid;    // who destroyed it (reports of a use after destroy)
  depot_handle_t destroy_stack;
  u8 meta_kind = 0;   // AllocMeta::kind flags every object is born with (SLAB_NOLEAKTRACE)
  // The API's allocation-failure policy (ukasan_kmem_cache_set_alloc_hook).
  ukasan_alloc_hook_t alloc_hook = nullptr;
  void* alloc_hook_arg = nullptr;
  // Objects allocated and freed (caches made by kmem_cache_create only):
  // counted in the threads' states for a cache with a magazine (less
  // base_*, what those counters held when this cache took the slot), here
  // for the others. See cache_stats().
  std::atomic<u64> allocs{0}, frees{0};
  u64 base_allocs = 0, base_frees = 0;
  Lock lock;          // slabs, partial list, freelists
  Span* partial = nullptr;
  Span* slabs = nullptr;
  // The depot (c->lock): full magazines of free objects, exchanged whole
  // with the threads' magazines. Moving objects between a thread and its
  // cache then copies pointers only and never touches a (cold) object, as a
  // slab freelist linked through the objects would. Objects in the depot
  // still count in their slab's inuse until drain_depot_locked() hands them
  // back (destroy, shrink, trim).
  struct DepotBlock* depot = nullptr;
  u32 depot_len = 0;  // blocks on depot
  u32 depot_low = 0;  // the fewest since the last trim: the oldest depot_low blocks sat unused
  struct DepotBlock* depot_empty = nullptr;
  struct DepotBlock* depot_chunks = nullptr;  // mapped chunks, by their first block
};

// Cache descriptors: address space for this many, touched as they are used.
// A destroyed descriptor is reused only once every one has been used, the
// longest-dead first, so a stale kmem_cache pointer is reported as a use
// after destroy for as long as possible (the descriptors' quarantine).
constexpr unsigned kMaxCaches = 1u << 16;
constexpr unsigned kMagCaches = 64;
constexpr unsigned kMagSize = 31;  // a Magazine and a DepotBlock are 256 bytes

struct Magazine {
  u32 count;
  void* objs[kMagSize];
};

struct DepotBlock {
  DepotBlock* next;
  void* objs[kMagSize];  // always full while on KmemCache::depot
};

// One per thread; never freed (a finished thread's state is reused), so a
// synchronizer may walk the registry at any time.
struct ThreadState : ThreadSlot {
  SlabQuarantine::Queue queue;
  SlabQuarantine::Evicting evicting;  // the batch this thread is evicting
  SlabQuarantine::Evicting extracted; // what this thread's destroy/drain took
  Magazine mags[kMagCaches];
  int tid;
  // Bytes this thread allocated and freed (slots and large blocks), for the
  // heap statistics (mallinfo2 & co.). Written by the owner only, with a
  // plain load and store (no read-modify-write on the fast path); readers
  // sum every slot.
  std::atomic<u64> alloc_bytes{0}, freed_bytes{0};
  // Objects this thread allocated and freed from the kmem_cache_create'd
  // cache owning magazine i (the same discipline).
  std::atomic<u64> cache_allocs[kMagCaches]{}, cache_frees[kMagCaches]{};
};
inline void count_bytes(std::atomic<u64>& counter, u64 n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// ---- life cycle (called by src/runtime) ---------------------------------------
// Reserves the arena, sets up the quarantine (bound in bytes, 0: off; queue
// size) and the kmalloc caches; installs the report's object describer.
// Dies on failure.
void slab_init(u64 quarantine_bytes, u64 queue_bytes);
// ukasan_set_options(quarantine_size_mb / quarantine_cache_kb).
void slab_set_quarantine(u64 quarantine_bytes, u64 queue_bytes);
extern bool g_quarantine_enabled;  // quarantine bound > 0 (read on every free)
// fork(): prepare takes every slab lock in lock order (thread-state pool ->
// thread slots -> quarantine -> caches -> pages); the child repairs what the
// threads that do not exist there left.
void slab_fork_prepare();
void slab_fork_parent();
void slab_fork_child(bool locks_taken);  // locks_taken: reset the locks prepare took

// The calling thread's state (created on its first call; never null after
// slab_init). Inline: every malloc and free asks.
extern UKASAN_TLS ThreadState* t_state;
ThreadState* thread_state_slow();
inline ThreadState* thread_state() {
  ThreadState* ts = t_state;
  return UKASAN_LIKELY(ts) ? ts : thread_state_slow();
}
extern SlabQuarantine g_quarantine;
inline SlabQuarantine& quarantine() { return g_quarantine; }

// ---- caches -----------------------------------------------------------------------
// nullptr on failure; *why (if given) then says what was wrong, *err is the
// kernel's error code (-EINVAL, -ENOMEM).
KmemCache* cache_create(const char* name, uptr size, u32 align, slab_flags_t flags, void (*ctor)(void*),
                        bool is_kmalloc, const char** why = nullptr, int* err = nullptr);
void cache_destroy(KmemCache* c, uptr ip);
// Lets the eviction path trim c (cache_trim_step: its idle depot objects
// back to its slabs, its empty slabs released). Only for caches that are
// never destroyed: the kmalloc caches, the heap's.
void cache_trim_register(KmemCache* c);
// Slabs released so far by trimming (statistics, tests).
u64 cache_trimmed_slabs();
// Whether c is a live cache for the API call `api` (its name, e.g.
// "kmem_cache_alloc"); reports a destroyed or bogus cache pointer
// (slab-use-after-free / invalid-access) and returns false otherwise.
bool cache_usable(KmemCache* c, const char* api, uptr ip);
void* cache_alloc(KmemCache* c, gfp_t flags, uptr requested, uptr ip);
int cache_shrink(KmemCache* c);
// The per-cache counters (<ukasan/kslab.h>) of a live cache.
void cache_stats(KmemCache* c, struct ukasan_cache_stats* out);

// ---- aux stacks (the kernel's alloc_meta->aux_stack[2]) -----------------------------
// Kept in a side table, not in the objects' metadata: few objects ever have
// one. Records ip's stack as the latest aux stack of the slab object
// containing p (nothing for any other address).
void aux_stack_record(uptr p, uptr ip);
// The object's two latest aux stacks (0: none), latest first.
void aux_stack_get(uptr obj, depot_handle_t out[2]);
// An object allocated again loses its aux stacks; free while nothing was
// ever recorded.
extern std::atomic<bool> g_aux_stacks_used;
void aux_stack_forget_slow(uptr obj);
UKASAN_ALWAYS_INLINE void aux_stack_forget(uptr obj) {
  if (UKASAN_UNLIKELY(g_aux_stacks_used.load(std::memory_order_relaxed))) aux_stack_forget_slow(obj);
}

// align: a power of two; above kPageSize the block is placed at that alignment.
void* large_alloc(uptr size, gfp_t flags, uptr ip, uptr align = kPageSize);

// Freed large blocks of at least 1 MiB are not poisoned in the shadow (an
// eighth of their size written at every free) but protected (PROT_NONE) and
// their memory given back while they are in the quarantine: an access
// faults. The heap writes no free pattern into them.
constexpr uptr kLargeProtectBytes = uptr(1) << 20;
UKASAN_ALWAYS_INLINE bool large_protected(uptr size) { return size >= kLargeProtectBytes; }
// The fault hook's half for them: a fault at addr inside a quarantined,
// protected block is reported as use-after-free (ip: a return address) and
// its page opened so the access completes. False if addr is no such block's.
bool large_fault(uptr addr, bool is_write, uptr ip);
// Which of a large block's guard pages (the page before it, the page after
// its data) may hold a byte other than zero: bit 0 the one before, bit 1 the
// one after. The runtime never touches a fresh block's guard pages, so an
// untouched one reads as zero without being read (mincore says which were
// touched; a page written and then swapped out is taken as untouched). By
// the block's owner (alloc, free), which may remember the answer in s.
unsigned large_guards_touched(Span* s);

// The kmalloc size classes (the kernel's kmalloc_caches[]), declared once.
constexpr unsigned kKmallocClasses = 13;
inline constexpr u32 kKmallocSizes[kKmallocClasses] = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};
constexpr uptr kKmallocMax = KMALLOC_MAX_CACHE_SIZE;
static_assert(kKmallocSizes[kKmallocClasses - 1] == kKmallocMax);
// Index of the smallest class holding size (1 <= size <= kKmallocMax).
inline unsigned kmalloc_index(uptr size) {
  if (size <= 192) {
    static constexpr u8 kSmall[25] = {0, 0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6};
    return kSmall[(size + 7) / 8];
  }
  return 64 - static_cast<unsigned>(__builtin_clzll(size - 1)) - 1;  // ceil(log2(size)) - 1: 256 -> 7
}
extern KmemCache* g_kmalloc[];  // set up by slab_init, never changed after
// nullptr above kKmallocMax.
inline KmemCache* kmalloc_cache_for(uptr size) {
  if (UKASAN_UNLIKELY(size > kKmallocMax)) return nullptr;
  return g_kmalloc[kmalloc_index(size)];
}

// ---- objects: the one lookup behind free, ksize/krealloc, the heap and reports -----

// Object geometry helpers.
inline AllocMeta* alloc_meta(const KmemCache* c, uptr obj) {
  return reinterpret_cast<AllocMeta*>(obj + static_cast<sptr>(c->alloc_meta_off));
}
inline FreeMeta* free_meta(const KmemCache* c, uptr obj) {
  return reinterpret_cast<FreeMeta*>(obj + c->free_meta_off);
}
// Object whose slot contains p (p inside the slab's span; before the first
// object: the first, past the last: the last).
inline uptr slab_object_of(const Span* s, uptr p) {
  const KmemCache* c = s->cache;
  const uptr first = s->start + c->lead;
  if (p < first) return first;
  const uptr off = p - first;
  uptr idx = c->slot_recip ? (off * c->slot_recip) >> 32 : off / c->slot_size;
  if (idx >= s->nobjs) idx = s->nobjs - 1;
  return first + idx * c->slot_size;
}
// The object of slot i of c's slab s.
inline uptr slab_slot(const KmemCache* c, const Span* s, uptr i) { return s->start + c->lead + i * c->slot_size; }
// Slots [0, carved) have been handed out at least once and have metadata;
// the others were never used and their metadata is not written (see
// build_slab in cache.cpp). Acquire: pairs with carve_slots' release store.
inline u32 slab_carved(const Span* s) { return __atomic_load_n(&s->carved, __ATOMIC_ACQUIRE); }
// Whether slot object obj (a slot's start, as slab_object_of returns) was
// ever carved: only then does its metadata mean anything.
inline bool slab_slot_carved(const Span* s, uptr obj) {
  const KmemCache* c = s->cache;
  return obj < slab_slot(c, s, slab_carved(s));
}

// Where a pointer lands.
enum ObjWhere : u8 {
  kNotOurs,        // outside the arena
  kFreedPages,     // pages that belong to no slab or block (freed)
  kInsideObject,   // in a slab or block, not at an object's start (ref: the nearest object)
  kObjectStart,    // the start of an object, in whatever state
};
struct ObjectRef {
  Span* span;
  KmemCache* cache;  // nullptr: a large block
  uptr obj;
  AllocMeta* am;
  FreeMeta* fm;
};
// Inline: every free, realloc and malloc_usable_size starts here.
inline ObjWhere lookup_object(uptr p, ObjectRef* ref) {
  Span* s = page_allocator().span_of(p);
  if (!s) return kNotOurs;
  if (s->kind == kSpanSlab) {
    KmemCache* c = s->cache;
    const uptr obj = slab_object_of(s, p);
    *ref = ObjectRef{s, c, obj, alloc_meta(c, obj), free_meta(c, obj)};
    return obj == p ? kObjectStart : kInsideObject;
  }
  if (s->kind == kSpanLarge) {
    *ref = ObjectRef{s, nullptr, s->user, &s->large_alloc, &s->large_free};
    return s->user == p ? kObjectStart : kInsideObject;
  }
  return kFreedPages;
}
// An allocated object whose metadata is intact.
inline bool object_live(const ObjectRef& r) {
  return r.am->check == meta_check(r.obj) && r.am->state.load(std::memory_order_acquire) == kObjAllocated;
}
// Its requested size.
inline uptr object_requested(const ObjectRef& r) { return r.cache ? r.am->requested : r.span->large_size; }
// The bytes of its slot or pages the program may be given (ksize).
inline uptr object_usable(const ObjectRef& r) {
  return r.cache ? r.cache->object_size : round_up(r.span->large_size, kPageSize);
}

// ---- the heap as a conservative scanner sees it (kmemleak) -------------------------
// Called with every other thread stopped: no lock is taken (a stopped thread
// may hold any), and every read tolerates an allocation or free stopped
// half-way (an object counts once its state is kObjAllocated, which is
// published after its metadata).

// Allocations of this thread are born kMetaNoLeak while it is > 0
// (__lsan_disable/__lsan_enable nest).
extern UKASAN_TLS u32 t_leak_disabled;
// The dynamic loader's code (set by slab_init; empty when unknown).
extern uptr g_loader_lo, g_loader_size;

// Whether an allocation made from ip is born kMetaNoLeak: leak tracking is
// disabled on this thread, or ld.so allocated it. What the loader allocates
// is reachable from its own structures, as LSan assumes, some of which a
// scan cannot see: an exited thread's DTV is referenced only from its TCB in
// glibc's cache of thread stacks. Decided here, from the caller's address,
// so that it holds without a stack to look at later (stacktrace=0, a full
// depot).
inline bool born_no_leak(uptr ip) { return t_leak_disabled || ip - g_loader_lo < g_loader_size; }

// The object whose bytes [start, start + requested) contain w (interior
// pointers count; one past the end does not), allocated or quarantined:
// returns its state (kObjAllocated, kObjQuarantined), 0 if none.
inline u8 scan_lookup(uptr w, ObjectRef* r, uptr* size) {
  Span* s = page_allocator().span_of(w);
  if (!s) return 0;
  if (s->kind == kSpanSlab) {
    KmemCache* c = s->cache;
    if (!c) return 0;
    const uptr obj = slab_object_of(s, w);
    if (!slab_slot_carved(s, obj)) return 0;  // never allocated: no metadata
    AllocMeta* am = alloc_meta(c, obj);
    const u8 st = am->state.load(std::memory_order_acquire);
    if (w < obj || (st != kObjAllocated && st != kObjQuarantined) || am->check != meta_check(obj)) return 0;
    const uptr n = am->requested;
    if (w - obj >= n && !(n == 0 && w == obj)) return 0;
    *r = ObjectRef{s, c, obj, am, nullptr};
    *size = n;
    return st;
  }
  if (s->kind == kSpanLarge) {
    const uptr obj = s->user, n = s->large_size;
    AllocMeta* am = &s->large_alloc;
    const u8 st = am->state.load(std::memory_order_acquire);
    if (!obj || w < obj || w - obj >= n || (st != kObjAllocated && st != kObjQuarantined) ||
        am->check != meta_check(obj))
      return 0;
    *r = ObjectRef{s, nullptr, obj, am, nullptr};
    *size = n;
    return st;
  }
  return 0;
}
// The allocated object containing w (as above); false if none.
inline bool scan_find_object(uptr w, ObjectRef* r, uptr* size) { return scan_lookup(w, r, size) == kObjAllocated; }
// Calls fn for every allocated object (and its requested size), in address
// order; with freed = true, for every quarantined object that has bytes
// besides its free metadata instead (the bytes an eviction hook can check:
// the quarantine check walks these; a kmalloc-16 object is all metadata
// once freed).
using ScanObjectFn = void (*)(const ObjectRef& r, uptr size, void* arg);
void scan_for_each_object(ScanObjectFn fn, void* arg, bool freed = false);

// quarantine_keep_referenced: a scan that refreshes kMetaDangling, run from
// the eviction path (outside any eviction step in progress) once per half
// quarantine of evictions. Installed by the runtime (kmemleak's scan).
using RefreshHook = void (*)();
void slab_set_refresh_hook(RefreshHook hook);
// Objects the second quarantine has taken so far.
u64 quarantine_kept_total();
// The arena's bounds: a word outside [lo, hi) points to no heap object.
void scan_arena(uptr* lo, uptr* hi);

bool free_check_slow(uptr p, ObjWhere where, const ObjectRef& ref, KmemCache* expected, uptr ip);
void free_state_error(uptr p, const ObjectRef& ref, u8 state, uptr ip);  // the state a failed CAS saw: reported
// Moves an allocated object to quarantined. The CAS makes two racing frees
// of one object safe: exactly one wins; the other reports what it saw.
inline bool claim_for_free(uptr p, const ObjectRef& ref, uptr ip) {
  u8 st = kObjAllocated;
  if (UKASAN_LIKELY(ref.am->state.compare_exchange_strong(st, kObjQuarantined, std::memory_order_acq_rel)))
    return true;
  free_state_error(p, ref, st, ip);
  return false;
}
// Validates a free of p (looked up as where/ref) by kfree / kmem_cache_free
// (expected: the cache, or null) / free(). Reports invalid-free and
// double-free itself and returns false if the object must not be freed;
// true: the object is now the caller's to free (free_object). Inline for
// the common case, a slab object's start in a live cache.
inline bool free_check(uptr p, ObjWhere where, const ObjectRef& ref, KmemCache* expected, uptr ip) {
  if (UKASAN_LIKELY(where == kObjectStart && ref.cache && (!expected || expected == ref.cache) &&
                    ref.cache->state.load(std::memory_order_relaxed) == kCacheActive))
    return claim_for_free(p, ref, ip);
  return free_check_slow(p, where, ref, expected, ip);
}
void free_object(const ObjectRef& ref, uptr ip);
// lookup_object + free_check + free_object.
void free_checked(const void* p, KmemCache* expected, uptr ip);

// Called for every object leaving the quarantine, before it is really freed
// (slab objects: c and obj; large blocks: c == nullptr, large = the span),
// and by quarantine_check() for the objects still in it (check = true).
// Set by the heap front end (src/heap) to verify its free-poison pattern;
// returns whether it reported the object.
using EvictHook = bool (*)(KmemCache* c, uptr obj, Span* large, bool check);
void slab_set_evict_hook(EvictHook hook);
// The return address into the program of an API call that evicts or checks
// (ukasan_quarantine_drain, ukasan_check_quarantine), while it runs: where
// the evict hook's reports say they were found. 0 otherwise (an allocation
// that evicts is known to the heap; the check at exit has none).
extern UKASAN_TLS uptr t_evict_ip;
// Runs the evict hook over every object still in the queues and the FIFO
// (not freeing them): a write after free is found without waiting for the
// eviction (at exit, and ukasan_check_quarantine()). Returns the number of
// objects reported.
unsigned quarantine_check();

// Evicts every object from every queue and the FIFO (out of memory, the API).
void quarantine_drain_all();

// What the allocator holds, for mallinfo2/malloc_stats/malloc_info.
struct MemStats {
  u64 slab_bytes;      // pages of slabs
  u64 large_bytes;     // pages of large blocks (with their guard pages), live or quarantined
  u64 large_blocks;
  u64 in_use_bytes;    // slots and large blocks allocated and not freed
  u64 quarantined_bytes;
};
MemStats mem_stats();

}  // namespace ukasan
