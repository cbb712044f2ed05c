// Checks of the libc functions the compiler does not instrument: the memory
// they read or write on behalf of an instrumented caller is checked here,
// reported at the caller (its return address), then the real function runs.
//
// The real functions: memcpy/memmove/memset/strcpy/strncpy/strcat are
// reached through glibc's exported fortify entry points (__memcpy_chk with an
// unlimited object size), everything else through dlsym(RTLD_NEXT) resolved
// in instr_init (simple loops stand in until then). The runtime's own calls
// (it writes redzones and the shadow itself) are not checked: callers inside
// libukasan.so are skipped by address; addresses without shadow are never
// checked.
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wchar.h>

#include <atomic>

#include "heap/heap.h"
#include "instrumentation/instrumentation.h"
#include "report/report.h"
#include "shadow/shadow.h"
#include "stackdepot/stackdepot.h"
#include "runtime/runtime.h"

extern "C" {
void* __memcpy_chk(void*, const void*, size_t, size_t);
void* __memmove_chk(void*, const void*, size_t, size_t);
void* __memset_chk(void*, int, size_t, size_t);
char* __strcpy_chk(char*, const char*, size_t);
char* __strncpy_chk(char*, const char*, size_t, size_t);
char* __strcat_chk(char*, const char*, size_t);
}

namespace ukasan {

namespace {

// Called through volatile pointers so the compiler cannot fold them back
// into memcpy & co. (which are these very functions).
void* (*volatile r_memcpy)(void*, const void*, size_t, size_t) = __memcpy_chk;
void* (*volatile r_memmove)(void*, const void*, size_t, size_t) = __memmove_chk;
void* (*volatile r_memset)(void*, int, size_t, size_t) = __memset_chk;
char* (*volatile r_strcpy)(char*, const char*, size_t) = __strcpy_chk;
char* (*volatile r_strncpy)(char*, const char*, size_t, size_t) = __strncpy_chk;
char* (*volatile r_strcat)(char*, const char*, size_t) = __strcat_chk;
constexpr size_t kNoLimit = ~size_t(0);

// Fallbacks until dlsym has run (asm barriers keep the compiler from turning
// the loops back into library calls).
size_t fb_strlen(const char* s) { return plain_len(s); }
size_t fb_strnlen(const char* s, size_t m) {
  size_t n = 0;
  while (n < m && s[n]) {
    asm volatile("");
    n++;
  }
  return n;
}
int fb_memcmp(const void* a, const void* b, size_t n) {
  const unsigned char *x = static_cast<const unsigned char*>(a), *y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; i++) {
    asm volatile("");
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}
void* fb_memchr(const void* s, int c, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n; i++) {
    asm volatile("");
    if (p[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p + i);
  }
  return nullptr;
}
int fb_strcmp(const char* a, const char* b) {
  size_t i = 0;
  while (a[i] && a[i] == b[i]) {
    asm volatile("");
    i++;
  }
  return static_cast<unsigned char>(a[i]) - static_cast<unsigned char>(b[i]);
}
int fb_strncmp(const char* a, const char* b, size_t n) {
  size_t i = 0;
  while (i < n && a[i] && a[i] == b[i]) {
    asm volatile("");
    i++;
  }
  return i == n ? 0 : static_cast<unsigned char>(a[i]) - static_cast<unsigned char>(b[i]);
}
char* fb_strchr(const char* s, int c) {
  for (;; s++) {
    asm volatile("");
    if (*s == static_cast<char>(c)) return const_cast<char*>(s);
    if (!*s) return nullptr;
  }
}
char* fb_strrchr(const char* s, int c) {
  const char* r = nullptr;
  for (;; s++) {
    asm volatile("");
    if (*s == static_cast<char>(c)) r = s;
    if (!*s) return const_cast<char*>(r);
  }
}

size_t (*r_strlen)(const char*) = fb_strlen;
size_t (*r_strnlen)(const char*, size_t) = fb_strnlen;
int (*r_memcmp)(const void*, const void*, size_t) = fb_memcmp;
void* (*r_memchr)(const void*, int, size_t) = fb_memchr;
int (*r_strcmp)(const char*, const char*) = fb_strcmp;
int (*r_strncmp)(const char*, const char*, size_t) = fb_strncmp;
char* (*r_strchr)(const char*, int) = fb_strchr;
char* (*r_strrchr)(const char*, int) = fb_strrchr;
int (*r_vfprintf)(FILE*, const char*, va_list);
int (*r_vsnprintf)(char*, size_t, const char*, va_list);
int (*r_vsprintf)(char*, const char*, va_list);
int (*r_puts)(const char*);
int (*r_fputs)(const char*, FILE*);
size_t (*r_fwrite)(const void*, size_t, size_t, FILE*);
size_t (*r_fread)(void*, size_t, size_t, FILE*);
char* (*r_strstr)(const char*, const char*);
char* (*r_strcasestr)(const char*, const char*);
void* (*r_memmem)(const void*, size_t, const void*, size_t);
size_t (*r_strspn)(const char*, const char*);
size_t (*r_strcspn)(const char*, const char*);
char* (*r_strpbrk)(const char*, const char*);
ssize_t (*r_read)(int, void*, size_t);
ssize_t (*r_pread)(int, void*, size_t, off_t);
ssize_t (*r_write)(int, const void*, size_t);
ssize_t (*r_pwrite)(int, const void*, size_t, off_t);
char* (*r_fgets)(char*, int, FILE*);
int (*r_strcasecmp)(const char*, const char*);
int (*r_strncasecmp)(const char*, const char*, size_t);
char* (*r_strtok)(char*, const char*);
char* (*r_strtok_r)(char*, const char*, char**);
ssize_t (*r_readv)(int, const struct iovec*, int);
ssize_t (*r_writev)(int, const struct iovec*, int);
ssize_t (*r_preadv)(int, const struct iovec*, int, off_t);
ssize_t (*r_pwritev)(int, const struct iovec*, int, off_t);
ssize_t (*r_recv)(int, void*, size_t, int);
ssize_t (*r_recvfrom)(int, void*, size_t, int, struct sockaddr*, socklen_t*);
ssize_t (*r_send)(int, const void*, size_t, int);
ssize_t (*r_sendto)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
ssize_t (*r_getdelim)(char**, size_t*, int, FILE*);
void (*r_qsort)(void*, size_t, size_t, int (*)(const void*, const void*));
void (*r_qsort_r)(void*, size_t, size_t, int (*)(const void*, const void*, void*), void*);
void* (*r_bsearch)(const void*, const void*, size_t, size_t, int (*)(const void*, const void*));

// The runtime's own code (libukasan.so's executable segment) is not checked.
uptr g_rt_lo, g_rt_size;

int find_self(struct dl_phdr_info* info, size_t, void* data) {
  uptr self = *static_cast<uptr*>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uptr lo = info->dlpi_addr + ph.p_vaddr;
    if (self >= lo && self < lo + ph.p_memsz) {
      // Linked into the executable (libukasan.a): nothing to exclude.
      if (info->dlpi_name && info->dlpi_name[0]) {
        g_rt_lo = lo;
        g_rt_size = ph.p_memsz;
      }
      return 1;
    }
  }
  return 0;
}

template <class T>
void resolve(T* slot, const char* name) {
  void* p = next_symbol(name);
  if (p) *slot = reinterpret_cast<T>(p);
}

// ASCII case folding (the C locale's): how far strcasecmp reads. The result
// comes from libc's own, which folds by the locale.
inline int fold(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 'A' && u <= 'Z' ? u + ('a' - 'A') : u;
}

UKASAN_ALWAYS_INLINE bool active(uptr ip) {
  return g_instr_ready.load(std::memory_order_relaxed) && ip - g_rt_lo >= g_rt_size && !in_report();
}

}  // namespace

