// KASAN reports in the kernel's format. Everything here is a slow path; it
// must never crash the runtime: metadata is validated before it is trusted.
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

#include "platform/lock.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "platform/print.h"
#include "shadow/shadow.h"
#include "stackdepot/stackdepot.h"
#include "report/json.h"
#include "report/suppress.h"
#include "symbolize/symbolizer.h"

namespace ukasan {

static Lock g_report_lock;
static std::atomic<u64> g_reports{0};
UKASAN_TLS bool t_in_report;

u64 report_count() { return g_reports.load(std::memory_order_relaxed); }
static bool json() { return options().report_format == kFormatJson; }

// A one-line message of the runtime's about a report ("ukasan: <msg>"), or
// in JSON a "notice" object; one write, outside the report buffer.
static void notice(const char* msg) {
  char line[256];
  snprintf(line, sizeof(line), json() ? "{\"kind\":\"notice\",\"message\":\"%s\"}\n" : "ukasan: %s\n", msg);
  raw_puts(report_fd(), line);
}

// ---- where reports go -------------------------------------------------------------
// log_path=PATH sends reports to PATH.<pid> (ASan's convention), a file this
// process creates (O_EXCL, no symlink followed): a report never appends to a
// file that existed before, so an option cannot make a privileged process
// write into someone else's file. "stderr" (or empty) is stderr. A forked
// child gets its own file, opened at its first report.

static int g_log_fd = -1;        // the file we created for log_path, or -1
static char g_log_name[512 + 24];
static bool g_log_stale;         // a forked child: open its own file at the next report

static void log_close() {
  if (g_log_fd >= 0) {
    if (report_fd() == g_log_fd) set_report_fd(2);
    close(g_log_fd);
  }
  g_log_fd = -1;
  g_log_name[0] = 0;
}

static void log_open(const char* path) {
  char name[sizeof(g_log_name)];
  snprintf(name, sizeof(name), "%s.%d", path, static_cast<int>(getpid()));
  if (g_log_fd >= 0 && !strcmp(name, g_log_name)) return;  // ours already
  const int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    char line[sizeof(name) + 96];
    snprintf(line, sizeof(line), "ukasan: cannot create the report file %s (%s); reporting to stderr\n", name,
             errno == EEXIST ? "it exists already" : "open failed");
    raw_puts(2, line);
    log_close();
    set_report_fd(2);
    return;
  }
  log_close();
  g_log_fd = fd;
  memcpy(g_log_name, name, sizeof(name));
  set_report_fd(fd);
}

// Reports to the file log_path names for this process, or to stderr.
static void log_apply_option() {
  const char* path = options().log_path;
  if (!path || !*path || !strcmp(path, "stderr"))
    log_close();
  else
    log_open(path);
}

void report_init() {
  log_apply_option();
  // In a setuid/setgid program the symbolizer (found through PATH or
  // UKASAN_SYMBOLIZER_PATH, both the caller's) is never executed.
  symbolizer_disable(!options().symbolize || process_is_secure());
  suppressions_load();
}

// Called with the report lock held, before a report's first line.
static void log_reopen_if_forked() {
  if (UKASAN_LIKELY(!g_log_stale)) return;
  g_log_stale = false;
  log_close();  // the parent's file
  log_apply_option();
}

void report_fork_prepare() { g_report_lock.lock(); }
void report_fork_parent() { g_report_lock.unlock(); }
static void tally_fork_child();
void report_fork_child(bool locks_taken) {
  if (locks_taken) {
    g_report_lock.reset();
    tally_fork_child();
  }
  if (g_log_fd >= 0) g_log_stale = true;  // written only then: a page copied in the child otherwise
}

// ---- report session: lock, one-shot, fault=abort -----------------------------

static std::atomic<void (*)()> g_death_callback{nullptr};
void report_set_death_callback(void (*cb)()) { g_death_callback.store(cb, std::memory_order_release); }

class ReportScope {
 public:
  // counts: whether this is a KASAN bug (counted, subject to multi_shot).
  explicit ReportScope(bool counts) {
    if (t_in_report) {  // a fault inside our own report: never recurse
      notice("nested report suppressed");
      return;
    }
    if (counts) {
      u64 n = g_reports.fetch_add(1, std::memory_order_relaxed);
      if (n > 0 && !options().multi_shot) return;  // only the first report is printed
    }
    active_ = true;
    counts_ = counts;
    t_in_report = true;
    g_report_lock.lock();
    log_reopen_if_forked();
    report_buffer_begin();
  }
  ~ReportScope() {
    if (!active_) return;
    report_buffer_end();
    g_report_lock.unlock();
    t_in_report = false;
    if (counts_ && options().fault != kFaultReport) {
      if (void (*cb)() = g_death_callback.load(std::memory_order_acquire)) cb();
      if (options().fault == kFaultExit) {
        // At once, whatever the program does next (an _exit(0) or an exec
        // would otherwise hide the bug from the exit status).
        const int code = options().exitcode != 0 ? options().exitcode : 1;
        notice("fault=exit: exiting after the report");
        _exit(code);
      }
      notice("fault=abort: aborting after the report");
      abort();
    }
  }
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool counts_ = false;
};

static const char kRule[] = "==================================================================\n";

static void print_task_line_suffix() {
  char comm[32];
  current_comm(comm, sizeof(comm));
  report_printf(" by task %s/%d\n", comm, current_tid());
}

