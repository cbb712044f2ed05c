// The quarantine: a generic FIFO of freed objects, bounded in bytes.
// It knows nothing of slabs, threads or shadow: the embedding allocator gives
// it a Callback type (how to link a node, how big it is, how to really free
// it) and calls it from inside an exclusion section (percpu/exclusion.h),
// which is what makes the per-CPU queue safe without locks.
// Model-checked in verify/quarantine.pml (put/transfer/reduce/remove_if).
//
//   put():      O(1) append to the caller's per-CPU Queue; when the queue
//               holds more than cache_bytes it moves whole into the global
//               FIFO (one lock acquisition per cache_bytes of frees).
//   reduce():   when the global FIFO holds more than max_bytes, evicts the
//               OLDEST batch - exactly one per call - and frees it outside the
//               global lock. Bound per call: one batch = at most
//               batch_bytes + cache_bytes bytes of objects (stats record the max).
//   extract_from_queue() / extract_from_fifo(): used by a synchronizer
//               (destroy, drain) to take every matching node out of each
//               Queue (via the exclusion walk) and out of the FIFO.
//
// Callback requirements (all static):
//   using Node;                          // a node in the freed object (its address is what is queued)
//   Node* next(Node*); void set_next(Node*, Node*);   // the signal-nested
//                                        // stack and the out-of-memory spill
//   uptr size(Node*);                    // bytes accounted (full slot)
//   void prefetch(Node*);                // hint: recycle(node) comes soon
//   void* map(uptr bytes);               // zeroed memory for chunks, or null
//   void recycle(Node*, void* ctx);      // really free; ctx from the caller
//   void in_flight();                    // called while a batch is off every
//                                        // list (testing hook; usually empty)
#pragma once
#include <atomic>

#include "platform/lock.h"
#include "platform/types.h"

namespace ukasan {

template <typename Cb>
class Quarantine {
 public:
  using Node = typename Cb::Node;

  // Nodes are kept in chunks of pointers (2 KiB each), not chained through
  // the objects: eviction then knows the next objects' addresses in advance
  // and prefetches them, instead of taking one dependent cache miss per
  // object while chasing a linked list through cold memory. The cost is
  // 8 bytes per quarantined object. If no chunk can be had (out of memory),
  // nodes fall back to an intrusive `spill` chain, so a push never fails.
  static constexpr unsigned kChunkNodes = 254;
  struct Chunk {
    Chunk* next;
    unsigned count;
    Node* nodes[kChunkNodes];
  };

  struct List {
    Chunk* head = nullptr;
    Chunk* tail = nullptr;
    Node* spill = nullptr;
    uptr bytes = 0;
    uptr count = 0;

    bool empty() const { return count == 0; }
    UKASAN_ALWAYS_INLINE void push(Node* n, uptr sz) {
      bytes += sz;
      count++;
      if (UKASAN_LIKELY(tail && tail->count < kChunkNodes)) {
        tail->nodes[tail->count++] = n;
        return;
      }
      push_slow(n);
    }
    void append(List& o) {  // moves o into this (o becomes empty); O(1) unless spilled
      if (o.empty()) return;
      if (o.head) {
        if (tail)
          tail->next = o.head;
        else
          head = o.head;
        tail = o.tail;
      }
      while (o.spill) {
        Node* n = o.spill;
        o.spill = Cb::next(n);
        Cb::set_next(n, spill);
        spill = n;
      }
      bytes += o.bytes;
      count += o.count;
      o = List();
    }
    template <typename F>
    void for_each(F f) const {
      for (Chunk* c = head; c; c = c->next)
        for (unsigned i = 0; i < c->count; i++) f(c->nodes[i]);
      for (Node* n = spill; n; n = Cb::next(n)) f(n);
    }
    // Moves the nodes matching pred into out, keeping the order of both.
    template <typename Pred>
    void extract_if(Pred pred, List& out) {
      auto take = [&](Node* n) {
        if (!pred(n)) return false;
        uptr sz = Cb::size(n);
        bytes -= sz;
        count--;
        out.push(n, sz);
        return true;
      };
      Chunk** pc = &head;
      Chunk* last = nullptr;
      while (Chunk* c = *pc) {
        unsigned j = 0;
        for (unsigned i = 0; i < c->count; i++)
          if (!take(c->nodes[i])) c->nodes[j++] = c->nodes[i];
        c->count = j;
        if (j == 0) {
          *pc = c->next;
          free_chunk(c);
        } else {
          last = c;
          pc = &c->next;
        }
      }
      tail = last;
      Node* keep = nullptr;
      while (spill) {
        Node* n = spill;
        spill = Cb::next(n);
        if (!take(n)) {
          Cb::set_next(n, keep);
          keep = n;
        }
      }
      spill = keep;
    }
    // Gives the chunks back (the nodes themselves are the caller's).
    void release() {
      while (head) {
        Chunk* c = head;
        head = c->next;
        free_chunk(c);
      }
      *this = List();
    }

