// The exported kernel slab API (<ukasan/slab.h>). Each entry point records
// its caller's address (the kernel's _RET_IP_) for stacks and reports.
#include <stdio.h>
#include <string.h>

#include "ukasan/slab.h"

#include "platform/platform.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"

namespace ukasan {

static void* kmalloc_impl(size_t size, gfp_t flags, uptr ip) {
  runtime_init();
  if (UKASAN_UNLIKELY(size == 0)) return ZERO_SIZE_PTR;
  KmemCache* c = kmalloc_cache_for(size);
  if (UKASAN_LIKELY(c)) return cache_alloc(c, flags, size, ip);
  return large_alloc(size, flags, ip);
}

static void kfree_impl(const void* p, uptr ip) {
  if (ZERO_OR_NULL_PTR(p)) return;
  runtime_init();
  free_checked(p, nullptr, ip);
}

// The live object p starts, for ksize/krealloc/kfree_sensitive (api); false
// after reporting the bad pointer: a freed or interior one as the access of
// its first byte (the kernel's kasan_check_byte), one the allocator never
// returned in the call's own words.
static bool live_object(const void* p, uptr ip, ObjectRef* ref, const char* api, bool frees) {
  const uptr a = reinterpret_cast<uptr>(p);
  const ObjWhere where = lookup_object(a, ref);
  if (where == kObjectStart && object_live(*ref)) return true;
  if (where == kNotOurs)
    report_bad_pointer(a, ip, api, frees, "The pointer was not allocated by ukasan.");
  else
    report_access(a, 1, false, ip);
  return false;
}

}  // namespace ukasan

using namespace ukasan;

UKASAN_EXPORT struct kmem_cache* kmem_cache_create(const char* name, unsigned int size, unsigned int align,
                                                   slab_flags_t flags, void (*ctor)(void*)) {
  runtime_init();
  const char* why = nullptr;
  int err = 0;
  KmemCache* c = cache_create(name, size, align, flags, ctor, false, &why, &err);
  if (UKASAN_UNLIKELY(!c)) {
    // The kernel's pr_warn + dump_stack (mm/slab_common.c), and why.
    char line[256];
    snprintf(line, sizeof(line), "kmem_cache_create(%s) failed with error %d (%s)", name ? name : "(null)", err, why);
    report_warning(line, UKASAN_RET_IP);
    if (flags & SLAB_PANIC) die("kmem_cache_create failed with SLAB_PANIC");
  }
  return reinterpret_cast<struct kmem_cache*>(c);
}

UKASAN_EXPORT void kmem_cache_destroy(struct kmem_cache* s) {
  runtime_init();
  cache_destroy(reinterpret_cast<KmemCache*>(s), UKASAN_RET_IP);
}

UKASAN_EXPORT void* kmem_cache_alloc(struct kmem_cache* s, gfp_t flags) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  const uptr ip = UKASAN_RET_IP;
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_alloc", ip))) return nullptr;
  return cache_alloc(c, flags, c->object_size, ip);
}

UKASAN_EXPORT void* kmem_cache_zalloc(struct kmem_cache* s, gfp_t flags) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  const uptr ip = UKASAN_RET_IP;
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_zalloc", ip))) return nullptr;
  return cache_alloc(c, flags | __GFP_ZERO, c->object_size, ip);
}

UKASAN_EXPORT void kmem_cache_free(struct kmem_cache* s, void* p) {
  if (!p) return;
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  const uptr ip = UKASAN_RET_IP;
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_free", ip))) return;
  free_checked(p, c, ip);
}

UKASAN_EXPORT int kmem_cache_alloc_bulk(struct kmem_cache* s, gfp_t flags, size_t size, void** p) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  uptr ip = UKASAN_RET_IP;
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_alloc_bulk", ip))) return 0;
  for (size_t i = 0; i < size; i++) {
    p[i] = cache_alloc(c, flags, c->object_size, ip);
    if (!p[i]) {
      for (size_t j = 0; j < i; j++) free_checked(p[j], c, ip);
      return 0;
    }
  }
  return static_cast<int>(size);
}

