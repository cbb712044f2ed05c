// The lock policy: ONE compile-time switch for every lock in the runtime
// (quarantine global lock, per-CPU slot locks, slab cache locks, page
// allocator). Chosen by CMake's UKASAN_LOCK_POLICY = spin | mutex | pi_mutex.
//   spin     - never sleeps (the kernel's raw_spinlock_t); test-and-test-and-set.
//   mutex    - futex mutex (sleeps under contention).
//   pi_mutex - futex priority-inheritance mutex (FUTEX_LOCK_PI): a low-priority
//              holder is boosted while a high-priority thread waits.
// All are constant-initialised (no static constructors) and allocate nothing.
// Why spin is the default: see README "Lock policy" (measured by bench_lock).
#pragma once
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "platform/platform.h"
#include "platform/types.h"

namespace ukasan {

class SpinLock {
 public:
  constexpr SpinLock() = default;
  void lock() {
    for (;;) {
      if (!v_.exchange(1, std::memory_order_acquire)) return;
      unsigned spins = 0;
      while (v_.load(std::memory_order_relaxed)) {
        cpu_relax();
        // Never sleeps, but yields the CPU when the holder was preempted so a
        // 2-core machine does not burn its quantum.
        if (++spins > 2048) { sched_yield_(); spins = 0; }
      }
    }
  }
  bool try_lock() { return !v_.load(std::memory_order_relaxed) && !v_.exchange(1, std::memory_order_acquire); }
  void unlock() { v_.store(0, std::memory_order_release); }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  static void sched_yield_() { syscall(SYS_sched_yield); }
  std::atomic<u32> v_{0};
};

// Futex mutex: 0 unlocked, 1 locked, 2 locked with waiters.
class FutexMutex {
 public:
  constexpr FutexMutex() = default;
  void lock() {
    u32 c = 0;
    if (v_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = v_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      syscall(SYS_futex, reinterpret_cast<u32*>(&v_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
      c = v_.exchange(2, std::memory_order_acquire);
    }
  }
  bool try_lock() {
    u32 c = 0;
    return v_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (v_.exchange(0, std::memory_order_release) == 2)
      syscall(SYS_futex, reinterpret_cast<u32*>(&v_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<u32> v_{0};
};

// Priority-inheritance futex: the word holds the owner's TID (kernel protocol).
class PiMutex {
 public:
  constexpr PiMutex() = default;
  void lock() {
    u32 expected = 0;
    u32 tid = static_cast<u32>(current_tid());  // cached: gettid is a syscall
    if (v_.compare_exchange_strong(expected, tid, std::memory_order_acquire)) return;
    while (syscall(SYS_futex, reinterpret_cast<u32*>(&v_), FUTEX_LOCK_PI_PRIVATE, 0, nullptr, nullptr, 0) != 0) {
    }
  }
  bool try_lock() {
    u32 expected = 0;
    return v_.compare_exchange_strong(expected, static_cast<u32>(current_tid()), std::memory_order_acquire);
  }
  void unlock() {
    u32 tid = static_cast<u32>(current_tid());
    if (v_.compare_exchange_strong(tid, 0, std::memory_order_release)) return;
    syscall(SYS_futex, reinterpret_cast<u32*>(&v_), FUTEX_UNLOCK_PI_PRIVATE, 0, nullptr, nullptr, 0);
  }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<u32> v_{0};
};

#if defined(UKASAN_LOCK_POLICY_mutex)
using Lock = FutexMutex;
#elif defined(UKASAN_LOCK_POLICY_pi_mutex)
using Lock = PiMutex;
#else
using Lock = SpinLock;
#endif

template <typename L>
class ScopedLock {
 public:
  explicit ScopedLock(L& l) : l_(l) { l_.lock(); }
  ~ScopedLock() { l_.unlock(); }
  ScopedLock(const ScopedLock&) = delete;
  ScopedLock& operator=(const ScopedLock&) = delete;

 private:
  L& l_;
};
using LockGuard = ScopedLock<Lock>;

}  // namespace ukasan
