// The exported kernel slab API: the kernel's names (<ukasan/slab.h>) and the
// same entry points under ukasan_ names (<ukasan/kslab.h>), for programs that
// define the kernel's names themselves. Each export is a thin wrapper that
// takes its caller's address (the kernel's _RET_IP_) for stacks and reports
// and calls the one implementation below; the implementations, and the rest
// of the runtime, never call an exported (interposable) name.
#include <stdio.h>
#include <string.h>

#include "ukasan/kslab.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

#include "platform/platform.h"
#include "platform/print.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"

namespace ukasan {

static_assert(UKASAN_SLAB_HWCACHE_ALIGN == SLAB_HWCACHE_ALIGN && UKASAN_SLAB_PANIC == SLAB_PANIC &&
              UKASAN_SLAB_TYPESAFE_BY_RCU == SLAB_TYPESAFE_BY_RCU && UKASAN_SLAB_ACCOUNT == SLAB_ACCOUNT);
static_assert((UKASAN_SLAB_CONSISTENCY_CHECKS | UKASAN_SLAB_RED_ZONE | UKASAN_SLAB_POISON | UKASAN_SLAB_KMALLOC |
               UKASAN_SLAB_HWCACHE_ALIGN | UKASAN_SLAB_CACHE_DMA | UKASAN_SLAB_CACHE_DMA32 | UKASAN_SLAB_STORE_USER |
               UKASAN_SLAB_RECLAIM_ACCOUNT | UKASAN_SLAB_PANIC | UKASAN_SLAB_TYPESAFE_BY_RCU | UKASAN_SLAB_MEM_SPREAD |
               UKASAN_SLAB_TRACE | UKASAN_SLAB_DEBUG_OBJECTS | UKASAN_SLAB_NOLEAKTRACE | UKASAN_SLAB_FAILSLAB |
               UKASAN_SLAB_ACCOUNT | UKASAN_SLAB_KASAN | UKASAN_SLAB_NO_USER_FLAGS | UKASAN_SLAB_SKIP_KFENCE) ==
              UKASAN_SLAB_KNOWN_FLAGS);

// The kernel-named calls' gfp_t, as the ukasan_ calls' flags (bits 0-31 the caller's).
static ukasan_gfp_t from_gfp(gfp_t f) { return f | ((f & __GFP_ZERO) ? UKASAN_GFP_ZERO : 0); }
// What the slab layer acts on.
static gfp_t to_gfp(ukasan_gfp_t f) { return (f & UKASAN_GFP_ZERO) ? __GFP_ZERO : 0; }

static KmemCache* cache_of(void* s) { return reinterpret_cast<KmemCache*>(s); }

static void* kmalloc_impl(size_t size, ukasan_gfp_t flags, uptr ip) {
  runtime_init();
  if (UKASAN_UNLIKELY(size == 0)) return ZERO_SIZE_PTR;
  KmemCache* c = kmalloc_cache_for(size);
  if (UKASAN_LIKELY(c)) return cache_alloc(c, to_gfp(flags), size, ip);
  return large_alloc(size, to_gfp(flags), ip);
}

static void* kmalloc_array_impl(size_t n, size_t size, ukasan_gfp_t flags, uptr ip) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  return kmalloc_impl(bytes, flags, ip);
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

static KmemCache* create_impl(const char* name, unsigned int size, unsigned int align, unsigned int flags,
                              void (*ctor)(void*), uptr ip) {
  runtime_init();
  const char* why = nullptr;
  int err = 0;
  KmemCache* c = cache_create(name, size, align, flags, ctor, false, &why, &err);
  char line[256];
  if (UKASAN_UNLIKELY(!c)) {
    // The kernel's pr_warn + dump_stack (mm/slab_common.c), and why.
    snprintf(line, sizeof(line), "kmem_cache_create(%s) failed with error %d (%s)", name ? name : "(null)", err, why);
    report_warning(line, ip);
    if (flags & SLAB_PANIC) die("kmem_cache_create failed with SLAB_PANIC");
  } else if (UKASAN_UNLIKELY(flags & ~UKASAN_SLAB_KNOWN_FLAGS)) {
    snprintf(line, sizeof(line), "ukasan: kmem_cache_create(%s): unknown flags %#x ignored (known: %#x)\n", name,
             flags & ~UKASAN_SLAB_KNOWN_FLAGS, UKASAN_SLAB_KNOWN_FLAGS);
    raw_puts(report_fd(), line);
  }
  return c;
}

// One object of c for kmem_cache_alloc & co. (api: the call, for reports):
// the cache checked, then its alloc hook asked.
static void* cache_alloc_impl(KmemCache* c, ukasan_gfp_t flags, uptr ip, const char* api) {
  runtime_init();
  if (UKASAN_UNLIKELY(!cache_usable(c, api, ip))) return nullptr;
  if (c->alloc_hook && !c->alloc_hook(reinterpret_cast<ukasan_kmem_cache*>(c), flags, c->alloc_hook_arg))
    return nullptr;
  return cache_alloc(c, to_gfp(flags), c->object_size, ip);
}

static void cache_free_impl(KmemCache* c, void* p, uptr ip) {
  if (!p) return;
  runtime_init();
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_free", ip))) return;
  free_checked(p, c, ip);
}

static int alloc_bulk_impl(KmemCache* c, ukasan_gfp_t flags, size_t size, void** p, uptr ip) {
  runtime_init();
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_alloc_bulk", ip))) return 0;
  for (size_t i = 0; i < size; i++) {
    const bool vetoed = c->alloc_hook && !c->alloc_hook(reinterpret_cast<ukasan_kmem_cache*>(c), flags, c->alloc_hook_arg);
    p[i] = vetoed ? nullptr : cache_alloc(c, to_gfp(flags), c->object_size, ip);
    if (!p[i]) {
      for (size_t j = 0; j < i; j++) free_checked(p[j], c, ip);
      return 0;
    }
  }
  return static_cast<int>(size);
}

static void free_bulk_impl(KmemCache* c, size_t size, void** p, uptr ip) {
  runtime_init();
  if (UKASAN_UNLIKELY(!cache_usable(c, "kmem_cache_free_bulk", ip))) return;
  for (size_t i = 0; i < size; i++)
    if (p[i]) free_checked(p[i], c, ip);
}

static int shrink_impl(KmemCache* c, uptr ip) {
  runtime_init();
  return cache_usable(c, "kmem_cache_shrink", ip) ? cache_shrink(c) : 0;
}

static unsigned int size_impl(KmemCache* c, uptr ip) {
  runtime_init();
  return cache_usable(c, "kmem_cache_size", ip) ? c->object_size : 0;
}

static const char* name_impl(KmemCache* c, uptr ip) {
  runtime_init();
  return cache_usable(c, "kmem_cache_name", ip) ? c->name : nullptr;
}

static size_t ksize_impl(const void* p, uptr ip) {
  if (ZERO_OR_NULL_PTR(p)) return 0;
  runtime_init();
  ObjectRef r;
  return live_object(p, ip, &r, "ksize()", false) ? object_usable(r) : 0;
}

static void kfree_sensitive_impl(const void* p, uptr ip) {
  if (ZERO_OR_NULL_PTR(p)) return;
  runtime_init();
  ObjectRef r;
  if (!live_object(p, ip, &r, "kfree_sensitive()", true)) return;
  internal_memset(const_cast<void*>(p), 0, object_usable(r));  // the slack too: poisoned, so not via memset()
  kfree_impl(p, ip);
}

static void* krealloc_impl(const void* p, size_t new_size, ukasan_gfp_t flags, uptr ip) {
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
    if ((flags & UKASAN_GFP_ZERO) && new_size > req) memset(reinterpret_cast<char*>(a) + req, 0, new_size - req);
    return const_cast<void*>(p);
  }
  void* n = kmalloc_impl(new_size, flags, ip);
  if (!n) return nullptr;  // the old block stays valid, as in the kernel
  memcpy(n, p, req);
  kfree_impl(p, ip);
  return n;
}

