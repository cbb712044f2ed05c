// Stopping every other thread of the process, as a conservative scanner
// needs (kmemleak's scan; LSan's StopTheWorld). Signal-based: each thread
// runs a handler on its own stack that publishes its stack pointer (the
// signal frame holding its registers lies above it) and sleeps on a futex
// until released. Nothing here allocates or takes a lock a stopped thread
// could hold; the caller's callback must not either.
#pragma once
#include "platform/types.h"

namespace ukasan {

struct StoppedThread {
  int tid;
  // How its stack and registers are known:
  //   kStopped:  it runs the handler; [sp, its stack's end) holds every
  //              register it had (in the signal frame) and its live frames.
  //   kSyscall:  it blocks the signal (a sigwait thread); sp is its user
  //              stack pointer at the system call it is blocked in, from
  //              /proc/self/task/TID/syscall. Not stopped: it may wake, so
  //              fn must ask stopped_threads_stayed_still() before it
  //              trusts what it read.
  //   kUnknown:  neither: its stack cannot be scanned.
  enum How : u8 { kStopped, kSyscall, kUnknown } how;
  uptr sp;
  uptr tp;  // its thread pointer (%fs base: glibc's TCB), 0 if unknown
  uptr altstack;  // its sigaltstack's base (memory the kernel refers to), 0 if none or unknown
};

// Calls fn(threads, n, arg) with every thread of the process except the
// caller stopped (or described as above), then resumes them all before
// returning. Threads created while the world is being stopped are stopped
// too. Returns false (and fn is not called) if the threads cannot be
// listed (/proc not mounted) or another stop is in progress; *why then
// says why.
using StopWorldFn = void (*)(const StoppedThread* threads, unsigned n, void* arg);
bool stop_the_world(StopWorldFn fn, void* arg, const char** why);

// From inside fn: whether every kSyscall thread has not run since it was
// read (its context-switch count is unchanged); false (and *tid) if one did.
bool stopped_threads_stayed_still(int* tid);

// The calling thread's thread pointer (%fs base).
uptr current_thread_pointer();
// The base of the calling thread's alternate signal stack, 0 if none.
uptr current_altstack();

}  // namespace ukasan
