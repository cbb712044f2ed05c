// Suppressions (suppressions=FILE, as ASan's): lines "TYPE:PATTERN"; a
// report of a bug type matching TYPE whose stack has a frame whose function,
// source file or module matches PATTERN is not printed and does not count.
// TYPE and PATTERN are globs ('*', '?'); TYPE is the report's bug type in
// lower case with spaces and ": " as '-' ("slab-out-of-bounds",
// "kfence-out-of-bounds-read", "leak" for kmemleak's). '#' starts a
// comment. The file is read once, at start-up, into static storage (no
// allocation), and never in a privileged process (its path comes from the
// environment).
#include "report/suppress.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "platform/options.h"
#include "platform/platform.h"
#include "platform/print.h"
#include "symbolize/symbolizer.h"

namespace ukasan {
namespace {

constexpr unsigned kMaxRules = 128;
constexpr uptr kFileMax = 32 * 1024;

struct Rule {
  const char* type;
  const char* pattern;
};
char g_text[kFileMax + 1];
Rule g_rules[kMaxRules];
unsigned g_nrules;
std::atomic<u64> g_suppressed{0};

// Glob match of s against p ('*' any run, '?' any one character).
bool glob(const char* p, const char* s) {
  const char *star = nullptr, *resume = nullptr;
  while (*s) {
    if (*p == '*') {
      star = p++;
      resume = s;
    } else if (*p == '?' || *p == *s) {
      p++;
      s++;
    } else if (star) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*p == '*') p++;
  return !*p;
}

// The bug type as a suppression names it.
void type_key(const char* type, char* out, uptr len) {
  uptr o = 0;
  for (uptr i = 0; type[i] && o + 1 < len; i++) {
    char c = type[i];
    if (c == ':' && type[i + 1] == ' ') continue;  // ": " -> "-" (the space does it)
    if (c == ' ') c = '-';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out[o++] = c;
  }
  out[o] = 0;
}

void warn_line(unsigned lineno, const char* why) {
  char msg[160];
  snprintf(msg, sizeof(msg), "ukasan: suppressions line %u: %s; ignored\n", lineno, why);
  raw_puts(2, msg);
}

void parse(char* text) {
  unsigned lineno = 0;
  for (char* line = text; line && *line;) {
    char* next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    while (*line == ' ' || *line == '\t') line++;
    uptr len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) line[--len] = 0;
    if (*line && *line != '#') {
      char* colon = strchr(line, ':');
      if (!colon || colon == line || !colon[1]) {
        warn_line(lineno, "not TYPE:PATTERN");
      } else if (g_nrules == kMaxRules) {
        warn_line(lineno, "more than 128 suppressions");
      } else {
        *colon = 0;
        g_rules[g_nrules].type = line;
        g_rules[g_nrules].pattern = colon + 1;
        g_nrules++;
      }
    }
    line = next;
  }
}

bool frame_matches(const char* pattern, uptr pc) {
  SymbolizedFrame f;
  if (!symbolize_pc(pc - 1, &f)) return false;
  const char* base = strrchr(f.module, '/');
  return (f.function[0] && glob(pattern, f.function)) || (f.file[0] && glob(pattern, f.file)) ||
         (f.module[0] && (glob(pattern, f.module) || (base && glob(pattern, base + 1))));
}

}  // namespace

void suppressions_load() {
  const char* path = options().suppressions;
  if (!path || !path[0] || g_nrules) return;
  if (process_is_secure()) {
    raw_puts(2, "ukasan: suppressions ignored in a privileged (setuid/setgid) process\n");
    return;
  }
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    char msg[320];
    snprintf(msg, sizeof(msg), "ukasan: cannot open the suppressions file '%s'; none used\n", path);
    raw_puts(2, msg);
    return;
  }
  uptr n = 0;
  for (ssize_t r; n < kFileMax && (r = read(fd, g_text + n, kFileMax - n)) != 0;) {
    if (r < 0) break;
    n += static_cast<uptr>(r);
  }
  close(fd);
  g_text[n] = 0;
  if (n == kFileMax) raw_puts(2, "ukasan: the suppressions file is longer than 32 KiB; the rest is ignored\n");
  parse(g_text);
  if (options().verbosity >= 1) {
    char msg[320];
    snprintf(msg, sizeof(msg), "ukasan: %u suppressions from '%s'\n", g_nrules, path);
    raw_puts(2, msg);
  }
}

bool suppressed(const char* type, const uptr* pcs, unsigned n) {
  if (!g_nrules) return false;
  char key[96];
  type_key(type, key, sizeof(key));
  for (unsigned r = 0; r < g_nrules; r++) {
    if (!glob(g_rules[r].type, key)) continue;
    for (unsigned i = 0; i < n; i++) {
      if (pcs[i] && frame_matches(g_rules[r].pattern, pcs[i])) {
        if (strcmp(type, "leak") != 0) g_suppressed.fetch_add(1, std::memory_order_relaxed);  // KASAN/KFENCE ones
        return true;
      }
    }
  }
  return false;
}

bool suppressions_active() { return g_nrules != 0; }
u64 suppressed_count() { return g_suppressed.load(std::memory_order_relaxed); }

}  // namespace ukasan
