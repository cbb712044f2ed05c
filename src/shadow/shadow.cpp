#include "shadow/shadow.h"

#include <errno.h>
#include <stdio.h>

#include <atomic>

#include "platform/platform.h"

namespace ukasan {

static std::atomic<bool> g_shadow_ready{false};

bool shadow_ready() { return g_shadow_ready.load(std::memory_order_acquire); }

#if UKASAN_DYNAMIC_SHADOW
uptr g_shadow_offset, g_shadow_lo, g_shadow_hi;

void shadow_init() {}

void shadow_init_dynamic(uptr lo, uptr hi) {
  uptr size = round_up((hi - lo) >> kShadowScale, kPageSize);
  void* s = map_anon(size, /*noreserve=*/true);
  if (!s) die("cannot map the shadow memory");
  g_shadow_lo = lo;
  g_shadow_hi = hi;
  g_shadow_offset = reinterpret_cast<uptr>(s) - (lo >> kShadowScale);
  g_shadow_ready.store(true, std::memory_order_release);
}
#else
void shadow_init_dynamic(uptr, uptr) {}

// The shadow is address space reserved, not memory: 16 TiB of it. Under an
// address-space limit (ulimit -v, prlimit --as) it cannot be reserved;
// otherwise the range is taken by another mapping (another sanitizer).
[[noreturn]] static void shadow_map_failed(const char* what, uptr need) {
  const int err = errno;
  char msg[400];
  if (const u64 limit = address_space_limit())
    snprintf(msg, sizeof(msg),
             "cannot reserve the %s: the address-space limit (RLIMIT_AS, ulimit -v) is %llu MiB, and ukasan "
             "reserves %llu GiB of address space for its shadow (reserved, not used); run with ulimit -v unlimited",
             what, static_cast<unsigned long long>(limit >> 20), static_cast<unsigned long long>(need >> 30));
  else if (err == EEXIST)
    snprintf(msg, sizeof(msg), "cannot map the %s: the address range is taken (is another sanitizer loaded?)", what);
  else
    snprintf(msg, sizeof(msg), "cannot map the %s (mmap failed with errno %d)", what, err);
  die(msg);
}

void shadow_init() {
  if (shadow_ready()) return;
  static std::atomic<bool> once{false};
  if (once.exchange(true)) {
    while (!shadow_ready()) {
    }
    return;
  }
  const uptr low_shadow_beg = kShadowOffset;
  const uptr low_shadow_end = (kLowMemEnd >> kShadowScale) + kShadowOffset;  // 0x8fff7000
  const uptr high_shadow_beg = (kHighMemBeg >> kShadowScale) + kShadowOffset;
  const uptr high_shadow_end = (kHighMemEnd >> kShadowScale) + kShadowOffset;
  if (!map_fixed_noreplace(low_shadow_beg, low_shadow_end - low_shadow_beg, true))
    shadow_map_failed("low shadow at 0x7fff8000", low_shadow_end - low_shadow_beg + high_shadow_end - high_shadow_beg);
  if (!map_fixed_noreplace(high_shadow_beg, high_shadow_end - high_shadow_beg, true))
    shadow_map_failed("high shadow at 0x2008fff7000", high_shadow_end - high_shadow_beg);
  // The gap between the shadows is protected so a stray shadow access of a
  // shadow address faults instead of silently reading zeros.
  map_fixed_noreplace(low_shadow_end, high_shadow_beg - low_shadow_end, false);
  g_shadow_ready.store(true, std::memory_order_release);
}
#endif

void shadow_clear(uptr lo, uptr hi) {
  lo = round_down(lo, kGranule);
  if (hi <= lo || !addr_has_shadow(lo) || !addr_has_shadow(hi - 1)) return;
  uptr s = reinterpret_cast<uptr>(mem_to_shadow(lo));
  uptr e = reinterpret_cast<uptr>(mem_to_shadow(round_up(hi, kGranule)));
  if (e - s < 4 * kPageSize) {
    shadow_fill(reinterpret_cast<u8*>(s), 0, e - s);
    return;
  }
  uptr ps = round_up(s, kPageSize), pe = round_down(e, kPageSize);
  shadow_fill(reinterpret_cast<u8*>(s), 0, ps - s);
  release_pages(reinterpret_cast<void*>(ps), pe - ps);  // anonymous: reads back as zeros
  shadow_fill(reinterpret_cast<u8*>(pe), 0, e - pe);
}

uptr find_first_bad(uptr addr, uptr size) {
  uptr end = addr + size;
  // Fast scan of whole shadow bytes, then the exact byte.
  uptr a = addr;
  while (a < end) {
    u8 v = *mem_to_shadow(a);
    if (v == 0) {
      a = round_down(a, kGranule) + kGranule;
      continue;
    }
    if (byte_is_poisoned(a)) return a;
    a++;
  }
  return 0;
}

// Every granule but the last must have shadow 0 (a nonzero one leaves at
// least its last byte, which the range covers, inaccessible); the last
// granule may be partial, and the range's last byte must fall inside its
// accessible part. The n shadow bytes before the last are read as
// overlapping words, never past them and without a byte loop at either end
// (the head and tail loops were most of this function's time under sqlite's
// 20-200 byte memcpy/memcmp calls).
bool range_accessible_long(uptr addr, uptr size) {
  const uptr last = addr + size - 1;
  const u8* e = mem_to_shadow(last);
  const s8 tail = static_cast<s8>(*e);
  if (tail != 0 && static_cast<s8>(last & (kGranule - 1)) >= tail) return false;
  const u8* s = mem_to_shadow(addr);
  const uptr n = static_cast<uptr>(e - s);
  if (n >= 8) {
    for (const u8* p = s; p + 8 <= e; p += 8)
      if (load_u64(p)) return false;
    return load_u64(e - 8) == 0;
  }
  if (n >= 4) return (load_u32(s) | load_u32(e - 4)) == 0;
  if (n >= 2) return (load_u16(s) | load_u16(e - 2)) == 0;
  return n == 0 || *s == 0;
}

}  // namespace ukasan