bool intercept_active(uptr ip) { return active(ip); }

void* malloc_for_caller(uptr bytes, uptr ip) {
  void* p = heap_alloc(bytes, 16, kKindMalloc, false, ip);
  if (UKASAN_UNLIKELY(!p)) errno = ENOMEM;
  return p;
}

void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

bool instr_check_range_slow(uptr addr, uptr size, bool is_write, uptr ip) {
  switch (classify_range(addr, size)) {
    case kRangeNull:
      t_fault_reported = true;
      report_access(addr, size, is_write, ip);
      return false;
    case kRangeWild:
      return true;  // not ours to judge (the runtime's own shadow writes, mappings without shadow)
    case kRangeShadowed:
      break;
  }
  if (UKASAN_LIKELY(range_accessible(addr, size))) return true;
  report_access(addr, size, is_write, ip);
  return false;
}

void interceptors_init() {
  uptr self = reinterpret_cast<uptr>(&interceptors_init);
  dl_iterate_phdr(find_self, &self);
  resolve(&r_strlen, "strlen");
  resolve(&r_strnlen, "strnlen");
  resolve(&r_memcmp, "memcmp");
  resolve(&r_memchr, "memchr");
  resolve(&r_strcmp, "strcmp");
  resolve(&r_strncmp, "strncmp");
  resolve(&r_strchr, "strchr");
  resolve(&r_strrchr, "strrchr");
  resolve(&r_vfprintf, "vfprintf");
  resolve(&r_vsnprintf, "vsnprintf");
  resolve(&r_vsprintf, "vsprintf");
  resolve(&r_puts, "puts");
  resolve(&r_fputs, "fputs");
  resolve(&r_fwrite, "fwrite");
  resolve(&r_fread, "fread");
  // Every other real function too: resolving one on first use calls dlsym,
  // which allocates and frees, and the runtime's own calls (a leak scan's,
  // a report's) must not reach the heap from where they run.
  resolve(&r_bsearch, "bsearch");
  resolve(&r_fgets, "fgets");
  resolve(&r_getdelim, "getdelim");
  resolve(&r_memmem, "memmem");
  resolve(&r_pread, "pread");
  resolve(&r_preadv, "preadv");
  resolve(&r_pwrite, "pwrite");
  resolve(&r_pwritev, "pwritev");
  resolve(&r_qsort, "qsort");
  resolve(&r_qsort_r, "qsort_r");
  resolve(&r_read, "read");
  resolve(&r_readv, "readv");
  resolve(&r_recv, "recv");
  resolve(&r_recvfrom, "recvfrom");
  resolve(&r_send, "send");
  resolve(&r_sendto, "sendto");
  resolve(&r_strcasecmp, "strcasecmp");
  resolve(&r_strcasestr, "strcasestr");
  resolve(&r_strcspn, "strcspn");
  resolve(&r_strncasecmp, "strncasecmp");
  resolve(&r_strpbrk, "strpbrk");
  resolve(&r_strspn, "strspn");
  resolve(&r_strstr, "strstr");
  resolve(&r_strtok, "strtok");
  resolve(&r_strtok_r, "strtok_r");
  resolve(&r_write, "write");
  resolve(&r_writev, "writev");
  convert_interceptors_init();
}

