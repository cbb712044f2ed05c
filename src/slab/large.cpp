// Large blocks: kmalloc sizes above the largest cache (and the heap's
// page-aligned blocks), page-backed with a redzone page on each side, their
// metadata in the span descriptor.
#include <string.h>
#include <sys/mman.h>

#include "platform/options.h"
#include "report/report.h"
#include "shadow/shadow.h"
#include "slab/internal.h"

namespace ukasan {

// Resident reuses of a span before its guard pages are populated (large_alloc).
static constexpr u8 kGuardPopulateReuses = 4;

// Spans whose guard pages one mincore call covers.
static constexpr uptr kMaxGuardSpan = 258;

static Span* large_span_alloc(uptr npages) {
  reduce_on_alloc();
  Span* s = page_allocator().alloc_span(npages, kSpanLarge);
  if (!s) {
    quarantine_drain_all();
    s = page_allocator().alloc_span(npages, kSpanLarge);
  }
  return s;
}

// The pages a block's data occupies.
static uptr data_bytes(const Span* s) { return round_up(s->large_size, kPageSize); }

// Guard pages at the span's ends (a block aligned above a page has slack
// pages before and after instead).
static bool guards_at_span_ends(const Span* s) { return s->user == s->start + kPageSize; }

unsigned large_guards_touched(Span* s) {
  if (s->guards_present && guards_at_span_ends(s)) return 3;
  const uptr left = s->user - kPageSize, right = s->user + data_bytes(s);
  u8 v[kMaxGuardSpan];
  const uptr n = (right - left) / kPageSize + 1;
  u8 lv, rv;
  if (n <= kMaxGuardSpan) {
    if (!pages_resident(reinterpret_cast<void*>(left), n, v)) return 3;
    lv = v[0];
    rv = v[n - 1];
  } else if (!pages_resident(reinterpret_cast<void*>(left), 1, &lv) ||
             !pages_resident(reinterpret_cast<void*>(right), 1, &rv)) {
    return 3;
  }
  const unsigned t = (lv & 1) | ((rv & 1) << 1);
  if (t == 3 && guards_at_span_ends(s)) s->guards_present = true;
  return t;
}

// The bytes of a guard page next to a block that must read as zero (the
// heap checks 16 of them at free), zeroed where they are not.
static constexpr uptr kGuardZeroBytes = 64;
static void zero_guard(uptr p) {
  if (first_mismatch(reinterpret_cast<const u8*>(p), 0, kGuardZeroBytes, 0) < kGuardZeroBytes)
    internal_memset(reinterpret_cast<void*>(p), 0, kGuardZeroBytes);
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
  am.kind = born_no_leak(ip) ? kMetaNoLeak : 0;
  am.alloc_stack = options().stacktrace ? save_stack_from(ip) : 0;
  am.check = meta_check(user);
  s->large_free.free_stack = 0;
  s->large_free.free_tid = 0;
  s->large_free.node.next = link_encode(nullptr);
  __atomic_store_n(&s->cache, nullptr, __ATOMIC_RELAXED);
  s->large_size = size;
  // The shadow: redzone before the block, accessible bytes, redzone to the
  // span's end. A protected block's accessible part is cleared by giving its
  // shadow pages back (shadow_clear): a huge block costs no shadow writes or
  // memory, and its free writes none. A smaller one's free poisons all of
  // it: writing it now costs less than giving its pages back to fault them
  // in again (and a TLB shootdown in a threaded process).
  const uptr body = round_down(size, kGranule), end = s->start + npages * kPageSize;
  poison(s->start, user - s->start, kShadowPageRedzone);
  if (large_protected(size)) {
    shadow_clear(user, user + body);
    unpoison_within(user + body, size - body, end - (user + body), kShadowPageRedzone);
  } else {
    unpoison_within(user, size, end - user, kShadowPageRedzone);
  }
  am.state.store(kObjAllocated, std::memory_order_release);
  count_bytes(ts->alloc_bytes, (npages - 2) * kPageSize);
  // __GFP_ZERO (kzalloc, calloc) needs no write: a span the page allocator
  // hands out reads as zero (fresh arena, or released with MADV_DONTNEED
  // when freed), so calloc of a huge block touches no page; except a span
  // kept resident, which holds an earlier block's bytes (that block was
  // smaller than kLargeProtectBytes). Its guard pages read as zero near the
  // block again (an overflow of the earlier block may have written there;
  // it was reported when that block was freed): mincore says which ones
  // were touched. A span reused again and again gets its guard pages made
  // resident (two calls), so that no later alloc or free of it has to ask
  // mincore; but only at its kGuardPopulateReuses-th reuse: the spans of a
  // short process are reused a few times at most (git gc's pack-objects:
  // about 3470 spans, reused 1-3 times each, 8263 reuses in all, each of
  // which populated both guards while this was done at every reuse; a
  // guard page then read costs 5 us at its first touch on a VM, a mincore
  // call about 1 us and touches none).
  if (s->resident) {
    if (flags & __GFP_ZERO) internal_memset(reinterpret_cast<void*>(user), 0, size);
    if (guards_at_span_ends(s) && !s->guards_present && ++s->resident_reuses >= kGuardPopulateReuses) {
      populate_pages_read(reinterpret_cast<void*>(user - kPageSize), kPageSize);
      populate_pages_read(reinterpret_cast<void*>(user + data), kPageSize);
      s->guards_present = true;
    }
    const unsigned guards = large_guards_touched(s);
    if (guards & 1) zero_guard(user - kGuardZeroBytes);
    if (guards & 2) zero_guard(user + data);
  } else if (!large_protected(size)) {
    // Fresh pages the block will have touched anyway, in a call each rather
    // than a fault each (on one VM a fault costs 11.5 us, a call 1-2.5 plus
    // about 5 at the page's first touch; on another 1.7 against 1): below
    // the protected size its first data page (the program writes
    // its first bytes, the free path its head pattern) and its last (the
    // tail pattern). The pages between are the program's to touch or not
    // (a zlib window of 32 KiB often holds a few hundred bytes), and a
    // protected block gets no pattern: calloc of a huge block still writes
    // none of its pages. The guard pages are not touched (see
    // large_guards_touched): populating them cost two calls and two pages
    // of memory per block, and on a VM their first read at free several
    // microseconds more (5 % of git gc's samples in the guard check).
    const uptr last = user + data - kPageSize;
    populate_pages(reinterpret_cast<void*>(user), kPageSize);
    if (last != user) populate_pages(reinterpret_cast<void*>(last), kPageSize);
  }
  return reinterpret_cast<void*>(user);
}

void large_release(Span* s) {
  if (large_protected(s->large_size))  // the next block here needs its pages
    mprotect(reinterpret_cast<void*>(s->user), data_bytes(s), PROT_READ | PROT_WRITE);
  s->large_alloc.state.store(kObjFree, std::memory_order_relaxed);
  // The shadow keeps saying "freed page" so a dangling pointer into the
  // released range is still reported as use-after-free. A protected block's
  // pages were given back when it was freed; a smaller one's stay resident
  // for the next large block of its size.
  if (large_protected(s->large_size))
    page_allocator().free_span(s);
  else
    page_allocator().free_span_resident(s);
}

void large_free(Span* s, uptr ip) {
  ThreadState* ts = thread_state();
  count_bytes(ts->freed_bytes, (s->npages - 2) * kPageSize);
  s->large_free.free_tid = static_cast<u32>(ts->tid);
  s->large_free.free_stack = options().stacktrace ? save_stack_from(ip) : 0;
  if (large_protected(s->large_size)) {
    // Protected and given back instead of poisoned: its shadow is not
    // written (128 MiB for a 1 GiB block) and its memory is returned now;
    // an access faults, and large_fault() reports it.
    // (Each protected block is a mapping of its own; past vm.max_map_count
    // mprotect fails, and the block is poisoned as a smaller one is.)
    if (mprotect(reinterpret_cast<void*>(s->user), data_bytes(s), PROT_NONE) == 0)
      release_pages(reinterpret_cast<void*>(s->user), data_bytes(s));
    else
      poison(s->user, data_bytes(s), kShadowPageFree);
  } else {
    poison(s->user, data_bytes(s), kShadowPageFree);
  }
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

bool large_fault(uptr addr, bool is_write, uptr ip) {
  if (!page_allocator().contains(addr)) return false;
  ObjectRef ref;
  const ObjWhere w = lookup_object(addr, &ref);
  if ((w != kObjectStart && w != kInsideObject) || ref.cache || !large_protected(ref.span->large_size)) return false;
  const uptr page = addr & ~(kPageSize - 1);
  if (ref.am->state.load(std::memory_order_acquire) != kObjQuarantined || page < ref.span->user ||
      page >= ref.span->user + data_bytes(ref.span))
    return false;
  // This page's shadow says what the report needs (and what later checks
  // of it will see); then the access may complete, as after any report.
  poison(page, kPageSize, kShadowPageFree);
  report_access(addr, 1, is_write, ip);
  mprotect(reinterpret_cast<void*>(page), kPageSize, PROT_READ | PROT_WRITE);
  return true;
}

}  // namespace ukasan
