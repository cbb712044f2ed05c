// Symbolization for reports (slow path only).
//
// Module lookup uses dladdr1() (no allocation). Function/file/line come from a
// persistent subprocess: llvm-symbolizer (preferred: one process for every
// module) or addr2line (one process per module, a few cached). The child is
// started with vfork+execve, talks over a socketpair (send with MSG_NOSIGNAL,
// so a dead symbolizer gives EPIPE instead of SIGPIPE), gets an environment
// without LD_PRELOAD / UKASAN_OPTIONS (so this runtime is not injected into
// it), stderr on /dev/null and no other inherited descriptors. Any I/O error
// or a 10 s silence kills the child; after kMaxRestarts failures the
// symbolizer is given up and output falls back to module+offset.
//
// Nothing here calls malloc: buffers are static and guarded by a spin lock; a
// re-entrant call on the same thread (signal during a report) skips the
// subprocess and prints module+offset.
#include "symbolize/symbolizer.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "platform/lock.h"
#include "platform/print.h"
#include "symbolize/elf.h"

extern "C" char** environ;

namespace ukasan {
namespace {

constexpr int kMaxInline = 16;          // inlined frames kept per pc
constexpr int kTimeoutMs = 10000;       // max silence of the symbolizer
constexpr int kMaxRestarts = 4;         // failures before giving up
constexpr int kMaxA2lProcs = 4;         // cached addr2line processes
constexpr int kMaxEnv = 1024;           // environment entries passed on
constexpr uptr kSentinel = ~uptr(0);    // addr2line end-of-answer marker

enum class Tool : u8 { kUnresolved, kNone, kLlvm, kAddr2line };

struct Proc {
  bool live;
  pid_t pid;
  int fd;
  pid_t owner;  // getpid() of the process that started it
  u64 last_use;
  char module[256];  // addr2line only
};

struct InlineFrame {
  char function[256];
  char file[256];
  int line;
};

struct ModuleInfo {
  char module[256];
  uptr module_offset;  // pc - module base (as printed)
  uptr query_addr;     // address to give the symbolizer (pc - l_addr)
  const char* sname;   // dladdr symbol (may be null)
};

struct State {
  Tool tool;
  int failures;
  u64 use_counter;
  char tool_path[512];
  char exe_path[512];
  bool exe_resolved;
  Proc procs[kMaxA2lProcs];  // llvm-symbolizer uses procs[0]
  char* envp[kMaxEnv + 1];
  char io[32768];
  InlineFrame frames[kMaxInline];
  // module_may_have_debug_info's answers for a few modules, by the hash of
  // their path (0: empty), replaced round robin.
  struct {
    u64 key;
    bool debug;
  } modules[16];
  unsigned modules_next;
};

State g_state;  // zero-initialised .bss, no constructor
SpinLock g_lock;
std::atomic<bool> g_disabled{false};
UKASAN_TLS bool t_in_symbolizer;

void copy_str(char* dst, uptr cap, const char* src, uptr n = ~uptr(0)) {
  if (cap == 0) return;
  uptr i = 0;
  for (; i + 1 < cap && i < n && src[i]; i++) dst[i] = src[i];
  dst[i] = 0;
}

bool starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char* base_name(const char* path) {
  const char* b = strrchr(path, '/');
  return b ? b + 1 : path;
}

// ---------------------------------------------------------------- tool lookup

bool is_executable(const char* path) { return path[0] && access(path, X_OK) == 0; }

bool search_path(const char* name, char* out, uptr cap) {
  const char* path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char* end = strchr(path, ':');
    uptr len = end ? static_cast<uptr>(end - path) : strlen(path);
    if (len > 0 && len + strlen(name) + 2 < cap) {
      memcpy(out, path, len);
      out[len] = '/';
      copy_str(out + len + 1, cap - len - 1, name);
      if (is_executable(out)) return true;
    }
    if (!end) break;
    path = end + 1;
  }
  return false;
}

void resolve_tool(State& s) {
  s.tool = Tool::kNone;
  const char* env = getenv("UKASAN_SYMBOLIZER_PATH");
  if (env && *env) {
    copy_str(s.tool_path, sizeof(s.tool_path), env);
    if (is_executable(s.tool_path))
      s.tool = strstr(base_name(s.tool_path), "addr2line") ? Tool::kAddr2line : Tool::kLlvm;
    return;
  }
  static const char* const kLlvmNames[] = {"llvm-symbolizer",    "llvm-symbolizer-14",
                                           "llvm-symbolizer-15", "llvm-symbolizer-16",
                                           "llvm-symbolizer-17", "llvm-symbolizer-18",
                                           "llvm-symbolizer-19", "llvm-symbolizer-13"};
  for (const char* name : kLlvmNames) {
    if (search_path(name, s.tool_path, sizeof(s.tool_path))) {
      s.tool = Tool::kLlvm;
      return;
    }
  }
  if (search_path("addr2line", s.tool_path, sizeof(s.tool_path))) s.tool = Tool::kAddr2line;
}

// ------------------------------------------------------------ subprocesses

void build_env(State& s) {
  int n = 0;
  for (char** e = environ; e && *e && n < kMaxEnv; e++) {
    if (starts_with(*e, "LD_PRELOAD=") || starts_with(*e, "UKASAN_OPTIONS=")) continue;
    s.envp[n++] = *e;
  }
  s.envp[n] = nullptr;
}

// Runs in the vfork child: only async-signal-safe calls, never returns.
[[noreturn]] UKASAN_NOINLINE void exec_child(int sock, int nullfd, const char* path,
                                             char* const* argv, char* const* envp,
                                             const sigset_t* mask) {
  // Caught signals must not run the parent's handlers on the shared memory.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) sigaction(sig, &dfl, nullptr);
  }
  if (dup2(sock, 0) < 0 || dup2(sock, 1) < 0) _exit(127);
  if (nullfd >= 0) dup2(nullfd, 2);
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
    for (int fd = 3; fd < 4096; fd++) close(fd);
  pthread_sigmask(SIG_SETMASK, mask, nullptr);
  execve(path, argv, envp);
  _exit(127);
}

