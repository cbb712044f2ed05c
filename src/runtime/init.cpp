// Bring-up, fork and exit of the whole runtime. Each component locks and
// repairs its own state at fork; this file only orders them.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>

#include "kmemleak/kmemleak.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"
#include "symbolize/symbolizer.h"
#include "ukasan/ukasan.h"

namespace ukasan {

// ---- fork ---------------------------------------------------------------------------
// fork() in a multithreaded program: the prepare handler takes every runtime
// lock (the slab layer's in its lock order, then the report's and the
// symbolizer's, which a report takes while holding its own), so the child never inherits a lock held by a thread that does
// not exist there. A report spawning the symbolizer (fork + exec while this
// thread holds the report lock) skips them: that child only execs.

// A process with one thread takes none of them (fork_locks_decide): nothing
// else can hold one, and the child then writes only what differs there.
static void fork_prepare() {
  if (in_report() || !fork_locks_decide()) return;
  leak_fork_prepare();
  slab_fork_prepare();
  report_fork_prepare();
  symbolizer_fork_prepare();
}

static void fork_parent() {
  if (in_report() || !fork_locks_taken()) return;
  symbolizer_fork_parent();
  report_fork_parent();
  slab_fork_parent();
  leak_fork_parent();
}

static void fork_child() {
  if (in_report()) return;
  const bool locks = fork_locks_taken();
  platform_after_fork_child();  // first: the components read the new tid
  if (locks) symbolizer_fork_child();
  report_fork_child(locks);
  slab_fork_child(locks);
  if (locks) leak_fork_child();
}

// ---- init ---------------------------------------------------------------------------

static std::atomic<int> g_init{0};  // 0 not started, 1 in progress, 2 done
static UKASAN_TLS bool t_initializing;

bool runtime_ready() { return g_init.load(std::memory_order_acquire) == 2; }

// Under valgrind ukasan steps aside: its multi-terabyte shadow and arena
// reservations take valgrind minutes to map, its threads cannot be stopped
// for a leak scan, and valgrind checks the same bugs itself. The heap then
// forwards to libc's malloc (which valgrind replaces) and nothing else
// starts.
static std::atomic<bool> g_passthrough{false};
bool runtime_passthrough() { return g_passthrough.load(std::memory_order_relaxed); }

// verbosity=1: what was set up, one line each (the heap's and KFENCE's own
// lines follow from their bring-up).
static void print_setup() {
  char line[512];
  snprintf(line, sizeof(line),
           "ukasan %s: pid %d, shadow offset 0x%lx (8-byte granules), quarantine %lu KiB (per-CPU %lu KiB), "
           "leak scan at exit %s, fault=%s%s\n",
           UKASAN_VERSION_STRING, static_cast<int>(getpid()), static_cast<unsigned long>(shadow_offset()),
           static_cast<unsigned long>(options_quarantine_bytes() >> 10),
           static_cast<unsigned long>(options().quarantine_cache_kb), options().detect_leaks ? "on" : "off",
           options().fault == kFaultAbort ? "abort" : options().fault == kFaultExit ? "exit" : "report",
           options().multi_shot ? ", multi_shot" : "");
  raw_puts(2, line);
}

// A fault in a freed, protected large block (slab/large.cpp): use-after-free.
static bool large_block_fault(int sig, siginfo_t* si, ucontext_t* uc) {
  if (sig != SIGSEGV || in_report()) return false;
  const bool is_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;  // the page fault's error code: W
  return large_fault(reinterpret_cast<uptr>(si->si_addr), is_write, static_cast<uptr>(UKASAN_UCONTEXT_PC(uc)) + 1);
}

void runtime_init() {
  if (UKASAN_LIKELY(g_init.load(std::memory_order_acquire) == 2)) return;
  // Under callgrind or cachegrind (which leave malloc alone) the runtime
  // runs, for instruction counts of its own paths; the leak scan is off
  // there (kmemleak/scan.cpp: valgrind serialises threads).
  if (valgrind_replaces_malloc()) {
    if (!g_passthrough.exchange(true, std::memory_order_relaxed))
      raw_puts(2, "ukasan: running under valgrind: ukasan steps aside (valgrind checks the heap)\n");
    return;
  }
  int expected = 0;
  if (!g_init.compare_exchange_strong(expected, 1)) {
    if (t_initializing) return;  // re-entered from inside init on this thread
    while (g_init.load(std::memory_order_acquire) != 2) sched_yield();
    return;
  }
  t_initializing = true;
  options_init_from_env();
  report_init();
  shadow_init();
  slab_init(options_quarantine_bytes(), options().quarantine_cache_kb << 10);
  slab_set_refresh_hook(leak_refresh_dangling);
  g_init.store(2, std::memory_order_release);
  // Late steps may allocate through libc (which may be us): run them after
  // the runtime is usable.
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  fault_hook_add(large_block_fault);
  if (options().verbosity >= 1) print_setup();
  t_initializing = false;
}

// ---- exit ---------------------------------------------------------------------------

void runtime_stats(ukasan_stats* out) {
  SlabQuarantine::Stats q = quarantine().stats();
  DepotStats d = depot_stats();
  out->quarantine_bytes = q.bytes;
  out->quarantine_peak_bytes = q.peak_bytes;
  out->quarantine_max_bytes = quarantine().max_bytes();
  out->quarantine_batches = q.batches;
  out->evicted_bytes = q.evicted_bytes;
  out->evicted_objects = q.evicted_objects;
  out->evictions = q.evictions;
  out->max_evict_bytes = q.max_evict_bytes;
  out->max_evict_objects = q.max_evict_objects;
  out->transfers = q.transfers;
  out->reports = report_count();
  out->stack_depot_stacks = d.unique_stacks;
  out->stack_depot_bytes = d.bytes_used;
  out->kept_objects = quarantine_kept_total();
}

static void print_stats() {
  ukasan_stats s;
  runtime_stats(&s);
  char buf[768];
  int n = snprintf(buf, sizeof(buf),
                   "ukasan: stats: quarantine %lu bytes now, peak %lu, bound %lu, batches %lu; evicted %lu bytes "
                   "in %lu objects over %lu steps (max step %lu bytes, %lu objects); transfers %lu; reports %lu; "
                   "stack depot %lu stacks, %lu bytes; kept %lu\n",
                   (unsigned long)s.quarantine_bytes, (unsigned long)s.quarantine_peak_bytes,
                   (unsigned long)s.quarantine_max_bytes, (unsigned long)s.quarantine_batches,
                   (unsigned long)s.evicted_bytes, (unsigned long)s.evicted_objects, (unsigned long)s.evictions,
                   (unsigned long)s.max_evict_bytes, (unsigned long)s.max_evict_objects,
                   (unsigned long)s.transfers, (unsigned long)s.reports, (unsigned long)s.stack_depot_stacks,
                   (unsigned long)s.stack_depot_bytes, (unsigned long)s.kept_objects);
  write_all(2, buf, n > 0 ? static_cast<uptr>(n) : 0);
}

static std::atomic<bool> g_leak_check_done{false};

bool runtime_leak_check_once(uptr stack_from) {
  if (g_leak_check_done.exchange(true)) return false;
  return leak_scan(true, false, stack_from).new_objects != 0;
}

// A process that printed a report or leaked and was not aborted exits with
// `exitcode` (ASan's convention), whatever status it was going to exit with.
static void runtime_at_exit() {
  if (runtime_passthrough()) return;
  if (options().check_quarantine_at_exit) quarantine_check();
  // The exiting thread's stack from exit()'s caller: the frames below
  // (exit's, the loader's, ours) are dead to the program, and their unset
  // slots hold what the runtime's own malloc frames left there, the
  // address of the last block allocated among it.
  if (options().detect_leaks) runtime_leak_check_once(caller_sp_of(reinterpret_cast<uptr>(&exit)));
  if (options().print_stats || options().verbosity >= 2) print_stats();
  if (options().verbosity >= 1) {
    char line[160];
    snprintf(line, sizeof(line), "ukasan: exit: %lu reports, %lu leaked objects reported\n",
             static_cast<unsigned long>(report_count()), static_cast<unsigned long>(leak_reported_total()));
    raw_puts(2, line);
  }
  report_summary();
  const bool failed = (report_count() > 0 && options().fault == kFaultReport) || leak_reported_total() > 0;
  if (failed && options().exitcode != 0) {
    fflush(nullptr);  // _exit skips stdio: do not lose the program's buffered output
    _exit(options().exitcode);
  }
}

// Map the shadow and set up the runtime before any other constructor of the
// program (constructors of libraries that depend on us run later).
__attribute__((constructor(101))) static void ukasan_ctor() { runtime_init(); }
__attribute__((destructor(101))) static void ukasan_dtor() { runtime_at_exit(); }

}  // namespace ukasan