static void record_aux_impl(void* p, uptr ip) {
  runtime_init();
  aux_stack_record(reinterpret_cast<uptr>(p), ip);
}

}  // namespace ukasan

using namespace ukasan;

// ---- the kernel's names (<ukasan/slab.h>) ----------------------------------------

UKASAN_EXPORT struct kmem_cache* kmem_cache_create(const char* name, unsigned int size, unsigned int align,
                                                   slab_flags_t flags, void (*ctor)(void*)) {
  return reinterpret_cast<struct kmem_cache*>(create_impl(name, size, align, flags, ctor, UKASAN_RET_IP));
}
UKASAN_EXPORT void kmem_cache_destroy(struct kmem_cache* s) {
  runtime_init();
  cache_destroy(cache_of(s), UKASAN_RET_IP);
}
UKASAN_EXPORT void* kmem_cache_alloc(struct kmem_cache* s, gfp_t flags) {
  return cache_alloc_impl(cache_of(s), from_gfp(flags), UKASAN_RET_IP, "kmem_cache_alloc");
}
UKASAN_EXPORT void* kmem_cache_alloc_lru(struct kmem_cache* s, struct list_lru* /*lru*/, gfp_t flags) {
  return cache_alloc_impl(cache_of(s), from_gfp(flags), UKASAN_RET_IP, "kmem_cache_alloc_lru");
}
UKASAN_EXPORT void* kmem_cache_zalloc(struct kmem_cache* s, gfp_t flags) {
  return cache_alloc_impl(cache_of(s), from_gfp(flags | __GFP_ZERO), UKASAN_RET_IP, "kmem_cache_zalloc");
}
UKASAN_EXPORT void kmem_cache_free(struct kmem_cache* s, void* p) { cache_free_impl(cache_of(s), p, UKASAN_RET_IP); }
UKASAN_EXPORT int kmem_cache_alloc_bulk(struct kmem_cache* s, gfp_t flags, size_t size, void** p) {
  return alloc_bulk_impl(cache_of(s), from_gfp(flags), size, p, UKASAN_RET_IP);
}
UKASAN_EXPORT void kmem_cache_free_bulk(struct kmem_cache* s, size_t size, void** p) {
  free_bulk_impl(cache_of(s), size, p, UKASAN_RET_IP);
}
UKASAN_EXPORT int kmem_cache_shrink(struct kmem_cache* s) { return shrink_impl(cache_of(s), UKASAN_RET_IP); }
UKASAN_EXPORT unsigned int kmem_cache_size(struct kmem_cache* s) { return size_impl(cache_of(s), UKASAN_RET_IP); }
UKASAN_EXPORT const char* kmem_cache_name(struct kmem_cache* s) { return name_impl(cache_of(s), UKASAN_RET_IP); }

