// C++ operator new/delete, every replaceable form: plain, array, nothrow,
// sized, aligned, aligned+sized, aligned+nothrow.
//
// Failure: the throwing forms loop on std::get_new_handler() and finally
// throw std::bad_alloc. The runtime is built with -fno-exceptions and does
// not depend on libstdc++ (it is preloaded into C programs too), so both are
// reached through weak references to libstdc++'s own std::get_new_handler()
// and std::__throw_bad_alloc(): every program that calls operator new has
// libstdc++ loaded. The exception unwinds through the frames of this file,
// which have unwind tables (x86-64 default), so no per-file flag is needed.
// The nothrow forms return nullptr without calling the new-handler (calling it
// could throw through a noexcept function).
#include <stddef.h>

#include <new>

#include "heap/heap.h"
#include "stackdepot/stackdepot.h"
#include "platform/platform.h"

extern "C" std::new_handler ukasan_cxx_get_new_handler() noexcept __asm__("_ZSt15get_new_handlerv")
    __attribute__((weak));
extern "C" [[noreturn]] void ukasan_cxx_throw_bad_alloc() __asm__("_ZSt17__throw_bad_allocv") __attribute__((weak));

using namespace ukasan;

namespace {

UKASAN_NOINLINE void* new_failed(size_t n, size_t align, u8 kind, uptr ip) {
  for (;;) {
    std::new_handler h = ukasan_cxx_get_new_handler ? ukasan_cxx_get_new_handler() : nullptr;
    if (!h) {
      if (ukasan_cxx_throw_bad_alloc) ukasan_cxx_throw_bad_alloc();
      die("operator new: out of memory (and no libstdc++ to throw std::bad_alloc)");
    }
    h();
    if (void* p = heap_alloc(n, align, kind, false, ip)) return p;
  }
}

UKASAN_ALWAYS_INLINE void* new_impl(size_t n, size_t align, u8 kind, uptr ip) {
  void* p = heap_alloc(n, align, kind, false, ip);
  if (UKASAN_UNLIKELY(!p)) return new_failed(n, align, kind, ip);
  return p;
}

UKASAN_ALWAYS_INLINE size_t al(std::align_val_t a) {
  size_t v = static_cast<size_t>(a);
  return v < 16 ? 16 : v;
}

UKASAN_ALWAYS_INLINE void del(void* p, u8 kind, uptr size, uptr ip) {
  if (p) heap_free(p, kind, size, ip);
}

}  // namespace

#define EXP __attribute__((visibility("default")))

EXP void* operator new(size_t n) { return new_impl(n, 16, kKindNew, UKASAN_ENTRY_IP); }
EXP void* operator new[](size_t n) { return new_impl(n, 16, kKindNewArray, UKASAN_ENTRY_IP); }
EXP void* operator new(size_t n, const std::nothrow_t&) noexcept { return heap_alloc(n, 16, kKindNew, false, UKASAN_ENTRY_IP); }
EXP void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return heap_alloc(n, 16, kKindNewArray, false, UKASAN_ENTRY_IP);
}
EXP void* operator new(size_t n, std::align_val_t a) { return new_impl(n, al(a), kKindNew, UKASAN_ENTRY_IP); }
EXP void* operator new[](size_t n, std::align_val_t a) { return new_impl(n, al(a), kKindNewArray, UKASAN_ENTRY_IP); }
EXP void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return heap_alloc(n, al(a), kKindNew, false, UKASAN_ENTRY_IP);
}
EXP void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return heap_alloc(n, al(a), kKindNewArray, false, UKASAN_ENTRY_IP);
}

EXP void operator delete(void* p) noexcept { del(p, kKindNew, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete[](void* p) noexcept { del(p, kKindNewArray, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete(void* p, const std::nothrow_t&) noexcept { del(p, kKindNew, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete[](void* p, const std::nothrow_t&) noexcept { del(p, kKindNewArray, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete(void* p, size_t n) noexcept { del(p, kKindNew, n, UKASAN_ENTRY_IP); }
EXP void operator delete[](void* p, size_t n) noexcept { del(p, kKindNewArray, n, UKASAN_ENTRY_IP); }
EXP void operator delete(void* p, std::align_val_t) noexcept { del(p, kKindNew, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete[](void* p, std::align_val_t) noexcept { del(p, kKindNewArray, kNoSize, UKASAN_ENTRY_IP); }
EXP void operator delete(void* p, size_t n, std::align_val_t) noexcept { del(p, kKindNew, n, UKASAN_ENTRY_IP); }
EXP void operator delete[](void* p, size_t n, std::align_val_t) noexcept { del(p, kKindNewArray, n, UKASAN_ENTRY_IP); }
EXP void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  del(p, kKindNew, kNoSize, UKASAN_ENTRY_IP);
}
EXP void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  del(p, kKindNewArray, kNoSize, UKASAN_ENTRY_IP);
}
