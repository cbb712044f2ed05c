// Shadow memory, generic-KASAN encoding: one shadow byte per 8-byte granule.
//   0        the whole granule is accessible
//   1..7     only the first N bytes are accessible
//   >= 0x80  inaccessible; the value says why (codes below, the kernel's).
// Mapping: shadow = (addr >> 3) + 0x7fff8000, the standard x86-64 user-space
// offset, so compiler instrumentation (-fsanitize=kernel-address with that
// offset) reads the same shadow. Layout (as ASan's on x86-64):
//   [0, 0x7fff8000)                     low memory
//   [0x7fff8000, 0x8fff7000)            low shadow
//   [0x8fff7000, 0x2008fff7000)         shadow gap (PROT_NONE)
//   [0x2008fff7000, 0x10007fff8000)     high shadow
//   [0x10007fff8000, 0x800000000000)    high memory
// UKASAN_DYNAMIC_SHADOW (the ThreadSanitizer build, whose own shadow occupies
// those addresses) maps shadow for the slab arena only, at a dynamic offset.
#pragma once
#include <string.h>

#include "platform/platform.h"
#include "platform/types.h"

namespace ukasan {

constexpr uptr kShadowScale = 3;
constexpr uptr kGranule = 1u << kShadowScale;

enum ShadowCode : u8 {
  kShadowPageFree = 0xFF,       // KASAN_PAGE_FREE: freed page/large block
  kShadowPageRedzone = 0xFE,    // KASAN_PAGE_REDZONE
  kShadowSlabRedzone = 0xFC,    // KASAN_SLAB_REDZONE
  kShadowSlabFree = 0xFB,       // KASAN_SLAB_FREE
  kShadowSlabFreeTrack = 0xFA,  // KASAN_SLAB_FREETRACK: freed, free metadata valid
  kShadowGlobalRedzone = 0xF9,  // KASAN_GLOBAL_REDZONE
  kShadowStackLeft = 0xF1,
  kShadowStackMid = 0xF2,
  kShadowStackRight = 0xF3,
  kShadowStackAfterReturn = 0xF4,
  kShadowStackUseAfterScope = 0xF8,
  kShadowUserPoison = 0xF7,         // __asan_poison_memory_region (ASan's name: use-after-poison)
  kShadowContainerOverflow = 0xF6,  // __sanitizer_annotate_contiguous_container's unused tail
  kShadowAllocaLeft = 0xCA,
  kShadowAllocaRight = 0xCB,
};

#if UKASAN_DYNAMIC_SHADOW
extern uptr g_shadow_offset, g_shadow_lo, g_shadow_hi;
inline uptr shadow_offset() { return g_shadow_offset; }
#else
constexpr uptr kShadowOffset = 0x7fff8000;
constexpr uptr kLowMemEnd = 0x7fff8000;
constexpr uptr kHighMemBeg = 0x10007fff8000;
constexpr uptr kHighMemEnd = 0x800000000000;
constexpr uptr shadow_offset() { return kShadowOffset; }
#endif

UKASAN_ALWAYS_INLINE u8* mem_to_shadow(uptr addr) {
  return reinterpret_cast<u8*>((addr >> kShadowScale) + shadow_offset());
}

// A freed slab object's shadow (its first granule holds kShadowSlabFreeTrack).
UKASAN_ALWAYS_INLINE bool is_free_marker(u8 v) { return v == kShadowSlabFree || v == kShadowSlabFreeTrack; }

// True if addr has shadow (is application memory).
UKASAN_ALWAYS_INLINE bool addr_has_shadow(uptr addr) {
#if UKASAN_DYNAMIC_SHADOW
  return addr >= g_shadow_lo && addr < g_shadow_hi;
#else
  return addr < kLowMemEnd || (addr >= kHighMemBeg && addr < kHighMemEnd);
#endif
}

// Where an access of [addr, addr+size) (size > 0) lands: the null page,
// memory without shadow (or wrapping around the address space: a wild
// access), or shadowed memory, whose shadow then says whether it is valid.
// The one region check behind kasan_check_*, the instrumentation's checks,
// the libc interceptors and report_access.
enum RangeClass : u8 { kRangeNull, kRangeWild, kRangeShadowed };
UKASAN_ALWAYS_INLINE RangeClass classify_range(uptr addr, uptr size) {
  if (UKASAN_UNLIKELY(addr < kPageSize)) return kRangeNull;
  if (UKASAN_UNLIKELY(addr + size < addr || !addr_has_shadow(addr) || !addr_has_shadow(addr + size - 1)))
    return kRangeWild;
  return kRangeShadowed;
}

// Maps the shadow. Idempotent; dies with a clear message if the fixed ranges
// are taken. In the dynamic build, covers [lo, hi) only.
void shadow_init();
void shadow_init_dynamic(uptr lo, uptr hi);
bool shadow_ready();

// Poison [addr, addr+size) with value; addr granule-aligned, size rounded up.
// Shadow runs are short (an object's is 1/8 of it): plain word stores, not
// a call into memset, which in libukasan.so is the instrumentation layer's
// interceptor (a PLT hop and a caller check per call). The empty asm keeps
// the compiler from turning the loop back into that call.
UKASAN_ALWAYS_INLINE void shadow_fill(u8* s, u8 v, uptr n) {
  if (n >= 256) {
    internal_memset(s, v, n);
    return;
  }
  const u64 w = 0x0101010101010101ull * v;
  uptr i = 0;
  for (; i + 8 <= n; i += 8) {
    __builtin_memcpy(s + i, &w, 8);
    asm volatile("" ::: "memory");
  }
  for (; i < n; i++) {
    s[i] = v;
    asm volatile("" ::: "memory");
  }
}

inline void poison(uptr addr, uptr size, u8 value) {
  shadow_fill(mem_to_shadow(addr), value, round_up(size, kGranule) >> kShadowScale);
}
// An object of size bytes at granule-aligned addr in a region of `total`
// bytes: accessible up to size (exactly), `rest` after it; one pass.
inline void unpoison_within(uptr addr, uptr size, uptr total, u8 rest) {
  u8* s = mem_to_shadow(addr);
  uptr full = size >> kShadowScale;
  shadow_fill(s, 0, full);
  if (size & (kGranule - 1)) s[full++] = static_cast<u8>(size & (kGranule - 1));
  uptr all = round_up(total, kGranule) >> kShadowScale;
  if (all > full) shadow_fill(s + full, rest, all - full);
}
// Unpoison exactly size bytes from granule-aligned addr (partial last granule).
inline void unpoison(uptr addr, uptr size) { unpoison_within(addr, size, size, 0); }

// Makes [lo, hi) accessible (lo rounded down to the granule, hi up). Big
// ranges give their shadow pages back to the kernel instead of writing
// zeros: they read as zero again, cost no memory until poisoned, and a
// 1 GiB block's 128 MiB of shadow is never touched. Ranges without shadow
// are ignored.
void shadow_clear(uptr lo, uptr hi);

// Is the single byte at addr accessible?
UKASAN_ALWAYS_INLINE bool byte_is_poisoned(uptr addr) {
  s8 v = static_cast<s8>(*mem_to_shadow(addr));
  return v != 0 && static_cast<s8>(addr & (kGranule - 1)) >= v;
}

// Returns 0 if [addr, addr+size) is fully accessible, else the first bad
// address. Caller guarantees the range has shadow.
uptr find_first_bad(uptr addr, uptr size);

// Is every byte of [addr, addr+size) (size > 0) accessible? The fast
// question behind every range check; find_first_bad locates the byte only
// once this says no. Caller guarantees the range has shadow.
bool range_accessible_long(uptr addr, uptr size);

#if !UKASAN_DYNAMIC_SHADOW
// [addr, addr + size) for 1 <= size <= 128 in high memory (heap, stacks,
// libraries of a PIE process): whether the range has shadow and is
// accessible, with one bounds compare and at most three shadow loads. The
// n <= 16 shadow bytes before the last are read as one masked word (n <= 8)
// or two overlapping words; reading past them stays inside the shadow of
// high memory (addr + 128 <= kHighMemEnd). Most of libc's calls on behalf
// of a program (sqlite's 20-200 byte memcpy/memcmp, bash's strings) are
// answered here. False: not known good (the caller takes the full path).
UKASAN_ALWAYS_INLINE bool short_high_range_accessible(uptr addr, uptr size) {
  if (UKASAN_UNLIKELY(size - 1 >= 128 || addr - kHighMemBeg >= kHighMemEnd - kHighMemBeg - 128)) return false;
  const uptr last = addr + size - 1;
  const u8* s = mem_to_shadow(addr);
  const u8* e = mem_to_shadow(last);
  const s8 tail = static_cast<s8>(*e);
  if (tail != 0 && static_cast<s8>(last & (kGranule - 1)) >= tail) return false;
  const uptr n = static_cast<uptr>(e - s);
  if (n > 8) return (load_u64(s) | load_u64(e - 8)) == 0;
  return n == 0 || (load_u64(s) & (~0ull >> (64 - 8 * n))) == 0;
}
#endif

// Most intercepted calls are short (sqlite's memcpy/memcmp of keys and
// cells, strings): up to 16 bytes span at most 3 granules, checked inline.
// Every granule but the last must be fully accessible (shadow 0); the last
// must reach the range's last byte. Exact, not a heuristic.
UKASAN_ALWAYS_INLINE bool range_accessible(uptr addr, uptr size) {
  if (UKASAN_UNLIKELY(size > 2 * kGranule)) return range_accessible_long(addr, size);
  const uptr last = addr + size - 1;
  const u8* s = mem_to_shadow(addr);
  const u8* e = mem_to_shadow(last);
  const s8 tail = static_cast<s8>(*e);
  if (tail != 0 && static_cast<s8>(last & (kGranule - 1)) >= tail) return false;
  if (s < e && *s) return false;
  return s + 1 >= e || s[1] == 0;
}

}  // namespace ukasan
