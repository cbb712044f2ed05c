#include "slab/page_alloc.h"

#include <new>

#include "platform/test_knobs.h"
#include "platform/platform.h"
#include "shadow/shadow.h"

namespace ukasan {

#if UKASAN_DYNAMIC_SHADOW
static constexpr uptr kArenaSize = 64ull << 30;
#else
static constexpr uptr kArenaSize = 1ull << 40;  // 1 TiB of address space, NORESERVE
#endif

PageAllocator g_pages;

// The arena must lie in application memory, where every address has its own
// shadow. The kernel places mappings there, but where the shadow gap could
// not be reserved (valgrind) a mapping may land in the gap, whose "shadow"
// overlaps the arena itself: every poison would then corrupt the heap. Such a
// placement is refused and high memory is asked for explicitly.
static void* map_arena(uptr size) {
  void* a = map_anon(size, /*noreserve=*/true);
#if !UKASAN_DYNAMIC_SHADOW
  const uptr lo = reinterpret_cast<uptr>(a);
  if (a && !(addr_has_shadow(lo) && addr_has_shadow(lo + size - 1))) {
    unmap(a, size);
    a = nullptr;
    for (uptr hint = uptr(0x500000000000); !a && hint + size <= uptr(0x700000000000); hint += uptr(1) << 44)
      a = map_fixed_noreplace(hint, size, /*accessible=*/true);
  }
#endif
  return a;
}

bool PageAllocator::init() {
  if (base_) return true;
  // Address space only (NORESERVE). Where it is limited (ulimit -v, or
  // valgrind, which callgrind profiles need) a smaller arena is taken.
  for (uptr size = kArenaSize; size >= (uptr(1) << 30); size >>= 3) {
    void* a = map_arena(size);
    if (!a) continue;
    void* m = map_anon(size / kPageSize * sizeof(Span*), /*noreserve=*/true);
    if (!m) {
      unmap(a, size);
      continue;
    }
    map_ = static_cast<std::atomic<Span*>*>(m);
    size_ = size;
    base_ = reinterpret_cast<uptr>(a);
    return true;
  }
  return false;
}

Span* PageAllocator::new_descriptor() {
  if (desc_pool_left_ == 0) {
    constexpr uptr kChunk = 64 * 1024;
    desc_pool_ = static_cast<Span*>(map_anon(kChunk));
    if (!desc_pool_) return nullptr;
    desc_pool_left_ = kChunk / sizeof(Span);
  }
  desc_pool_left_--;
  return new (desc_pool_++) Span();
}

void PageAllocator::set_map(Span* s) {
  uptr first = (s->start - base_) / kPageSize;
  for (uptr i = 0; i < s->npages; i++) map_[first + i].store(s, std::memory_order_release);
}

Span* PageAllocator::alloc_span(uptr npages, SpanKind kind) {
  uptr shadow_lo = 0, shadow_hi = 0;
  Span* s = take_span(npages, kind, &shadow_lo, &shadow_hi);
  // Outside the lock: populating is idempotent, and a racing slab's range
  // may overlap this one harmlessly.
  if (shadow_hi > shadow_lo)
    populate_pages(mem_to_shadow(base_ + shadow_lo), (shadow_hi - shadow_lo) >> kShadowScale);
  return s;
}

// The shadow of the arena the slabs grow into, populated ahead in chunks
// that grow with it (64 KiB to 4 MiB of arena, 8 to 512 KiB of shadow): a
// slab's build writes all of its shadow, one fault per shadow page
// otherwise (on a VM 2-11 us each; 10 k of sqlite.sql's 16 k faults), and
// so do a large block's alloc and free up to kShadowAheadPages (below the
// protected size: zlib's 64 KiB buffers, 2.25 shadow pages each). A bigger
// block's shadow stays untouched but for its ends: what lies beyond the
// populated mark for it is skipped.
void PageAllocator::shadow_ahead_locked(const Span* s, uptr* lo, uptr* hi) {
  constexpr uptr kUnit = kPageSize << kShadowScale;  // arena bytes per shadow page
  const uptr start = s->start - base_, end = start + s->npages * kPageSize;
  if (end <= shadow_ready_) return;
  uptr chunk = uptr(64) << 10;  // a power of two, for round_up
  while (chunk < end / 8 && chunk < (uptr(4) << 20)) chunk <<= 1;
  *lo = shadow_ready_ > round_down(start, kUnit) ? shadow_ready_ : round_down(start, kUnit);
  *hi = round_up(end, chunk);
  if (*hi > size_) *hi = round_up(size_, kUnit);
  shadow_ready_ = *hi;
}

Span* PageAllocator::take_span(uptr npages, SpanKind kind, uptr* shadow_lo, uptr* shadow_hi) {
  LockGuard g(lock_);
  // Tests (g_test_knobs.fail_spans = N): simulated out of memory.
  if (UKASAN_UNLIKELY(g_test_knobs.fail_spans.load(std::memory_order_relaxed))) {
    g_test_knobs.fail_spans.fetch_sub(1, std::memory_order_relaxed);  // under lock_: no other decrement
    return nullptr;
  }
  Span* s = kind == kSpanLarge ? take_resident_locked(npages) : nullptr;
  const bool resident = s != nullptr;
  if (resident) {
    // pages kept from an earlier large block of this size
  } else if (npages <= kSmallRuns && small_free_[npages]) {
    s = small_free_[npages];
    small_free_[npages] = s->free_next;
  } else {
    // First fit among the big free runs, splitting the remainder off.
    Span** pp = &big_free_;
    for (; *pp; pp = &(*pp)->free_next)
      if ((*pp)->npages >= npages) break;
    if (*pp) {
      s = *pp;
      *pp = s->free_next;
      if (s->npages > npages) {
        Span* rest = new_descriptor();
        if (rest) {
          rest->start = s->start + npages * kPageSize;
          rest->npages = s->npages - npages;
          rest->kind = kSpanFree;
          set_map(rest);
          push_free_locked(rest);
          s->npages = npages;
        }
      }
    }
  }
  if (!s) {
    if ((bump_ + npages) * kPageSize > size_) return nullptr;
    s = new_descriptor();
    if (!s) return nullptr;
    s->start = base_ + bump_ * kPageSize;
    s->npages = npages;
    bump_ += npages;
    if (kind == kSpanSlab || npages <= kShadowAheadPages) shadow_ahead_locked(s, shadow_lo, shadow_hi);
  } else {
    // A resident span keeps what it knows of its guard pages (large_alloc).
    const uptr start = s->start, n = s->npages;
    const bool guards = resident && s->guards_present;
    const u8 reuses = resident ? s->resident_reuses : 0;
    new (s) Span();
    s->start = start;
    s->npages = n;
    s->guards_present = guards;
    s->resident_reuses = reuses;
  }
  __atomic_store_n(&s->kind, kind, __ATOMIC_RELAXED);
  s->resident = resident;
  set_map(s);
  count_locked(kind, s->npages, 1);
  return s;
}

Span* PageAllocator::take_resident_locked(uptr npages) {
  for (Span** pp = &resident_; *pp; pp = &(*pp)->free_next) {
    Span* s = *pp;
    if (s->npages != npages) continue;
    *pp = s->free_next;
    resident_spans_--;
    resident_pages_ -= npages;
    return s;
  }
  return nullptr;
}

void PageAllocator::free_span_resident(Span* s) {
  Span* old = nullptr;  // given back: the oldest spans past the bounds
  {
    LockGuard g(lock_);
    count_locked(s->kind, s->npages, -1);
    __atomic_store_n(&s->kind, kSpanFree, __ATOMIC_RELAXED);
    __atomic_store_n(&s->cache, nullptr, __ATOMIC_RELAXED);
    s->free_next = resident_;
    resident_ = s;
    resident_spans_++;
    resident_pages_ += s->npages;
    while (resident_spans_ > kResidentSpans || resident_pages_ > kResidentPages) {
      Span** pp = &resident_;
      while ((*pp)->free_next) pp = &(*pp)->free_next;
      Span* o = *pp;
      *pp = nullptr;
      resident_spans_--;
      resident_pages_ -= o->npages;
      o->free_next = old;
      old = o;
    }
  }
  while (Span* o = old) {
    old = o->free_next;
    release_pages(reinterpret_cast<void*>(o->start), o->npages * kPageSize);
    LockGuard g(lock_);
    push_free_locked(o);
  }
}

void PageAllocator::count_locked(SpanKind kind, uptr npages, sptr spans) {
  __atomic_store_n(&pages_[kind], pages_[kind] + npages * (spans > 0 ? 1 : uptr(-1)), __ATOMIC_RELAXED);
  __atomic_store_n(&spans_[kind], spans_[kind] + static_cast<uptr>(spans), __ATOMIC_RELAXED);
}

void PageAllocator::free_span(Span* s) {
  release_pages(reinterpret_cast<void*>(s->start), s->npages * kPageSize);
  LockGuard g(lock_);
  count_locked(s->kind, s->npages, -1);
  __atomic_store_n(&s->kind, kSpanFree, __ATOMIC_RELAXED);
  __atomic_store_n(&s->cache, nullptr, __ATOMIC_RELAXED);
  push_free_locked(s);
}

void PageAllocator::push_free_locked(Span* s) {
  Span** list = s->npages <= kSmallRuns ? &small_free_[s->npages] : &big_free_;
  s->free_next = *list;
  *list = s;
}

}  // namespace ukasan
