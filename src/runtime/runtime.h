// The runtime's life cycle, above the core layers: bring-up (options, report,
// shadow, slab), the fork handlers that call each component's own, and exit
// (statistics, the exit status of a process that reported). The exported C
// API (<ukasan/ukasan.h>, <ukasan/slab.h>) lives here too. The front ends
// (src/heap, src/instrumentation) call runtime_init() before anything else.
#pragma once
#include <signal.h>
#include <ucontext.h>
#include "platform/types.h"

struct ukasan_stats;

namespace ukasan {

void runtime_init();   // idempotent, cheap after the first call

// SIGSEGV/SIGBUS (fault.cpp): a hook returns true when it handled the fault
// and the access may run again; false passes it on (in the end: the
// program's previous disposition). Adding installs the handler, once, and
// only where the program has none; at most 4 hooks.
using FaultHook = bool (*)(int sig, siginfo_t* si, ucontext_t* uc);
void fault_hook_add(FaultHook hook);
bool runtime_ready();  // runtime_init has completed (false while it runs)
// Under valgrind runtime_init starts nothing and returns at once: the heap
// forwards to libc's malloc, the instrumentation checks nothing.
bool runtime_passthrough();

// The end-of-process leak check, run at most once (at exit, or earlier by
// __lsan_do_leak_check); true if it reported leaks.
bool runtime_leak_check_once(uptr stack_from = 0);

// The statistics ukasan_get_stats() returns and print_stats prints.
void runtime_stats(ukasan_stats* out);

}  // namespace ukasan