// dump_stack_print_info()'s "CPU: 0 PID: 484 Comm: name" (no taint flags,
// no "Hardware name:" in user space).
static void print_cpu_line() {
  char comm[32];
  current_comm(comm, sizeof(comm));
  report_printf("CPU: %d PID: %d Comm: %s\n", sched_getcpu(), current_tid(), comm);
}

static void print_stack_handle(depot_handle_t h) {
  const uptr* pcs;
  unsigned n = depot_fetch(h, &pcs);
  if (!n) {
    report_printf(" (stack is not available)\n");
    return;
  }
  print_stack_trace(pcs, n);
}

// The Call Trace from ip outwards, by the DWARF unwinder unless
// fast_unwind_on_fatal=1; when the unwinder does not reach ip (a module
// without CFI above it), by the frame-pointer walk.
static constexpr unsigned kTraceBuf = 64 + 8, kTraceMax = 64;
static const uptr* current_stack(uptr ip, uptr (&buf)[kTraceBuf], unsigned* n) {
  const uptr* pcs = capture_stack_from(ip, buf, kTraceBuf, n, !options().fast_unwind_on_fatal);
  if (*n == 1 && pcs[0] == ip && !options().fast_unwind_on_fatal) pcs = capture_stack_from(ip, buf, kTraceBuf, n);
  if (*n > kTraceMax) *n = kTraceMax;
  return pcs;
}
static void print_current_stack_frames(uptr ip) {
  uptr buf[kTraceBuf];
  unsigned n;
  const uptr* pcs = current_stack(ip, buf, &n);
  print_stack_trace(pcs, n);
}
static void json_current_stack(JsonLine& j, const char* key, uptr ip) {
  uptr buf[kTraceBuf];
  unsigned n;
  const uptr* pcs = current_stack(ip, buf, &n);
  j.stack(key, pcs, n);
}
static void print_current_stack(uptr ip) {
  report_printf("Call Trace:\n");
  print_current_stack_frames(ip);
}

// The header's function: "func+0xoff/0xsize" of the caller's function at
// ip, or fn_override.
static void header_function(uptr ip, const char* fn_override, char* fn, uptr len) {
  if (fn_override) {
    snprintf(fn, len, "%s", fn_override);
  } else {
    function_title_for_pc(ip, fn, len);
    if (!fn[0]) snprintf(fn, len, "0x%lx", static_cast<unsigned long>(ip));
  }
}

// The rule and "BUG: <tool><type> in <func+0xoff/0xsize>".
static void print_header(const char* tool, const char* type, uptr ip, const char* fn_override) {
  char fn[256];
  header_function(ip, fn_override, fn, sizeof(fn));
  report_printf("%s", kRule);
  report_printf("BUG: %s%s in %s\n", tool, type, fn);
}

// ---- bug types (the kernel's report_generic.c mapping) -------------------------

static const char* bug_type_for_shadow(u8 v) {
  switch (v) {
    case kShadowSlabRedzone:
    case kShadowPageRedzone:
      return "slab-out-of-bounds";
    case kShadowSlabFree:
    case kShadowSlabFreeTrack:
      return "slab-use-after-free";
    case kShadowPageFree:
      return "use-after-free";
    case kShadowGlobalRedzone:
      return "global-out-of-bounds";
    case kShadowStackLeft:
    case kShadowStackMid:
    case kShadowStackRight:
      return "stack-out-of-bounds";
    case kShadowStackUseAfterScope:
      return "use-after-scope";  // the kernel's report.c name (KASAN_USE_AFTER_SCOPE)
    case kShadowStackAfterReturn:
      return "stack-use-after-return";
    case kShadowAllocaLeft:
    case kShadowAllocaRight:
      return "alloca-out-of-bounds";
    case kShadowUserPoison:
      return "use-after-poison";
    case kShadowContainerOverflow:
      return "container-overflow";
    default:
      return "out-of-bounds";
  }
}

static const char* bug_type_at(uptr bad) {
  u8 v = *mem_to_shadow(bad);
  // A partially accessible granule: the reason is in the next shadow byte.
  if (v > 0 && v < kGranule) v = *mem_to_shadow(bad + kGranule);
  return bug_type_for_shadow(v);
}

// ---- object description ---------------------------------------------------------

static ObjectDescriber g_object_describer;
void report_set_object_describer(ObjectDescriber fn) { g_object_describer = fn; }

static void print_object(uptr addr, const ObjectInfo& o) {
  if (o.meta_corrupt) {
    report_printf("The object's metadata is corrupted (a write past its end?)\n\n");
    return;
  }
  if (o.allocated || o.freed) {
    report_printf("Allocated by task %u:\n", o.alloc_tid);
    print_stack_handle(o.alloc_stack);
    report_printf("\n");
  }
  if (o.freed) {
    report_printf("Freed by task %u:\n", o.free_tid);
    print_stack_handle(o.free_stack);
    report_printf("\n");
  }
  static const char* const kAuxWhich[2] = {"Last", "Second to last"};
  for (unsigned i = 0; i < 2; i++)
    if (o.aux_stack[i]) {
      report_printf("%s potentially related work creation:\n", kAuxWhich[i]);
      print_stack_handle(o.aux_stack[i]);
      report_printf("\n");
    }
  report_printf("The buggy address belongs to the object at %016lx\n which belongs to the cache %s of size %lu\n",
                static_cast<unsigned long>(o.obj), o.cache_name,
                static_cast<unsigned long>(o.large ? o.region : o.cache_size));
  const char* rel;
  uptr rel_bytes;
  if (addr < o.obj) {
    rel = "to the left of";
    rel_bytes = o.obj - addr;
  } else if (addr >= o.obj + o.region) {
    rel = "to the right of";
    rel_bytes = addr - (o.obj + o.region);
  } else {
    rel = "inside of";
    rel_bytes = addr - o.obj;
  }
  report_printf("The buggy address is located %lu bytes %s\n %s%lu-byte region [%016lx, %016lx)\n\n",
                static_cast<unsigned long>(rel_bytes), rel, o.allocated ? "allocated " : (o.freed ? "freed " : ""),
                static_cast<unsigned long>(o.region), static_cast<unsigned long>(o.obj),
                static_cast<unsigned long>(o.obj + o.region));
}

