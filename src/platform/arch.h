// The one place that knows the machine: x86-64 Linux. Everything
// architecture-specific the runtime uses (return address, spin-wait hint,
// raw fill/copy, the byte scan's SIMD, the vfork trampoline, the register
// holding a faulting pc, the sanitizer the runtime itself is built with) is
// here; another port starts by providing this header.
#pragma once
#if !defined(__x86_64__) || !defined(__linux__)
#error "ukasan supports x86-64 Linux only: port src/platform/arch.h (and the shadow layout in src/shadow/shadow.h)"
#endif
#include <emmintrin.h>
#include <string.h>

#include "platform/types.h"

// The kernel's _RET_IP_: the return address of the function using it (the
// call site in its caller), recorded by every entry point for stacks and
// reports.
#define UKASAN_RET_IP (reinterpret_cast<::ukasan::uptr>(__builtin_return_address(0)))

// Whether the runtime itself is built with ThreadSanitizer (the concurrency
// test build): its shadow occupies ours, so ours is mapped at a dynamic
// offset (src/shadow/shadow.h), and the malloc/instrumentation front ends
// are left out.
#if defined(__SANITIZE_THREAD__)
#define UKASAN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UKASAN_TSAN 1
#endif
#endif
#ifndef UKASAN_TSAN
#define UKASAN_TSAN 0
#endif
#ifndef UKASAN_DYNAMIC_SHADOW
#define UKASAN_DYNAMIC_SHADOW UKASAN_TSAN
#endif

// The machine register holding the pc in a signal's ucontext_t.
#define UKASAN_UCONTEXT_PC(uc) ((uc)->uc_mcontext.gregs[REG_RIP])

namespace ukasan {

// A spin-wait iteration (the kernel's cpu_relax()).
UKASAN_ALWAYS_INLINE void cpu_relax() { __builtin_ia32_pause(); }

// memset/memcpy for the runtime's own writes into poisoned memory (redzones,
// freed objects): never routed through the libc interceptors of the
// instrumentation runtime, which would report them in a static link.
//
// Up to 64 bytes (a canary, a small object's free pattern) are written by
// two to four overlapping unaligned stores: rep stosb's microcoded start-up
// costs more than such a fill on CPUs without fast short stosb (FSRS).
UKASAN_ALWAYS_INLINE void internal_memset(void* dst, int c, uptr n) {
  if (n <= 64) {
    u8* d = static_cast<u8*>(dst);
    const u64 v8 = 0x0101010101010101ull * static_cast<u8>(c);
    if (n >= 16) {
      const __m128i v = _mm_set1_epi64x(static_cast<long long>(v8));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), v);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + n - 16), v);
      if (n > 32) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), v);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + n - 32), v);
      }
    } else if (n >= 8) {
      __builtin_memcpy(d, &v8, 8);
      __builtin_memcpy(d + n - 8, &v8, 8);
    } else if (n >= 4) {
      const u32 v4 = static_cast<u32>(v8);
      __builtin_memcpy(d, &v4, 4);
      __builtin_memcpy(d + n - 4, &v4, 4);
    } else if (n) {
      d[0] = d[n / 2] = d[n - 1] = static_cast<u8>(c);
    }
    return;
  }
  asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
}
UKASAN_ALWAYS_INLINE void internal_memcpy(void* dst, const void* src, uptr n) {
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

// Unaligned loads (x86-64 allows them; memcpy of a constant size compiles
// to one mov, never a call).
UKASAN_ALWAYS_INLINE u64 load_u64(const void* p) {
  u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}
UKASAN_ALWAYS_INLINE u32 load_u32(const void* p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
UKASAN_ALWAYS_INLINE u16 load_u16(const void* p) {
  u16 v;
  __builtin_memcpy(&v, p, 2);
  return v;
}

// Whether the n bytes at p (1 <= n <= kShortCompareMax) all equal want: two
// to five overlapping loads, no loop. 80 covers the heap's canary window
// (16 bytes to the end of a line: 16..79).
constexpr uptr kShortCompareMax = 80;
UKASAN_ALWAYS_INLINE bool all_equal_short(const u8* p, uptr n, u8 want) {
  const u64 w8 = 0x0101010101010101ull * want;
  if (n >= 16) {
    const __m128i w = _mm_set1_epi64x(static_cast<long long>(w8));
    auto eq = [&](uptr at) { return _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at)), w); };
    __m128i a = _mm_and_si128(eq(0), eq(n - 16));
    if (n > 32) a = _mm_and_si128(a, _mm_and_si128(eq(16), eq(n - 32)));
    if (n > 64) a = _mm_and_si128(a, eq(32));
    return _mm_movemask_epi8(a) == 0xffff;
  }
  if (n >= 8) return ((load_u64(p) ^ w8) | (load_u64(p + n - 8) ^ w8)) == 0;
  if (n >= 4) return ((load_u32(p) ^ static_cast<u32>(w8)) | (load_u32(p + n - 4) ^ static_cast<u32>(w8))) == 0;
  return p[0] == want && p[n / 2] == want && p[n - 1] == want;
}

