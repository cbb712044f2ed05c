// kmem_cache: geometry, slabs, magazines, alloc/free, destroy.
#include <stdio.h>
#include <string.h>

#include <new>

#include "platform/options.h"
#include "platform/platform.h"
#include "shadow/shadow.h"
#include "slab/internal.h"

namespace ukasan {

static KmemCache* g_caches;  // kMaxCaches descriptors, reserved at init (NORESERVE), never freed
static Lock g_caches_lock;
static u32 g_caches_used;
static u32 g_reuse_cursor;
static KmemCache* g_mag_owner[kMagCaches];

KmemCache* cache_by_index(u32 i) { return i < g_caches_used ? &g_caches[i] : nullptr; }
u32 cache_count() { return g_caches_used; }
Lock& caches_lock() { return g_caches_lock; }
KmemCache* mag_owner(int id) { return g_mag_owner[id]; }

static bool is_cache_pointer(const void* p) {
  uptr a = reinterpret_cast<uptr>(p), b = reinterpret_cast<uptr>(g_caches);
  return g_caches && a >= b && a < b + sizeof(KmemCache) * kMaxCaches && (a - b) % sizeof(KmemCache) == 0;
}

// The kernel's redzone heuristic shape: bigger objects get bigger redzones.
static u32 optimal_redzone(u32 size) {
  if (size <= 64 - 16) return 16;
  if (size <= 128 - 32) return 32;
  if (size <= 512 - 64) return 64;
  if (size <= 4096 - 128) return 128;
  if (size <= (16u << 10) - 256) return 256;
  if (size <= (32u << 10) - 512) return 512;
  if (size <= (64u << 10) - 1024) return 1024;
  return 2048;
}

static KmemCache* new_descriptor() {
  LockGuard g(g_caches_lock);
  if (g_caches_used < kMaxCaches) {
    KmemCache* c = &g_caches[g_caches_used];
    c->index = g_caches_used++;
    return c;
  }
  // Reuse the destroyed descriptor that has been dead longest (round robin),
  // so a stale pointer's double destroy is caught for as long as possible.
  for (u32 n = 0; n < kMaxCaches; n++) {
    KmemCache* c = &g_caches[g_reuse_cursor];
    g_reuse_cursor = (g_reuse_cursor + 1) % kMaxCaches;
    if (c->state.load(std::memory_order_relaxed) == kCacheDestroyed && !c->slabs) return c;
  }
  return nullptr;
}

static KmemCache* create_failed(const char* reason, int error, const char** why, int* err) {
  if (why) *why = reason;
  if (err) *err = error;
  return nullptr;
}

// Adds every thread's object counts for magazine slot id to *allocs, *frees.
static void sum_thread_counts(int id, u64* allocs, u64* frees) {
  for (ThreadSlot* t = thread_slots().first(); t; t = t->next) {
    const ThreadState* ts = static_cast<ThreadState*>(t);
    *allocs += ts->cache_allocs[id].load(std::memory_order_relaxed);
    *frees += ts->cache_frees[id].load(std::memory_order_relaxed);
  }
}

KmemCache* cache_create(const char* name, uptr size, u32 align, slab_flags_t flags, void (*ctor)(void*),
                        bool is_kmalloc, const char** why, int* err) {
  constexpr int kEINVAL = -22, kENOMEM = -12;
  if (!name) return create_failed("the name is NULL", kEINVAL, why, err);
  if (size == 0) return create_failed("the object size is 0", kEINVAL, why, err);
  if (size > (1u << 30)) return create_failed("the object size is above 1 GiB", kEINVAL, why, err);
  if (align && !is_pow2(align)) return create_failed("the alignment is not a power of two", kEINVAL, why, err);
  if (align > kPageSize) return create_failed("the alignment is above the page size", kEINVAL, why, err);
  KmemCache* c = new_descriptor();
  if (!c) return create_failed("every kmem_cache descriptor is in use", kENOMEM, why, err);
  u32 index = c->index;
  new (c) KmemCache();
  c->index = index;
  strncpy(c->name, name, sizeof(c->name) - 1);
  c->object_size = static_cast<u32>(size);
  u32 a = align < 8 ? 8 : align;
  if ((flags & SLAB_HWCACHE_ALIGN) && a < 64) a = 64;
  c->align = a;
  c->obj_bytes = static_cast<u32>(round_up(size, kGranule));
  const bool rcu = flags & SLAB_TYPESAFE_BY_RCU;
  const bool free_in_object = !ctor && !rcu && c->obj_bytes >= sizeof(FreeMeta);
  const u32 meta = sizeof(AllocMeta) + (free_in_object ? 0 : sizeof(FreeMeta));
  u32 rz = optimal_redzone(size);
  if (rz < meta + 16) rz = meta + 16;  // >= 16 pure redzone bytes right after the object
  c->slot_size = static_cast<u32>(round_up(c->obj_bytes + rz, a));
  // An object's AllocMeta sits right before it: the last 16 bytes of the
  // previous slot (of the slab's lead for the first object), so a small
  // overflow still hits plain redzone first. Being next to the object's
  // first bytes, which the program touches anyway, it shares their cache
  // line at malloc, free and eviction instead of costing a line of its own
  // at the far end of the slot. FreeMeta, when it cannot live in the freed
  // object, sits just before the next object's AllocMeta.
  c->alloc_meta_off = -static_cast<s32>(sizeof(AllocMeta));
  c->free_meta_off = free_in_object ? 0 : c->slot_size - meta;
  c->lead = static_cast<u32>(round_up(16, a));
  uptr want = c->slot_size * 8ull;
  if (want < 32768) want = 32768;
  uptr slab_bytes = round_up(c->lead + want, kPageSize);
  c->slab_pages = static_cast<u32>(slab_bytes / kPageSize);
  c->objs_per_slab = static_cast<u32>((slab_bytes - c->lead) / c->slot_size);
  // Every free maps a pointer to its slot: a multiply instead of a divide.
  // With m = floor(2^32 / d) + 1, (x * m) >> 32 == x / d for all x < X as
  // long as X * d <= 2^32 (the error x * (m - 2^32/d) / 2^32 stays < 1/d).
  c->slot_recip = slab_bytes * c->slot_size <= (1ull << 32) ? static_cast<u32>((1ull << 32) / c->slot_size + 1) : 0;
  c->flags = flags;
  c->ctor = ctor;
  c->quarantined = !rcu;
  c->is_kmalloc = is_kmalloc;
  c->mag_id = -1;
  {
    LockGuard g(g_caches_lock);
    for (unsigned i = 0; i < kMagCaches; i++)
      if (!g_mag_owner[i]) {
        g_mag_owner[i] = c;
        c->mag_id = static_cast<int>(i);
        break;
      }
  }
  // The slot's counters still hold its previous owners' counts.
  if (c->mag_id >= 0 && !is_kmalloc) sum_thread_counts(c->mag_id, &c->base_allocs, &c->base_frees);
  c->meta_kind = (flags & UKASAN_SLAB_NOLEAKTRACE) ? kMetaNoScan : 0;
  c->state.store(kCacheActive, std::memory_order_release);
  return c;
}

// One object allocated or freed through the API, in c's counters (caches
// made by kmem_cache_create only: the kmalloc and heap caches pay nothing).
static UKASAN_ALWAYS_INLINE void count_object(KmemCache* c, ThreadState* ts, bool freed) {
  if (c->is_kmalloc) return;
  if (UKASAN_LIKELY(c->mag_id >= 0))
    count_bytes((freed ? ts->cache_frees : ts->cache_allocs)[c->mag_id], 1);
  else
    (freed ? c->frees : c->allocs).fetch_add(1, std::memory_order_relaxed);
}

void cache_stats(KmemCache* c, struct ukasan_cache_stats* out) {
  u64 a = c->allocs.load(std::memory_order_relaxed), f = c->frees.load(std::memory_order_relaxed);
  if (c->mag_id >= 0) {
    sum_thread_counts(c->mag_id, &a, &f);
    a -= c->base_allocs;
    f -= c->base_frees;
  }
  out->allocated = a;
  out->freed = f;
  out->live = a > f ? a - f : 0;  // a free may be counted before the allocation it undoes
  out->object_size = c->object_size;
  out->slot_size = c->slot_size;
}


// ---- central lists (c->lock held) ----------------------------------------

// Builds a slab (poisons it, runs the constructor): it populates its pages,
// so it runs without c->lock where it can; link_slab_locked() then
// publishes it.
// Its slots are not linked into a freelist: central_pop_locked and
// central_pop_run_locked carve them in address order (s->carved) once the
// slab's freelist is empty, so a program that allocates from fresh slabs
// (bash: most of its objects) pays neither a link's store here nor its
// dependent load there. A slot's state and check byte are written when it
// is carved (carve_slots), not here: writing them for every slot touched
// every page of the slab, and on a VM a page's first touch costs 5-6 us
// even after MADV_POPULATE_WRITE; a short process uses a few slots of most
// of its caches (`echo` built 14 slabs of 9 pages). Whatever walks slots
// stops at s->carved (slab_slot_carved): a never-carved slot is a free
// one that was never used. A cache with a constructor runs it on every
// object here, as the kernel does; its slots are carved like any other's.
// The other metadata fields are zero already: a slab's pages read as zero
// (alloc_span), and a constructor never reaches FreeMeta (it is outside the
// object in caches with one).
static constexpr uptr kPopulateSlotMax = 5 * kPageSize;  // the heap's largest slab class fits

static Span* build_slab(KmemCache* c) {
  Span* s = page_allocator().alloc_span(c->slab_pages, kSpanSlab);
  if (!s) return nullptr;
  __atomic_store_n(&s->cache, c, __ATOMIC_RELAXED);  // SlabQuarantineCb::prefetch reads it unlocked
  s->nobjs = c->objs_per_slab;
  s->inuse = 0;
  __atomic_store_n(&s->carved, 0u, __ATOMIC_RELAXED);
  s->freelist = nullptr;
  // Slots up to a page put metadata on every page of the slab, written
  // below; a bigger slot has its metadata on its last page, its left canary
  // on its first (both written below or at malloc) and the program's object
  // between, which the program writes (sqlite's 4 KiB page buffers, zlib's
  // state). Fault them in with one call rather than one fault each: on a VM
  // a fault costs 2-11 us, a page of MADV_POPULATE_WRITE about 1.
  // Bigger slots (kmem_cache_create's) are left to the program's touches.
  if (c->slot_size <= kPopulateSlotMax) populate_pages(reinterpret_cast<void*>(s->start), s->npages * kPageSize);
  poison(s->start, s->npages * kPageSize, kShadowSlabRedzone);
  if (c->ctor) {
    uptr o = slab_slot(c, s, 0);
    for (u32 i = 0; i < c->objs_per_slab; i++, o += c->slot_size) {
      // The constructor is user code (maybe instrumented): let it touch the
      // object, then poison it again.
      unpoison(o, c->object_size);
      c->ctor(reinterpret_cast<void*>(o));
      poison(o, c->obj_bytes, kShadowSlabRedzone);
    }
  }
  return s;
}

// Takes slots [s->carved, s->carved + k): each gets its check byte and the
// free state, then the release store of s->carved publishes them to the
// walkers that load it with acquire (the leak scan runs with this thread
// stopped anywhere: before the store it does not look at these slots,
// after it sees their metadata).
static uptr carve_slots(KmemCache* c, Span* s, u32 k) {
  const u32 first = s->carved;
  const uptr start = slab_slot(c, s, first);
  uptr o = start;
  for (u32 i = 0; i < k; i++, o += c->slot_size) {
    AllocMeta* am = alloc_meta(c, o);
    am->check = meta_check(o);
    am->state.store(kObjFree, std::memory_order_relaxed);
  }
  __atomic_store_n(&s->carved, first + k, __ATOMIC_RELEASE);
  return start;
}

static void link_slab_locked(KmemCache* c, Span* s) {
  s->slab_next = c->slabs;
  c->slabs = s;
}

static void partial_add(KmemCache* c, Span* s) {
  s->partial_prev = nullptr;
  s->partial_next = c->partial;
  if (c->partial) c->partial->partial_prev = s;
  c->partial = s;
  s->on_partial = true;
}

static void partial_remove(KmemCache* c, Span* s) {
  if (s->partial_prev)
    s->partial_prev->partial_next = s->partial_next;
  else
    c->partial = s->partial_next;
  if (s->partial_next) s->partial_next->partial_prev = s->partial_prev;
  s->on_partial = false;
  s->partial_next = s->partial_prev = nullptr;
}

// A free object from the slabs; grow: build a new slab (under the lock) if
// none has one, else return nullptr.
static UKASAN_ALWAYS_INLINE void* central_pop_locked(KmemCache* c, bool grow = true) {
  Span* s = c->partial;
  if (!s) {
    if (!grow) return nullptr;
    s = build_slab(c);
    if (!s) return nullptr;
    link_slab_locked(c, s);
    partial_add(c, s);
  }
  void* obj;
  if (FreeMeta* fm = s->freelist) {
    s->freelist = reinterpret_cast<FreeMeta*>(link_decode(fm->node.next));
    obj = reinterpret_cast<void*>(reinterpret_cast<uptr>(fm) - c->free_meta_off);
  } else {
    obj = reinterpret_cast<void*>(carve_slots(c, s, 1));
  }
  s->inuse++;
  if (!s->freelist && s->carved == s->nobjs) partial_remove(c, s);
  return obj;
}

// Up to `want` free objects from the slabs into m (which has room), without
// growing: freelist objects one by one, never-used slots as one run.
static void central_pop_run_locked(KmemCache* c, Magazine& m, u32 want) {
  while (want) {
    Span* s = c->partial;
    if (!s) return;
    if (s->freelist) {
      m.objs[m.count++] = central_pop_locked(c, /*grow=*/false);
      want--;
      continue;
    }
    const u32 left = s->nobjs - s->carved;
    const u32 k = left < want ? left : want;
    uptr o = carve_slots(c, s, k);
    for (u32 i = 0; i < k; i++, o += c->slot_size) m.objs[m.count++] = reinterpret_cast<void*>(o);
    s->inuse += k;
    want -= k;
    if (s->carved == s->nobjs) partial_remove(c, s);
  }
}

static void central_push_locked(KmemCache* c, void* obj) {
  uptr o = reinterpret_cast<uptr>(obj);
  Span* s = page_allocator().span_of(o);
  FreeMeta* fm = free_meta(c, o);
  fm->node.next = link_encode(reinterpret_cast<QNode*>(s->freelist));
  s->freelist = fm;
  s->inuse--;
  if (!s->on_partial) partial_add(c, s);
}

// ---- the depot (c->lock held) ------------------------------------------------

static constexpr uptr kDepotChunk = 16384;  // bytes of depot blocks mapped at a time

static DepotBlock* depot_block_locked(KmemCache* c) {
  if (DepotBlock* b = c->depot_empty) {
    c->depot_empty = b->next;
    return b;
  }
  // Blocks come in 16 KiB chunks mapped per cache (under c->lock, so fork's
  // prepare handler, which takes every cache lock, also covers them); the
  // first block of a chunk only links the chunks for cache_destroy.
  constexpr uptr kBlocks = kDepotChunk / sizeof(DepotBlock);
  DepotBlock* b = static_cast<DepotBlock*>(map_anon(kDepotChunk));
  if (!b) return nullptr;
  b[0].next = c->depot_chunks;
  c->depot_chunks = &b[0];
  for (uptr i = kBlocks; i-- > 2;) {
    b[i].next = c->depot_empty;
    c->depot_empty = &b[i];
  }
  return &b[1];
}

// b, the depot's newest block, leaves it (to a magazine).
static void depot_popped_locked(KmemCache* c, DepotBlock* b) {
  c->depot = b->next;
  c->depot_len--;
  if (c->depot_len < c->depot_low) c->depot_low = c->depot_len;
}

// Back to the slabs: every object of the depot (before counting live
// objects or looking for empty slabs).
// The objects of a list of depot blocks (taken off c->depot) go to their
// slabs, the blocks to the empty list.
static void blocks_to_slabs_locked(KmemCache* c, DepotBlock* list) {
  while (DepotBlock* b = list) {
    list = b->next;
    for (void* o : b->objs) central_push_locked(c, o);
    b->next = c->depot_empty;
    c->depot_empty = b;
  }
}

static void drain_depot_locked(KmemCache* c) {
  blocks_to_slabs_locked(c, c->depot);
  c->depot = nullptr;
  c->depot_len = c->depot_low = 0;
}

// Unlinks c's empty slabs (up to max; with keep_one, the first empty one
// stays) and returns them through *out, linked by slab_next.
static void unlink_empty_slabs_locked(KmemCache* c, bool keep_one, u32 max, Span** out) {
  u32 n = 0;
  for (Span** sp = &c->slabs; *sp && n < max;) {
    Span* s = *sp;
    if (s->inuse != 0 || keep_one) {
      keep_one &= s->inuse != 0;
      sp = &s->slab_next;
      continue;
    }
    *sp = s->slab_next;
    if (s->on_partial) partial_remove(c, s);
    s->slab_next = *out;
    *out = s;
    n++;
  }
}

static void unmap_depot_locked(KmemCache* c) {
  for (DepotBlock* ch = c->depot_chunks; ch;) {
    DepotBlock* nx = ch->next;
    unmap(ch, kDepotChunk);
    ch = nx;
  }
  c->depot = c->depot_empty = c->depot_chunks = nullptr;
  c->depot_len = c->depot_low = 0;
}

// A full magazine goes to the depot whole (pointers copied, no object
// touched); without memory for a block, half of it goes to the slabs.
static void mag_to_depot(KmemCache* c, Magazine& m) {
  LockGuard g(c->lock);
  DepotBlock* b = depot_block_locked(c);
  if (UKASAN_UNLIKELY(!b)) {
    while (m.count > kMagSize / 2) central_push_locked(c, m.objs[--m.count]);
    return;
  }
  for (unsigned i = 0; i < kMagSize; i++) b->objs[i] = m.objs[i];
  b->next = c->depot;
  c->depot = b;
  c->depot_len++;
  m.count = 0;
}

// Refills an empty magazine: a full block from the depot, else up to half a
// magazine carved from the slabs, else from a new slab built outside the
// lock (its page faults used to stall the other threads spinning on it).
static UKASAN_NOINLINE void mag_refill(KmemCache* c, Magazine& m) {
  for (Span* fresh = nullptr;;) {
    {
      LockGuard g(c->lock);
      if (fresh) {
        link_slab_locked(c, fresh);
        partial_add(c, fresh);
      }
      if (DepotBlock* b = c->depot) {
        depot_popped_locked(c, b);
        for (unsigned i = 0; i < kMagSize; i++) m.objs[i] = b->objs[i];
        m.count = kMagSize;
        b->next = c->depot_empty;
        c->depot_empty = b;
        return;
      }
      central_pop_run_locked(c, m, kMagSize / 2);
      if (m.count || fresh) return;
    }
    fresh = build_slab(c);
    if (!fresh) return;
  }
}

void flush_magazine(KmemCache* c, Magazine& m) {
  if (!m.count) return;
  LockGuard g(c->lock);
  while (m.count) central_push_locked(c, m.objs[--m.count]);
}

// Returns a free object to the allocator proper (after the quarantine, or
// directly for non-quarantined frees). ts: the caller's own thread state
// (its magazine takes the object), or nullptr (straight to the slab).
void release_object(KmemCache* c, void* obj, ThreadState* ts) {
  alloc_meta(c, reinterpret_cast<uptr>(obj))->state.store(kObjFree, std::memory_order_relaxed);
  if (ts && c->mag_id >= 0) {
    Magazine& m = ts->mags[c->mag_id];
    if (UKASAN_UNLIKELY(m.count == kMagSize)) mag_to_depot(c, m);
    m.objs[m.count++] = obj;
    return;
  }
  LockGuard g(c->lock);
  central_push_locked(c, obj);
}

// ---- alloc / free ------------------------------------------------------------

// A signal handler interrupted this thread inside the runtime: its magazine
// may be mid-update and c->lock or the page allocator's lock may be held by
// the interrupted code, so only a try-lock of the cache is safe, and no slab
// is built. A free object on a partial slab, else one out of a depot block
// (whose other objects go to the slabs: a depot block is always full).
static void* take_object_nested(KmemCache* c) {
  if (!c->lock.try_lock()) return nullptr;
  void* obj = central_pop_locked(c, /*grow=*/false);
  if (!obj) {
    if (DepotBlock* b = c->depot) {
      depot_popped_locked(c, b);
      obj = b->objs[0];
      for (unsigned i = 1; i < kMagSize; i++) central_push_locked(c, b->objs[i]);
      b->next = c->depot_empty;
      c->depot_empty = b;
    }
  }
  c->lock.unlock();
  return obj;
}

static UKASAN_ALWAYS_INLINE void* take_object(KmemCache* c, ThreadState* ts) {
  void* obj = nullptr;
  if (c->mag_id >= 0) {
    Magazine& mg = ts->mags[c->mag_id];
    if (UKASAN_UNLIKELY(!mg.count)) mag_refill(c, mg);
    if (UKASAN_LIKELY(mg.count)) obj = mg.objs[--mg.count];
    // The next allocation from this magazine writes that object's metadata
    // and shadow, both cold since it was freed: start loading them now.
    if (UKASAN_LIKELY(mg.count)) {
      const uptr nx = reinterpret_cast<uptr>(mg.objs[mg.count - 1]);
      __builtin_prefetch(alloc_meta(c, nx), 1);
      __builtin_prefetch(mem_to_shadow(nx), 1);
    }
  } else {
    LockGuard g(c->lock);
    obj = central_pop_locked(c);
  }
  // Eviction runs on the allocation path, like the kernel's quarantine_reduce.
  if (UKASAN_UNLIKELY(quarantine().over_limit()) && quarantine().over_limit(alloc_reduce_slack()))
    reduce_in_runtime(ts);
  return obj;
}

void* cache_alloc(KmemCache* c, gfp_t flags, uptr requested, uptr ip) {
  ThreadState* ts = thread_state();
  if (UKASAN_UNLIKELY(options().evict_thread)) evictor_maybe_start();  // before take_object evicts
  void* obj;
  if (UKASAN_LIKELY(runtime_enter(ts))) {
    obj = take_object(c, ts);
    runtime_exit(ts);
    if (UKASAN_UNLIKELY(!obj)) {
      // Out of memory: give the quarantine back and retry once before failing.
      quarantine_drain_all();
      if (!runtime_enter(ts)) return nullptr;
      obj = take_object(c, ts);
      runtime_exit(ts);
    }
  } else {
    // Nested in a signal handler: a failed try-lock is not out of memory,
    // and draining would wait on locks the interrupted code may hold.
    obj = take_object_nested(c);
  }
  if (UKASAN_UNLIKELY(!obj)) return nullptr;
  uptr o = reinterpret_cast<uptr>(obj);
  AllocMeta* am = alloc_meta(c, o);
  am->alloc_tid = static_cast<u32>(ts->tid);
  am->requested = static_cast<u32>(requested);
  am->kind = static_cast<u8>((born_no_leak(ip) ? kMetaNoLeak : 0) | c->meta_kind);
  am->alloc_stack = options().stacktrace ? save_stack_from(ip) : 0;
  am->check = meta_check(o);
  // The shadow before the state: a leak scan skips slots whose first
  // granule holds a free marker (scan_for_each_object), so an object must
  // not be kObjAllocated while its shadow still says freed.
  unpoison_within(o, requested, c->obj_bytes, kShadowSlabRedzone);
  am->state.store(kObjAllocated, std::memory_order_release);
  count_bytes(ts->alloc_bytes, c->obj_bytes);
  count_object(c, ts, false);
  aux_stack_forget(o);
  if (flags & __GFP_ZERO) memset(obj, 0, requested);
  return obj;
}


void cache_free(KmemCache* c, void* obj, uptr ip) {
  uptr o = reinterpret_cast<uptr>(obj);
  ThreadState* ts = thread_state();
  count_bytes(ts->freed_bytes, c->obj_bytes);
  count_object(c, ts, true);
  const bool rcu = !c->quarantined;
  if (!rcu) {
    FreeMeta* fm = free_meta(c, o);
    fm->free_tid = static_cast<u32>(ts->tid);
    fm->free_stack = options().stacktrace ? save_stack_from(ip) : 0;
    poison(o, c->obj_bytes, kShadowSlabFree);
    *mem_to_shadow(o) = kShadowSlabFreeTrack;
  }
  if (UKASAN_UNLIKELY(!runtime_enter(ts))) {
    // Signal handler inside our own runtime code: the lock-free side stack,
    // merged into the quarantine by the next free.
    quarantine().put_nested(ts->queue, &free_meta(c, o)->node);
    return;
  }
  if (UKASAN_LIKELY(g_quarantine_enabled && !rcu)) {
    if (UKASAN_UNLIKELY(quarantine().put(ts->queue, &free_meta(c, o)->node, quarantine_charge(c->slot_size),
                                         quarantine_tag(c))))
      reduce_after_transfer(ts);
  } else {
    release_object(c, obj, ts);
  }
  runtime_exit(ts);
}

// ---- destroy / shrink ----------------------------------------------------------

static void release_slab(Span* s) {
  poison(s->start, s->npages * kPageSize, kShadowPageFree);
  page_allocator().free_span(s);
}

// A use of c that is not a live cache: destroyed (the kernel's
// slab-use-after-free on the descriptor) or not a cache at all.
static UKASAN_NOINLINE void cache_misuse(KmemCache* c, const char* api, uptr ip) {
  const uptr p = reinterpret_cast<uptr>(c);
  const bool destroy = !strcmp(api, "kmem_cache_destroy");
  if (is_cache_pointer(c) && c->state.load(std::memory_order_acquire) == kCacheDestroyed) {
    const DestroyedCache d{c->name, c->object_size, c->destroy_tid, c->destroy_stack};
    report_cache_use_after_destroy(p, sizeof(u32), api, d, ip);
    return;
  }
  char what[64];
  snprintf(what, sizeof(what), "%s()", api);
  report_bad_pointer(p, ip, destroy ? "Free" : what, destroy,
                     "The pointer is not a kmem_cache created by kmem_cache_create.", api);
}

bool cache_usable(KmemCache* c, const char* api, uptr ip) {
  if (UKASAN_LIKELY(is_cache_pointer(c) && c->state.load(std::memory_order_relaxed) == kCacheActive)) return true;
  cache_misuse(c, api, ip);
  return false;
}

void cache_destroy(KmemCache* c, uptr ip) {
  if (!c) return;  // like the kernel: destroying NULL is a no-op
  u8 st = kCacheActive;
  if (!is_cache_pointer(c) || !c->state.compare_exchange_strong(st, kCacheDestroyed, std::memory_order_acq_rel)) {
    cache_misuse(c, "kmem_cache_destroy", ip);
    return;
  }
  c->destroy_tid = static_cast<u32>(thread_state()->tid);
  c->destroy_stack = options().stacktrace ? save_stack_from(ip) : 0;
  // Evict every object of c from the quarantine, wherever it is: every
  // per-CPU queue (incl. its signal-nested stack), the global FIFO, a batch a
  // concurrent reduce is evicting - without waiting for any thread, except
  // one that is recycling an object of c right now (quarantine/quarantine.h).
  // Then return the magazines' free objects of c to the slabs: no object of
  // c can reach a magazine any more.
  ThreadState* self = thread_state();
  RuntimeScope scope(self);
  auto of_c = [c](QNode* n) {
    Span* s = page_allocator().span_of(reinterpret_cast<uptr>(n));
    return s && s->kind == kSpanSlab && s->cache == c;
  };
  quarantine().extract(of_c, quarantine_tag(c), [](auto fn) { for_each_thread_queue(fn); }, self->extracted,
                       /*wait_claimed=*/true);
  quarantine().free_extracted(self->extracted, nullptr);
  if (c->mag_id >= 0) {
    for (ThreadSlot* slot = thread_slots().first(); slot; slot = slot->next) {
      ThreadState* ts = static_cast<ThreadState*>(slot);
      LockGuard g(ts->lock);
      flush_magazine(c, ts->mags[c->mag_id]);
    }
  }
  // Give the magazine index back now, not after the slabs are released: from
  // then on cache_create may reuse this descriptor (destroyed, no slabs), and
  // a late write here would take the new cache's magazine away.
  {
    LockGuard g2(g_caches_lock);
    if (c->mag_id >= 0) g_mag_owner[c->mag_id] = nullptr;
    c->mag_id = -1;
  }
  u64 live = 0;
  {
    LockGuard g(c->lock);
    drain_depot_locked(c);
    for (Span* s = c->slabs; s; s = s->slab_next) live += s->inuse;
    if (!live) {
      unmap_depot_locked(c);
      for (Span* s = c->slabs; s;) {
        Span* nx = s->slab_next;
        release_slab(s);
        s = nx;
      }
      c->slabs = nullptr;
      c->partial = nullptr;
    }
  }
  // Never free live objects: keep the slabs and report. Not under c->lock:
  // a report may spawn the symbolizer (fork handlers take every cache lock);
  // the cache is already marked destroyed, so nothing else changes its slabs.
  if (live) {
    LeakedObject objs[4];
    const unsigned n = cache_live_objects(c, objs, 4);
    report_destroy_leak(c->name, live, objs, n, ip);
  }
}

unsigned cache_live_objects(KmemCache* c, LeakedObject* out, unsigned max) {
  unsigned n = 0;
  for (Span* s = c->slabs; s && n < max; s = s->slab_next) {
    const u32 carved = slab_carved(s);
    for (u32 i = 0; i < carved && n < max; i++) {
      const uptr o = slab_slot(c, s, i);
      const AllocMeta* am = alloc_meta(c, o);
      if (am->state.load(std::memory_order_relaxed) != kObjAllocated) continue;
      out[n++] = LeakedObject{o, o - s->start, am->alloc_tid, am->alloc_stack};
    }
  }
  return n;
}

// ---- trimming what the quarantine's turnover left idle ---------------------------
// Objects leaving the quarantine go to their cache's depot, which kept them
// all: a program whose sizes change between phases (sqlite's row records,
// then its page buffers; gcc's passes) kept every class at its largest
// footprint, over quarantine + live heap (sqlite 404 MiB, gcc 705 MiB with
// a 256 MiB quarantine). Every kTrimEvery eviction steps, when the depot
// blocks that sat unused since the previous pass (each cache's working set
// as in Bonwick's magazine depot: the oldest depot_low blocks) add up to
// more than a 32nd of the quarantine bound, each cache gives those
// back to its slabs (keeping kTrimKeepBlocks) and releases its empty slabs
// to the OS, as SLUB discards empty slabs. Below that, nothing moves:
// pushing objects onto slab freelists costs a cold write each, and a
// refill from there a dependent cold miss each (python3 lost 10 % when
// every pass trimmed; its idle blocks stay under 6 MiB).
// Only the caches registered here, which are never destroyed (the kmalloc
// caches and the heap's): a slab unlinked here is released after c->lock
// is dropped (its madvise must not hold up the cache's other users), and
// no cache_destroy can be walking it then.
static constexpr u32 kTrimEvery = 8;        // eviction steps (batches) between passes
static constexpr u32 kTrimKeepBlocks = 16;  // idle depot blocks a cache keeps (496 objects)
static constexpr u32 kTrimMaxSlabs = 256;   // slabs released per cache and pass at most
static constexpr u32 kMaxTrimCaches = 128;  // kmalloc 13 + heap classes + over-aligned 7 x 13
static std::atomic<u32> g_trim_steps{0};
static std::atomic<KmemCache*> g_trim_caches[kMaxTrimCaches];
static std::atomic<u32> g_trim_count{0};
static std::atomic<u64> g_trimmed_slabs{0};

void cache_trim_register(KmemCache* c) {
  LockGuard g(g_caches_lock);
  const u32 n = g_trim_count.load(std::memory_order_relaxed);
  if (n == kMaxTrimCaches) return;  // not trimmed: its idle memory is only kept
  g_trim_caches[n].store(c, std::memory_order_relaxed);
  g_trim_count.store(n + 1, std::memory_order_release);  // publishes the entry
}

u64 cache_trimmed_slabs() { return g_trimmed_slabs.load(std::memory_order_relaxed); }

// Under c->lock: the idle depot blocks past kTrimKeepBlocks go back to the
// slabs; then up to kTrimMaxSlabs empty slabs are unlinked (one is kept:
// the next refill then builds nothing) and returned through *out, linked
// by slab_next. Starts the next interval.
static void trim_locked(KmemCache* c, Span** out) {
  const u32 idle = c->depot_low > kTrimKeepBlocks ? c->depot_low - kTrimKeepBlocks : 0;
  DepotBlock** pp = &c->depot;
  for (u32 i = 0; *pp && i < c->depot_len - idle; i++) pp = &(*pp)->next;
  DepotBlock* old = *pp;
  *pp = nullptr;
  c->depot_len -= idle;
  c->depot_low = c->depot_len;
  blocks_to_slabs_locked(c, old);
  unlink_empty_slabs_locked(c, /*keep_one=*/true, kTrimMaxSlabs, out);
}

void cache_trim_step() {
  // A relaxed load and store: two evictors racing here at worst pass once
  // more or once less; nothing depends on the count being exact.
  const u32 step = g_trim_steps.load(std::memory_order_relaxed) + 1;
  g_trim_steps.store(step, std::memory_order_relaxed);
  if (step % kTrimEvery) return;
  const u32 n = g_trim_count.load(std::memory_order_acquire);
  u64 idle = 0;
  for (u32 i = 0; i < n; i++) {
    KmemCache* c = g_trim_caches[i].load(std::memory_order_relaxed);
    LockGuard g(c->lock);
    idle += u64(c->depot_low) * kMagSize * c->slot_size;
  }
  u64 threshold = quarantine().max_bytes() / 32;
  if (threshold < (u64(1) << 20)) threshold = u64(1) << 20;
  for (u32 i = 0; i < n; i++) {
    KmemCache* c = g_trim_caches[i].load(std::memory_order_relaxed);
    Span* empty = nullptr;
    {
      LockGuard g(c->lock);
      if (idle <= threshold) {
        c->depot_low = c->depot_len;  // the next interval starts
        continue;
      }
      trim_locked(c, &empty);
    }
    while (Span* s = empty) {
      empty = s->slab_next;
      release_slab(s);
      g_trimmed_slabs.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

int cache_shrink(KmemCache* c) {
  LockGuard g(c->lock);
  drain_depot_locked(c);
  Span* empty = nullptr;
  unlink_empty_slabs_locked(c, /*keep_one=*/false, ~u32(0), &empty);
  while (Span* s = empty) {
    empty = s->slab_next;
    release_slab(s);
  }
  return 0;
}

// ---- kmalloc caches --------------------------------------------------------------

KmemCache* g_kmalloc[kKmallocClasses];

static bool kmalloc_caches_init() {
  char name[32];
  for (unsigned i = 0; i < kKmallocClasses; i++) {
    snprintf(name, sizeof(name), "kmalloc-%u", kKmallocSizes[i]);
    g_kmalloc[i] = cache_create(name, kKmallocSizes[i], 16, 0, nullptr, true);
    if (!g_kmalloc[i]) return false;
    cache_trim_register(g_kmalloc[i]);
  }
  return true;
}

bool caches_init() {
  g_caches = static_cast<KmemCache*>(map_anon(sizeof(KmemCache) * kMaxCaches, /*noreserve=*/true));
  return g_caches && kmalloc_caches_init();
}

}  // namespace ukasan
