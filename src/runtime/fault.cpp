// The process's SIGSEGV/SIGBUS handler, shared by the front ends: KFENCE's
// guard and freed pages (src/heap/kfence.cpp) and the instrumentation's wild
// and null accesses (src/instrumentation/stack.cpp) each register a hook.
//
// Installed only where the program has none at the time (a handler of its own
// is never replaced). A hook that handled the fault (and made the access
// possible, e.g. unprotected the page after reporting) returns true: the
// handler returns and the instruction runs again. When none did, the
// program's previous disposition is restored and the handler returns: the
// access faults again and dies the way it would have (or reaches the
// handler that was there before).
#include <signal.h>
#include <string.h>

#include <atomic>

#include "runtime/runtime.h"

namespace ukasan {
namespace {

constexpr unsigned kMaxHooks = 4;
std::atomic<FaultHook> g_hooks[kMaxHooks];
std::atomic<bool> g_installed{false};
struct sigaction g_old_segv, g_old_bus;

void fault_handler(int sig, siginfo_t* si, void* uctx) {
  ucontext_t* uc = static_cast<ucontext_t*>(uctx);
  for (auto& h : g_hooks) {
    FaultHook f = h.load(std::memory_order_acquire);
    if (f && f(sig, si, uc)) return;
  }
  sigaction(sig, sig == SIGSEGV ? &g_old_segv : &g_old_bus, nullptr);
}

}  // namespace

void fault_hook_add(FaultHook hook) {
  for (auto& h : g_hooks) {
    FaultHook empty = nullptr;
    if (h.load(std::memory_order_relaxed) == hook) break;
    if (h.compare_exchange_strong(empty, hook, std::memory_order_acq_rel)) break;
  }
  if (g_installed.exchange(true, std::memory_order_acq_rel)) return;
  struct sigaction cur;
  if (sigaction(SIGSEGV, nullptr, &cur) != 0 || cur.sa_handler != SIG_DFL) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = fault_handler;
  // No SA_RESETHAND: a KFENCE fault reported under fault=report continues,
  // and the next one must be seen too. SA_NODEFER: a fault inside a hook
  // (a report that faults) reaches the handler again, where the report's
  // own re-entry guard stops it.
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
}

}  // namespace ukasan