// 5 rows of 16 shadow bytes (128 bytes of memory each) around the bad
// address, the row holding it marked with '>' and the byte with '^'.
static void print_memory_state(uptr bad) {
  constexpr uptr kRowBytes = 16 * kGranule;
  uptr row0 = round_down(bad, kRowBytes) - 2 * kRowBytes;
  for (uptr r = 0; r < 5; r++) {
    uptr row = row0 + r * kRowBytes;
    if (!addr_has_shadow(row) || !addr_has_shadow(row + kRowBytes - 1)) continue;
    char line[128];
    int n = snprintf(line, sizeof(line), "%c%016lx:", row == round_down(bad, kRowBytes) ? '>' : ' ',
                     static_cast<unsigned long>(row));
    const u8* sh = mem_to_shadow(row);
    for (int i = 0; i < 16; i++) n += snprintf(line + n, sizeof(line) - n, " %02x", sh[i]);
    report_printf("%s\n", line);
    if (row == round_down(bad, kRowBytes)) {
      uptr col = 3 + 16 + (bad - row) / kGranule * 3 + 1;  // 1-based column of the byte's first digit
      char caret[80];
      uptr i = 0;
      for (; i + 1 < col && i < sizeof(caret) - 2; i++) caret[i] = ' ';
      caret[i++] = '^';
      caret[i] = 0;
      report_printf("%s\n", caret);
    }
  }
}

// ---- the printer ------------------------------------------------------------------

static DescribeHook g_describe_hook;
void report_set_describe_hook(DescribeHook hook) { g_describe_hook = hook; }

// The kernel's print_report(): header, access line, call trace, the object
// (or stack frame / global), the shadow around the bad address.
// ---- tallies: duplicates and the end-of-run summary ---------------------------------
// A bug reported again at the same code location (same type, same ip) is
// counted, not printed again (a loop that overflows 1000 times gives one
// report and a count). The tables take their own try-lock: a report from a
// signal handler that interrupted this very code skips them (it is printed).
namespace {
struct TypeTally {
  const char* type;
  u64 count;
};
constexpr unsigned kSeenSlots = 4096, kMaxTypes = 64;
SpinLock g_tally_lock;
u64 g_seen[kSeenSlots];  // (type, ip) keys; 0 empty
TypeTally g_types[kMaxTypes];
unsigned g_ntypes;
std::atomic<u64> g_duplicates{0};

u64 tally_key(const char* type, uptr ip) {
  u64 h = reinterpret_cast<uptr>(type) * 0x9e3779b97f4a7c15ull ^ ip;
  h ^= h >> 29;
  return h ? h : 1;
}
}  // namespace

// Counts a KASAN bug by type; true if the same type at the same ip was
// already reported (then it is not printed again).
static bool tally(const char* type, uptr ip) {
  if (!g_tally_lock.try_lock()) return false;
  const bool dedup = options().dedup_reports;
  unsigned t = 0;
  while (t < g_ntypes && strcmp(g_types[t].type, type) != 0) t++;
  if (t == g_ntypes && g_ntypes < kMaxTypes) g_types[g_ntypes++] = TypeTally{type, 0};
  if (t < g_ntypes) g_types[t].count++;
  const u64 key = tally_key(type, ip);
  bool seen = false;
  for (unsigned i = 0, j = static_cast<unsigned>(key) & (kSeenSlots - 1); dedup && i < kSeenSlots;
       i++, j = (j + 1) & (kSeenSlots - 1)) {
    if (g_seen[j] == key) {
      seen = true;
      break;
    }
    if (g_seen[j] == 0) {
      g_seen[j] = key;
      break;
    }
  }
  g_tally_lock.unlock();
  return seen;
}

static void tally_fork_child() { g_tally_lock.reset(); }

// Whether the report of `type` at ip (the current stack from there) is
// suppressed (suppressions=FILE); the stack is captured only if any
// suppression is loaded.
static bool suppressed_here(const char* type, uptr ip) {
  if (!suppressions_active() || !type) return false;
  uptr buf[64 + 8];
  unsigned n;
  const uptr* pcs = capture_stack_from(ip, buf, 64 + 8, &n, !options().fast_unwind_on_fatal);
  return suppressed(type, pcs, n);
}

// The members a JSON bug report starts with: tool, type, the header's
// function and the title syzkaller gives the kernel's report ("KASAN:
// slab-use-after-free Read in session_id"; access: "Read"/"Write" or null).
static void json_header(JsonLine& j, const char* tool, const char* type, const char* access, uptr ip,
                        const char* fn_override) {
  char fn[256], title[400];
  header_function(ip, fn_override, fn, sizeof(fn));
  const char* plus = strchr(fn, '+');
  const int fn_len = plus && plus != fn ? static_cast<int>(plus - fn) : static_cast<int>(strlen(fn));
  snprintf(title, sizeof(title), "%s: %s%s%s in %.*s", tool, type, access ? " " : "", access ? access : "", fn_len, fn);
  j.str("tool", tool);
  j.str("type", type);
  j.str("title", title);
  j.str("function", fn);
}