UKASAN_EXPORT void* kmalloc(size_t size, gfp_t flags) { return kmalloc_impl(size, from_gfp(flags), UKASAN_RET_IP); }
UKASAN_EXPORT void* kzalloc(size_t size, gfp_t flags) {
  return kmalloc_impl(size, from_gfp(flags | __GFP_ZERO), UKASAN_RET_IP);
}
UKASAN_EXPORT void* kmalloc_array(size_t n, size_t size, gfp_t flags) {
  return kmalloc_array_impl(n, size, from_gfp(flags), UKASAN_RET_IP);
}
UKASAN_EXPORT void* kcalloc(size_t n, size_t size, gfp_t flags) {
  return kmalloc_array_impl(n, size, from_gfp(flags | __GFP_ZERO), UKASAN_RET_IP);
}
UKASAN_EXPORT void kfree(const void* p) { kfree_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT size_t ksize(const void* p) { return ksize_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void kfree_sensitive(const void* p) { kfree_sensitive_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void* krealloc(const void* p, size_t new_size, gfp_t flags) {
  return krealloc_impl(p, new_size, from_gfp(flags), UKASAN_RET_IP);
}
UKASAN_EXPORT void kasan_record_aux_stack(void* p) { record_aux_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void kasan_record_aux_stack_noalloc(void* p) { record_aux_impl(p, UKASAN_RET_IP); }

// ---- the same under ukasan_ names (<ukasan/kslab.h>) ------------------------------

UKASAN_EXPORT struct ukasan_kmem_cache* ukasan_kmem_cache_create(const char* name, unsigned int size,
                                                                 unsigned int align, unsigned int flags,
                                                                 void (*ctor)(void*)) {
  return reinterpret_cast<struct ukasan_kmem_cache*>(create_impl(name, size, align, flags, ctor, UKASAN_RET_IP));
}
UKASAN_EXPORT void ukasan_kmem_cache_destroy(struct ukasan_kmem_cache* s) {
  runtime_init();
  cache_destroy(cache_of(s), UKASAN_RET_IP);
}
UKASAN_EXPORT void* ukasan_kmem_cache_alloc(struct ukasan_kmem_cache* s, ukasan_gfp_t flags) {
  return cache_alloc_impl(cache_of(s), flags, UKASAN_RET_IP, "kmem_cache_alloc");
}
UKASAN_EXPORT void* ukasan_kmem_cache_alloc_lru(struct ukasan_kmem_cache* s, void* /*lru*/, ukasan_gfp_t flags) {
  return cache_alloc_impl(cache_of(s), flags, UKASAN_RET_IP, "kmem_cache_alloc_lru");
}
UKASAN_EXPORT void* ukasan_kmem_cache_zalloc(struct ukasan_kmem_cache* s, ukasan_gfp_t flags) {
  return cache_alloc_impl(cache_of(s), flags | UKASAN_GFP_ZERO, UKASAN_RET_IP, "kmem_cache_zalloc");
}
UKASAN_EXPORT void ukasan_kmem_cache_free(struct ukasan_kmem_cache* s, void* p) {
  cache_free_impl(cache_of(s), p, UKASAN_RET_IP);
}
UKASAN_EXPORT int ukasan_kmem_cache_alloc_bulk(struct ukasan_kmem_cache* s, ukasan_gfp_t flags, size_t size,
                                               void** p) {
  return alloc_bulk_impl(cache_of(s), flags, size, p, UKASAN_RET_IP);
}
UKASAN_EXPORT void ukasan_kmem_cache_free_bulk(struct ukasan_kmem_cache* s, size_t size, void** p) {
  free_bulk_impl(cache_of(s), size, p, UKASAN_RET_IP);
}
UKASAN_EXPORT int ukasan_kmem_cache_shrink(struct ukasan_kmem_cache* s) { return shrink_impl(cache_of(s), UKASAN_RET_IP); }
UKASAN_EXPORT unsigned int ukasan_kmem_cache_size(struct ukasan_kmem_cache* s) {
  return size_impl(cache_of(s), UKASAN_RET_IP);
}
UKASAN_EXPORT const char* ukasan_kmem_cache_name(struct ukasan_kmem_cache* s) {
  return name_impl(cache_of(s), UKASAN_RET_IP);
}

UKASAN_EXPORT void* ukasan_kmalloc(size_t size, ukasan_gfp_t flags) { return kmalloc_impl(size, flags, UKASAN_RET_IP); }
UKASAN_EXPORT void* ukasan_kzalloc(size_t size, ukasan_gfp_t flags) {
  return kmalloc_impl(size, flags | UKASAN_GFP_ZERO, UKASAN_RET_IP);
}
UKASAN_EXPORT void* ukasan_kmalloc_array(size_t n, size_t size, ukasan_gfp_t flags) {
  return kmalloc_array_impl(n, size, flags, UKASAN_RET_IP);
}
UKASAN_EXPORT void* ukasan_kcalloc(size_t n, size_t size, ukasan_gfp_t flags) {
  return kmalloc_array_impl(n, size, flags | UKASAN_GFP_ZERO, UKASAN_RET_IP);
}
UKASAN_EXPORT void ukasan_kfree(const void* p) { kfree_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT size_t ukasan_ksize(const void* p) { return ksize_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void ukasan_kfree_sensitive(const void* p) { kfree_sensitive_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void* ukasan_krealloc(const void* p, size_t new_size, ukasan_gfp_t flags) {
  return krealloc_impl(p, new_size, flags, UKASAN_RET_IP);
}
UKASAN_EXPORT void ukasan_record_aux_stack(void* p) { record_aux_impl(p, UKASAN_RET_IP); }
UKASAN_EXPORT void ukasan_record_aux_stack_noalloc(void* p) { record_aux_impl(p, UKASAN_RET_IP); }

// ---- what harnesses need besides ------------------------------------------------

UKASAN_EXPORT int ukasan_kmem_cache_set_alloc_hook(struct ukasan_kmem_cache* s, ukasan_alloc_hook_t hook, void* arg) {
  runtime_init();
  KmemCache* c = cache_of(s);
  if (!cache_usable(c, "ukasan_kmem_cache_set_alloc_hook", UKASAN_RET_IP)) return -1;
  c->alloc_hook_arg = arg;
  c->alloc_hook = hook;
  return 0;
}

UKASAN_EXPORT int ukasan_cache_stats(struct ukasan_kmem_cache* s, struct ukasan_cache_stats* out) {
  runtime_init();
  memset(out, 0, sizeof(*out));
  KmemCache* c = cache_of(s);
  if (!cache_usable(c, "ukasan_cache_stats", UKASAN_RET_IP)) return -1;
  cache_stats(c, out);
  return 0;
}
