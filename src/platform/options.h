// Runtime options (the list lives in options.inc, declared once).
#pragma once
#include "platform/types.h"

namespace ukasan {

enum FaultMode : int { kFaultReport = 0, kFaultAbort = 1 };
constexpr u64 kAutoSize = ~0ull;  // "pick the default"

struct Options {
#define UKASAN_OPTION(type, name, def, desc) UKASAN_OPT_TYPE_##type name;
#define UKASAN_OPT_TYPE_bool bool
#define UKASAN_OPT_TYPE_size u64
#define UKASAN_OPT_TYPE_int int
#define UKASAN_OPT_TYPE_str const char*
#define UKASAN_OPT_TYPE_fault FaultMode
#include "platform/options.inc"
#undef UKASAN_OPTION
};

extern Options g_options;
inline Options& options() { return g_options; }
// Set all options to their defaults.
void options_set_defaults();
// Parse "k=v:k=v". A malformed or unknown entry prints one line naming it to
// stderr and leaves that option at its default; returns the number of errors.
int options_parse(const char* s);
// Defaults, then $UKASAN_OPTIONS. Called once by runtime init.
void options_init_from_env();
// Effective quarantine bound in bytes (resolves the 0 = automatic default).
u64 options_quarantine_bytes();
}  // namespace ukasan
