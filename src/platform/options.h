// User options (the list lives in options.inc, declared once).
#pragma once
#include <atomic>

#include "platform/arch.h"
#include "platform/types.h"

// The project's version (CMake's PROJECT_VERSION; "unknown" in builds of
// the runtime's sources outside the main target, the fuzzer's).
#ifndef UKASAN_VERSION_STRING
#define UKASAN_VERSION_STRING "unknown"
#endif

namespace ukasan {

enum FaultMode : int { kFaultReport = 0, kFaultAbort = 1, kFaultExit = 2 };
enum ReportFormat : int { kFormatText = 0, kFormatJson = 1 };
constexpr u64 kAutoSize = ~0ull;  // "pick the default"
// ThreadSanitizer delays signal handlers to its own safe points, so a thread
// blocked in it never acknowledges the scan's stop signal: no leak scan at
// exit in the TSan build (it checks the core's concurrency, not leaks).
constexpr bool kDetectLeaksDefault = !UKASAN_TSAN;

// An option's value: read on fast paths from any thread while
// ukasan_set_options() may change it, so a relaxed atomic (a plain load on
// x86-64) rather than a racy plain field.
template <typename T>
class OptionValue {
 public:
  constexpr OptionValue() = default;
  operator T() const { return v_.load(std::memory_order_relaxed); }
  OptionValue& operator=(T x) {
    v_.store(x, std::memory_order_relaxed);
    return *this;
  }

 private:
  std::atomic<T> v_{};
};

struct Options {
#define UKASAN_OPTION(type, name, def, when, max, desc) OptionValue<UKASAN_OPT_TYPE_##type> name;
#define UKASAN_OPT_TYPE_bool bool
#define UKASAN_OPT_TYPE_size u64
#define UKASAN_OPT_TYPE_int int
#define UKASAN_OPT_TYPE_str const char*
#define UKASAN_OPT_TYPE_fault FaultMode
#define UKASAN_OPT_TYPE_format ReportFormat
#include "platform/options.inc"
#undef UKASAN_OPTION
};

extern Options g_options;
inline const Options& options() { return g_options; }
// Set all options to their defaults.
void options_set_defaults();
// Parse "k=v:k=v". A malformed or unknown entry, or (at_runtime) a start-up
// option, prints one line naming it to stderr; a malformed value leaves its
// option at the default, a refused one leaves it unchanged. Returns the
// number of such entries.
int options_parse(const char* s, bool at_runtime);
// Defaults, then the program's __ukasan_default_options() if it defines
// one, then $UKASAN_OPTIONS; help=1 then prints them all. Called once by
// runtime init.
void options_init_from_env();
// Every option with its value, its default and its meaning, to stderr.
void options_print_help();
// Effective quarantine bound in bytes (resolves the 0 = automatic default).
u64 options_quarantine_bytes();
}  // namespace ukasan
