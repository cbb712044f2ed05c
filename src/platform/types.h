// Basic fixed-width types and small helpers shared by every layer.
// Layering: platform -> shadow / stackdepot -> percpu / quarantine -> slab -> report -> heap / instrumentation -> tools.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace ukasan {
using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using s8 = int8_t;
using s32 = int32_t;
using sptr = intptr_t;
using uptr = uintptr_t;

constexpr uptr kPageSize = 4096;

constexpr uptr round_up(uptr x, uptr a) { return (x + a - 1) & ~(a - 1); }
constexpr uptr round_down(uptr x, uptr a) { return x & ~(a - 1); }
constexpr bool is_pow2(uptr x) { return x && !(x & (x - 1)); }

#define UKASAN_LIKELY(x) __builtin_expect(!!(x), 1)
#define UKASAN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define UKASAN_NOINLINE __attribute__((noinline))
#define UKASAN_ALWAYS_INLINE inline __attribute__((always_inline))
#define UKASAN_TLS __attribute__((tls_model("initial-exec"))) __thread
#define UKASAN_EXPORT extern "C" __attribute__((visibility("default")))
}  // namespace ukasan