UKASAN_EXPORT void kmem_cache_free_bulk(struct kmem_cache* s, size_t size, void** p) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  uptr ip = UKASAN_RET_IP;
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_free_bulk", ip))) return;
  for (size_t i = 0; i < size; i++)
    if (p[i]) free_checked(p[i], c, ip);
}

UKASAN_EXPORT int kmem_cache_shrink(struct kmem_cache* s) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  if (!cache_usable(c, "kmem_cache_shrink", UKASAN_RET_IP)) return 0;
  return cache_shrink(c);
}

UKASAN_EXPORT unsigned int kmem_cache_size(struct kmem_cache* s) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  return cache_usable(c, "kmem_cache_size", UKASAN_RET_IP) ? c->object_size : 0;
}

UKASAN_EXPORT const char* kmem_cache_name(struct kmem_cache* s) {
  runtime_init();
  KmemCache* c = reinterpret_cast<KmemCache*>(s);
  return cache_usable(c, "kmem_cache_name", UKASAN_RET_IP) ? c->name : nullptr;
}

UKASAN_EXPORT void* kmalloc(size_t size, gfp_t flags) { return kmalloc_impl(size, flags, UKASAN_RET_IP); }

UKASAN_EXPORT void* kzalloc(size_t size, gfp_t flags) { return kmalloc_impl(size, flags | __GFP_ZERO, UKASAN_RET_IP); }

UKASAN_EXPORT void* kmalloc_array(size_t n, size_t size, gfp_t flags) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  return kmalloc_impl(bytes, flags, UKASAN_RET_IP);
}

UKASAN_EXPORT void* kcalloc(size_t n, size_t size, gfp_t flags) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  return kmalloc_impl(bytes, flags | __GFP_ZERO, UKASAN_RET_IP);
}

UKASAN_EXPORT void kfree(const void* p) { kfree_impl(p, UKASAN_RET_IP); }

UKASAN_EXPORT size_t ksize(const void* p) {
  if (ZERO_OR_NULL_PTR(p)) return 0;
  runtime_init();
  ObjectRef r;
  return live_object(p, UKASAN_RET_IP, &r, "ksize()", false) ? object_usable(r) : 0;
}

UKASAN_EXPORT void kfree_sensitive(const void* p) {
  if (ZERO_OR_NULL_PTR(p)) return;
  runtime_init();
  const uptr ip = UKASAN_RET_IP;
  ObjectRef r;
  if (!live_object(p, ip, &r, "kfree_sensitive()", true)) return;
  internal_memset(const_cast<void*>(p), 0, object_usable(r));  // the slack too: poisoned, so not via memset()
  kfree_impl(p, ip);
}

UKASAN_EXPORT void* krealloc(const void* p, size_t new_size, gfp_t flags) {
  const uptr ip = UKASAN_RET_IP;
  if (ZERO_OR_NULL_PTR(p)) return kmalloc_impl(new_size, flags, ip);
  if (new_size == 0) {
    kfree_impl(p, ip);
    return ZERO_SIZE_PTR;
  }
  runtime_init();
  ObjectRef r;
  if (!live_object(p, ip, &r, "krealloc()", true)) return nullptr;
  const uptr a = reinterpret_cast<uptr>(p), usable = object_usable(r), req = object_requested(r);
  if (new_size <= usable) {
    // In place: the new tail becomes accessible, a shrunk tail becomes redzone.
    if (r.cache) {
      poison(a, r.cache->obj_bytes, kShadowSlabRedzone);
      r.am->requested = static_cast<u32>(new_size);
    } else {
      poison(a, usable, kShadowPageRedzone);
      r.span->large_size = new_size;
    }
    unpoison(a, new_size);
    if ((flags & __GFP_ZERO) && new_size > req) memset(reinterpret_cast<char*>(a) + req, 0, new_size - req);
    return const_cast<void*>(p);
  }
  void* n = kmalloc_impl(new_size, flags, ip);
  if (!n) return nullptr;  // the old block stays valid, as in the kernel
  memcpy(n, p, req);
  kfree_impl(p, ip);
  return n;
}