// Checks the format string and the strings its %s conversions read.
static void check_format(const char* fmt, va_list ap_in, uptr ip) {
  if (!instr_check_range(reinterpret_cast<uptr>(fmt), r_strlen(fmt) + 1, false, ip)) return;
  va_list ap;
  va_copy(ap, ap_in);
  for (const char* p = fmt; *p; p++) {
    if (*p != '%') continue;
    p++;
    if (*p == '%') continue;
    while (*p && fb_strchr("-+ #0'I", *p)) p++;
    if (*p >= '0' && *p <= '9') {
      while (*p >= '0' && *p <= '9') p++;
      if (*p == '$') break;  // positional arguments: not followed
    } else if (*p == '*') {
      (void)va_arg(ap, int);
      p++;
    }
    long prec = -1;
    if (*p == '.') {
      p++;
      if (*p == '*') {
        prec = va_arg(ap, int);
        p++;
      } else {
        prec = 0;
        while (*p >= '0' && *p <= '9') prec = prec * 10 + (*p++ - '0');
      }
    }
    int lng = 0;  // 1 l, 2 ll/j/z/t/q, 3 L, -1 h/hh
    for (;; p++) {
      if (*p == 'l') lng++;
      else if (*p == 'h') lng = -1;
      else if (*p == 'j' || *p == 'z' || *p == 't' || *p == 'q') lng = 2;
      else if (*p == 'L') lng = 3;
      else break;
    }
    switch (*p) {
      case 'd': case 'i': case 'o': case 'u': case 'x': case 'X': case 'c':
        if (lng >= 1) (void)va_arg(ap, long);
        else (void)va_arg(ap, int);
        break;
      case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
        if (lng == 3) (void)va_arg(ap, long double);
        else (void)va_arg(ap, double);
        break;
      case 'p': case 'n':
        (void)va_arg(ap, void*);
        break;
      case 'C': (void)va_arg(ap, int); break;
      case 'S': (void)va_arg(ap, void*); break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (lng >= 1 || !s) break;  // wide strings; "(null)"
        size_t n = prec >= 0 ? r_strnlen(s, static_cast<size_t>(prec)) : r_strlen(s) + 1;
        if (prec >= 0 && n < static_cast<size_t>(prec)) n++;  // read the terminator too
        if (!instr_check_range(reinterpret_cast<uptr>(s), n, false, ip)) {
          va_end(ap);
          return;
        }
        break;
      }
      default:
        va_end(ap);
        return;  // unknown conversion: stop following arguments
    }
    if (!*p) break;
  }
  va_end(ap);
}

}  // namespace ukasan

using namespace ukasan;

// Resolved on first use too: the runtime itself formats with snprintf, maybe
// before instr_init.
#define REAL(name) real_fn(r_##name, #name)

#define CHECK_R(p, n) \
  if (active(ip)) instr_check_range(reinterpret_cast<uptr>(p), (n), false, ip)
#define CHECK_W(p, n) \
  if (active(ip)) instr_check_range(reinterpret_cast<uptr>(p), (n), true, ip)

// The two-range calls (copies and compares): when both ranges are short,
// in high memory and accessible, no report is possible whoever the caller
// is, so the call goes straight to libc without the caller check (sqlite's
// memcpy/memcmp, nearly all of them 64 bytes or less). Anything else takes
// the call's *_checked function: the caller check, the source and the
// destination, then libc. That path is a function of its own so that the
// fast one calls nothing it must come back from (both end in a jump): it
// then saves no register and needs no frame, where it had pushed four for
// the checks' call (sqlite3: 8.2 M memcpy calls).
UKASAN_ALWAYS_INLINE bool range_known_good(const void* a, size_t n) {
#if UKASAN_DYNAMIC_SHADOW
  return false;
#else
  // Before instr_init the shadow may not be mapped yet: no shadow read.
  return g_instr_ready.load(std::memory_order_relaxed) && short_high_range_accessible(reinterpret_cast<uptr>(a), n);
#endif
}
UKASAN_ALWAYS_INLINE bool pair_known_good(const void* a, const void* b, size_t n) {
#if UKASAN_DYNAMIC_SHADOW
  return false;
#else
  return range_known_good(a, n) && short_high_range_accessible(reinterpret_cast<uptr>(b), n);
#endif
}
static UKASAN_NOINLINE void check_pair(const void* src, const void* dst, bool dst_write, size_t n, uptr ip) {
  if (active(ip)) {
    instr_check_range(reinterpret_cast<uptr>(src), n, false, ip);
    instr_check_range(reinterpret_cast<uptr>(dst), n, dst_write, ip);
  }
}
static UKASAN_NOINLINE void* memcpy_checked(void* d, const void* s, size_t n, uptr ip) {
  check_pair(s, d, true, n, ip);
  return r_memcpy(d, s, n, kNoLimit);
}
static UKASAN_NOINLINE void* memmove_checked(void* d, const void* s, size_t n, uptr ip) {
  check_pair(s, d, true, n, ip);
  return r_memmove(d, s, n, kNoLimit);
}
static UKASAN_NOINLINE int memcmp_checked(const void* a, const void* b, size_t n, uptr ip) {
  check_pair(a, b, false, n, ip);
  return r_memcmp(a, b, n);
}