bool spawn(State& s, char* const* argv, Proc* p) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
  build_env(s);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = vfork();
  if (pid == 0) exec_child(sv[1], nullfd, s.tool_path, argv, s.envp, &old);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sv[1]);
  if (nullfd >= 0) close(nullfd);
  if (pid < 0) {
    close(sv[0]);
    return false;
  }
  p->live = true;
  p->pid = pid;
  p->fd = sv[0];
  p->owner = getpid();
  p->last_use = ++s.use_counter;
  return true;
}

void forget_proc(Proc* p) {
  p->live = false;
  p->pid = 0;
  p->fd = -1;
  p->owner = 0;
  p->module[0] = 0;
}

void kill_proc(Proc* p) {
  if (p->live) {
    close(p->fd);
    if (p->owner == getpid()) {
      kill(p->pid, SIGKILL);
      while (waitpid(p->pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  forget_proc(p);
}

void note_failure(State& s, Proc* p) {
  kill_proc(p);
  if (++s.failures >= kMaxRestarts) {
    for (Proc& q : s.procs) kill_proc(&q);
    s.tool = Tool::kNone;  // give up; module+offset from now on
  }
}

// A process inherited over fork() belongs to the parent: forget it here.
void drop_foreign(State& s) {
  const pid_t me = getpid();
  for (Proc& p : s.procs) {
    if (p.live && p.owner != me) {
      close(p.fd);
      forget_proc(&p);
    }
  }
}

bool send_all(int fd, const char* buf, uptr n) {
  while (n > 0) {
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += r;
    n -= static_cast<uptr>(r);
  }
  return true;
}

u64 now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<u64>(ts.tv_sec) * 1000 + static_cast<u64>(ts.tv_nsec) / 1000000;
}

// Reads into s.io until done(s.io, len) says the answer is complete.
template <typename Done>
bool read_answer(State& s, int fd, uptr* out_len, Done done) {
  uptr len = 0;
  const u64 deadline = now_ms() + kTimeoutMs;
  for (;;) {
    const u64 now = now_ms();
    if (now >= deadline) return false;
    pollfd pfd = {fd, POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(deadline - now));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) return false;  // timeout
    ssize_t got = recv(fd, s.io + len, sizeof(s.io) - 1 - len, 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    if (got == 0) return false;  // EOF: the symbolizer died
    len += static_cast<uptr>(got);
    s.io[len] = 0;
    if (done(s.io, len)) {
      *out_len = len;
      return true;
    }
    if (len >= sizeof(s.io) - 1) return false;  // absurdly long answer
  }
}

// ------------------------------------------------------------------ parsing

// Splits off the next line (terminator replaced by 0). Returns null at end.
char* next_line(char** cursor, char* end) {
  char* p = *cursor;
  if (p >= end) return nullptr;
  char* nl = static_cast<char*>(memchr(p, '\n', static_cast<uptr>(end - p)));
  if (!nl) nl = end;
  *nl = 0;
  *cursor = nl + 1;
  return p;
}

// Parses trailing ":<digits>"; returns its value and cuts it off, or -1.
long cut_number(char* s) {
  char* colon = strrchr(s, ':');
  if (!colon || !colon[1]) return -1;
  long v = 0;
  for (char* d = colon + 1; *d; d++) {
    if (*d < '0' || *d > '9') return -1;
    v = v * 10 + (*d - '0');
  }
  *colon = 0;
  return v;
}

// "file:line:col" (llvm) or "file:line" / "file:line (discriminator N)" (addr2line).
void parse_location(char* loc, bool llvm, InlineFrame* f) {
  f->file[0] = 0;
  f->line = 0;
  char* disc = strstr(loc, " (discriminator");
  if (disc) *disc = 0;
  if (llvm && cut_number(loc) < 0) return;  // column
  long line = cut_number(loc);
  if (line < 0 || strcmp(loc, "??") == 0 || !loc[0]) return;
  copy_str(f->file, sizeof(f->file), loc);
  f->line = static_cast<int>(line);
}

void set_function(const char* name, InlineFrame* f) {
  if (strcmp(name, "??") == 0)
    f->function[0] = 0;
  else
    copy_str(f->function, sizeof(f->function), name);
}

// Parses pairs of lines function / location. Returns the number of frames.
int parse_pairs(char** cursor, char* end, bool llvm, InlineFrame* frames, int max,
                const char* stop_line) {
  int n = 0;
  for (;;) {
    char* fn = next_line(cursor, end);
    if (!fn || !fn[0]) break;                             // llvm: empty line ends
    if (stop_line && strcmp(fn, stop_line) == 0) break;   // addr2line: sentinel
    char* loc = next_line(cursor, end);
    if (!loc) break;
    if (n < max) {
      set_function(fn, &frames[n]);
      parse_location(loc, llvm, &frames[n]);
      n++;
    }
  }
  // Drop a lone "?? / ??" answer.
  if (n == 1 && !frames[0].function[0] && !frames[0].file[0]) n = 0;
  return n;
}

// ------------------------------------------------------------------ queries

int query_llvm(State& s, const ModuleInfo& m, InlineFrame* frames, int max) {
  if (strchr(m.module, '"') || strchr(m.module, '\n')) return 0;
  Proc* p = &s.procs[0];
  if (!p->live) {
    char* argv[] = {s.tool_path,         const_cast<char*>("--demangle"),
                    const_cast<char*>("--inlines"), const_cast<char*>("--functions=linkage"),
                    const_cast<char*>("--output-style=LLVM"), nullptr};
    if (!spawn(s, argv, p)) {
      note_failure(s, p);
      return 0;
    }
  }
  char req[400];
  int len = snprintf(req, sizeof(req), "CODE \"%s\" 0x%lx\n", m.module,
                     static_cast<unsigned long>(m.query_addr));
  if (len <= 0 || static_cast<uptr>(len) >= sizeof(req)) return 0;
  uptr got = 0;
  if (!send_all(p->fd, req, static_cast<uptr>(len)) ||
      !read_answer(s, p->fd, &got, [](const char* b, uptr l) {
        return (l >= 2 && b[l - 1] == '\n' && b[l - 2] == '\n') || (l == 1 && b[0] == '\n');
      })) {
    note_failure(s, p);
    return 0;
  }
  char* cursor = s.io;
  return parse_pairs(&cursor, s.io + got, true, frames, max, nullptr);
}

int query_addr2line(State& s, const ModuleInfo& m, InlineFrame* frames, int max) {
  Proc* p = nullptr;
  for (Proc& q : s.procs)
    if (q.live && strcmp(q.module, m.module) == 0) p = &q;
  if (!p) {
    // A free slot, else evict the least recently used process.
    for (Proc& q : s.procs)
      if (!q.live) {
        p = &q;
        break;
      }
    if (!p) {
      p = &s.procs[0];
      for (Proc& q : s.procs)
        if (q.last_use < p->last_use) p = &q;
      kill_proc(p);
    }
    char* argv[] = {s.tool_path,
                    const_cast<char*>("-f"),
                    const_cast<char*>("-C"),
                    const_cast<char*>("-i"),
                    const_cast<char*>("-a"),
                    const_cast<char*>("-e"),
                    const_cast<char*>(m.module),
                    nullptr};
    if (!spawn(s, argv, p)) {
      note_failure(s, p);
      return 0;
    }
    copy_str(p->module, sizeof(p->module), m.module);
  }
  p->last_use = ++s.use_counter;
  // The sentinel address answers "0xffffffffffffffff\n??\n??:0\n" and marks
  // the end of the (variable-length, with -i) answer for the real address.
  char req[64];
  int len = snprintf(req, sizeof(req), "0x%lx\n0x%lx\n", static_cast<unsigned long>(m.query_addr),
                     static_cast<unsigned long>(kSentinel));
  uptr got = 0;
  if (!send_all(p->fd, req, static_cast<uptr>(len)) ||
      !read_answer(s, p->fd, &got, [](const char* b, uptr l) {
        const char* mark = strstr(b, "\n0xffffffffffffffff\n");
        if (!mark) return false;
        int newlines = 0;  // two more lines after the marker: ?? and ??:0
        for (const char* c = mark + 20; c < b + l; c++) newlines += *c == '\n';
        return newlines >= 2;
      })) {
    note_failure(s, p);
    return 0;
  }
  char* cursor = s.io;
  char* end = s.io + got;
  next_line(&cursor, end);  // the echoed address
  return parse_pairs(&cursor, end, false, frames, max, "0xffffffffffffffff");
}

// ------------------------------------------------------------------ modules

const char* exe_path(State& s) {
  if (!s.exe_resolved) {
    ssize_t n = readlink("/proc/self/exe", s.exe_path, sizeof(s.exe_path) - 1);
    s.exe_path[n > 0 ? n : 0] = 0;
    s.exe_resolved = true;
  }
  return s.exe_path;
}

bool find_module(uptr pc, ModuleInfo* m, State* locked_state) {
  m->module[0] = 0;
  m->module_offset = 0;
  m->query_addr = pc;
  m->sname = nullptr;
  Dl_info info;
  link_map* lm = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&lm),
               RTLD_DL_LINKMAP) ||
      !info.dli_fbase)
    return false;
  m->module_offset = pc - reinterpret_cast<uptr>(info.dli_fbase);
  m->query_addr = lm ? pc - static_cast<uptr>(lm->l_addr) : m->module_offset;
  m->sname = info.dli_sname;
  const char* name = info.dli_fname;
  if (lm && lm->l_name && lm->l_name[0] == 0) {  // the main executable
    if (locked_state) {
      const char* exe = exe_path(*locked_state);
      if (exe[0]) name = exe;
    }
  }
  if (name) copy_str(m->module, sizeof(m->module), name);
  return true;
}

