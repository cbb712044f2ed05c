// Asymmetric per-thread exclusion: the user-space stand-in for the kernel's
// "irqs off on this CPU" + "IPI every CPU" + SRCU (mm/kasan/quarantine.c).
// Model-checked in verify/quarantine.pml (enter/exit/synchronize there).
//
// Every thread owns one Slot. The owner's fast path enters its slot with a
// plain store of busy=1 and a compiler barrier - no lock, no atomic
// read-modify-write. A synchronizer (kmem_cache_destroy, drain, fork) that
// must see or change every slot's data sets `slow_`, issues one heavy barrier
// (membarrier(PRIVATE_EXPEDITED): an IPI that makes every running thread of
// the process execute a full memory barrier), then waits until every slot's
// busy is 0. From then until it clears slow_, every owner enters in LOCKED
// mode (takes its own slot lock), so the synchronizer can walk all slots
// under their locks.
//
// Why it is safe (the store-buffering argument):
//   owner:        W busy=1 ; compiler barrier ; R slow
//   synchronizer: W slow=1 ; membarrier()      ; R busy
// membarrier() guarantees that every other thread executes a full barrier
// between the synchronizer's W and R as observed by both: it acts as the
// pair of seq_cst fences the store-buffering pattern needs. So it is
// impossible that the owner reads slow==0 AND the synchronizer reads busy==0
// while the owner is inside its section. Either the owner sees slow!=0 and
// takes the lock path, or the synchronizer sees busy==1 and waits until the
// owner's release store busy=0, which publishes everything the section wrote.
// Waiting is bounded: a FAST section executes a bounded amount of work and
// takes no lock that a waiting synchronizer holds (synchronizers hold
// nothing while they wait).
//
// Signal handlers: a handler that interrupts its own thread's section sees
// nesting>0 and gets kNested: it must not touch the slot's data (the
// interrupted code is mid-update) nor take locks the interrupted code may
// hold; callers use a lock-free side list instead (see Quarantine::put_nested).
#pragma once
#include <atomic>

#include "platform/lock.h"
#include "platform/platform.h"

namespace ukasan {

struct ExclusionSlot {
  std::atomic<u32> busy{0};       // written by the owner only
  Lock lock;                      // taken by the owner in LOCKED mode and by synchronizers
  std::atomic<u32> claimed{0};    // slot owned by a live thread (slots are never freed)
  ExclusionSlot* next = nullptr;  // registry link, immutable once published
  int nesting = 0;                // owner only: depth of enter() on this thread
};

enum class SectionMode : u8 { kFast, kLocked, kNested };

class Exclusion {
 public:
  constexpr Exclusion() = default;

  // Publishes a slot in the registry (once per slot; lock-free push).
  void register_slot(ExclusionSlot* s) {
    ExclusionSlot* head = head_.load(std::memory_order_relaxed);
    do {
      s->next = head;
    } while (!head_.compare_exchange_weak(head, s, std::memory_order_release, std::memory_order_relaxed));
  }
  ExclusionSlot* first() const { return head_.load(std::memory_order_acquire); }

  UKASAN_ALWAYS_INLINE SectionMode enter(ExclusionSlot* s) {
    if (UKASAN_UNLIKELY(s->nesting > 0)) return SectionMode::kNested;
    s->nesting = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // nesting before any slot data
    s->busy.store(1, std::memory_order_relaxed);
#if UKASAN_DYNAMIC_SHADOW  // ThreadSanitizer build: TSan does not model membarrier
    std::atomic_thread_fence(std::memory_order_seq_cst);
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the compiler barrier of the argument above
#endif
    // Acquire pairs with the synchronizer's release of slow_ (its slot edits
    // happen-before our FAST section that follows).
    if (UKASAN_LIKELY(slow_.load(std::memory_order_acquire) == 0)) return SectionMode::kFast;
    return enter_locked(s);
  }

  UKASAN_ALWAYS_INLINE void exit(ExclusionSlot* s, SectionMode m) {
    if (m == SectionMode::kNested) return;
    if (m == SectionMode::kFast)
      s->busy.store(0, std::memory_order_release);  // publishes the section to a waiting synchronizer
    else
      s->lock.unlock();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s->nesting = 0;
  }

  // Runs fn(slot) for every registered slot with that slot's lock held, at a
  // moment when no thread is inside a FAST section. `self` (may be null) is
  // the caller's own slot: the caller must not be inside it.
  // Then runs after() while still excluding FAST sections (e.g. to scan the
  // global FIFO with the guarantee that no batch is in flight).
  template <typename Fn, typename After>
  void synchronize(Fn fn, After after) {
    begin_sync();
    for (ExclusionSlot* s = first(); s; s = s->next) {
      s->lock.lock();
      fn(s);
      s->lock.unlock();
    }
    after();
    end_sync();
  }

  // Split form for fork(): begin_sync + lock every slot; the matching
  // unlock_all_after_fork releases them (parent) or resets them (child).
  void begin_sync() {
    sync_mutex_.lock();
    slow_.fetch_add(1, std::memory_order_relaxed);
    heavy_barrier();
    // After the barrier, any owner that read slow==0 has its busy=1 visible
    // to us; wait for those sections to end. New sections take the lock path.
    for (ExclusionSlot* s = first(); s; s = s->next) {
      unsigned spins = 0;
      while (s->busy.load(std::memory_order_acquire)) {
        if (++spins > 64) { sched_yield(); spins = 0; }
      }
    }
  }
  void end_sync() {
    slow_.fetch_sub(1, std::memory_order_release);
    sync_mutex_.unlock();
  }
  void lock_all_slots() {
    for (ExclusionSlot* s = first(); s; s = s->next) s->lock.lock();
  }
  void unlock_all_slots(bool reset) {
    for (ExclusionSlot* s = first(); s; s = s->next) {
      if (reset) {
        s->lock.reset();
        s->busy.store(0, std::memory_order_relaxed);
      } else {
        s->lock.unlock();
      }
    }
  }
  void reset_after_fork_child() {
    sync_mutex_.reset();
    slow_.store(0, std::memory_order_relaxed);
  }

 private:
  static void sched_yield();
  UKASAN_NOINLINE SectionMode enter_locked(ExclusionSlot* s) {
    // A synchronizer is active (or finishing): drop busy so it does not wait
    // for us, and serialise with it through our slot lock instead.
    s->busy.store(0, std::memory_order_release);
    s->lock.lock();
    return SectionMode::kLocked;
  }

  std::atomic<ExclusionSlot*> head_{nullptr};
  std::atomic<u32> slow_{0};
  Lock sync_mutex_;  // serialises synchronizers
};

}  // namespace ukasan
