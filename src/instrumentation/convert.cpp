// Text to values: the strto* and ato* families and the scanf family,
// checked like the other libc interceptors (interceptors.cpp): the text they
// read, the end pointer they store, each argument a conversion assigned.
//
// The checks follow the call: what was read and written is known only then
// (where a number ends, how many conversions matched, how long a %s was),
// and checking what was not touched could report a correct program.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "instrumentation/instrumentation.h"
#include "platform/arch.h"

namespace ukasan {
namespace {

template <class T>
using StrTo = T (*)(const char*, char**, int);
template <class T>
using StrToF = T (*)(const char*, char**);

UKASAN_ALWAYS_INLINE bool read_ok(const void* p, uptr n, uptr ip) {
  return instr_check_range(reinterpret_cast<uptr>(p), n, false, ip);
}
UKASAN_ALWAYS_INLINE bool write_ok(const void* p, uptr n, uptr ip) {
  return instr_check_range(reinterpret_cast<uptr>(p), n, true, ip);
}

// A number parsed from s ended at end: s up to and including the byte that
// stopped the parse was read (at least the first byte when nothing parsed);
// *endp, if asked for, was written.
void number_parsed(const char* s, const char* end, char** endp, uptr ip) {
  if (!intercept_active(ip)) return;
  if (endp && !write_ok(endp, sizeof(*endp), ip)) return;
  read_ok(s, static_cast<uptr>(end - s) + 1, ip);
}

template <class T>
T strto(StrTo<T>& real, const char* name, const char* s, char** endp, int base, uptr ip) {
  char* end;
  T r = real_fn(real, name)(s, &end, base);
  number_parsed(s, end, endp, ip);
  if (endp) *endp = end;
  return r;
}
template <class T>
T strtof_(StrToF<T>& real, const char* name, const char* s, char** endp, uptr ip) {
  char* end;
  T r = real_fn(real, name)(s, &end);
  number_parsed(s, end, endp, ip);
  if (endp) *endp = end;
  return r;
}

StrTo<long> r_strtol;
StrTo<long long> r_strtoll;
StrTo<unsigned long> r_strtoul;
StrTo<unsigned long long> r_strtoull;
StrTo<intmax_t> r_strtoimax;
StrTo<uintmax_t> r_strtoumax;
StrToF<double> r_strtod;
StrToF<float> r_strtof;
StrToF<long double> r_strtold;

// ---- scanf ----------------------------------------------------------------------------

// Checks the arguments a scanf-family call that returned `assigned` wrote.
// Conversions are walked in order: each assigning one (not %*, not %n)
// consumed one of the `assigned`; the first one past them did not match and
// nothing after it was written. %n was written if every conversion before it
// matched; after a suppressed conversion that is not known (it does not
// count), so such a %n is checked only once a later assignment proves the
// suppressed one matched. iso99: %a is a float conversion (C99), not GNU's
// allocation flag.
void scanf_assigned(const char* fmt, va_list ap_in, int assigned, bool iso99, uptr ip) {
  if (assigned < 0) return;
  va_list ap;
  va_copy(ap, ap_in);
  bool unsure = false;  // a suppressed conversion since the last assignment
  void* pending_n[8];   // %n targets behind `unsure`, checked once resolved
  uptr pending_n_size[8];
  int npending = 0;
  for (const char* p = fmt; *p; p++) {
    if (*p != '%') continue;
    p++;
    if (*p == '%') continue;
    bool suppress = false, alloc = false;
    if (*p == '*') {
      suppress = true;
      p++;
    }
    uptr width = 0;
    while (*p >= '0' && *p <= '9') width = width * 10 + static_cast<uptr>(*p++ - '0');
    if (*p == '$') break;  // positional arguments: not followed
    if (*p == 'm' || (!iso99 && *p == 'a' && (p[1] == 's' || p[1] == 'S' || p[1] == '['))) {
      alloc = true;
      p++;
    }
    int lng = 0;  // -2 hh, -1 h, 1 l, 2 ll/q/j/z/t, 3 L
    for (;; p++) {
      if (*p == 'h') lng = lng == -1 ? -2 : -1;
      else if (*p == 'l') lng++;
      else if (*p == 'q' || *p == 'j' || *p == 'z' || *p == 't') lng = 2;
      else if (*p == 'L') lng = 3;
      else break;
    }
    const char conv = *p;
    if (conv == '[') {  // the scanset: a leading ']' (after '^') is a member
      p++;
      if (*p == '^') p++;
      if (*p == ']') p++;
      while (*p && *p != ']') p++;
    }
    if (!*p) break;
    uptr size = 0;  // 0: a string, measured after the call
    switch (conv) {
      case 'd': case 'i': case 'o': case 'u': case 'x': case 'X': case 'n':
        size = lng == -2 ? 1 : lng == -1 ? 2 : lng == 0 ? sizeof(int) : 8;
        break;
      case 'a': case 'A': case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        size = lng == 0 ? sizeof(float) : lng == 1 ? sizeof(double) : sizeof(long double);
        break;
      case 'p': size = sizeof(void*); break;
      case 'c': size = (width ? width : 1) * (lng == 1 ? sizeof(wchar_t) : 1); break;
      case 'C': size = (width ? width : 1) * sizeof(wchar_t); break;
      case 's': case 'S': case '[': break;
      default: goto out;  // unknown conversion: stop following arguments
    }
    if (suppress) {
      unsure = true;
      continue;
    }
    {
      void* arg = va_arg(ap, void*);
      if (conv == 'n') {
        if (!unsure) {
          if (!write_ok(arg, size, ip)) goto out;
        } else if (npending < 8) {
          pending_n[npending] = arg;
          pending_n_size[npending++] = size;
        }
        continue;
      }
      if (assigned-- == 0) break;  // did not match: nothing from here on was written
      unsure = false;
      for (int i = 0; i < npending; i++)
        if (!write_ok(pending_n[i], pending_n_size[i], ip)) goto out;
      npending = 0;
      if (alloc) {
        if (!write_ok(arg, sizeof(char*), ip)) goto out;
        continue;  // the buffer is libc's own, from malloc
      }
      if (!size) {
        const bool wide = conv == 'S' || lng == 1;
        size = wide ? (plain_len(static_cast<const wchar_t*>(arg)) + 1) * sizeof(wchar_t)
                    : plain_len(static_cast<const char*>(arg)) + 1;
      }
      if (!write_ok(arg, size, ip)) goto out;
    }
  }
out:
  va_end(ap);
}

using VsscanfFn = int (*)(const char*, const char*, va_list);
using VfscanfFn = int (*)(FILE*, const char*, va_list);
VsscanfFn r_vsscanf, r_isoc99_vsscanf;
VfscanfFn r_vfscanf, r_isoc99_vfscanf;

// The family's common part: str (sscanf's input, null for a FILE) and the
// format are read; call runs the real function on ap; then the matched
// conversions' arguments are checked.
template <class Call>
int scanned(const char* str, const char* fmt, va_list ap, bool iso99, uptr ip, Call call) {
  bool on = intercept_active(ip);
  if (on && ((str && !read_ok(str, plain_len(str) + 1, ip)) || !read_ok(fmt, plain_len(fmt) + 1, ip))) on = false;
  va_list copy;
  va_copy(copy, ap);
  const int r = call(ap);
  if (on) scanf_assigned(fmt, copy, r, iso99, ip);
  va_end(copy);
  return r;
}
int do_vsscanf(bool iso99, const char* str, const char* fmt, va_list ap, uptr ip) {
  return scanned(str, fmt, ap, iso99, ip, [&](va_list a) {
    return iso99 ? real_fn(r_isoc99_vsscanf, "__isoc99_vsscanf")(str, fmt, a) : real_fn(r_vsscanf, "vsscanf")(str, fmt, a);
  });
}
int do_vfscanf(bool iso99, FILE* f, const char* fmt, va_list ap, uptr ip) {
  return scanned(nullptr, fmt, ap, iso99, ip, [&](va_list a) {
    return iso99 ? real_fn(r_isoc99_vfscanf, "__isoc99_vfscanf")(f, fmt, a) : real_fn(r_vfscanf, "vfscanf")(f, fmt, a);
  });
}

}  // namespace

void convert_interceptors_init() {
  real_fn(r_strtol, "strtol");
  real_fn(r_strtoll, "strtoll");
  real_fn(r_strtoul, "strtoul");
  real_fn(r_strtoull, "strtoull");
  real_fn(r_strtoimax, "strtoimax");
  real_fn(r_strtoumax, "strtoumax");
  real_fn(r_strtod, "strtod");
  real_fn(r_strtof, "strtof");
  real_fn(r_strtold, "strtold");
  real_fn(r_vsscanf, "vsscanf");
  real_fn(r_isoc99_vsscanf, "__isoc99_vsscanf");
  real_fn(r_vfscanf, "vfscanf");
  real_fn(r_isoc99_vfscanf, "__isoc99_vfscanf");
}

}  // namespace ukasan