// Whether pc lies in an executable segment of a loaded module (the vDSO
// included): a frame-pointer walk through code built without frame pointers
// can pick up a stack or data address as a "return address"; such a frame,
// and everything the walk found after it, is not printed.
int code_segment_cb(struct dl_phdr_info* info, size_t, void* data) {
  const uptr pc = *static_cast<uptr*>(data);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    const uptr lo = info->dlpi_addr + ph.p_vaddr;
    if (pc >= lo && pc - lo < ph.p_memsz) return 1;
  }
  return 0;
}
bool pc_in_code(uptr pc) { return dl_iterate_phdr(code_segment_cb, &pc) != 0; }

u64 path_hash(const char* p) {  // FNV-1a
  u64 h = 0xcbf29ce484222325ull;
  for (; *p; p++) h = (h ^ static_cast<u8>(*p)) * 0x100000001b3ull;
  return h | 1;  // never 0, the empty slot
}

bool module_may_have_debug_info(State& s, const char* module) {
  const u64 h = path_hash(module);
  for (const auto& m : s.modules)
    if (m.key == h) return m.debug;
  const bool debug = elf_may_have_debug_info(module);
  auto& m = s.modules[s.modules_next++ % (sizeof(s.modules) / sizeof(s.modules[0]))];
  m.key = h;
  m.debug = debug;
  return debug;
}