UKASAN_INTERCEPT(void*, memcpy, void* d, const void* s, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(s, d, n))) return r_memcpy(d, s, n, kNoLimit);
  return memcpy_checked(d, s, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(void*, memmove, void* d, const void* s, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(s, d, n))) return r_memmove(d, s, n, kNoLimit);
  return memmove_checked(d, s, n, UKASAN_RET_IP);
}
static UKASAN_NOINLINE void* memset_checked(void* d, int c, size_t n, uptr ip) {
  CHECK_W(d, n);
  return r_memset(d, c, n, kNoLimit);
}
UKASAN_INTERCEPT(void*, memset, void* d, int c, size_t n) {
  if (UKASAN_LIKELY(range_known_good(d, n))) return r_memset(d, c, n, kNoLimit);
  return memset_checked(d, c, n, UKASAN_RET_IP);
}
// The compiler's own names for the intrinsics (clang/gcc may emit them).
UKASAN_INTERCEPT(void*, __asan_memcpy, void* d, const void* s, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(s, d, n))) return r_memcpy(d, s, n, kNoLimit);
  return memcpy_checked(d, s, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(void*, __asan_memmove, void* d, const void* s, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(s, d, n))) return r_memmove(d, s, n, kNoLimit);
  return memmove_checked(d, s, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(void*, __asan_memset, void* d, int c, size_t n) {
  if (UKASAN_LIKELY(range_known_good(d, n))) return r_memset(d, c, n, kNoLimit);
  return memset_checked(d, c, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(int, memcmp, const void* a, const void* b, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(a, b, n))) return r_memcmp(a, b, n);
  return memcmp_checked(a, b, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(int, bcmp, const void* a, const void* b, size_t n) {
  if (UKASAN_LIKELY(pair_known_good(a, b, n))) return r_memcmp(a, b, n);
  return memcmp_checked(a, b, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(void*, memchr, const void* s, int c, size_t n) {
  uptr ip = UKASAN_RET_IP;
  void* r = r_memchr(s, c, n);
  CHECK_R(s, r ? static_cast<size_t>(static_cast<const char*>(r) - static_cast<const char*>(s)) + 1 : n);
  return r;
}
UKASAN_INTERCEPT(size_t, strlen, const char* s) {
  uptr ip = UKASAN_RET_IP;
  size_t n = r_strlen(s);
  CHECK_R(s, n + 1);
  return n;
}
UKASAN_INTERCEPT(size_t, strnlen, const char* s, size_t m) {
  uptr ip = UKASAN_RET_IP;
  size_t n = r_strnlen(s, m);
  CHECK_R(s, n < m ? n + 1 : n);
  return n;
}
UKASAN_INTERCEPT(char*, strcpy, char* d, const char* s) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) {
    size_t n = r_strlen(s) + 1;
    instr_check_range(reinterpret_cast<uptr>(s), n, false, ip);
    instr_check_range(reinterpret_cast<uptr>(d), n, true, ip);
  }
  return r_strcpy(d, s, kNoLimit);
}
UKASAN_INTERCEPT(char*, strncpy, char* d, const char* s, size_t m) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) {
    size_t n = r_strnlen(s, m);
    instr_check_range(reinterpret_cast<uptr>(s), n < m ? n + 1 : n, false, ip);
    instr_check_range(reinterpret_cast<uptr>(d), m, true, ip);
  }
  return r_strncpy(d, s, m, kNoLimit);
}
UKASAN_INTERCEPT(char*, strcat, char* d, const char* s) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) {
    size_t dn = r_strlen(d), sn = r_strlen(s) + 1;
    instr_check_range(reinterpret_cast<uptr>(d), dn + 1, false, ip);
    instr_check_range(reinterpret_cast<uptr>(s), sn, false, ip);
    instr_check_range(reinterpret_cast<uptr>(d) + dn, sn, true, ip);
  }
  return r_strcat(d, s, kNoLimit);
}
UKASAN_INTERCEPT(int, strcmp, const char* a, const char* b) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) {
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    instr_check_range(reinterpret_cast<uptr>(a), i + 1, false, ip);
    instr_check_range(reinterpret_cast<uptr>(b), i + 1, false, ip);
  }
  return r_strcmp(a, b);
}
UKASAN_INTERCEPT(int, strncmp, const char* a, const char* b, size_t n) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip) && n) {
    size_t i = 0;
    while (i + 1 < n && a[i] && a[i] == b[i]) i++;
    instr_check_range(reinterpret_cast<uptr>(a), i + 1, false, ip);
    instr_check_range(reinterpret_cast<uptr>(b), i + 1, false, ip);
  }
  return r_strncmp(a, b, n);
}
UKASAN_INTERCEPT(char*, strchr, const char* s, int c) {
  uptr ip = UKASAN_RET_IP;
  char* r = r_strchr(s, c);
  CHECK_R(s, r ? static_cast<size_t>(r - s) + 1 : r_strlen(s) + 1);
  return r;
}
UKASAN_INTERCEPT(char*, strrchr, const char* s, int c) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(s, r_strlen(s) + 1);
  return r_strrchr(s, c);
}
// The copies strdup and strndup return are allocated here, as malloc() by
// the program's call, not by libc's strdup: libc calls malloc from code
// without frame pointers, so the block's allocation stack was that one libc
// frame (a leak report naming only `strdup`, and llvm-symbolizer started for
// it where libc has debug information: 0.2 s a report). glibc exports
// __strdup and __strndup too (<string.h> once turned the calls into them).
// ip: the caller, its frame published by UKASAN_ENTRY_IP for the stack walk.
static UKASAN_ALWAYS_INLINE char* dup_string(const char* s, size_t n, uptr ip) {
  char* d = static_cast<char*>(malloc_for_caller(n + 1, ip));
  if (UKASAN_UNLIKELY(!d)) return nullptr;
  internal_memcpy(d, s, n);
  d[n] = 0;
  return d;
}
static UKASAN_ALWAYS_INLINE char* strdup_in(const char* s, uptr ip) {
  const size_t n = r_strlen(s);
  CHECK_R(s, n + 1);
  return dup_string(s, n, ip);
}
static UKASAN_ALWAYS_INLINE char* strndup_in(const char* s, size_t m, uptr ip) {
  const size_t n = r_strnlen(s, m);
  CHECK_R(s, n < m ? n + 1 : n);
  return dup_string(s, n, ip);
}
UKASAN_INTERCEPT(char*, strdup, const char* s) { return strdup_in(s, UKASAN_ENTRY_IP); }
UKASAN_INTERCEPT(char*, __strdup, const char* s) { return strdup_in(s, UKASAN_ENTRY_IP); }
UKASAN_INTERCEPT(char*, strndup, const char* s, size_t m) { return strndup_in(s, m, UKASAN_ENTRY_IP); }
UKASAN_INTERCEPT(char*, __strndup, const char* s, size_t m) { return strndup_in(s, m, UKASAN_ENTRY_IP); }
UKASAN_INTERCEPT(char*, strncat, char* d, const char* s, size_t m) {
  uptr ip = UKASAN_RET_IP;
  const size_t dn = r_strlen(d), sn = r_strnlen(s, m);
  CHECK_R(d, dn + 1);
  CHECK_R(s, sn < m ? sn + 1 : sn);
  CHECK_W(d + dn, sn + 1);  // the copied bytes and the terminator strncat always writes
  r_memcpy(d + dn, s, sn, kNoLimit);
  d[dn + sn] = 0;
  return d;
}
// strtok/strtok_r returned the token r: the delimiters whole, and the string
// from where this call started to the token's end (the delimiter byte libc
// overwrote, or the terminator). Where a call started is the argument, or
// for a continuation the token itself (the skipped delimiters before it
// were read too, but their start is libc's state).
static char* tokenized(char* r, char* from, const char* delim, uptr ip) {
  if (!active(ip)) return r;
  instr_check_range(reinterpret_cast<uptr>(delim), r_strlen(delim) + 1, false, ip);
  if (r) {
    char* start = from ? from : r;
    instr_check_range(reinterpret_cast<uptr>(start), static_cast<size_t>(r - start) + r_strlen(r) + 1, true, ip);
  } else if (from) {
    instr_check_range(reinterpret_cast<uptr>(from), r_strlen(from) + 1, false, ip);
  }
  return r;
}
UKASAN_INTERCEPT(char*, strtok, char* s, const char* delim) {
  return tokenized(REAL(strtok)(s, delim), s, delim, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(char*, strtok_r, char* s, const char* delim, char** save) {
  uptr ip = UKASAN_RET_IP;
  CHECK_W(save, sizeof(*save));
  return tokenized(REAL(strtok_r)(s, delim, save), s, delim, ip);
}
UKASAN_INTERCEPT(char*, stpcpy, char* d, const char* s) {
  uptr ip = UKASAN_RET_IP;
  const size_t n = r_strlen(s) + 1;
  CHECK_R(s, n);
  CHECK_W(d, n);
  r_memcpy(d, s, n, kNoLimit);
  return d + n - 1;
}
UKASAN_INTERCEPT(void*, mempcpy, void* d, const void* s, size_t n) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(s, n);
  CHECK_W(d, n);
  return static_cast<char*>(r_memcpy(d, s, n, kNoLimit)) + n;
}
UKASAN_INTERCEPT(void*, memccpy, void* d, const void* s, int c, size_t n) {
  uptr ip = UKASAN_RET_IP;
  const void* hit = r_memchr(s, c, n);
  const size_t m = hit ? static_cast<size_t>(static_cast<const char*>(hit) - static_cast<const char*>(s)) + 1 : n;
  CHECK_R(s, m);
  CHECK_W(d, m);
  r_memcpy(d, s, m, kNoLimit);
  return hit ? static_cast<char*>(d) + m : nullptr;
}

// ---- searching: the bytes the search looked at --------------------------------------

// A substring search that returned r: the needle whole, the haystack up to
// the end of the match (or whole).
static char* searched(char* r, const char* h, const char* n, uptr ip) {
  if (active(ip)) {
    const size_t nl = r_strlen(n);
    instr_check_range(reinterpret_cast<uptr>(n), nl + 1, false, ip);
    instr_check_range(reinterpret_cast<uptr>(h), r ? static_cast<size_t>(r - h) + nl : r_strlen(h) + 1, false, ip);
  }
  return r;
}
UKASAN_INTERCEPT(char*, strstr, const char* h, const char* n) {
  return searched(REAL(strstr)(h, n), h, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(char*, strcasestr, const char* h, const char* n) {
  return searched(REAL(strcasestr)(h, n), h, n, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(void*, memmem, const void* h, size_t hl, const void* n, size_t nl) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(h, hl);
  CHECK_R(n, nl);
  return REAL(memmem)(h, hl, n, nl);
}
UKASAN_INTERCEPT(int, strcasecmp, const char* a, const char* b) {
  uptr ip = UKASAN_RET_IP;
  size_t i = 0;
  while (a[i] && fold(a[i]) == fold(b[i])) i++;
  CHECK_R(a, i + 1);
  CHECK_R(b, i + 1);
  return REAL(strcasecmp)(a, b);  // the locale's own folding decides the result
}
UKASAN_INTERCEPT(int, strncasecmp, const char* a, const char* b, size_t n) {
  uptr ip = UKASAN_RET_IP;
  if (!n) return 0;
  size_t i = 0;
  while (i + 1 < n && a[i] && fold(a[i]) == fold(b[i])) i++;
  CHECK_R(a, i + 1);
  CHECK_R(b, i + 1);
  return REAL(strncasecmp)(a, b, n);
}
// strspn/strcspn returned r: s up to the byte that stopped the scan, the set whole.
static size_t spanned(size_t r, const char* s, const char* set, uptr ip) {
  CHECK_R(s, r + 1);
  CHECK_R(set, r_strlen(set) + 1);
  return r;
}
UKASAN_INTERCEPT(size_t, strspn, const char* s, const char* accept) {
  return spanned(REAL(strspn)(s, accept), s, accept, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(size_t, strcspn, const char* s, const char* reject) {
  return spanned(REAL(strcspn)(s, reject), s, reject, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(char*, strpbrk, const char* s, const char* accept) {
  uptr ip = UKASAN_RET_IP;
  char* r = REAL(strpbrk)(s, accept);
  CHECK_R(s, r ? static_cast<size_t>(r - s) + 1 : r_strlen(s) + 1);
  CHECK_R(accept, r_strlen(accept) + 1);
  return r;
}

// ---- I/O buffers ------------------------------------------------------------------------
// Reads are checked after the call, for the bytes the kernel wrote (they
// cannot fault on a redzone); writes before it.

UKASAN_INTERCEPT(ssize_t, read, int fd, void* buf, size_t n) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(read)(fd, buf, n);
  if (r > 0) CHECK_W(buf, static_cast<size_t>(r));
  return r;
}
UKASAN_INTERCEPT(ssize_t, pread, int fd, void* buf, size_t n, off_t off) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(pread)(fd, buf, n, off);
  if (r > 0) CHECK_W(buf, static_cast<size_t>(r));
  return r;
}
UKASAN_INTERCEPT(ssize_t, write, int fd, const void* buf, size_t n) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(buf, n);
  return REAL(write)(fd, buf, n);
}
UKASAN_INTERCEPT(ssize_t, pwrite, int fd, const void* buf, size_t n, off_t off) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(buf, n);
  return REAL(pwrite)(fd, buf, n, off);
}
UKASAN_INTERCEPT(ssize_t, recv, int fd, void* buf, size_t n, int flags) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(recv)(fd, buf, n, flags);
  if (r > 0) CHECK_W(buf, static_cast<size_t>(r) < n ? static_cast<size_t>(r) : n);  // MSG_TRUNC returns more
  return r;
}
UKASAN_INTERCEPT(ssize_t, recvfrom, int fd, void* buf, size_t n, int flags, struct sockaddr* a, socklen_t* al) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(recvfrom)(fd, buf, n, flags, a, al);
  if (r > 0) CHECK_W(buf, static_cast<size_t>(r) < n ? static_cast<size_t>(r) : n);
  return r;
}
UKASAN_INTERCEPT(ssize_t, send, int fd, const void* buf, size_t n, int flags) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(buf, n);
  return REAL(send)(fd, buf, n, flags);
}
UKASAN_INTERCEPT(ssize_t, sendto, int fd, const void* buf, size_t n, int flags, const struct sockaddr* a, socklen_t al) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(buf, n);
  CHECK_R(a, a ? al : 0);
  return REAL(sendto)(fd, buf, n, flags, a, al);
}

