// Per-thread slots: the registry a synchronizer walks, and the mark that
// tells a signal handler it interrupted its own thread's runtime code.
//
// There is no per-CPU "section" a synchronizer waits for. The quarantine's
// queues are append-only for their owners and are worked on by synchronizers
// under the global lock (quarantine/quarantine.h); batches being evicted are
// claimed entry by entry with a CAS. So kmem_cache_destroy, drain and fork
// never wait for a thread that is descheduled in the middle of a free or an
// eviction (the kernel gets this property from irq-off sections that cannot
// be preempted; user space cannot, so the data structures have to tolerate an
// owner stopped at any instruction).
//
// What the slot lock still orders: a thread's magazines are touched by their
// owner and, for one cache, by kmem_cache_destroy of that cache (after every
// object of it has been freed: the owner cannot be using that magazine then)
// and by the owner's exit flush. Both take the slot lock, briefly.
#pragma once
#include <atomic>

#include "platform/lock.h"
#include "platform/types.h"

namespace ukasan {

struct ThreadSlot {
  std::atomic<u32> claimed{0};  // slot owned by a live thread (slots are never freed)
  ThreadSlot* next = nullptr;   // registry link, immutable once published
  Lock lock;                    // see above
  int nesting = 0;              // owner only: inside runtime code on this thread
};

class SlotRegistry {
 public:
  constexpr SlotRegistry() = default;

  // Publishes a slot (once per slot; lock-free push).
  void register_slot(ThreadSlot* s) {
    ThreadSlot* head = head_.load(std::memory_order_relaxed);
    do {
      s->next = head;
    } while (!head_.compare_exchange_weak(head, s, std::memory_order_release, std::memory_order_relaxed));
  }
  ThreadSlot* first() const { return head_.load(std::memory_order_acquire); }

  void lock_all() {
    for (ThreadSlot* s = first(); s; s = s->next) s->lock.lock();
  }
  void unlock_all(bool reset) {
    for (ThreadSlot* s = first(); s; s = s->next) {
      if (reset)
        s->lock.reset();
      else
        s->lock.unlock();
    }
  }

 private:
  std::atomic<ThreadSlot*> head_{nullptr};
};

// Marks the owner as inside runtime code that may hold runtime locks or be
// mid-update of its per-thread data. Returns false if it already was: the
// caller is a signal handler that interrupted that code, and must neither
// touch the thread's queue or magazines nor block on a runtime lock.
UKASAN_ALWAYS_INLINE bool runtime_enter(ThreadSlot* s) {
  if (UKASAN_UNLIKELY(s->nesting > 0)) return false;
  s->nesting = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the mark before any slot data
  return true;
}
UKASAN_ALWAYS_INLINE void runtime_exit(ThreadSlot* s) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  s->nesting = 0;
}

// RAII form for slow paths (destroy, drain, thread exit).
class RuntimeScope {
 public:
  explicit RuntimeScope(ThreadSlot* s) : s_(s), entered_(runtime_enter(s)) {}
  ~RuntimeScope() {
    if (entered_) runtime_exit(s_);
  }
  bool nested() const { return !entered_; }
  RuntimeScope(const RuntimeScope&) = delete;
  RuntimeScope& operator=(const RuntimeScope&) = delete;

 private:
  ThreadSlot* s_;
  bool entered_;
};

}  // namespace ukasan
