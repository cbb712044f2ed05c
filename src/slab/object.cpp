// Which object a pointer belongs to: the one lookup behind kfree,
// kmem_cache_free, ksize/krealloc, the heap's free/realloc and the reports'
// object descriptions; and the validation of a free.
#include "shadow/shadow.h"
#include "slab/internal.h"

namespace ukasan {

static bool invalid_free(uptr p, uptr ip, const char* why) {
  report_free_error(p, ip, FreeError::kInvalidFree, why);
  return false;
}

void free_state_error(uptr p, const ObjectRef& ref, u8 st, uptr ip) {
  if (ref.cache && !slab_slot_carved(ref.span, ref.obj))
    invalid_free(p, ip, "no object was ever allocated there");
  else if (st == kObjQuarantined || st == kObjFree)
    report_free_error(p, ip, FreeError::kDoubleFree, nullptr);
  else
    invalid_free(p, ip, "the object's metadata is corrupted");
}

bool free_check_slow(uptr p, ObjWhere where, const ObjectRef& ref, KmemCache* expected, uptr ip) {
  switch (where) {
    case kNotOurs:
      return invalid_free(p, ip, "the pointer was not allocated by ukasan");
    case kFreedPages: {
      const bool freed = *mem_to_shadow(p) == kShadowPageFree;
      report_free_error(p, ip, freed ? FreeError::kDoubleFree : FreeError::kInvalidFree,
                        freed ? nullptr : "the pointer was not allocated by ukasan");
      return false;
    }
    case kInsideObject:
      return invalid_free(p, ip, ref.cache ? "the pointer is not at the start of an object"
                                           : "the pointer is not at the start of the block");
    case kObjectStart:
      break;
  }
  if (ref.cache) {
    if (expected && expected != ref.cache) return invalid_free(p, ip, "the object belongs to another cache");
    if (ref.cache->state.load(std::memory_order_relaxed) != kCacheActive)
      return invalid_free(p, ip, "the object's cache was destroyed");
  } else if (expected) {
    return invalid_free(p, ip, "a kmalloc block freed with kmem_cache_free");
  }
  return claim_for_free(p, ref, ip);
}

void free_object(const ObjectRef& ref, uptr ip) {
  if (ref.cache)
    cache_free(ref.cache, reinterpret_cast<void*>(ref.obj), ip);
  else
    large_free(ref.span, ip);
}

void free_checked(const void* ptr, KmemCache* expected, uptr ip) {
  const uptr p = reinterpret_cast<uptr>(ptr);
  ObjectRef ref;
  const ObjWhere where = lookup_object(p, &ref);
  if (free_check(p, where, ref, expected, ip)) free_object(ref, ip);
}

UKASAN_TLS u32 t_leak_disabled;
uptr g_loader_lo, g_loader_size;

void scan_arena(uptr* lo, uptr* hi) {
  PageAllocator& pa = page_allocator();
  *lo = pa.base();
  *hi = pa.base() + pa.pages_used() * kPageSize;
}

// How far ahead of the slot being looked at the walk of freed objects
// loads (their metadata and pattern are read whole; the hardware prefetcher
// stops at page boundaries). 4 M quarantined objects of 16-48 bytes checked
// in 71 -> 43 ms; 1 KiB ahead 46 ms, 4 KiB 43-49 ms. The walk for live
// objects reads a freed slot's shadow byte only, so it does not prefetch.
static constexpr uptr kScanAhead = 2048;

// Walks the page map span by span (slabs and large blocks alike); a span
// being set up or torn down by a stopped thread shows as free pages or
// objects that are not allocated.
void scan_for_each_object(ScanObjectFn fn, void* arg, bool freed) {
  const u8 want = freed ? kObjQuarantined : kObjAllocated;
  PageAllocator& pa = page_allocator();
  const uptr base = pa.base(), pages = pa.pages_used();
  for (uptr pg = 0; pg < pages;) {
    const uptr at = base + pg * kPageSize;
    Span* s = pa.span_of(at);
    if (!s || s->start != at || s->npages == 0) {
      pg++;
      continue;
    }
    if (s->kind == kSpanSlab && s->cache) {
      KmemCache* c = s->cache;
      // Freed objects of 16 bytes hold their free metadata (quarantine link,
      // free track) in all of them: nothing is left to check. Most of the
      // objects bash.sh has in its quarantine at exit are there.
      if (freed && c->free_meta_off == 0 && c->obj_bytes <= sizeof(FreeMeta)) {
        pg += s->npages;
        continue;
      }
      uptr obj = s->start + c->lead;
      const u32 carved = slab_carved(s);  // the slots after it have no metadata
      for (u32 i = 0; i < carved; i++, obj += c->slot_size) {
        if (freed) __builtin_prefetch(reinterpret_cast<void*>(obj + kScanAhead));
        // Freed slots (quarantined, or back in a magazine or on a freelist
        // after it) are most of a program's heap at exit: their first
        // granule's shadow says so in one byte, 1/8 of the memory their
        // metadata lines would cost. Sound because an allocated object's
        // first granule never holds a free marker: cache_alloc unpoisons it
        // before its release store of kObjAllocated, a free writes the
        // markers only after its CAS has moved the state away from
        // kObjAllocated, and no API lets a program write these two values.
        if (!freed && is_free_marker(*mem_to_shadow(obj))) continue;
        AllocMeta* am = alloc_meta(c, obj);
        if (am->state.load(std::memory_order_acquire) == want && am->check == meta_check(obj))
          fn(ObjectRef{s, c, obj, am, nullptr}, am->requested, arg);
      }
    } else if (s->kind == kSpanLarge && s->user) {
      AllocMeta* am = &s->large_alloc;
      if (am->state.load(std::memory_order_acquire) == want && am->check == meta_check(s->user))
        fn(ObjectRef{s, nullptr, s->user, am, nullptr}, s->large_size, arg);
    }
    pg += s->npages;
  }
}

void describe_object(uptr addr, uptr obj_hint, ObjectInfo* out) {
  ObjectRef r;
  const ObjWhere where = lookup_object(addr, &r);
  out->in_heap = where != kNotOurs;
  if (where != kInsideObject && where != kObjectStart) return;
  if (r.cache && obj_hint) {
    r.obj = obj_hint;
    r.am = alloc_meta(r.cache, obj_hint);
    r.fm = free_meta(r.cache, obj_hint);
  }
  out->found = true;
  out->obj = r.obj;
  out->large = !r.cache;
  out->cache_name = r.cache ? r.cache->name : "kmalloc-large";
  out->cache_size = r.cache ? r.cache->object_size : 0;
  out->slab_start = r.span->start;
  out->slab_objects = r.cache ? r.span->nobjs : 1;
  if (r.cache && !slab_slot_carved(r.span, r.obj)) {  // never handed out: a free slot without metadata
    out->region = r.cache->object_size;
    return;
  }
  if (r.am->check != meta_check(r.obj)) {
    out->meta_corrupt = true;
    return;
  }
  const u8 st = r.am->state.load(std::memory_order_acquire);
  out->allocated = st == kObjAllocated;
  out->freed = st == kObjQuarantined || (st == kObjFree && r.fm->free_tid != 0);
  out->region = !r.cache ? r.span->large_size : out->allocated ? r.am->requested : r.cache->object_size;
  out->alloc_tid = r.am->alloc_tid;
  out->alloc_stack = r.am->alloc_stack;
  out->free_tid = r.fm->free_tid;
  out->free_stack = r.fm->free_stack;
  if (r.cache) aux_stack_get(r.obj, out->aux_stack);
}

}  // namespace ukasan