// Vectored I/O: the iovec array, then each buffer (gathered before the call;
// scattered after it, for the bytes transferred, in order).
static bool iov_ok(const struct iovec* iov, int cnt, uptr ip) {
  return cnt <= 0 || instr_check_range(reinterpret_cast<uptr>(iov), static_cast<size_t>(cnt) * sizeof(*iov), false, ip);
}
static void iov_gathered(const struct iovec* iov, int cnt, uptr ip) {
  if (!active(ip) || !iov_ok(iov, cnt, ip)) return;
  for (int i = 0; i < cnt; i++)
    if (!instr_check_range(reinterpret_cast<uptr>(iov[i].iov_base), iov[i].iov_len, false, ip)) return;
}
static void iov_scattered(const struct iovec* iov, int cnt, ssize_t r, uptr ip) {
  if (r <= 0 || !active(ip) || !iov_ok(iov, cnt, ip)) return;
  size_t left = static_cast<size_t>(r);
  for (int i = 0; i < cnt && left; i++) {
    const size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
    if (!instr_check_range(reinterpret_cast<uptr>(iov[i].iov_base), n, true, ip)) return;
    left -= n;
  }
}
UKASAN_INTERCEPT(ssize_t, readv, int fd, const struct iovec* iov, int cnt) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(readv)(fd, iov, cnt);
  iov_scattered(iov, cnt, r, ip);
  return r;
}
UKASAN_INTERCEPT(ssize_t, preadv, int fd, const struct iovec* iov, int cnt, off_t off) {
  uptr ip = UKASAN_RET_IP;
  const ssize_t r = REAL(preadv)(fd, iov, cnt, off);
  iov_scattered(iov, cnt, r, ip);
  return r;
}
UKASAN_INTERCEPT(ssize_t, writev, int fd, const struct iovec* iov, int cnt) {
  uptr ip = UKASAN_RET_IP;
  iov_gathered(iov, cnt, ip);
  return REAL(writev)(fd, iov, cnt);
}
UKASAN_INTERCEPT(ssize_t, pwritev, int fd, const struct iovec* iov, int cnt, off_t off) {
  uptr ip = UKASAN_RET_IP;
  iov_gathered(iov, cnt, ip);
  return REAL(pwritev)(fd, iov, cnt, off);
}