using namespace ukasan;

// glibc 2.38 redirects these to __isoc23_* under C2X; older ones have no such
// names, and then nothing calls ours.
#define UKASAN_STRTO(T, name, real)                                                       \
  UKASAN_INTERCEPT(T, name, const char* s, char** endp, int base) {                      \
    return strto<T>(real, #name, s, endp, base, UKASAN_RET_IP);                          \
  }
UKASAN_STRTO(long, strtol, r_strtol)
UKASAN_STRTO(long long, strtoll, r_strtoll)
UKASAN_STRTO(long long, strtoq, r_strtoll)
UKASAN_STRTO(unsigned long, strtoul, r_strtoul)
UKASAN_STRTO(unsigned long long, strtoull, r_strtoull)
UKASAN_STRTO(unsigned long long, strtouq, r_strtoull)
UKASAN_STRTO(intmax_t, strtoimax, r_strtoimax)
UKASAN_STRTO(uintmax_t, strtoumax, r_strtoumax)
#undef UKASAN_STRTO

UKASAN_INTERCEPT(double, strtod, const char* s, char** endp) {
  return strtof_<double>(r_strtod, "strtod", s, endp, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(float, strtof, const char* s, char** endp) {
  return strtof_<float>(r_strtof, "strtof", s, endp, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(long double, strtold, const char* s, char** endp) {
  return strtof_<long double>(r_strtold, "strtold", s, endp, UKASAN_RET_IP);
}
// glibc's ato* are strto* (an -O build inlines them as such, an -O0 one calls these).
UKASAN_INTERCEPT(int, atoi, const char* s) {
  return static_cast<int>(strto<long>(r_strtol, "strtol", s, nullptr, 10, UKASAN_RET_IP));
}
UKASAN_INTERCEPT(long, atol, const char* s) { return strto<long>(r_strtol, "strtol", s, nullptr, 10, UKASAN_RET_IP); }
UKASAN_INTERCEPT(long long, atoll, const char* s) {
  return strto<long long>(r_strtoll, "strtoll", s, nullptr, 10, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(double, atof, const char* s) { return strtof_<double>(r_strtod, "strtod", s, nullptr, UKASAN_RET_IP); }

// The scanf family: glibc's headers send C99 programs to the __isoc99_ names.
UKASAN_INTERCEPT(int, vsscanf, const char* str, const char* fmt, va_list ap) {
  return do_vsscanf(false, str, fmt, ap, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(int, __isoc99_vsscanf, const char* str, const char* fmt, va_list ap) {
  return do_vsscanf(true, str, fmt, ap, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(int, vfscanf, FILE* f, const char* fmt, va_list ap) { return do_vfscanf(false, f, fmt, ap, UKASAN_RET_IP); }
UKASAN_INTERCEPT(int, __isoc99_vfscanf, FILE* f, const char* fmt, va_list ap) {
  return do_vfscanf(true, f, fmt, ap, UKASAN_RET_IP);
}
UKASAN_INTERCEPT(int, vscanf, const char* fmt, va_list ap) { return do_vfscanf(false, stdin, fmt, ap, UKASAN_RET_IP); }
UKASAN_INTERCEPT(int, __isoc99_vscanf, const char* fmt, va_list ap) {
  return do_vfscanf(true, stdin, fmt, ap, UKASAN_RET_IP);
}
#define UKASAN_SCANF(name, call, ...)            \
  UKASAN_INTERCEPT(int, name, __VA_ARGS__, ...) { \
    const uptr ip = UKASAN_RET_IP;               \
    va_list ap;                                  \
    va_start(ap, fmt);                           \
    const int r = call;                          \
    va_end(ap);                                  \
    return r;                                    \
  }
UKASAN_SCANF(sscanf, do_vsscanf(false, str, fmt, ap, ip), const char* str, const char* fmt)
UKASAN_SCANF(__isoc99_sscanf, do_vsscanf(true, str, fmt, ap, ip), const char* str, const char* fmt)
UKASAN_SCANF(fscanf, do_vfscanf(false, f, fmt, ap, ip), FILE* f, const char* fmt)
UKASAN_SCANF(__isoc99_fscanf, do_vfscanf(true, f, fmt, ap, ip), FILE* f, const char* fmt)
UKASAN_SCANF(scanf, do_vfscanf(false, stdin, fmt, ap, ip), const char* fmt)
UKASAN_SCANF(__isoc99_scanf, do_vfscanf(true, stdin, fmt, ap, ip), const char* fmt)
#undef UKASAN_SCANF