// What a report says about addr, as JSON members: its heap object, or
// (describe_stack, outside the heap) the stack frame or global's
// description as text; then the shadow around bad as text (in the heap, or
// with describe_stack).
static void json_describe(JsonLine& j, uptr addr, uptr obj_hint, uptr bad, bool describe_stack) {
  static char text[8192];  // under the report lock
  ObjectInfo o{};
  if (g_object_describer) g_object_describer(addr, obj_hint, &o);
  if (o.found) json_object_info(j, addr, o);
  if (!o.in_heap && describe_stack && g_describe_hook) {
    report_capture_begin(text, sizeof(text));
    g_describe_hook(bad);
    if (report_capture_end()) j.str("description", text);
  }
  if (o.in_heap || describe_stack) {
    report_capture_begin(text, sizeof(text));
    print_memory_state(bad);
    report_capture_end();
    j.str("memory_state", text);
  }
}

// print_report's JSON form: the same facts as members.
static void print_report_json(const ReportInfo& info) {
  const bool access = !strcmp(info.op, "Read") || !strcmp(info.op, "Write");
  JsonLine j("report");
  json_header(j, "KASAN", info.bug_type, access ? info.op : nullptr, info.ip, info.function);
  j.str("access", info.op);
  if (access) j.num("size", info.size);
  j.hex("address", info.addr);
  if (info.bad_addr != info.addr) j.hex("first_bad_address", info.bad_addr);
  j.current_task();
  j.str("detail", info.detail);
  json_current_stack(j, "call_trace", info.ip);
  j.str("why", info.why);
  if (info.why_stack) j.stack("why_stack", info.why_stack);
  if (info.describe && addr_has_shadow(info.describe_addr))
    json_describe(j, info.describe_addr, info.obj_hint, info.bad_addr, info.describe_stack);
}