   private:
    UKASAN_NOINLINE void push_slow(Node* n) {
      Chunk* c = alloc_chunk();
      if (!c) {
        Cb::set_next(n, spill);
        spill = n;
        return;
      }
      c->nodes[c->count++] = n;
      if (tail)
        tail->next = c;
      else
        head = c;
      tail = c;
    }
  };

  // The chunk pool: chunks come from Cb::map(), are recycled through a free
  // list under their own leaf lock (taken once per kChunkNodes frees), and are
  // never unmapped.
  static Chunk* alloc_chunk() {
    LockGuard g(pool_lock_);
    if (!pool_free_) {
      constexpr uptr kMapBytes = 256 * 1024;
      Chunk* block = static_cast<Chunk*>(Cb::map(kMapBytes));
      if (!block) return nullptr;
      for (uptr i = 0; i < kMapBytes / sizeof(Chunk); i++) {
        block[i].next = pool_free_;
        pool_free_ = &block[i];
      }
    }
    Chunk* c = pool_free_;
    pool_free_ = c->next;
    c->next = nullptr;
    c->count = 0;
    return c;
  }
  static void free_chunk(Chunk* c) {
    LockGuard g(pool_lock_);
    c->next = pool_free_;
    pool_free_ = c;
  }
  static Lock& pool_lock() { return pool_lock_; }

  // The per-CPU queue. Touched only by its owner inside a FAST/LOCKED section,
  // or by a synchronizer that holds the slot lock while no FAST section runs.
  // `nested` is the exception: a lock-free LIFO for frees from a signal
  // handler that interrupted the owner's own section.
  struct Queue {
    List list;
    std::atomic<Node*> nested{nullptr};
  };

  struct Stats {
    u64 bytes;           // in the global FIFO now
    u64 peak_bytes;
    u64 batches;         // non-empty batches in the FIFO now
    u64 evicted_bytes;
    u64 evicted_objects;
    u64 evictions;       // reduce steps that freed a batch
    u64 max_evict_bytes; // largest single eviction step
    u64 max_evict_objects;
    u64 transfers;       // per-CPU queue -> FIFO moves
  };

  constexpr Quarantine() = default;

  void init(uptr max_bytes, uptr cache_bytes) {
    max_bytes_.store(max_bytes, std::memory_order_relaxed);
    cache_bytes_ = cache_bytes;
    // Like the kernel: a batch is at least one per-CPU queue and the FIFO has
    // at most kBatches of them, so a step frees ~max/kBatches bytes.
    uptr b = max_bytes / kBatches;
    batch_bytes_ = b > cache_bytes ? b : cache_bytes;
    if (batch_bytes_ == 0) batch_bytes_ = 1;
  }
  uptr max_bytes() const { return max_bytes_.load(std::memory_order_relaxed); }
  uptr cache_bytes() const { return cache_bytes_; }
  uptr batch_bytes() const { return batch_bytes_; }

