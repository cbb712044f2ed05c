#include "shadow/shadow.h"

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
    die("cannot map the low shadow at 0x7fff8000 (address range taken: is another sanitizer loaded?)");
  if (!map_fixed_noreplace(high_shadow_beg, high_shadow_end - high_shadow_beg, true))
    die("cannot map the high shadow at 0x2008fff7000 (address range taken: is another sanitizer loaded?)");
  // The gap between the shadows is protected so a stray shadow access of a
  // shadow address faults instead of silently reading zeros.
  map_fixed_noreplace(low_shadow_end, high_shadow_beg - low_shadow_end, false);
  g_shadow_ready.store(true, std::memory_order_release);
}
#endif

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
// accessible part. Word at a time: strings and odd-sized objects end in a
// partial granule, which used to send every such check (each intercepted
// memcpy of a string) to the byte-by-byte search.
bool range_accessible(uptr addr, uptr size) {
  const uptr last = addr + size - 1;
  const s8 tail = static_cast<s8>(*mem_to_shadow(last));
  if (tail != 0 && static_cast<s8>(last & (kGranule - 1)) >= tail) return false;
  const u8* s = mem_to_shadow(addr);
  const u8* e = mem_to_shadow(last);
  while (s < e && (reinterpret_cast<uptr>(s) & 7)) {
    if (*s) return false;
    s++;
  }
  while (s + 8 <= e) {
    if (*reinterpret_cast<const u64*>(s)) return false;
    s += 8;
  }
  while (s < e) {
    if (*s) return false;
    s++;
  }
  return true;
}

}  // namespace ukasan