// first_mismatch's scan: 32 bytes per step (SSE2, baseline x86-64).
UKASAN_NOINLINE inline uptr first_mismatch_scan(const u8* m, uptr lo, uptr hi, u8 want) {
  uptr i = lo;
  while (i < hi && (reinterpret_cast<uptr>(m + i) & 7)) {
    if (m[i] != want) return i;
    i++;
  }
  const __m128i w = _mm_set1_epi8(static_cast<char>(want));
  while (i + 32 <= hi) {
    const __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m + i)), w);
    const __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m + i + 16)), w);
    if (_mm_movemask_epi8(_mm_and_si128(a, b)) != 0xffff) break;
    i += 32;
  }
  const u64 want8 = 0x0101010101010101ull * want;
  while (i + 8 <= hi) {
    u64 v;
    memcpy(&v, m + i, 8);
    if (v != want8) break;
    i += 8;
  }
  while (i < hi && m[i] == want) i++;
  return i;
}

// Index of the first byte in m[lo, hi) that differs from want, or hi. The
// heap checks canaries and whole freed objects against their free pattern
// with it. Ranges of up to kShortCompareMax bytes that match whole (the
// common case: a canary, a small object's pattern) are answered inline by
// all_equal_short; the scan's alignment and tail loops cost more than that.
UKASAN_ALWAYS_INLINE uptr first_mismatch(const u8* m, uptr lo, uptr hi, u8 want) {
  const uptr n = hi - lo;
  if (n <= kShortCompareMax && lo < hi && all_equal_short(m + lo, n, want)) return hi;
  return first_mismatch_scan(m, lo, hi, want);
}

}  // namespace ukasan

// Defines vfork(2) as a trampoline that calls `long after_parent(long ret)`
// (a C function) in the parent only, with the raw syscall result, and
// returns what it returns. The return address is kept in a register across
// the syscall (the child runs on this stack and may overwrite the slot), as
// glibc's own vfork does.
#define UKASAN_DEFINE_VFORK(after_parent) \
  asm(".text\n"                           \
      ".globl vfork\n"                    \
      ".type vfork, @function\n"          \
      "vfork:\n"                          \
      ".cfi_startproc\n"                  \
      "endbr64\n"                         \
      "popq %rdi\n"                       \
      "movl $58, %eax\n"                  \
      "syscall\n"                         \
      "pushq %rdi\n"                      \
      "testq %rax, %rax\n"                \
      "jz 1f\n"                           \
      "subq $8, %rsp\n"                   \
      "movq %rax, %rdi\n"                 \
      "call " #after_parent "\n"          \
      "addq $8, %rsp\n"                   \
      "1:\n"                              \
      "ret\n"                             \
      ".cfi_endproc\n"                    \
      ".size vfork, .-vfork\n")