  // Owner, inside its section. Returns true if a transfer made the FIFO
  // exceed its bound (the caller should reduce on its allocation path).
  UKASAN_ALWAYS_INLINE bool put(Queue& q, Node* n, uptr size) {
    q.list.push(n, size);
    if (UKASAN_UNLIKELY(q.nested.load(std::memory_order_relaxed) != nullptr)) merge_nested(q);
    if (UKASAN_LIKELY(q.list.bytes <= cache_bytes_)) return false;
    return transfer(q);
  }

  // From a signal handler that interrupted its own thread's section: the
  // queue's list may be mid-update, so only the lock-free side stack is used.
  // CAS (not a plain store) because a second handler may nest inside this one.
  void put_nested(Queue& q, Node* n) {
    Node* head = q.nested.load(std::memory_order_relaxed);
    do {
      Cb::set_next(n, head);
    } while (!q.nested.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
  }

  // Owner, inside its section (thread exit, explicit flush): moves the whole
  // per-CPU queue to the FIFO. The move happens INSIDE the caller's section:
  // ending the section before the batch is on the FIFO is exactly the bug
  // (2018, "kasan: convert kasan/quarantine_lock to raw_spinlock") where a
  // synchronizer finds the batch neither in the queue nor in the FIFO.
  bool flush(Queue& q) {
    merge_nested(q);
    if (q.list.empty()) return false;
    return transfer(q);
  }

  // slack: how far past the bound the caller tolerates (an allocation path
  // that leaves the eviction to a background thread unless it falls behind).
  bool over_limit(uptr slack = 0) const {
    return bytes_.load(std::memory_order_relaxed) > max_bytes_.load(std::memory_order_relaxed) + slack;
  }

  // Evicts at most one batch. locked_mode: the caller is in a LOCKED section
  // (a synchronizer is active), so the batch is freed while the global lock
  // is held - the synchronizer's FIFO scan then cannot miss an object that is
  // off the FIFO but not yet freed. In FAST mode the batch is freed outside
  // the global lock but inside the caller's busy section, which a
  // synchronizer waits out before it scans anything.
  // Returns the bytes freed.
  uptr reduce(void* ctx, bool locked_mode) {
    if (!over_limit()) return 0;
    List victim;
    lock_.lock();
    if (bytes_.load(std::memory_order_relaxed) <= max_bytes_.load(std::memory_order_relaxed)) {
      lock_.unlock();
      return 0;
    }
    victim = pop_oldest_locked();
    if (!locked_mode) lock_.unlock();
    Cb::in_flight();
    const uptr freed = victim.bytes;
    free_list(victim, ctx);
    if (locked_mode) lock_.unlock();
    return freed;
  }

  // Synchronizer only (no FAST section running; caller holds the slot lock):
  // takes matching nodes out of one per-CPU queue, including its nested stack.
  template <typename Pred>
  void extract_from_queue(Queue& q, Pred pred, List& out) {
    merge_nested(q);
    q.list.extract_if(pred, out);
  }

  // Synchronizer only: takes matching nodes out of every batch of the FIFO.
  template <typename Pred>
  void extract_from_fifo(Pred pred, List& out) {
    LockGuard g(lock_);
    uptr before = out.bytes;
    for (unsigned i = 0; i < kBatches; i++) fifo_[i].extract_if(pred, out);
    bytes_.store(bytes_.load(std::memory_order_relaxed) - (out.bytes - before), std::memory_order_relaxed);
    compact_locked();
  }

  // Frees every node of a list (outside any quarantine lock), prefetching
  // a few objects ahead, then gives the list's chunks back.
  void free_list(List& l, void* ctx) {
    constexpr unsigned kAhead = 8;
    for (Chunk* c = l.head; c; c = c->next) {
      for (unsigned i = 0; i < c->count; i++) {
        if (i + kAhead < c->count)
          Cb::prefetch(c->nodes[i + kAhead]);
        else if (c->next && i + kAhead - c->count < c->next->count)
          Cb::prefetch(c->next->nodes[i + kAhead - c->count]);
        Cb::recycle(c->nodes[i], ctx);
      }
    }
    for (Node* n = l.spill; n;) {
      Node* nx = Cb::next(n);
      Cb::recycle(n, ctx);
      n = nx;
    }
    l.release();
  }

  Stats stats() {
    LockGuard g(lock_);
    Stats s = stats_;
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.batches = 0;
    for (unsigned i = 0; i < kBatches; i++) s.batches += !fifo_[i].empty();
    return s;
  }

  // fork(): the prepare handler takes the global lock, parent/child release it.
  Lock& global_lock() { return lock_; }

  static constexpr unsigned kBatches = 1024;

 private:
  void merge_nested(Queue& q) {
    if (q.nested.load(std::memory_order_relaxed) == nullptr) return;
    // Exchange, not load+store: a handler may push between the two.
    Node* n = q.nested.exchange(nullptr, std::memory_order_acquire);
    while (n) {
      Node* nx = Cb::next(n);
      q.list.push(n, Cb::size(n));
      n = nx;
    }
  }

  bool transfer(Queue& q) {
    List batch = q.list;
    q.list = List();
    // The batch is now in no queue and not yet on the FIFO: only the caller's
    // section makes it findable (a synchronizer waits the section out).
    Cb::in_flight();
    LockGuard g(lock_);
    uptr total = bytes_.load(std::memory_order_relaxed) + batch.bytes;
    bytes_.store(total, std::memory_order_relaxed);
    if (total > stats_.peak_bytes) stats_.peak_bytes = total;
    stats_.transfers++;
    fifo_[tail_].append(batch);
    // Start a new batch once this one is big enough, unless the ring is full
    // (then the tail batch grows, as in the kernel).
    if (fifo_[tail_].bytes >= batch_bytes_) {
      unsigned nt = (tail_ + 1) % kBatches;
      if (nt != head_) tail_ = nt;
    }
    return total > max_bytes_.load(std::memory_order_relaxed);
  }

  // Removal can leave empty batches anywhere in the ring; were they kept,
  // repeated drains/destroys would fill the ring with empty slots, the tail
  // batch would then grow without bound and one eviction would free the
  // whole quarantine (found by the fuzzer). Move the non-empty batches
  // together, oldest first. Slow path only: O(kBatches).
  void compact_locked() {
    unsigned n = 0;
    for (unsigned i = head_;; i = (i + 1) % kBatches) {
      if (!fifo_[i].empty()) {
        unsigned dst = (head_ + n) % kBatches;
        if (dst != i) {
          fifo_[dst] = fifo_[i];
          fifo_[i] = List();
        }
        n++;
      }
      if (i == tail_) break;
    }
    tail_ = n ? (head_ + n - 1) % kBatches : head_;
  }

  List pop_oldest_locked() {
    // remove_if may have emptied batches; skip them so one step frees one
    // non-empty batch.
    while (fifo_[head_].empty() && head_ != tail_) head_ = (head_ + 1) % kBatches;
    List victim = fifo_[head_];
    fifo_[head_] = List();
    if (head_ != tail_) head_ = (head_ + 1) % kBatches;
    bytes_.store(bytes_.load(std::memory_order_relaxed) - victim.bytes, std::memory_order_relaxed);
    if (!victim.empty()) {
      stats_.evictions++;
      stats_.evicted_bytes += victim.bytes;
      stats_.evicted_objects += victim.count;
      if (victim.bytes > stats_.max_evict_bytes) stats_.max_evict_bytes = victim.bytes;
      if (victim.count > stats_.max_evict_objects) stats_.max_evict_objects = victim.count;
    }
    return victim;
  }

  static inline Lock pool_lock_;
  static inline Chunk* pool_free_ = nullptr;
  Lock lock_;
  std::atomic<uptr> bytes_{0};
  std::atomic<uptr> max_bytes_{0};
  uptr cache_bytes_ = 0;
  uptr batch_bytes_ = 1;
  unsigned head_ = 0, tail_ = 0;
  Stats stats_{};
  List fifo_[kBatches];
};

}  // namespace ukasan
