// The heap front end's engine (see heap.h): size classes, over-aligned
// caches, the bootstrap arena, canaries, the free pattern and its check at
// quarantine eviction. Nothing here allocates from the C heap (it IS the C
// heap) or throws; all state is constant-initialised.
#include "heap/heap.h"
#include "heap/kfence.h"

#include <stdio.h>
#include <string.h>

#include <atomic>

#include "platform/options.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"

namespace ukasan {

// Return address of the heap entry point this thread is in (the caller of
// malloc/free/new/delete): the report site of a write-after-free detected
// while this call evicted objects from the quarantine.
static UKASAN_TLS uptr t_caller;

// ---- bootstrap arena ----------------------------------------------------------
// Serves allocations made while runtime_init() is running on this thread
// (it may call into libc, which may call malloc). Never freed; 16 bytes of
// header hold the size for realloc / malloc_usable_size.
static constexpr uptr kBootSize = 256 * 1024;
alignas(4096) static char g_boot[kBootSize];
static std::atomic<uptr> g_boot_used{0};

static inline bool is_boot(const void* p) { return reinterpret_cast<uptr>(p) - reinterpret_cast<uptr>(g_boot) < kBootSize; }

void* boot_alloc(uptr size, uptr align) {
  if (align < 16) align = 16;
  const uptr base = reinterpret_cast<uptr>(g_boot);
  uptr used = g_boot_used.load(std::memory_order_relaxed);
  for (;;) {
    if (size > kBootSize || align > kBootSize) return nullptr;
    uptr start = round_up(base + used + 16, align);
    uptr end = start + size;
    if (end > base + kBootSize) return nullptr;
    if (g_boot_used.compare_exchange_weak(used, end - base, std::memory_order_relaxed)) {
      reinterpret_cast<uptr*>(start)[-2] = size;
      return reinterpret_cast<void*>(start);  // .bss: already zero
    }
  }
}
static inline uptr boot_size(const void* p) { return reinterpret_cast<const uptr*>(p)[-2]; }

// ---- bring-up -------------------------------------------------------------------

static std::atomic<bool> g_heap_ready{false};
static uptr g_poison_bytes;  // options().poison_check_bytes
static uptr g_canary_bytes;  // options().redzone_check_bytes (0: the whole slack)

static bool on_evict(KmemCache* c, uptr obj, Span* large, bool check);

static UKASAN_NOINLINE bool heap_init_slow() {
  runtime_init();
  if (!runtime_ready()) return false;  // re-entered from inside runtime_init on this thread
  g_poison_bytes = options().poison_check_bytes;
  g_canary_bytes = options().redzone_check_bytes;
  slab_set_evict_hook(on_evict);
  kfence_init();
  g_heap_ready.store(true, std::memory_order_release);
  return true;
}

static UKASAN_ALWAYS_INLINE bool heap_ready() {
  if (UKASAN_LIKELY(g_heap_ready.load(std::memory_order_acquire))) return true;
  return heap_init_slow();
}

// ---- over-aligned caches ----------------------------------------------------------
// One cache per (kmalloc size class, alignment 32..2048), created on first
// use. Alignment >= 4096 and sizes above the largest class are large blocks.

static constexpr unsigned kAlignSteps = 7;  // 32, 64, ..., 2048
static std::atomic<KmemCache*> g_aligned[kAlignSteps][kKmallocClasses];

// Creates a cache on first use and publishes it in slot; when two threads
// race, the loser destroys its (empty) twin and returns the winner's.
static UKASAN_NOINLINE KmemCache* create_into(std::atomic<KmemCache*>& slot, const char* name, u32 size, u32 align) {
  KmemCache* c = cache_create(name, size, align, 0, nullptr, /*is_kmalloc=*/true);
  if (!c) return nullptr;
  KmemCache* won = nullptr;
  if (!slot.compare_exchange_strong(won, c, std::memory_order_acq_rel)) {
    cache_destroy(c, 0);
    return won;
  }
  cache_trim_register(c);  // the winner is never destroyed
  return c;
}

static KmemCache* aligned_cache(uptr size, uptr align) {
  const uptr need = size > align ? size : align;
  if (need > kKmallocMax) return nullptr;
  const unsigned ci = kmalloc_index(need);
  unsigned ai = static_cast<unsigned>(__builtin_ctzll(align)) - 5;
  std::atomic<KmemCache*>& slot = g_aligned[ai][ci];
  KmemCache* c = slot.load(std::memory_order_acquire);
  if (UKASAN_LIKELY(c)) return c;
  char name[40];
  snprintf(name, sizeof(name), "kmalloc-%u-align%lu", kKmallocSizes[ci], static_cast<unsigned long>(align));
  return create_into(slot, name, kKmallocSizes[ci], static_cast<u32>(align));
}

// ---- heap-only size classes ---------------------------------------------------------
// Above 512 bytes malloc rounds up to quarter steps of each power of two
// (640, 768, 896, 1024, 1280, ... 16384), as scudo's and jemalloc's classes
// do; kmalloc's classes double, which a malloc heap pays in memory: sqlite's
// 1032-byte page buffers took kmalloc-2048 slots (2176 bytes with their
// redzone), its 4104 and 4368-byte buffers half of an 8 KiB slot. Steps
// that are powers of two are the kmalloc caches themselves; the others are
// heap-only caches named malloc-<size>, created on first use. Up to 16384
// bytes blocks come from slabs (larger ones, or page-aligned ones, are
// page-backed with a guard page on each side and a page fault on every
// reuse: 3.3 us per malloc+free of 16 KiB).

static constexpr uptr kHeapSlabMax = 16384;  // larger (or page-aligned) blocks are page-backed
static constexpr unsigned kHeapClassLog2Min = 9;  // (512, 1024] is the first quartered octave
static constexpr unsigned kHeapClasses = 4 * 5;   // (512, 16384]
static std::atomic<KmemCache*> g_heap_class[kHeapClasses];

static constexpr u32 heap_class_size(unsigned i) {
  return (4 + i % 4 + 1) << (kHeapClassLog2Min + i / 4 - 2);
}
static_assert(heap_class_size(0) == 640 && heap_class_size(3) == 1024 && heap_class_size(kHeapClasses - 1) == 16384);

static UKASAN_NOINLINE KmemCache* heap_class_create(unsigned i) {
  const u32 size = heap_class_size(i);
  if ((size & (size - 1)) == 0 && size <= kKmallocMax) {  // 1024..8192: kmalloc's own, created at init
    KmemCache* c = kmalloc_cache_for(size);
    g_heap_class[i].store(c, std::memory_order_release);
    return c;
  }
  char name[32];
  snprintf(name, sizeof(name), "malloc-%u", size);
  return create_into(g_heap_class[i], name, size, 16);
}

// The cache for a malloc of size bytes (alignment <= 16), or nullptr for a
// page-backed block. grow: a realloc that grows the block takes the octave's
// top class, as with kmalloc's doubling classes: a buffer grown once is
// grown again (python's lists, perl's strings), and the slack lets the next
// reallocs stay in place (python3 2.08 -> 2.03 s against quarter steps).
static UKASAN_ALWAYS_INLINE KmemCache* heap_cache_for(uptr size, bool grow = false) {
  if (UKASAN_LIKELY(size <= 512)) return kmalloc_cache_for(size < 16 ? 16 : size);
  if (UKASAN_UNLIKELY(size > kHeapSlabMax)) return nullptr;
  // (2^e, 2^(e+1)] in four steps of 2^(e-2): class 4 * (e - 9) + step.
  const unsigned e = 63 - static_cast<unsigned>(__builtin_clzll(size - 1));
  const unsigned i = 4 * (e - kHeapClassLog2Min) + (grow ? 3 : static_cast<unsigned>(((size - 1) >> (e - 2)) & 3));
  KmemCache* c = g_heap_class[i].load(std::memory_order_acquire);
  return UKASAN_LIKELY(c) ? c : heap_class_create(i);
}

// ---- blocks -----------------------------------------------------------------------

struct Block {
  Span* s;
  KmemCache* c;  // nullptr: a large block
  uptr obj;
  AllocMeta* am;
  uptr req;
};

// The pointer a heap call got, looked up once: where it lands, and the
// live block starting there (live) for the checks.
struct Lookup {
  ObjWhere where;
  ObjectRef ref;
  bool live;
  Block b;
};
static UKASAN_ALWAYS_INLINE void lookup(const void* p, Lookup* l) {
  l->where = lookup_object(reinterpret_cast<uptr>(p), &l->ref);
  l->live = l->where == kObjectStart && object_live(l->ref);
  if (l->live) l->b = Block{l->ref.span, l->ref.cache, l->ref.obj, l->ref.am, object_requested(l->ref)};
}

// End (offset from the object) of the redzone bytes a slab object owns: up to
// the metadata at the end of its slot (the next object's AllocMeta, and its
// own FreeMeta when that cannot live in the freed object).
static inline uptr slab_rz_end(const KmemCache* c) {
  return c->free_meta_off ? c->free_meta_off : c->slot_size - sizeof(AllocMeta);
}
// The byte before a slab object is the last byte of its AllocMeta, `guard`:
// a canary.

static constexpr uptr kLargeGuardCheck = 16;  // bytes of each guard page checked to be zero

// End (offset from the object) of the redzone bytes the block owns, and of
// those it fills with the canary: at least redzone_check_bytes past its end,
// then on to the end of that cache line. Filling and checking the whole
// slack of a size class touched up to half a slot at every malloc and free,
// one cold line after another; a linear overflow starts at the end, so the
// bytes right after it catch it, and the rest of their line costs nothing.
static inline uptr owned_end(const Block& b) { return b.c ? slab_rz_end(b.c) : round_up(b.req, kPageSize); }
static inline uptr canary_end(const Block& b) {
  const uptr end = owned_end(b);
  if (!g_canary_bytes) return end;
  const uptr e = round_up(b.obj + b.req + g_canary_bytes, 64) - b.obj;
  return e < end ? e : end;
}

static UKASAN_ALWAYS_INLINE void arm(const Block& b) {
  internal_memset(reinterpret_cast<void*>(b.obj + b.req), kRedzoneByte, canary_end(b) - b.req);
  // Large blocks: the guard pages are never written; they read as zero.
  if (b.c) *reinterpret_cast<volatile u8*>(b.obj - 1) = kRedzoneByte;
}

// First and last index in [lo, hi) of mem whose byte differs from want; false if none.
static bool find_diff(uptr mem, uptr lo, uptr hi, u8 want, uptr* first, uptr* last) {
  const u8* m = reinterpret_cast<const u8*>(mem);
  const uptr i = first_mismatch(m, lo, hi, want);
  if (i >= hi) return false;
  *first = i;
  uptr j = hi;
  while (j > i && m[j - 1] == want) j--;
  *last = j - 1;
  return true;
}

// Redzone canaries of a live block, verified when it is freed (or
// realloc'ed) by the call `at`: SLUB debug's "Right Redzone overwritten" /
// "Left Redzone overwritten". The slow path: a large block, or damage to
// find and report.
static UKASAN_NOINLINE void check_canaries_slow(const Block& b, uptr ip, const char* at) {
  uptr first, last;
  const uptr rz_end = canary_end(b);
  Corruption c{};
  c.obj = b.obj;
  c.obj_size = b.req;
  c.redzone_end = b.obj + rz_end;
  c.kasan_type = "slab-out-of-bounds";
  c.at = at;
  c.ip = ip;
  bool right = find_diff(b.obj, b.req, rz_end, kRedzoneByte, &first, &last);
  c.expected = kRedzoneByte;
  // A large block's guard pages: those never touched read as zero unread.
  const unsigned guards = b.c ? 0 : large_guards_touched(b.s);
  if (!right && !b.c && rz_end == owned_end(b) && (guards & 2)) {  // the first bytes of the guard page after it
    right = find_diff(b.obj, rz_end, rz_end + kLargeGuardCheck, 0, &first, &last);
    c.expected = 0;
    c.redzone_end = b.obj + rz_end + kLargeGuardCheck;
  }
  if (right) {
    c.what = "Right Redzone overwritten";
    c.first = b.obj + first;
    c.last = b.obj + last;
    report_corruption(c);
    return;
  }
  c.what = "Left Redzone overwritten";
  if (b.c) {
    if (*reinterpret_cast<volatile u8*>(b.obj - 1) != kRedzoneByte) {
      c.first = c.last = b.obj - 1;
      report_corruption(c);
    }
  } else if ((guards & 1) && find_diff(b.obj - kLargeGuardCheck, 0, kLargeGuardCheck, 0, &first, &last)) {
    c.expected = 0;
    c.first = b.obj - kLargeGuardCheck + first;
    c.last = b.obj - kLargeGuardCheck + last;
    report_corruption(c);
  }
}

// Every free of a slab block: both canaries intact is a few loads of the
// right one (the default window is all_equal_short's, inline) and a byte
// compare of the left.
static UKASAN_ALWAYS_INLINE void check_canaries(const Block& b, uptr ip, const char* at) {
  if (UKASAN_LIKELY(b.c)) {
    const uptr rz_end = canary_end(b);
    const u8* m = reinterpret_cast<const u8*>(b.obj);
    if (UKASAN_LIKELY(first_mismatch(m, b.req, rz_end, kRedzoneByte) >= rz_end &&
                      *reinterpret_cast<const volatile u8*>(b.obj - 1) == kRedzoneByte))
      return;
  }
  check_canaries_slow(b, ip, at);
}

// The part of a freed object covered by the free pattern: whole up to
// poison_check_bytes, else its first and last poison_check_bytes/2 bytes.
// skip: leading bytes that hold the free metadata.
struct Ranges {
  uptr lo[2], hi[2];
  unsigned n;
};
static Ranges poison_ranges(uptr req, uptr skip) {
  Ranges r{};
  const uptr P = g_poison_bytes;
  if (P == 0 || req <= skip) return r;
  if (req <= P) {
    r.lo[0] = skip;
    r.hi[0] = req;
    r.n = 1;
    return r;
  }
  uptr half = P / 2;
  r.lo[0] = skip;
  r.hi[0] = half > skip ? half : skip;
  r.lo[1] = req - half;
  r.hi[1] = req;
  r.n = 2;
  return r;
}
static inline uptr meta_skip(const KmemCache* c) { return c && c->free_meta_off == 0 ? sizeof(FreeMeta) : 0; }

// The free pattern of an object leaving the quarantine (check: still in it,
// at exit or ukasan_check_quarantine()). A damaged pattern is reported once:
// the object's poisoned mark is cleared with the report.
static bool on_evict(KmemCache* c, uptr obj, Span* large, bool check) {
  AllocMeta* am = c ? alloc_meta(c, obj) : &large->large_alloc;
  if (!(am->kind & kKindPoisoned)) return false;
  uptr req = c ? am->requested : large->large_size;
  const uptr skip = meta_skip(c);
  // Most objects: the whole pattern, one range, intact (first_mismatch answers
  // up to kShortCompareMax bytes inline).
  if (UKASAN_LIKELY(req <= g_poison_bytes) &&
      (req <= skip || first_mismatch(reinterpret_cast<const u8*>(obj), skip, req, kPoisonFree) >= req))
    return false;
  Ranges r = poison_ranges(req, skip);
  for (unsigned i = 0; i < r.n; i++) {
    uptr first, last;
    if (!find_diff(obj, r.lo[i], r.hi[i], kPoisonFree, &first, &last)) continue;
    am->kind = static_cast<u8>(am->kind & ~kKindPoisoned);
    // SLUB debug's "Poison overwritten"; found by the heap call evicting
    // it, or by the check (at exit, ukasan_check_quarantine()).
    Corruption rc{};
    rc.what = "Poison overwritten";
    rc.kasan_type = c ? "slab-use-after-free" : "use-after-free";
    rc.obj = obj;
    rc.obj_size = req;
    rc.first = obj + first;
    rc.last = obj + last;
    rc.expected = kPoisonFree;
    rc.found = check ? "by the quarantine check, the object still in the quarantine"
                     : "when the object left the quarantine";
    rc.ip = t_evict_ip ? t_evict_ip : check ? 0 : t_caller;
    report_corruption(rc);
    return true;
  }
  return false;
}

static UKASAN_ALWAYS_INLINE void fill_poison(const Block& b) {
  const uptr skip = meta_skip(b.c);
  if (UKASAN_LIKELY(b.req <= g_poison_bytes)) {  // whole (poison_ranges' first case)
    if (b.req > skip) internal_memset(reinterpret_cast<void*>(b.obj + skip), kPoisonFree, b.req - skip);
    return;
  }
  Ranges r = poison_ranges(b.req, skip);
  for (unsigned i = 0; i < r.n; i++)
    internal_memset(reinterpret_cast<void*>(b.obj + r.lo[i]), kPoisonFree, r.hi[i] - r.lo[i]);
}

// ---- mismatch ------------------------------------------------------------------------

static const char* alloc_name(u8 kind) {
  switch (kind & kKindMask) {
    case kKindMalloc: return "malloc()";
    case kKindNew: return "operator new";
    case kKindNewArray: return "operator new []";
    default: return "an unknown function (corrupted metadata?)";
  }
}
static const char* free_name(u8 kind) {
  switch (kind) {
    case kKindMalloc: return "free()";
    case kKindNew: return "operator delete";
    default: return "operator delete []";
  }
}

// A block the kernel API allocated (kmalloc, kmem_cache_alloc): no canary,
// and free()/delete/realloc() of it is a mismatch.
static inline bool kernel_block(const Block& b) { return (b.am->kind & kKindMask) == kKindKernel; }

// A block of the C/C++ heap allocated with ak (HeapKind), req bytes, freed
// with kind (size: the sized delete's, kNoSize otherwise).
static void check_api(uptr obj, u8 ak, uptr req, u8 kind, uptr size, const char* freed_with, uptr ip) {
  if (ak != kind) {
    report_alloc_dealloc_mismatch(obj, ip, alloc_name(ak), freed_with);
    return;
  }
  if (size != kNoSize && size != req) {
    char a[64], f[64];
    snprintf(a, sizeof(a), "%s (size %lu)", alloc_name(ak), static_cast<unsigned long>(req));
    snprintf(f, sizeof(f), "sized %s (size %lu)", freed_with, static_cast<unsigned long>(size));
    report_alloc_dealloc_mismatch(obj, ip, a, f);
  }
}

static UKASAN_NOINLINE void check_kind_slow(const Block& b, u8 kind, uptr size, const char* freed_with, uptr ip) {
  u8 ak = b.am->kind & kKindMask;
  if (ak == kKindKernel) {
    char a[96];
    if (b.c && !b.c->is_kmalloc)
      snprintf(a, sizeof(a), "kmem_cache_alloc(%s)", b.c->name);
    else
      snprintf(a, sizeof(a), "kmalloc()");
    report_alloc_dealloc_mismatch(b.obj, ip, a, freed_with);
    return;
  }
  check_api(b.obj, ak, b.req, kind, size, freed_with, ip);
}
// The allocating and the freeing API agree (a kernel block never does: no
// free kind is kKindKernel), and a sized delete's size is the block's.
static UKASAN_ALWAYS_INLINE void check_kind(const Block& b, u8 kind, uptr size, const char* freed_with, uptr ip) {
  if (UKASAN_LIKELY((b.am->kind & kKindMask) == kind && (size == kNoSize || size == b.req))) return;
  check_kind_slow(b, kind, size, freed_with, ip);
}

// ---- entry points -------------------------------------------------------------------

// ---- malloc/free hooks (__sanitizer_install_malloc_and_free_hooks) ----------------
// libFuzzer's -malloc_limit_mb and its leak mode count allocations through
// them. Installed once each, never removed (as in the sanitizers); a hook
// may itself allocate (its own calls are not hooked again).

static constexpr unsigned kMaxHooks = 5;
static std::atomic<unsigned> g_nhooks{0};
static void (*g_malloc_hooks[kMaxHooks])(const volatile void*, uptr);
static void (*g_free_hooks[kMaxHooks])(const volatile void*);
static UKASAN_TLS bool t_in_hook;

int heap_install_hooks(void (*m)(const volatile void*, uptr), void (*f)(const volatile void*)) {
  static SpinLock lock;
  lock.lock();
  const unsigned n = g_nhooks.load(std::memory_order_relaxed);
  int slot = 0;
  if (n < kMaxHooks) {
    g_malloc_hooks[n] = m;
    g_free_hooks[n] = f;
    g_nhooks.store(n + 1, std::memory_order_release);
    slot = static_cast<int>(n + 1);
  }
  lock.unlock();
  return slot;
}

static UKASAN_NOINLINE void run_malloc_hooks(const void* p, uptr size) {
  if (t_in_hook || !p) return;
  t_in_hook = true;
  const unsigned n = g_nhooks.load(std::memory_order_acquire);
  for (unsigned i = 0; i < n; i++)
    if (g_malloc_hooks[i]) g_malloc_hooks[i](p, size);
  t_in_hook = false;
}
static UKASAN_NOINLINE void run_free_hooks(const void* p) {
  if (t_in_hook) return;
  t_in_hook = true;
  const unsigned n = g_nhooks.load(std::memory_order_acquire);
  for (unsigned i = 0; i < n; i++)
    if (g_free_hooks[i]) g_free_hooks[i](p);
  t_in_hook = false;
}
static UKASAN_ALWAYS_INLINE void* hooked(void* p, uptr size) {
  if (UKASAN_UNLIKELY(g_nhooks.load(std::memory_order_relaxed))) run_malloc_hooks(p, size);
  return p;
}

static UKASAN_ALWAYS_INLINE void* heap_alloc_in(uptr size, uptr align, u8 kind, bool zero, uptr ip, bool grow) {
  if (UKASAN_UNLIKELY(!heap_ready()))
    return runtime_passthrough() ? passthrough_alloc(size, align, zero) : boot_alloc(size, align);
  if (UKASAN_UNLIKELY(--t_kfence_countdown < 0))
    if (void* p = kfence_alloc_slow(size, align, kind, zero, ip)) return hooked(p, size);
  t_caller = ip;
  const gfp_t fl = zero ? __GFP_ZERO : 0;
  Block b;
  if (UKASAN_LIKELY(align <= 16)) {
    KmemCache* c = heap_cache_for(size, grow);
    if (UKASAN_LIKELY(c)) {
      void* p = cache_alloc(c, fl, size, ip);
      if (UKASAN_UNLIKELY(!p)) return nullptr;
      b = Block{nullptr, c, reinterpret_cast<uptr>(p), alloc_meta(c, reinterpret_cast<uptr>(p)), size};
      b.am->kind |= kind;  // the slab layer set the kMeta* flags
      arm(b);
      return hooked(p, size);
    }
  }
  void* p;
  KmemCache* c = nullptr;
  if (align < kPageSize && size <= kKmallocMax && align > 16) {
    c = aligned_cache(size, align);
    p = c ? cache_alloc(c, fl, size, ip) : nullptr;
  } else {
    p = large_alloc(size, fl, ip, align < kPageSize ? kPageSize : align);
  }
  if (!p) return nullptr;
  uptr o = reinterpret_cast<uptr>(p);
  if (c) {
    b = Block{nullptr, c, o, alloc_meta(c, o), size};
  } else {
    Span* s = page_allocator().span_of(o);
    b = Block{s, nullptr, o, &s->large_alloc, size};
  }
  b.am->kind |= kind;  // the slab layer set the kMeta* flags
  arm(b);
  return hooked(p, size);
}

void* heap_alloc(uptr size, uptr align, u8 kind, bool zero, uptr ip) {
  return heap_alloc_in(size, align, kind, zero, ip, false);
}

// A KFENCE object: the same mismatch checks as a slab object's, then KFENCE's
// own free (an invalid pointer is reported there).
static void kfence_release(void* ptr, u8 kind, uptr size, uptr ip) {
  if (const u8 ak = kfence_kind(ptr) & kKindMask)
    check_api(reinterpret_cast<uptr>(ptr), ak, kfence_usable_size(ptr), kind, size, free_name(kind), ip);
  kfence_free(ptr, ip);
}

// at: the freeing call, for a report of damaged canaries ("free()").
static UKASAN_ALWAYS_INLINE void release_block(void* ptr, const Lookup& l, uptr ip, const char* at) {
  // The canaries are checked as the program left them, then the state's
  // CAS claims the block (a racing free of it loses there and writes
  // nothing), then the pattern goes in: after the CAS, because a locked
  // instruction waits for every store before it to complete, and the
  // pattern's stores to a block the program has not touched lately miss
  // (sqlite3 and python3 2-3 % faster in this order). The kind says
  // kKindPoisoned only once the pattern is whole: walks of quarantined
  // objects check only those.
  const bool pattern = l.live && g_quarantine_enabled && g_poison_bytes && (l.b.c || !large_protected(l.b.req));
  if (l.live && !kernel_block(l.b)) check_canaries(l.b, ip, at);
  if (!free_check(reinterpret_cast<uptr>(ptr), l.where, l.ref, nullptr, ip)) return;  // reported
  if (pattern) fill_poison(l.b);
  // Freed: 0x08 now means kMetaDangling, which only a scan may set.
  l.b.am->kind = static_cast<u8>((l.b.am->kind & ~kMetaDangling) | (pattern ? kKindPoisoned : 0));
  free_object(l.ref, ip);
}

void heap_free(void* ptr, u8 kind, uptr size, uptr ip) {
  if (UKASAN_UNLIKELY(g_nhooks.load(std::memory_order_relaxed))) run_free_hooks(ptr);
  if (UKASAN_UNLIKELY(is_boot(ptr))) return;
  if (UKASAN_UNLIKELY(!heap_ready())) {
    if (runtime_passthrough()) passthrough_free(ptr);
    return;
  }
  if (UKASAN_UNLIKELY(kfence_owns(ptr))) return kfence_release(ptr, kind, size, ip);
  t_caller = ip;
  // The free poisons the object's shadow, last written when it was
  // allocated (cold by now): load it while the checks run.
  // (A prefetch never faults, whatever the pointer.)
  __builtin_prefetch(mem_to_shadow(reinterpret_cast<uptr>(ptr)), 1);
  Lookup l;
  lookup(ptr, &l);
  if (l.live) check_kind(l.b, kind, size, free_name(kind), ip);
  release_block(ptr, l, ip, free_name(kind));
}

void* heap_realloc(void* ptr, uptr n, uptr ip) {
  if (UKASAN_UNLIKELY(is_boot(ptr))) {
    uptr old = boot_size(ptr);
    void* q = heap_alloc(n, 16, kKindMalloc, false, ip);
    if (q) internal_memcpy(q, ptr, old < n ? old : n);
    return q;
  }
  if (UKASAN_UNLIKELY(!heap_ready())) return runtime_passthrough() ? passthrough_realloc(ptr, n) : nullptr;
  if (UKASAN_UNLIKELY(kfence_owns(ptr))) {
    const uptr old = kfence_usable_size(ptr);
    if (old) check_api(reinterpret_cast<uptr>(ptr), kfence_kind(ptr) & kKindMask, old, kKindMalloc, kNoSize, "realloc()", ip);
    void* q = old ? heap_alloc(n, 16, kKindMalloc, false, ip) : nullptr;
    if (q) internal_memcpy(q, ptr, old < n ? old : n);
    if (q || !old) kfence_free(ptr, ip);  // !old: reported as an invalid free
    return q;
  }
  t_caller = ip;
  Lookup l;
  lookup(ptr, &l);
  if (!l.live) {
    // Reports the bad pointer; frees a block with corrupted metadata (gives up on it).
    if (free_check(reinterpret_cast<uptr>(ptr), l.where, l.ref, nullptr, ip)) free_object(l.ref, ip);
    return nullptr;
  }
  Block& b = l.b;
  check_kind(b, kKindMalloc, kNoSize, "realloc()", ip);
  if (b.c && n <= b.c->obj_bytes) {
    // In place: the object's new end moves its redzone (shadow and canary).
    if (!kernel_block(b)) check_canaries(b, ip, "realloc()");
    poison(b.obj, b.c->obj_bytes, kShadowSlabRedzone);
    unpoison(b.obj, n);
    b.req = n;
    arm(b);
    b.am->requested = static_cast<u32>(n);
    return ptr;
  }
  if (!b.c && n > kHeapSlabMax && round_up(n, kPageSize) == round_up(b.req, kPageSize)) {
    if (!kernel_block(b)) check_canaries(b, ip, "realloc()");
    poison(b.obj, round_up(b.req, kPageSize), kShadowPageRedzone);
    unpoison(b.obj, n);
    b.req = n;
    arm(b);
    b.s->large_size = n;
    b.am->requested = static_cast<u32>(n);
    return ptr;
  }
  void* q = heap_alloc_in(n, 16, kKindMalloc, false, ip, n > b.req);
  if (!q) return nullptr;  // the old block stays valid
  const uptr copy = b.req < n ? b.req : n;
  // A large block (a growing array, say): the pages the copy is about to
  // write, in one call rather than a fault each.
  if (copy > 2 * kPageSize && n > kHeapSlabMax) populate_pages(q, round_down(copy, kPageSize));
  internal_memcpy(q, ptr, copy);
  if (UKASAN_UNLIKELY(g_nhooks.load(std::memory_order_relaxed))) run_free_hooks(ptr);
  release_block(ptr, l, ip, "realloc()");
  return q;
}

uptr heap_usable_size(const void* p) {
  if (!p) return 0;
  if (is_boot(p)) return boot_size(p);
  if (!heap_ready()) return runtime_passthrough() ? passthrough_usable_size(p) : 0;
  if (UKASAN_UNLIKELY(kfence_owns(p))) return kfence_usable_size(p);
  Lookup l;
  lookup(p, &l);
  return l.live ? l.b.req : 0;
}

}  // namespace ukasan