// A name the symbolizer would demangle: Itanium C++ (and Rust's legacy
// scheme), Rust v0, D.
bool is_mangled(const char* n) {
  return n[0] == '_' && (n[1] == 'Z' || n[1] == 'R' || (n[1] == 'D' && n[2] >= '0' && n[2] <= '9'));
}

// For a module without debug information (a distribution's stripped programs
// and libraries) a symbolizer can answer only from the symbol tables
// (.symtab, else .dynsym), which elf_function_at reads here the same way: it
// is not started for such a frame. Starting llvm-symbolizer costs about
// 0.1 s, more than a short process's whole run (a compiler driver, a git
// command, each reporting its leaks at exit). Its one other service is
// demangling, so a mangled name still goes to it, as does everything when
// DEBUGINFOD_URLS lets it fetch debug files. Returns the frame count, or -1
// to ask the symbolizer.
int answer_from_symbol_table(State& s, const ModuleInfo& m, InlineFrame* frames, int max) {
  if (max <= 0) return -1;
  const char* debuginfod = getenv("DEBUGINFOD_URLS");
  if ((debuginfod && *debuginfod) || module_may_have_debug_info(s, m.module)) return -1;
  ElfFunction sym;
  const char* name = elf_function_at(m.module, m.query_addr, &sym) ? sym.name : m.sname;
  if (!name || !name[0]) return 0;
  if (is_mangled(name)) return -1;
  copy_str(frames[0].function, sizeof(frames[0].function), name);
  frames[0].file[0] = 0;
  frames[0].line = 0;
  return 1;
}

