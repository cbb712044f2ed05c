#include "platform/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/test_knobs.h"

namespace ukasan {

Options g_options;  // constant-initialised (zero) until options_init_from_env()
TestKnobs g_test_knobs;
// Storage for string options (log_path); no heap.
static char g_str_storage[4][512];
static int g_str_used;


void options_set_defaults() {
#define UKASAN_OPTION(type, name, def, when, max, desc) g_options.name = def;
#include "platform/options.inc"
#undef UKASAN_OPTION
  g_str_used = 0;
}

static void complain(const char* what, const char* key, uptr klen, const char* val, uptr vlen,
                     const char* outcome = "'; using the default") {
  char buf[512];
  uptr n = 0;
  auto add = [&](const char* s, uptr len) {
    if (n + len >= sizeof(buf) - 2) len = sizeof(buf) - 2 - n;
    memcpy(buf + n, s, len);
    n += len;
  };
  add("ukasan: UKASAN_OPTIONS: ", 24);
  add(what, strlen(what));
  add(" '", 2);
  add(key, klen);
  if (val) {
    add("=", 1);
    add(val, vlen);
  }
  add(outcome, strlen(outcome));
  buf[n++] = '\n';
  write_all(2, buf, n);
}

static bool parse_u64(const char* v, uptr len, u64* out) {
  if (len == 0 || len > 19) return false;
  u64 x = 0;
  for (uptr i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9') return false;
    x = x * 10 + static_cast<u64>(v[i] - '0');
  }
  *out = x;
  return true;
}

static bool set_bool(bool* dst, const char* v, uptr len, u64) {
  if (len == 1 && (v[0] == '0' || v[0] == '1')) { *dst = v[0] == '1'; return true; }
  if (len == 4 && !memcmp(v, "true", 4)) { *dst = true; return true; }
  if (len == 5 && !memcmp(v, "false", 5)) { *dst = false; return true; }
  return false;
}
// Sizes are in units (MiB, KiB, bytes) that the runtime shifts into bytes;
// each option's max (options.inc) keeps them sane and far from overflow.
static bool set_size(u64* dst, const char* v, uptr len, u64 max) {
  u64 x;
  if (!parse_u64(v, len, &x) || x > max) return false;
  *dst = x;
  return true;
}
static bool set_int(int* dst, const char* v, uptr len, u64 max) {
  u64 x;
  if (!parse_u64(v, len, &x) || x > max) return false;
  *dst = static_cast<int>(x);
  return true;
}
static bool set_str(const char** dst, const char* v, uptr len, u64) {
  if (len >= sizeof(g_str_storage[0])) return false;
  // A ring of buffers: a new value never overwrites the one in use.
  char* s = g_str_storage[g_str_used++ % 4];
  memcpy(s, v, len);
  s[len] = 0;
  *dst = s;
  return true;
}
static bool set_fault(FaultMode* dst, const char* v, uptr len, u64) {
  if (len == 6 && !memcmp(v, "report", 6)) { *dst = kFaultReport; return true; }
  if (len == 5 && !memcmp(v, "abort", 5)) { *dst = kFaultAbort; return true; }
  if (len == 4 && !memcmp(v, "exit", 4)) { *dst = kFaultExit; return true; }
  return false;
}

static bool set_format(ReportFormat* dst, const char* v, uptr len, u64) {
  if (len == 4 && !memcmp(v, "text", 4)) { *dst = kFormatText; return true; }
  if (len == 4 && !memcmp(v, "json", 4)) { *dst = kFormatJson; return true; }
  return false;
}

enum When { kStartup, kRuntime };
constexpr When kWhen_startup = kStartup, kWhen_runtime = kRuntime;

int options_parse(const char* s, bool at_runtime) {
  int errors = 0;
  if (!s) return 0;
  while (*s) {
    const char* end = strchr(s, ':');
    uptr len = end ? static_cast<uptr>(end - s) : strlen(s);
    if (len > 0) {
      const char* eq = static_cast<const char*>(memchr(s, '=', len));
      if (!eq) {
        complain("malformed entry (expected name=value)", s, len, nullptr, 0);
        errors++;
      } else {
        uptr klen = static_cast<uptr>(eq - s);
        const char* v = eq + 1;
        uptr vlen = len - klen - 1;
        bool known = false, ok = false, refused = false;
#define UKASAN_OPTION(type, name, def, when, max, desc)                       \
  if (!known && klen == sizeof(#name) - 1 && !memcmp(s, #name, klen)) {      \
    known = true;                                                             \
    if (at_runtime && kWhen_##when == kStartup) {                             \
      refused = true;                                                         \
    } else {                                                                  \
      UKASAN_OPT_TYPE_##type value;                                           \
      ok = set_##type(&value, v, vlen, max);                                  \
      g_options.name = ok ? value : def;                                      \
    }                                                                         \
  }
#include "platform/options.inc"
#undef UKASAN_OPTION
        if (!known) {
          complain("unknown option", s, klen, nullptr, 0);
          errors++;
        } else if (refused) {
          complain("start-up option", s, klen, v, vlen, "': set it in the environment; unchanged");
          errors++;
        } else if (!ok) {
          complain("invalid value for option", s, klen, v, vlen);
          errors++;
        }
      }
    }
    if (!end) break;
    s = end + 1;
  }
  return errors;
}

// ---- help=1 ------------------------------------------------------------------------
static void format_value(char* out, uptr len, bool v) { snprintf(out, len, "%d", v ? 1 : 0); }
static void format_value(char* out, uptr len, u64 v) {
  if (v == kAutoSize)
    snprintf(out, len, "auto");
  else
    snprintf(out, len, "%llu", static_cast<unsigned long long>(v));
}
static void format_value(char* out, uptr len, int v) { snprintf(out, len, "%d", v); }
static void format_value(char* out, uptr len, const char* v) { snprintf(out, len, "%s", v ? v : ""); }
static void format_value(char* out, uptr len, FaultMode v) {
  snprintf(out, len, "%s", v == kFaultAbort ? "abort" : v == kFaultExit ? "exit" : "report");
}
static void format_value(char* out, uptr len, ReportFormat v) { snprintf(out, len, "%s", v == kFormatJson ? "json" : "text"); }

void options_print_help() {
  raw_puts(2, "ukasan " UKASAN_VERSION_STRING ": options (UKASAN_OPTIONS=name=value:name=value; * = start-up only):\n");
  char line[768], cur[64], def[64];
#define UKASAN_OPTION(type, name, dflt, when, max, desc)                                                   \
  {                                                                                                      \
    format_value(cur, sizeof(cur), static_cast<UKASAN_OPT_TYPE_##type>(g_options.name));                \
    format_value(def, sizeof(def), static_cast<UKASAN_OPT_TYPE_##type>(dflt));                           \
    snprintf(line, sizeof(line), "  %s%s=%s (default %s)\n      %s\n", #name, kWhen_##when == kStartup ? "*" : "", \
             cur, def, desc);                                                                            \
    raw_puts(2, line);                                                                                   \
  }
#include "platform/options.inc"
#undef UKASAN_OPTION
}

// The program's own defaults (ASan's __asan_default_options): parsed before
// UKASAN_OPTIONS, which overrides them. Defined, if at all, by the program.
extern "C" __attribute__((weak)) const char* __ukasan_default_options();

void options_init_from_env() {
  options_set_defaults();
  if (&__ukasan_default_options != nullptr) options_parse(__ukasan_default_options(), /*at_runtime=*/false);
  options_parse(getenv("UKASAN_OPTIONS"), /*at_runtime=*/false);
  if (g_options.help) options_print_help();
  // A setuid/setgid program: its caller's environment must not make it
  // create or write files (the program itself may still set log_path
  // through ukasan_set_options).
  const char* path = g_options.log_path;
  if (process_is_secure() && path && *path && strcmp(path, "stderr") != 0) {
    raw_puts(2, "ukasan: UKASAN_OPTIONS: log_path is ignored in a setuid/setgid program; reporting to stderr\n");
    g_options.log_path = "";
  }
}

u64 options_quarantine_bytes() {
  const u64 mb = g_options.quarantine_size_mb;
  if (mb != kAutoSize) return mb << 20;
  long pages = sysconf(_SC_PHYS_PAGES);
  u64 ram = pages > 0 ? static_cast<u64>(pages) * kPageSize : (8ull << 30);
  u64 q = ram / 32;
  return q < (256ull << 20) ? q : (256ull << 20);
}

}  // namespace ukasan
