// The wide-string and wide-memory functions of libc (<wchar.h>), checked at
// the call like their narrow siblings (interceptors.cpp). They are
// implemented here rather than forwarded: they are simple loops, need no
// dlsym before libc is up, and a program that uses them (ISO C's wide I/O,
// CPython's str) stays correct under the preload.
#include <wchar.h>

#include "instrumentation/instrumentation.h"
#include "platform/arch.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {
namespace {

constexpr uptr kW = sizeof(wchar_t);

UKASAN_ALWAYS_INLINE void check_r(const void* p, uptr n, uptr ip) {
  if (intercept_active(ip)) instr_check_range(reinterpret_cast<uptr>(p), n * kW, false, ip);
}
UKASAN_ALWAYS_INLINE void check_w(const void* p, uptr n, uptr ip) {
  if (intercept_active(ip)) instr_check_range(reinterpret_cast<uptr>(p), n * kW, true, ip);
}

// The loops below must not become calls to the functions they implement.
#define UKASAN_NO_IDIOM asm volatile("")

uptr wlen(const wchar_t* s) { return plain_len(s); }
uptr wnlen(const wchar_t* s, uptr m) {
  uptr n = 0;
  while (n < m && s[n]) {
    UKASAN_NO_IDIOM;
    n++;
  }
  return n;
}
void wcopy(wchar_t* d, const wchar_t* s, uptr n) {
  for (uptr i = 0; i < n; i++) {
    UKASAN_NO_IDIOM;
    d[i] = s[i];
  }
}
// wchar_t is a signed 32-bit int on x86-64 Linux: compared as such (glibc).
int wcmp(wchar_t a, wchar_t b) { return a < b ? -1 : a > b ? 1 : 0; }

}  // namespace
}  // namespace ukasan

using namespace ukasan;

UKASAN_INTERCEPT(size_t, wcslen, const wchar_t* s) {
  const uptr ip = UKASAN_RET_IP;
  const uptr n = wlen(s);
  check_r(s, n + 1, ip);
  return n;
}
UKASAN_INTERCEPT(size_t, wcsnlen, const wchar_t* s, size_t m) {
  const uptr ip = UKASAN_RET_IP;
  const uptr n = wnlen(s, m);
  check_r(s, n < m ? n + 1 : n, ip);
  return n;
}
UKASAN_INTERCEPT(wchar_t*, wcscpy, wchar_t* d, const wchar_t* s) {
  const uptr ip = UKASAN_RET_IP;
  const uptr n = wlen(s) + 1;
  check_r(s, n, ip);
  check_w(d, n, ip);
  wcopy(d, s, n);
  return d;
}
// Allocated here (malloc_for_caller), as strdup's copy: the stack starts at the caller.
UKASAN_INTERCEPT(wchar_t*, wcsdup, const wchar_t* s) {
  const uptr ip = UKASAN_ENTRY_IP;
  const uptr n = wlen(s) + 1;
  check_r(s, n, ip);
  auto* d = static_cast<wchar_t*>(malloc_for_caller(n * kW, ip));
  if (UKASAN_UNLIKELY(!d)) return nullptr;
  wcopy(d, s, n);
  return d;
}
UKASAN_INTERCEPT(wchar_t*, wcsncpy, wchar_t* d, const wchar_t* s, size_t m) {
  const uptr ip = UKASAN_RET_IP;
  const uptr n = wnlen(s, m);
  check_r(s, n < m ? n + 1 : n, ip);
  check_w(d, m, ip);
  wcopy(d, s, n);
  for (uptr i = n; i < m; i++) {
    UKASAN_NO_IDIOM;
    d[i] = 0;
  }
  return d;
}
UKASAN_INTERCEPT(wchar_t*, wcscat, wchar_t* d, const wchar_t* s) {
  const uptr ip = UKASAN_RET_IP;
  const uptr dn = wlen(d), sn = wlen(s) + 1;
  check_r(d, dn + 1, ip);
  check_r(s, sn, ip);
  check_w(d + dn, sn, ip);
  wcopy(d + dn, s, sn);
  return d;
}
UKASAN_INTERCEPT(wchar_t*, wcsncat, wchar_t* d, const wchar_t* s, size_t m) {
  const uptr ip = UKASAN_RET_IP;
  const uptr dn = wlen(d), sn = wnlen(s, m);
  check_r(d, dn + 1, ip);
  check_r(s, sn < m ? sn + 1 : sn, ip);
  check_w(d + dn, sn + 1, ip);
  wcopy(d + dn, s, sn);
  d[dn + sn] = 0;
  return d;
}
UKASAN_INTERCEPT(int, wcscmp, const wchar_t* a, const wchar_t* b) {
  const uptr ip = UKASAN_RET_IP;
  uptr i = 0;
  while (a[i] && a[i] == b[i]) i++;
  check_r(a, i + 1, ip);
  check_r(b, i + 1, ip);
  return wcmp(a[i], b[i]);
}
UKASAN_INTERCEPT(int, wcsncmp, const wchar_t* a, const wchar_t* b, size_t n) {
  const uptr ip = UKASAN_RET_IP;
  if (!n) return 0;
  uptr i = 0;
  while (i + 1 < n && a[i] && a[i] == b[i]) i++;
  check_r(a, i + 1, ip);
  check_r(b, i + 1, ip);
  return wcmp(a[i], b[i]);
}
UKASAN_INTERCEPT(wchar_t*, wcschr, const wchar_t* s, wchar_t c) {
  const uptr ip = UKASAN_RET_IP;
  uptr i = 0;
  while (s[i] != c && s[i]) i++;
  check_r(s, i + 1, ip);
  return s[i] == c ? const_cast<wchar_t*>(s + i) : nullptr;
}
UKASAN_INTERCEPT(wchar_t*, wmemcpy, wchar_t* d, const wchar_t* s, size_t n) {
  const uptr ip = UKASAN_RET_IP;
  check_r(s, n, ip);
  check_w(d, n, ip);
  internal_memcpy(d, s, n * kW);
  return d;
}
UKASAN_INTERCEPT(wchar_t*, wmemmove, wchar_t* d, const wchar_t* s, size_t n) {
  const uptr ip = UKASAN_RET_IP;
  check_r(s, n, ip);
  check_w(d, n, ip);
  if (d <= s || d >= s + n) {
    wcopy(d, s, n);
  } else {
    for (uptr i = n; i-- > 0;) {
      UKASAN_NO_IDIOM;
      d[i] = s[i];
    }
  }
  return d;
}
UKASAN_INTERCEPT(wchar_t*, wmemset, wchar_t* d, wchar_t c, size_t n) {
  const uptr ip = UKASAN_RET_IP;
  check_w(d, n, ip);
  for (uptr i = 0; i < n; i++) {
    UKASAN_NO_IDIOM;
    d[i] = c;
  }
  return d;
}
UKASAN_INTERCEPT(int, wmemcmp, const wchar_t* a, const wchar_t* b, size_t n) {
  const uptr ip = UKASAN_RET_IP;
  check_r(a, n, ip);
  check_r(b, n, ip);
  for (uptr i = 0; i < n; i++)
    if (a[i] != b[i]) return wcmp(a[i], b[i]);
  return 0;
}