// Fills frames (innermost first) for pc. Returns count (0: no function/file).
int symbolize_locked(State& s, const ModuleInfo& m, InlineFrame* frames, int max) {
  if (g_disabled.load(std::memory_order_relaxed) || !m.module[0]) return 0;
  drop_foreign(s);
  const int local = answer_from_symbol_table(s, m, frames, max);
  if (local >= 0) return local;
  if (s.tool == Tool::kUnresolved) resolve_tool(s);
  int n = 0;
  if (s.tool == Tool::kLlvm)
    n = query_llvm(s, m, frames, max);
  else if (s.tool == Tool::kAddr2line)
    n = query_addr2line(s, m, frames, max);
  if (n == 0 && m.sname && max > 0) {  // at least the dynamic symbol
    copy_str(frames[0].function, sizeof(frames[0].function), m.sname);
    frames[0].file[0] = 0;
    frames[0].line = 0;
    n = 1;
  }
  return n;
}

// Lock guard that refuses re-entry from the same thread (signal handler).
struct Guard {
  bool held = false;
  Guard() {
    if (t_in_symbolizer) return;
    t_in_symbolizer = true;
    g_lock.lock();
    held = true;
  }
  ~Guard() {
    if (held) {
      g_lock.unlock();
      t_in_symbolizer = false;
    }
  }
};

}  // namespace