// getline/getdelim: the two out-parameters, and the line written into
// *line (which libc grows with realloc when *cap is short; a *cap larger than
// the buffer is the bug this finds).
static ssize_t got_line(ssize_t r, char** line, size_t* cap, uptr ip) {
  if (!active(ip)) return r;
  if (!instr_check_range(reinterpret_cast<uptr>(line), sizeof(*line), true, ip) ||
      !instr_check_range(reinterpret_cast<uptr>(cap), sizeof(*cap), true, ip))
    return r;
  if (r > 0) instr_check_range(reinterpret_cast<uptr>(*line), static_cast<size_t>(r) + 1, true, ip);
  return r;
}
UKASAN_INTERCEPT(ssize_t, getdelim, char** line, size_t* cap, int delim, FILE* f) {
  return got_line(REAL(getdelim)(line, cap, delim, f), line, cap, UKASAN_RET_IP);
}
// glibc's <stdio.h> inlines getline as __getdelim in optimised builds.
UKASAN_INTERCEPT(ssize_t, __getdelim, char** line, size_t* cap, int delim, FILE* f) {
  return got_line(REAL(getdelim)(line, cap, delim, f), line, cap, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(ssize_t, getline, char** line, size_t* cap, FILE* f) {
  return got_line(REAL(getdelim)(line, cap, '\n', f), line, cap, UKASAN_RET_IP);
}

UKASAN_INTERCEPT(char*, fgets, char* s, int size, FILE* f) {
  uptr ip = UKASAN_RET_IP;
  char* r = REAL(fgets)(s, size, f);
  if (r) CHECK_W(s, r_strlen(s) + 1);
  return r;
}

// ---- stdio --------------------------------------------------------------------------

UKASAN_INTERCEPT(int, vfprintf, FILE* f, const char* fmt, va_list ap) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) check_format(fmt, ap, ip);
  return REAL(vfprintf)(f, fmt, ap);
}
UKASAN_INTERCEPT(int, vprintf, const char* fmt, va_list ap) {
  uptr ip = UKASAN_RET_IP;
  if (active(ip)) check_format(fmt, ap, ip);
  return REAL(vfprintf)(stdout, fmt, ap);
}
UKASAN_INTERCEPT(int, fprintf, FILE* f, const char* fmt, ...) {
  uptr ip = UKASAN_RET_IP;
  va_list ap;
  va_start(ap, fmt);
  if (active(ip)) check_format(fmt, ap, ip);
  int r = REAL(vfprintf)(f, fmt, ap);
  va_end(ap);
  return r;
}
UKASAN_INTERCEPT(int, printf, const char* fmt, ...) {
  uptr ip = UKASAN_RET_IP;
  va_list ap;
  va_start(ap, fmt);
  if (active(ip)) check_format(fmt, ap, ip);
  int r = REAL(vfprintf)(stdout, fmt, ap);
  va_end(ap);
  return r;
}
UKASAN_INTERCEPT(int, vsnprintf, char* buf, size_t n, const char* fmt, va_list ap) {
  uptr ip = UKASAN_RET_IP;
  bool on = active(ip);
  if (on) check_format(fmt, ap, ip);
  int r = REAL(vsnprintf)(buf, n, fmt, ap);
  if (on && r >= 0 && n) instr_check_range(reinterpret_cast<uptr>(buf), static_cast<size_t>(r) + 1 < n ? r + 1 : n, true, ip);
  return r;
}
UKASAN_INTERCEPT(int, snprintf, char* buf, size_t n, const char* fmt, ...) {
  uptr ip = UKASAN_RET_IP;
  bool on = active(ip);
  va_list ap;
  va_start(ap, fmt);
  if (on) check_format(fmt, ap, ip);
  int r = REAL(vsnprintf)(buf, n, fmt, ap);
  va_end(ap);
  if (on && r >= 0 && n) instr_check_range(reinterpret_cast<uptr>(buf), static_cast<size_t>(r) + 1 < n ? r + 1 : n, true, ip);
  return r;
}
UKASAN_INTERCEPT(int, vsprintf, char* buf, const char* fmt, va_list ap) {
  uptr ip = UKASAN_RET_IP;
  bool on = active(ip);
  if (on) check_format(fmt, ap, ip);
  int r = REAL(vsprintf)(buf, fmt, ap);
  if (on && r >= 0) instr_check_range(reinterpret_cast<uptr>(buf), static_cast<size_t>(r) + 1, true, ip);
  return r;
}
UKASAN_INTERCEPT(int, sprintf, char* buf, const char* fmt, ...) {
  uptr ip = UKASAN_RET_IP;
  bool on = active(ip);
  va_list ap;
  va_start(ap, fmt);
  if (on) check_format(fmt, ap, ip);
  int r = REAL(vsprintf)(buf, fmt, ap);
  va_end(ap);
  if (on && r >= 0) instr_check_range(reinterpret_cast<uptr>(buf), static_cast<size_t>(r) + 1, true, ip);
  return r;
}
UKASAN_INTERCEPT(int, puts, const char* s) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(s, r_strlen(s) + 1);
  return REAL(puts)(s);
}
UKASAN_INTERCEPT(int, fputs, const char* s, FILE* f) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(s, r_strlen(s) + 1);
  return REAL(fputs)(s, f);
}
UKASAN_INTERCEPT(size_t, fwrite, const void* p, size_t size, size_t n, FILE* f) {
  uptr ip = UKASAN_RET_IP;
  CHECK_R(p, size * n);
  return REAL(fwrite)(p, size, n, f);
}
UKASAN_INTERCEPT(size_t, fread, void* p, size_t size, size_t n, FILE* f) {
  uptr ip = UKASAN_RET_IP;
  size_t r = REAL(fread)(p, size, n, f);
  CHECK_W(p, size * r);
  return r;
}