// A bug of `type` found at ip that is not printed: suppressed (also by a
// suppression of alias, if given), or a repeat (counted as a report and a
// duplicate).
static bool not_printed(const char* type, uptr ip, const char* alias = nullptr) {
  if (suppressed_here(type, ip) || (alias && suppressed_here(alias, ip))) return true;
  if (!tally(type, ip)) return false;
  g_reports.fetch_add(1, std::memory_order_relaxed);
  g_duplicates.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void print_report(const ReportInfo& info) {
  if (info.counts && not_printed(info.bug_type, info.ip)) return;
  ReportScope scope(info.counts);
  if (!scope.active()) return;
  if (json()) return print_report_json(info);
  print_header("KASAN: ", info.bug_type, info.ip, info.function);
  const bool access = !strcmp(info.op, "Read") || !strcmp(info.op, "Write");
  if (!access)  // "Free", "ksize()", ...
    report_printf("%s of addr %016lx", info.op, static_cast<unsigned long>(info.addr));
  else
    report_printf("%s of size %lu at addr %016lx", info.op, static_cast<unsigned long>(info.size),
                  static_cast<unsigned long>(info.addr));
  print_task_line_suffix();
  report_printf("\n");
  if (info.detail) report_printf("%s\n\n", info.detail);
  print_cpu_line();  // dump_stack()'s first line, which the kernel's tooling keys on
  print_current_stack(info.ip);
  report_printf("\n");
  if (info.why) report_printf("%s\n%s", info.why, info.why_stack ? "" : "\n");
  if (info.why_stack) {
    print_stack_handle(info.why_stack);
    report_printf("\n");
  }
  if (info.describe && addr_has_shadow(info.describe_addr)) {
    ObjectInfo o{};
    if (g_object_describer) g_object_describer(info.describe_addr, info.obj_hint, &o);
    if (o.found) print_object(info.describe_addr, o);
    if (!o.in_heap && info.describe_stack && g_describe_hook) g_describe_hook(info.bad_addr);
    if (o.in_heap || info.describe_stack) {
      report_printf("Memory state around the buggy address:\n");
      print_memory_state(info.bad_addr);
    }
  }
  report_printf("%s", kRule);
}

// ---- KFENCE (mm/kfence/report.c) --------------------------------------------------

static void print_kfence_track(const char* what, u32 tid, int cpu, u64 ns, depot_handle_t stack) {
  report_printf("%s by task %u on cpu %d at %lu.%06lus:\n", what, tid, cpu, static_cast<unsigned long>(ns / 1000000000),
                static_cast<unsigned long>(ns % 1000000000 / 1000));
  print_stack_handle(stack);
  report_printf("\n");
}

static void json_kfence_track(JsonLine& j, const char* key, u32 tid, int cpu, u64 ns, depot_handle_t stack) {
  j.begin_object(key);
  j.num("tid", tid);
  j.num("cpu", static_cast<u64>(cpu >= 0 ? cpu : 0));
  j.num("time_ns", ns);
  j.stack("stack", stack);
  j.end_object();
}

static void report_kfence_json(const KfenceReport& r, const char* type) {
  JsonLine j("report");
  const char* what = type + sizeof("KFENCE: ") - 1;
  json_header(j, "KFENCE", what, nullptr, r.ip, nullptr);
  j.str("access", r.error == KfenceError::kInvalidFree ? "Free" : r.is_write ? "Write" : "Read");
  j.hex("address", r.addr);
  if (r.error == KfenceError::kOutOfBounds) {
    j.num("distance", r.distance);
    j.str("side", r.left ? "left" : "right");
  }
  if (r.error == KfenceError::kCorruption) {
    char bytes[16 * 5 + 1];
    unsigned o = 0;
    for (unsigned i = 0; i < r.nbytes && i < 16; i++)
      o += static_cast<unsigned>(snprintf(bytes + o, sizeof(bytes) - o, i ? " %02x" : "%02x", r.bytes[i]));
    bytes[o] = 0;
    j.str("corrupted_bytes", bytes);
  }
  j.current_task();
  json_current_stack(j, "call_trace", r.ip);
  if (r.obj) {
    const KfenceObject& k = *r.obj;
    j.begin_object("object");
    j.num("kfence_index", static_cast<u64>(k.index));
    j.hex("address", k.addr);
    j.num("size", k.size);
    j.str("cache", k.cache);
    j.str("state", k.freed ? "freed" : "allocated");
    json_kfence_track(j, "allocated", k.alloc_tid, k.alloc_cpu, k.alloc_ns, k.alloc_stack);
    if (k.freed) json_kfence_track(j, "freed", k.free_tid, k.free_cpu, k.free_ns, k.free_stack);
    j.end_object();
  }
}

void report_kfence(const KfenceReport& r) {
  static const char* const kTypes[2][5] = {
      {"KFENCE: out-of-bounds read", "KFENCE: use-after-free read", "KFENCE: invalid read", "KFENCE: invalid free",
       "KFENCE: memory corruption"},
      {"KFENCE: out-of-bounds write", "KFENCE: use-after-free write", "KFENCE: invalid write", "KFENCE: invalid free",
       "KFENCE: memory corruption"}};
  const char* type = kTypes[r.is_write][static_cast<int>(r.error)];
  if (not_printed(type, r.ip)) return;
  ReportScope scope(true);
  if (!scope.active()) return;
  if (json()) return report_kfence_json(r, type);
  print_header("", type, r.ip, nullptr);  // type carries the "KFENCE: " prefix
  report_printf("\n");
  const char* op = r.is_write ? "write" : "read";
  const unsigned long a = static_cast<unsigned long>(r.addr);
  const int idx = r.obj ? r.obj->index : -1;
  switch (r.error) {
    case KfenceError::kOutOfBounds:
      report_printf("Out-of-bounds %s at 0x%016lx (%luB %s of kfence-#%d):\n", op, a,
                    static_cast<unsigned long>(r.distance), r.left ? "left" : "right", idx);
      break;
    case KfenceError::kUseAfterFree:
      report_printf("Use-after-free %s at 0x%016lx (in kfence-#%d):\n", op, a, idx);
      break;
    case KfenceError::kInvalid:
      report_printf("Invalid %s at 0x%016lx:\n", op, a);
      break;
    case KfenceError::kInvalidFree:
      report_printf("Invalid free of 0x%016lx (in kfence-#%d):\n", a, idx);
      break;
    case KfenceError::kCorruption: {
      char bytes[16 * 5 + 1];
      unsigned o = 0;
      for (unsigned i = 0; i < r.nbytes && i < 16; i++)
        o += static_cast<unsigned>(r.intact[i] ? snprintf(bytes + o, sizeof(bytes) - o, " .")
                                               : snprintf(bytes + o, sizeof(bytes) - o, " 0x%02x", r.bytes[i]));
      bytes[o] = 0;
      report_printf("Corrupted memory at 0x%016lx [%s ] (in kfence-#%d):\n", a, bytes, idx);
      break;
    }
  }
  print_current_stack_frames(r.ip);
  report_printf("\n");
  if (r.obj) {
    const KfenceObject& k = *r.obj;
    report_printf("kfence-#%d: 0x%016lx-0x%016lx, size=%lu, cache=%s\n\n", k.index, static_cast<unsigned long>(k.addr),
                  static_cast<unsigned long>(k.addr + (k.size ? k.size - 1 : 0)), static_cast<unsigned long>(k.size),
                  k.cache);
    print_kfence_track("allocated", k.alloc_tid, k.alloc_cpu, k.alloc_ns, k.alloc_stack);
    if (k.freed) print_kfence_track("freed", k.free_tid, k.free_cpu, k.free_ns, k.free_stack);
  }
  print_cpu_line();
  report_printf("%s", kRule);
}

// ---- entry points -----------------------------------------------------------------

// A KASAN bug at addr: counted, the object (or frame/global) there described.
static ReportInfo bug(const char* type, const char* op, uptr addr, uptr size, uptr ip) {
  ReportInfo info{};
  info.bug_type = type;
  info.op = op;
  info.addr = addr;
  info.size = size;
  info.ip = ip;
  info.counts = true;
  info.describe = true;
  info.describe_addr = info.bad_addr = addr;
  return info;
}

void report_access(uptr addr, uptr size, bool is_write, uptr ip) {
  ReportInfo info = bug(nullptr, is_write ? "Write" : "Read", addr, size, ip);
  const RangeClass where = classify_range(addr, size ? size : 1);
  if (where != kRangeShadowed) {
    info.bug_type = where == kRangeNull ? "null-ptr-deref" : "wild-memory-access";
    info.describe = false;
  } else {
    const uptr bad = find_first_bad(addr, size ? size : 1);
    if (bad) info.bad_addr = bad;
    info.bug_type = bug_type_at(info.bad_addr);
    info.describe_stack = true;
  }
  print_report(info);
}

void report_free_error(uptr addr, uptr ip, FreeError kind, const char* why) {
  ReportInfo info = bug(kind == FreeError::kDoubleFree ? "double-free" : "invalid-free", "Free", addr, 0, ip);
  info.why = why;
  print_report(info);
}

void report_alloc_dealloc_mismatch(uptr addr, uptr ip, const char* allocated_with, const char* freed_with) {
  char why[256];
  snprintf(why, sizeof(why), "The object was allocated with %s and is being freed with %s.", allocated_with,
           freed_with);
  ReportInfo info = bug("alloc-dealloc-mismatch", "Free", addr, 0, ip);
  info.why = why;
  print_report(info);
}


void report_cache_use_after_destroy(uptr cache_ptr, uptr size, const char* api, const DestroyedCache& c, uptr ip) {
  ReportInfo info = bug("slab-use-after-free", "Read", cache_ptr, size, ip);
  info.function = api;
  info.describe = false;
  char why[256];
  snprintf(why, sizeof(why), "The buggy address belongs to the kmem_cache '%s' (object size %u), destroyed by task %u:",
           c.name, c.object_size, c.destroy_tid);
  info.why = why;
  info.why_stack = c.destroy_stack;
  print_report(info);
}

void report_bad_pointer(uptr addr, uptr ip, const char* api, bool frees, const char* why, const char* function) {
  ReportInfo info = bug(frees ? "invalid-free" : "invalid-access", api, addr, 0, ip);
  info.why = why;
  info.function = function;
  info.describe = false;
  print_report(info);
}

void report_warning(const char* line, uptr ip) {
  ReportScope scope(false);
  if (!scope.active()) return;
  if (json()) {
    JsonLine j("warning");
    j.str("message", line);
    j.current_task();
    json_current_stack(j, "call_trace", ip);
    return;
  }
  report_printf("%s\n", line);
  print_current_stack(ip);
}

void report_destroy_leak(const char* cache_name, u64 live, const LeakedObject* objs, unsigned n, uptr ip) {
  ReportScope scope(false);
  if (!scope.active()) return;
  char fn[256];
  function_title_for_pc(ip, fn, sizeof(fn));  // the kernel's %pS
  if (json()) {
    JsonLine j("cache_destroy_leak");
    j.str("cache", cache_name);
    j.str("function", fn);
    j.num("live", live);
    j.begin_array("objects");
    for (unsigned i = 0; i < n; i++) {
      j.begin_object(nullptr);
      j.hex("address", objs[i].obj);
      j.num("offset", objs[i].offset);
      j.num("tid", objs[i].alloc_tid);
      j.stack("stack", objs[i].alloc_stack);
      j.end_object();
    }
    return;
  }
  report_printf("kmem_cache_destroy %s: Slab cache still has objects when called from %s\n", cache_name,
                fn[0] ? fn : "?");
  report_printf("Objects remaining in %s on kmem_cache_destroy(): %lu\n", cache_name, static_cast<unsigned long>(live));
  for (unsigned i = 0; i < n; i++) {
    report_printf("Object 0x%016lx @offset=%lu allocated by task %u:\n", static_cast<unsigned long>(objs[i].obj),
                  static_cast<unsigned long>(objs[i].offset), objs[i].alloc_tid);
    print_stack_handle(objs[i].alloc_stack);
  }
  report_printf("The cache's memory is kept: its objects stay valid.\n");
}

// ---- kmemleak ----------------------------------------------------------------------
// mm/kmemleak.c: print_unreferenced() and hex_dump_object() (16 bytes a row,
// groups of 1, ASCII column; at most 2 rows). The kernel's
// "jiffies N (age S)" is left out: objects carry no allocation time.

// One row of print_hex_dump(): lead, then n bytes (at most 16) in hex
// padded to the ASCII column, then the ASCII.
static void print_hex_row(const char* lead, const u8* p, uptr n) {
  char line[96];
  uptr k = 0;
  for (uptr i = 0; i < 16; i++) {
    if (i < n) {
      static const char kHex[] = "0123456789abcdef";
      line[k++] = kHex[p[i] >> 4];
      line[k++] = kHex[p[i] & 15];
    } else {
      line[k++] = ' ';
      line[k++] = ' ';
    }
    line[k++] = ' ';
  }
  line[k++] = ' ';
  for (uptr i = 0; i < n; i++) line[k++] = p[i] >= 0x20 && p[i] < 0x7f ? static_cast<char>(p[i]) : '.';
  line[k] = 0;
  // The kernel pads the hex part of a short row to the ASCII column too.
  report_printf("%s%s\n", lead, line);
}

void report_describe_address(uptr addr) {
  ReportScope scope(false);
  if (!scope.active()) return;
  if (!addr_has_shadow(addr)) {
    if (json()) {
      JsonLine j("describe_address");
      j.hex("address", addr);
      j.flag("has_shadow", false);
      return;
    }
    report_printf("Address %016lx has no shadow (not application memory ukasan checks)\n",
                  static_cast<unsigned long>(addr));
    return;
  }
  if (json()) {
    JsonLine j("describe_address");
    j.hex("address", addr);
    json_describe(j, addr, 0, addr, true);
    return;
  }
  ObjectInfo o{};
  if (g_object_describer) g_object_describer(addr, 0, &o);
  if (o.found) print_object(addr, o);
  if (!o.in_heap && g_describe_hook) g_describe_hook(addr);
  report_printf("Memory state around the address:\n");
  print_memory_state(addr);
}

void report_stack_trace(uptr ip) {
  ReportScope scope(false);
  if (!scope.active()) return;
  if (json()) {
    JsonLine j("stack_trace");
    json_current_stack(j, "call_trace", ip);
    return;
  }
  print_current_stack(ip);
}

void report_summary() {
  const u64 total = report_count();
  if (!total) return;
  ReportScope scope(false);
  if (!scope.active()) return;
  if (json()) {
    JsonLine j("summary");
    j.num("reports", total);
    j.begin_object("types");
    const bool locked = g_tally_lock.try_lock();
    for (unsigned t = 0; locked && t < g_ntypes; t++) j.num(g_types[t].type, g_types[t].count);
    if (locked) g_tally_lock.unlock();
    j.end_object();
    j.num("repeated", g_duplicates.load(std::memory_order_relaxed));
    j.num("suppressed", suppressed_count());
    return;
  }
  char line[1024];
  int n = snprintf(line, sizeof(line), "SUMMARY: KASAN: %lu report%s:", static_cast<unsigned long>(total),
                   total == 1 ? "" : "s");
  const bool locked = g_tally_lock.try_lock();
  for (unsigned t = 0; locked && t < g_ntypes && n > 0 && static_cast<uptr>(n) < sizeof(line) - 64; t++)
    n += snprintf(line + n, sizeof(line) - n, "%s %lu %s", t ? "," : "", static_cast<unsigned long>(g_types[t].count),
                  g_types[t].type);
  if (locked) g_tally_lock.unlock();
  const u64 dups = g_duplicates.load(std::memory_order_relaxed);
  if (dups && n > 0 && static_cast<uptr>(n) < sizeof(line) - 64)
    n += snprintf(line + n, sizeof(line) - n, " (%lu repeated at the same location, not printed again)",
                  static_cast<unsigned long>(dups));
  if (const u64 sup = suppressed_count(); sup && n > 0 && static_cast<uptr>(n) < sizeof(line) - 64)
    n += snprintf(line + n, sizeof(line) - n, " (%lu suppressed)", static_cast<unsigned long>(sup));
  report_printf("%s\n", line);
}

bool report_leak(const LeakRecord& r) {
  if (suppressions_active()) {
    const uptr* pcs;
    const unsigned n = depot_fetch(r.alloc_stack, &pcs);
    if (n && suppressed("leak", pcs, n)) return false;
  }
  ReportScope scope(false);
  if (!scope.active()) return true;
  char comm[32];
  current_comm(comm, sizeof(comm));
  const uptr len = r.size < sizeof(r.head) ? r.size : sizeof(r.head);
  if (json()) {
    char head[sizeof(r.head) * 2 + 1];
    for (uptr i = 0; i < len; i++) snprintf(head + 2 * i, 3, "%02x", r.head[i]);
    head[2 * len] = 0;
    JsonLine j("leak");
    j.str("tool", "kmemleak");
    j.hex("address", r.obj);
    j.num("size", r.size);
    j.str("comm", comm);
    j.num("tid", r.alloc_tid);
    j.str("head", head);
    j.stack("backtrace", r.alloc_stack);
    j.num("objects", r.count);
    j.num("total_bytes", r.count > 1 ? r.total_bytes : r.size);
    return true;
  }
  report_printf("unreferenced object 0x%08lx (size %lu):\n", static_cast<unsigned long>(r.obj),
                static_cast<unsigned long>(r.size));
  report_printf("  comm \"%s\", pid %u\n", comm, r.alloc_tid);
  report_printf("  hex dump (first %lu bytes):\n", static_cast<unsigned long>(len));
  for (uptr off = 0; off < len; off += 16) print_hex_row("    ", r.head + off, len - off < 16 ? len - off : 16);
  report_printf("  backtrace:\n");
  const uptr* pcs;
  const unsigned n = depot_fetch(r.alloc_stack, &pcs);
  if (n)
    print_stack_trace(pcs, n, "    ");
  else
    report_printf("    (stack is not available)\n");
  if (r.count > 1)
    report_printf("  and %u more unreferenced objects with this backtrace (%u objects, %lu bytes in all)\n",
                  r.count - 1, r.count, static_cast<unsigned long>(r.total_bytes));
  return true;
}

void report_leak_summary(u64 objects, u64 bytes, u64 stacks) {
  ReportScope scope(false);
  if (!scope.active()) return;
  if (json()) {
    JsonLine j("leak_summary");
    j.num("objects", objects);
    j.num("bytes", bytes);
    j.num("backtraces", stacks);
    return;
  }
  report_printf("kmemleak: %lu new suspected memory leaks (%lu bytes, %lu backtraces)\n",
                static_cast<unsigned long>(objects), static_cast<unsigned long>(bytes),
                static_cast<unsigned long>(stacks));
}

void report_leak_scan_incomplete(const char* why) {
  ReportScope scope(false);
  if (!scope.active()) return;
  if (json()) {
    JsonLine j("notice");
    j.str("tool", "kmemleak");
    j.str("message", "scan not complete: no leak reported");
    j.str("why", why);
    return;
  }
  report_printf("kmemleak: scan not complete (%s): no leak reported\n", why);
}

// ---- SLUB debug: a pattern found changed (mm/slub.c) ------------------------------
// slab_bug()'s header, check_bytes_and_report()'s line, print_trailer()'s
// tracks, slab, object and sections (print_section: rows of 16 with the
// address), then dump_stack() of the finding code, labelled. No "age=" and
// "cpu=" in the tracks (not recorded), no "FIX" line (the bytes are not
// restored: the object is being freed or reused).

// The rows of [lo, hi) with their addresses, labelled as print_section does.
static void print_section(const char* label, uptr lo, uptr hi) {
  char lead[64];
  for (uptr a = lo; a < hi; a += 16) {
    snprintf(lead, sizeof(lead), "%s%016lx: ", label, static_cast<unsigned long>(a));
    print_hex_row(lead, reinterpret_cast<const u8*>(a), hi - a < 16 ? hi - a : 16);
  }
}

static void print_track(const char* what, u32 tid, depot_handle_t h) {
  const uptr* pcs;
  const unsigned n = h ? depot_fetch(h, &pcs) : 0;
  char fn[256] = "";
  if (n) function_title_for_pc(pcs[0], fn, sizeof(fn));
  report_printf("%s in %s pid=%u\n", what, fn[0] ? fn : "?", tid);
  if (n)
    print_stack_trace(pcs, n);
  else
    report_printf("object allocation/free stack trace missing\n");
}

static constexpr uptr kSectionMax = 64;  // bytes of a section printed around the damage

// "at free()" (c.at) or c.found: how the damage was found.
static void found_text(const Corruption& c, char* out, uptr len) {
  if (c.at)
    snprintf(out, len, "at %s", c.at);
  else
    snprintf(out, len, "%s", c.found ? c.found : "");
}

static void report_corruption_json(const Corruption& c, const ObjectInfo& o, const char* cache, const char* bug) {
  JsonLine j("report");
  j.str("tool", "SLUB");
  j.str("type", c.what);
  j.str("title", bug);
  char found[96];
  found_text(c, found, sizeof(found));
  j.str("found", found);
  j.hex("address", c.first);
  j.num("size", c.last - c.first + 1);
  j.num("expected_byte", c.expected);
  j.num("first_byte", *reinterpret_cast<const u8*>(c.first));
  j.current_task();
  if (c.ip) json_current_stack(j, "found_by", c.ip);
  if (o.found) {
    json_object_info(j, c.obj, o);
  } else {
    j.begin_object("object");
    j.hex("address", c.obj);
    j.str("cache", cache);
    j.end_object();
  }
}

void report_corruption(const Corruption& c) {
  const char* type = c.what;
  // A suppression of the KASAN type of the same bug covers it too
  // ("slab-out-of-bounds:third_party/*" holds for redzones found at free).
  if (not_printed(type, c.ip, c.kasan_type)) return;
  ReportScope scope(true);
  if (!scope.active()) return;
  ObjectInfo o{};
  if (g_object_describer) g_object_describer(c.obj, c.obj, &o);
  const bool known = o.found && !o.meta_corrupt;
  const char* cache = known ? o.cache_name : "unknown";
  char bug[160];
  snprintf(bug, sizeof(bug), "BUG %s (Not tainted): %s", cache, type);
  if (json()) return report_corruption_json(c, o, cache, bug);
  const uptr base = known ? o.slab_start : c.obj;
  report_printf("=============================================================================\n");
  report_printf("%s\n", bug);
  report_printf("-----------------------------------------------------------------------------\n\n");
  report_printf("0x%016lx-0x%016lx @offset=%lu. First byte 0x%x instead of 0x%x\n", static_cast<unsigned long>(c.first),
                static_cast<unsigned long>(c.last), static_cast<unsigned long>(c.first - base),
                *reinterpret_cast<const u8*>(c.first), c.expected);
  if (known) {
    print_track("Allocated", o.alloc_tid, o.alloc_stack);
    if (o.freed) print_track("Freed", o.free_tid, o.free_stack);
    report_printf("Slab 0x%016lx objects=%u\n", static_cast<unsigned long>(o.slab_start), o.slab_objects);
  }
  report_printf("Object 0x%016lx @offset=%lu\n\n", static_cast<unsigned long>(c.obj),
                static_cast<unsigned long>(c.obj - base));
  // The bytes: the left canary byte of a slab object; the object (its
  // first rows, and the rows around damage inside it) for damaged poison
  // (a freed object at a redzone's check is already poisoned or being
  // freed: its bytes tell nothing); the right redzone checked.
  uptr left = known && !o.large ? c.obj - 1 : c.obj;
  if (c.first < left) left = c.obj - c.first > kSectionMax ? c.obj - kSectionMax : c.first;
  print_section("Redzone  ", left, c.obj);
  const uptr end = c.obj + c.obj_size;
  const uptr head = c.obj + (c.obj_size < kSectionMax ? c.obj_size : kSectionMax);
  if (c.first >= c.obj && c.first < end) print_section("Object   ", c.obj, head);
  if (c.first < end && c.last >= head) {
    const uptr lo = round_down(c.first, 16) > head ? round_down(c.first, 16) : head;
    const uptr hi = c.last + 1 < end ? c.last + 1 : end;
    print_section("Object   ", lo, hi - lo > kSectionMax ? lo + kSectionMax : hi);
  }
  if (c.redzone_end > end) print_section("Redzone  ", end, c.redzone_end - end > kSectionMax ? end + kSectionMax : c.redzone_end);
  char found[96];
  found_text(c, found, sizeof(found));
  char comm[32];
  current_comm(comm, sizeof(comm));
  if (!c.ip) {  // no program frame found it (the check at exit)
    report_printf("\nFound %s.\n\n", found);
    return;
  }
  report_printf("\nFound %s by task %s/%d:\n", found, comm, current_tid());
  print_cpu_line();
  print_current_stack(c.ip);
  report_printf("\n");
}

}  // namespace ukasan