bool symbolize_pc(uptr pc, SymbolizedFrame* out) {
  out->function[0] = out->file[0] = out->module[0] = 0;
  out->line = 0;
  out->module_offset = 0;
  Guard guard;
  ModuleInfo m;
  if (!find_module(pc, &m, guard.held ? &g_state : nullptr)) return false;
  copy_str(out->module, sizeof(out->module), m.module);
  out->module_offset = m.module_offset;
  if (!guard.held) return true;
  if (symbolize_locked(g_state, m, g_state.frames, kMaxInline) > 0) {
    const InlineFrame& f = g_state.frames[0];
    copy_str(out->function, sizeof(out->function), f.function);
    copy_str(out->file, sizeof(out->file), f.file);
    out->line = f.line;
  }
  return true;
}

namespace {

// A plain identifier for a function name, as the kernel's tooling expects
// the first token of a frame to be: a C name as it is; a demangled C++ one
// without its parameter list (the last top-level parenthesised group) and
// with every other character outside [A-Za-z0-9_] made '_'
// ("ns::Foo<int>::bar(int) const" -> "ns__Foo_int___bar").
void ident_of(const char* fn, char* out, uptr len) {
  uptr cut = strlen(fn);
  int depth = 0;
  for (uptr i = 0; fn[i]; i++) {
    const char c = fn[i];
    if (c == '(' && depth == 0) cut = i;
    if (c == '(' || c == '<' || c == '{' || c == '[') depth++;
    if ((c == ')' || c == '>' || c == '}' || c == ']') && depth > 0) depth--;
  }
  uptr o = 0;
  for (uptr i = 0; i < cut && o + 1 < len; i++) {
    const char c = fn[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out[o++] = ok ? c : '_';
  }
  out[o] = 0;
}

// "token+0xoff/0xsize" for the function containing return address pc (the
// function the code is compiled into: the outermost of an inline chain),
// its offset from the function's symbol and the symbol's size (0x0 each
// when no symbol table says). fn: the symbolizer's name ("" if none).
// m: the module lookup of pc - 1 (query_addr is that address, link-time).
void format_title(const ModuleInfo& m, const char* fn, char* out, uptr len) {
  ElfFunction sym;
  const bool have = elf_function_at(m.module, m.query_addr, &sym);
  char id[256];
  ident_of(fn[0] ? fn : have ? sym.name : "", id, sizeof(id));
  const uptr off = have ? m.query_addr + 1 - sym.start : 0;  // of the return address, as the kernel
  snprintf(out, len, "%s+0x%lx/0x%lx", id, static_cast<unsigned long>(off),
           static_cast<unsigned long>(have ? sym.size : 0));
}

}  // namespace

void walk_stack(const uptr* pcs, unsigned n, FrameVisitor visit, void* ctx) {
  Guard guard;
  for (unsigned i = 0; i < n; i++) {
    const uptr pc = pcs[i];
    if (pc == 0) continue;
    if (!pc_in_code(pc - 1)) break;
    StackLine line{};
    line.pc = pc;
    line.function = line.ident = line.title = line.file = line.module = "";
    ModuleInfo m;
    // Look up pc - 1: a return address may be the first byte after the call's
    // function (noreturn callee) or after an inlined range.
    if (!find_module(pc - 1, &m, guard.held ? &g_state : nullptr)) {
      visit(line, ctx);
      continue;
    }
    line.module = m.module;
    line.module_offset = m.module_offset + 1;
    const int nf = guard.held ? symbolize_locked(g_state, m, g_state.frames, kMaxInline) : 0;
    line.symbolized = guard.held;
    if (nf == 0 && !guard.held) {  // inside the symbolizer itself: module+offset only
      visit(line, ctx);
      continue;
    }
    // Inlined callees first, then the function the code is compiled into
    // (the kernel's decode_stacktrace.sh order).
    char id[256], title[320];
    for (int k = 0; k < nf || (k == 0 && nf == 0); k++) {
      const InlineFrame* f = nf ? &g_state.frames[k] : nullptr;
      line.function = f ? f->function : "";
      line.file = f ? f->file : "";
      line.line = f ? f->line : 0;
      line.inlined = k < nf - 1;
      ident_of(line.function, id, sizeof(id));
      if (!line.inlined) {
        format_title(m, line.function, title, sizeof(title));
        if (title[0] == '+') title[0] = 0;  // no name at all
      } else {
        snprintf(title, sizeof(title), "%s", id[0] ? id : "__");  // an unnamed inlined frame ("??")
      }
      line.ident = id;
      line.title = title;
      visit(line, ctx);
    }
  }
}

namespace {
// One line of print_stack_trace (see the header for its shapes).
void print_line(const StackLine& l, void* ctx) {
  const char* indent = static_cast<const char*>(ctx);
  char lead[64] = "";
  if (indent) snprintf(lead, sizeof(lead), "%s[<%016lx>]", indent, static_cast<unsigned long>(l.pc));
  const unsigned long pc = static_cast<unsigned long>(l.pc), off = static_cast<unsigned long>(l.module_offset);
  if (!l.module[0]) {
    report_printf("%s 0x%lx\n", lead, pc);
    return;
  }
  if (!l.symbolized) {
    report_printf("%s 0x%lx (%s+0x%lx)\n", lead, pc, l.module, off);
    return;
  }
  char where[300];
  if (l.file[0])
    snprintf(where, sizeof(where), " %s:%d", l.file, l.line);
  else
    snprintf(where, sizeof(where), " [%s+0x%lx]", l.module, off);
  if (!l.title[0]) {
    report_printf("%s 0x%lx%s\n", lead, pc, where);
    return;
  }
  // A C++ name: the identifier token, then the demangled name for people.
  const bool cxx = l.function[0] && strcmp(l.ident, l.function) != 0;
  report_printf("%s %s%s%s%s%s%s\n", lead, l.title, where, l.inlined ? " [inline]" : "", cxx ? " (" : "",
                cxx ? l.function : "", cxx ? ")" : "");
}
}  // namespace

void print_stack_trace(const uptr* pcs, unsigned n, const char* indent) {
  walk_stack(pcs, n, print_line, const_cast<char*>(indent));
}

void function_name_for_pc(uptr pc, char* buf, uptr len) {
  if (!buf || len == 0) return;
  buf[0] = 0;
  SymbolizedFrame f;
  if (symbolize_pc(pc, &f)) copy_str(buf, len, f.function);
}

void function_title_for_pc(uptr ret_pc, char* buf, uptr len) {
  if (!buf || len == 0) return;
  buf[0] = 0;
  Guard guard;
  ModuleInfo m;
  if (!ret_pc || !find_module(ret_pc - 1, &m, guard.held ? &g_state : nullptr)) return;
  int nf = guard.held ? symbolize_locked(g_state, m, g_state.frames, kMaxInline) : 0;
  const char* fn = nf ? g_state.frames[nf - 1].function : "";
  char title[320];
  format_title(m, fn, title, sizeof(title));
  if (title[0] != '+') copy_str(buf, len, title);
}

void symbolizer_fork_prepare() { g_lock.lock(); }
void symbolizer_fork_parent() { g_lock.unlock(); }
void symbolizer_fork_child() { g_lock.reset(); }

void symbolizer_disable(bool disabled) { g_disabled.store(disabled, std::memory_order_relaxed); }

void symbolizer_restart() {
  Guard guard;
  if (!guard.held) return;
  drop_foreign(g_state);
  for (Proc& p : g_state.procs) kill_proc(&p);
  elf_forget();
  g_state.tool = Tool::kUnresolved;
  g_state.failures = 0;
  memset(g_state.modules, 0, sizeof(g_state.modules));
}

}  // namespace ukasan