// ---- sorting and searching arrays: every element the call may touch ----------------

static void check_array(const void* base, size_t n, size_t size, bool is_write, uptr ip) {
  size_t bytes;
  if (!active(ip) || __builtin_mul_overflow(n, size, &bytes)) return;
  instr_check_range(reinterpret_cast<uptr>(base), bytes, is_write, ip);
}
UKASAN_INTERCEPT(void, qsort, void* base, size_t n, size_t size, int (*cmp)(const void*, const void*)) {
  check_array(base, n > 1 ? n : 0, size, true, UKASAN_RET_IP);
  REAL(qsort)(base, n, size, cmp);
}
UKASAN_INTERCEPT(void, qsort_r, void* base, size_t n, size_t size, int (*cmp)(const void*, const void*, void*),
                 void* arg) {
  check_array(base, n > 1 ? n : 0, size, true, UKASAN_RET_IP);
  REAL(qsort_r)(base, n, size, cmp, arg);
}
// bsearch reads O(log n) of the elements; the array it was told of must all
// be there (C11 7.22.5p1), so all of it is checked. Not the key: it need not
// be an element (a name looked up in a table of structs).
UKASAN_INTERCEPT(void*, bsearch, const void* key, const void* base, size_t n, size_t size,
                 int (*cmp)(const void*, const void*)) {
  check_array(base, n, size, false, UKASAN_RET_IP);
  return REAL(bsearch)(key, base, n, size, cmp);
}
