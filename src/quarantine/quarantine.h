// The quarantine: a generic FIFO of freed objects, bounded in bytes.
// It knows nothing of slabs, threads or shadow: the embedding allocator gives
// it a Callback type (how to link a node, how big it is, how to really free
// it). Model-checked in verify/quarantine.pml (put/transfer/reduce/extract).
//
//   put():      O(1) append to the caller's per-CPU Queue (plain stores, no
//               lock, no atomic read-modify-write); when the queue holds more
//               than cache_bytes it moves whole into the global FIFO under the
//               global lock (one acquisition per cache_bytes of frees).
//   reduce():   when the global FIFO holds more than max_bytes, evicts the
//               OLDEST batch - exactly one per call - outside the global lock.
//   extract():  a synchronizer (destroy, drain) takes every matching node
//               out of the queues, the FIFO and the batches being evicted,
//               without waiting for any owner; free_extracted() then frees
//               them as a registered batch of its own (below).
//
// The protocol (why no synchronizer waits for a descheduled thread):
//  * A queue's chunks are append-only for their owner: it writes
//    nodes[count] and then publishes count+1 (release). A synchronizer holds
//    the global lock, reads count (acquire) and clears matching entries below
//    it. Nothing else writes those entries, and a queue's chunks change hands
//    (transfer to the FIFO) only under the global lock, so a synchronizer can
//    work on a queue whose owner is stopped at any instruction.
//  * An evictor publishes the batch it pops (under the global lock) in its
//    Evicting record, which stays registered until it has finished. It
//    claims the batch a group of kGroup entries at a time, with a CAS of
//    `pos` from g to g+1, and publishes `done` = g+1 (release) once it has
//    freed group g. A synchronizer sets the stop bit in `pos` with a CAS:
//    groups below pos are the evictor's, groups from pos on are frozen (the
//    evictor's next CAS fails until the bit is cleared) and the synchronizer
//    clears their matching entries, then clears the bit (release, so the
//    evictor's next claim sees the cleared entries). Every node is thus freed
//    once. The only thing a synchronizer may have to wait for is the group an
//    evictor is freeing right now (at most kGroup objects' work), and only if
//    it holds a node that matches the synchronizer's predicate.
//  * What a synchronizer extracted is registered, under the same lock hold,
//    as a batch being evicted, and freed like one: a concurrent synchronizer
//    (a destroy while another thread drains everything) finds those nodes
//    there instead of missing them. Only a waiting synchronizer (a destroy)
//    takes from another synchronizer's list; a drain leaves those lists to
//    their owners. Otherwise a drain could take a destroy's objects out of
//    the destroy's own list after its extract returned, and the destroy,
//    having freed what was left, would count them as live (found by
//    destroy_stress_test: 16 threads each draining then destroying its cache
//    at once, 1 run in 5 under ThreadSanitizer).
//  * Signal handlers: a free from a handler that interrupted its own thread's
//    runtime code uses the lock-free side stack `nested` (CAS), merged by the
//    owner's next put and taken by synchronizers with an exchange.
//
// Callback requirements (all static):
//   using Node;                          // a node in the freed object (its address
//                                        // is what is queued; aligned to >= 2)
//   Node* next(Node*); void set_next(Node*, Node*);   // the signal-nested
//                                        // stack and the out-of-memory spill
//   uptr size(Node*);                    // bytes accounted (full slot)
//   void prefetch(Node*);                // hint: recycle(node) comes soon
//   void* map(uptr bytes);               // zeroed memory for chunks, or null
//   void recycle(Node*, void* ctx);      // really free; ctx from the caller
//   void in_flight();                    // called when an evictor has claimed a
//                                        // group (testing hook; usually empty)
//   void relax(unsigned spins);          // one step of a short wait (see evict
//                                        // and extract_evicting_locked)
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
  // 8 bytes per quarantined object. An entry is null once a synchronizer
  // took its node.
  static constexpr unsigned kChunkNodes = 254;
  struct Chunk {
    std::atomic<Chunk*> next;
    std::atomic<u32> count;
    std::atomic<Node*> nodes[kChunkNodes];
  };

  static constexpr u32 kGroup = 32;            // entries an evictor claims at a time
  static constexpr u32 kStop = 0x80000000u;    // in Evicting::pos: a synchronizer is at work

  // A batch, or a private list. Batches on the FIFO are changed only under
  // the global lock; a batch being evicted only through the CASes above.
  // `spill` (an intrusive chain, used when no chunk can be had) only occurs
  // in private lists: queues fall back to the nested stack instead.
  struct List {
    Chunk* head = nullptr;
    Chunk* tail = nullptr;
    Node* spill = nullptr;
    uptr bytes = 0;
    uptr count = 0;
    u64 tags = 0;  // union of the tags of the nodes put (a filter for extract)

    bool empty() const { return count == 0; }
    void push(Node* n, uptr sz) {
      bytes += sz;
      count++;
      Chunk* t = tail;
      if (t) {
        u32 i = t->count.load(std::memory_order_relaxed);
        if (i < kChunkNodes) {
          t->nodes[i].store(n, std::memory_order_relaxed);
          t->count.store(i + 1, std::memory_order_relaxed);
          return;
        }
      }
      Chunk* c = alloc_chunk();
      if (!c) {
        Cb::set_next(n, spill);
        spill = n;
        return;
      }
      c->nodes[0].store(n, std::memory_order_relaxed);
      c->count.store(1, std::memory_order_relaxed);
      if (t)
        t->next.store(c, std::memory_order_relaxed);
      else
        head = c;
      tail = c;
    }
    void append(List& o) {  // moves o into this (o becomes empty); O(1) without spill
      if (o.head) {
        if (tail)
          tail->next.store(o.head, std::memory_order_relaxed);
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
      tags |= o.tags;
      o = List();
    }
    template <typename F>
    void for_each(F f) const {
      for_each_chain(head, f);
      for (Node* n = spill; n; n = Cb::next(n)) f(n);
    }
    // Acquire loads: a queue's owner publishes chunks and counts with release.
    // The objects lie in free order, scattered: prefetched a few ahead, as
    // evict() does (the check at exit reads every one of them).
    template <typename F>
    static void for_each_chain(Chunk* head, F& f) {
      constexpr unsigned kAhead = 8;
      for (Chunk* c = head; c; c = c->next.load(std::memory_order_acquire)) {
        const u32 n = c->count.load(std::memory_order_acquire);
        for (u32 i = 0; i < n; i++) {
          if (i + kAhead < n)
            if (Node* p = c->nodes[i + kAhead].load(std::memory_order_relaxed)) Cb::prefetch(p);
          if (Node* x = c->nodes[i].load(std::memory_order_relaxed)) f(x);
        }
      }
    }
    // Gives the chunks back (the nodes themselves are the caller's).
    void release() {
      while (Chunk* c = head) {
        head = c->next.load(std::memory_order_relaxed);
        free_chunk(c);
      }
      *this = List();
    }
  };

  // The chunk pool: chunks come from Cb::map(), are recycled through a free
  // list under their own leaf lock (taken once per kChunkNodes frees), and are
  // never unmapped (a synchronizer may read a chunk an owner is appending to).
  // A new block's chunks are handed out in address order as they are needed,
  // not linked onto the free list at once: linking wrote every page of the
  // block, and a page's first write is what costs (a process that frees a
  // few thousand objects used 2 of the 128 chunks of a 256 KiB block and
  // paid for 64 pages). Blocks grow from 32 KiB to 256 KiB, so a short
  // process maps (and Cb::map populates) little.
  static Chunk* alloc_chunk() {
    LockGuard g(pool_lock_);
    Chunk* c = pool_free_;
    if (c) {
      pool_free_ = c->next.load(std::memory_order_relaxed);
    } else {
      if (pool_bump_ == pool_end_) {
        const uptr bytes = kFirstBlockBytes << (pool_blocks_ < kBlockDoublings ? pool_blocks_ : kBlockDoublings);
        Chunk* block = static_cast<Chunk*>(Cb::map(bytes));
        if (!block) return nullptr;
        pool_blocks_++;
        pool_bump_ = block;
        pool_end_ = block + bytes / sizeof(Chunk);
      }
      c = pool_bump_++;
    }
    c->next.store(nullptr, std::memory_order_relaxed);
    c->count.store(0, std::memory_order_relaxed);
    return c;
  }
  static void free_chunk(Chunk* c) {
    LockGuard g(pool_lock_);
    c->next.store(pool_free_, std::memory_order_relaxed);
    pool_free_ = c;
  }
  static Lock& pool_lock() { return pool_lock_; }

  // The per-CPU queue. The owner appends without any lock (see the protocol
  // above); the chunk list moves to the FIFO, and synchronizers clear entries,
  // only under the global lock.
  struct Queue {
    std::atomic<Chunk*> head{nullptr};  // owner sets it (first chunk); cleared under the lock
    Chunk* tail = nullptr;              // owner only
    uptr bytes = 0;                     // owner only: put since the last transfer
    uptr count = 0;
    std::atomic<u64> tags{0};           // owner writes, synchronizers read
    std::atomic<uptr> stolen_bytes{0};  // written under the global lock: taken by synchronizers
    std::atomic<uptr> stolen_count{0};
    std::atomic<Node*> nested{nullptr};
  };

  // Registered while its owner evicts a batch: the batch stays findable by
  // synchronizers until every node of it is freed.
  struct Evicting {
    List batch;
    std::atomic<u32> pos{0};   // groups claimed by the evictor (| kStop)
    std::atomic<u32> done{0};  // groups it has freed
    Evicting* next = nullptr;
    bool extracted = false;    // a synchronizer's list (extract), not an evictor's batch (reduce)
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

  // Owner, not from a signal handler that interrupted its own runtime code.
  // tag: a filter bit for extract (e.g. the cache). Returns true if a
  // transfer made the FIFO exceed its bound (the caller should reduce).
  UKASAN_ALWAYS_INLINE bool put(Queue& q, Node* n, uptr size, u64 tag) {
    if (UKASAN_UNLIKELY(!append(q, n)) && !put_slow(q, n)) return false;
    q.bytes += size;
    q.count++;
    const u64 tags = q.tags.load(std::memory_order_relaxed);
    if (UKASAN_UNLIKELY((tags & tag) != tag)) q.tags.store(tags | tag, std::memory_order_relaxed);
    if (UKASAN_UNLIKELY(q.nested.load(std::memory_order_relaxed) != nullptr)) merge_nested(q);
    if (UKASAN_LIKELY(q.bytes <= cache_bytes_ + q.stolen_bytes.load(std::memory_order_relaxed))) return false;
    return transfer(q);
  }

  // From a signal handler that interrupted its own thread's runtime code (the
  // queue may be mid-update), or when no chunk can be had: the lock-free side
  // stack. CAS (not a plain store) because a handler may nest in a handler.
  void put_nested(Queue& q, Node* n) {
    Node* head = q.nested.load(std::memory_order_relaxed);
    do {
      Cb::set_next(n, head);
    } while (!q.nested.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
  }

  // Owner (thread exit, explicit flush): moves the whole queue to the FIFO.
  bool flush(Queue& q) {
    merge_nested(q);
    if (!q.head.load(std::memory_order_relaxed)) return false;
    return transfer(q);
  }

  // slack: how far past the bound the caller tolerates (an allocation path
  // that leaves the eviction to a background thread unless it falls behind).
  bool over_limit(uptr slack = 0) const {
    return bytes_.load(std::memory_order_relaxed) > max_bytes_.load(std::memory_order_relaxed) + slack;
  }

  // Evicts at most one batch (the oldest), outside the global lock, through
  // the caller's Evicting record ev. Returns the bytes freed.
  uptr reduce(void* ctx, Evicting& ev) {
    if (!over_limit()) return 0;
    {
      LockGuard g(lock_);
      if (bytes_.load(std::memory_order_relaxed) <= max_bytes_.load(std::memory_order_relaxed)) return 0;
      ev.batch = pop_oldest_locked();
      ev.extracted = false;
      ev.next = inflight_;
      inflight_ = &ev;
    }
    const uptr freed = ev.batch.bytes;
    evict(ev, ctx);
    finish(ev);
    return freed;
  }

  // Synchronizer: takes every node matching pred out of the queues that
  // each_queue(fn) passes to fn, the FIFO and the batches being evicted, into
  // out. tag (0: any) skips lists that hold no node with that tag. Then, if
  // wait_claimed, waits until no evictor is freeing a matching node it had
  // claimed before (at most one group's work; see the protocol above).
  //
  // The nodes taken are rec's batch, registered before the lock is dropped;
  // the caller must then call free_extracted(rec, ctx).
  template <typename Pred, typename EachQueue>
  void extract(Pred pred, u64 tag, EachQueue each_queue, Evicting& rec, bool wait_claimed) {
    List& out = rec.batch;
    out = List();
    {
      LockGuard g(lock_);
      each_queue([&](Queue& q) { extract_queue_locked(q, pred, tag, out); });
      uptr taken = 0;
      for (unsigned i = 0; i < kBatches; i++) {
        List& b = fifo_[i];
        if (b.empty() || (tag && !(b.tags & tag))) continue;
        const uptr before_bytes = out.bytes, before_count = out.count;
        extract_chunks(b.head, pred, out);
        b.bytes -= out.bytes - before_bytes;
        b.count -= out.count - before_count;
        taken += out.bytes - before_bytes;
        if (out.count != before_count) squeeze_batch_locked(b);
      }
      bytes_.store(bytes_.load(std::memory_order_relaxed) - taken, std::memory_order_relaxed);
      compact_locked();
      for (Evicting* ev = inflight_; ev; ev = ev->next) {
        // A drain (!wait_claimed) leaves other synchronizers' lists alone:
        // their owners free them, and a destroy counts on freeing its own.
        if (ev->extracted && !wait_claimed) continue;
        // Acquire: the recycles of the groups it has freed happen-before what
        // the caller does next (kmem_cache_destroy flushes magazines).
        ev->done.load(std::memory_order_acquire);
        if (!tag || (ev->batch.tags & tag)) extract_evicting_locked(*ev, pred, out, wait_claimed);
      }
      rec.extracted = true;
      rec.pos.store(0, std::memory_order_relaxed);
      rec.done.store(0, std::memory_order_relaxed);
      rec.next = inflight_;
      inflight_ = &rec;
      out.tags = ~u64(0);
    }
  }

  // Calls f(node) for every node in the queues (each_queue, as for extract)
  // and the FIFO, under the global lock: while it is held no such node can
  // leave the quarantine (only the lock's holder removes entries; owners only
  // append, and what they publish after the count was read is skipped).
  // Batches being evicted are not walked: their evictors are on them.
  template <typename EachQueue, typename F>
  void for_each_locked(EachQueue each_queue, F f) {
    LockGuard g(lock_);
    each_queue([&](Queue& q) { List::for_each_chain(q.head.load(std::memory_order_acquire), f); });
    for (unsigned i = 0; i < kBatches; i++) fifo_[i].for_each(f);
  }

  // Frees what extract() put in rec (claiming it group by group, as an
  // evictor does) and unregisters rec.
  void free_extracted(Evicting& rec, void* ctx) {
    evict(rec, ctx);
    finish(rec);
  }

  // Fork child: a thread that no longer exists may have left a batch half
  // evicted. Frees its unclaimed groups and unregisters the record (the
  // group it was freeing stays unfreed: how far it got is unknown).
  void finish_abandoned(Evicting& ev, void* ctx) {
    if (!is_registered(ev)) return;
    const u32 p = ev.pos.load(std::memory_order_relaxed) & ~kStop;
    ev.pos.store(p, std::memory_order_relaxed);
    evict(ev, ctx, p);
    finish(ev);
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
  // The owner's append to the tail chunk: the entry, then the count that
  // publishes it to synchronizers. False if the tail chunk is full or absent.
  UKASAN_ALWAYS_INLINE static bool append(Queue& q, Node* n) {
    Chunk* t = q.tail;
    if (!t) return false;
    const u32 i = t->count.load(std::memory_order_relaxed);
    if (i >= kChunkNodes) return false;
    t->nodes[i].store(n, std::memory_order_relaxed);
    t->count.store(i + 1, std::memory_order_release);
    return true;
  }

  bool put_slow(Queue& q, Node* n) {
    // Synchronizers have cleared many entries of this queue (a program that
    // destroys caches in a loop): squeeze them out before growing it, or the
    // queue would fill with cleared entries that every destroy walks again.
    if (UKASAN_UNLIKELY(q.stolen_count.load(std::memory_order_relaxed) >= kChunkNodes / 2)) {
      squeeze_queue(q);
      if (append(q, n)) return true;
    }
    Chunk* c = alloc_chunk();
    if (!c) {
      put_nested(q, n);  // merged (or taken by a synchronizer) later
      return false;
    }
    c->nodes[0].store(n, std::memory_order_relaxed);
    c->count.store(1, std::memory_order_relaxed);
    // Release: a synchronizer that finds the chunk sees its first entry.
    if (q.tail)
      q.tail->next.store(c, std::memory_order_release);
    else
      q.head.store(c, std::memory_order_release);
    q.tail = c;
    return true;
  }

  void merge_nested(Queue& q) {
    if (q.nested.load(std::memory_order_relaxed) == nullptr) return;
    // Exchange, not load+store: a handler may push between the two.
    Node* n = q.nested.exchange(nullptr, std::memory_order_acquire);
    while (n) {
      Node* nx = Cb::next(n);
      if (!append(q, n) && !put_slow(q, n)) {
        n = nx;
        continue;
      }
      q.bytes += Cb::size(n);
      q.count++;
      q.tags.store(~u64(0), std::memory_order_relaxed);  // tags of nested nodes are unknown
      n = nx;
    }
  }

  // Moves the non-null entries of a chain to its front, in order, and gives
  // the chunks left empty back. Returns the new last chunk (null if none is
  // left). Only for chains nobody else can touch: under the lock, a FIFO
  // batch or (by its owner) a queue.
  static Chunk* squeeze_chain(Chunk* head, bool keep_one) {
    if (!head) return nullptr;
    Chunk* dst = head;
    u32 j = 0;
    for (Chunk* c = head; c; c = c->next.load(std::memory_order_relaxed)) {
      const u32 n = c->count.load(std::memory_order_relaxed);
      for (u32 i = 0; i < n; i++) {
        Node* x = c->nodes[i].load(std::memory_order_relaxed);
        if (!x) continue;
        if (j == kChunkNodes) {  // dst never passes c: we write no more than we read
          dst->count.store(j, std::memory_order_relaxed);
          dst = dst->next.load(std::memory_order_relaxed);
          j = 0;
        }
        dst->nodes[j++].store(x, std::memory_order_relaxed);
      }
    }
    dst->count.store(j, std::memory_order_relaxed);
    Chunk* rest = dst->next.load(std::memory_order_relaxed);
    dst->next.store(nullptr, std::memory_order_relaxed);
    while (rest) {
      Chunk* nx = rest->next.load(std::memory_order_relaxed);
      free_chunk(rest);
      rest = nx;
    }
    if (j == 0 && dst == head && !keep_one) {
      free_chunk(head);
      return nullptr;
    }
    return dst;
  }

  void squeeze_batch_locked(List& b) {
    b.tail = squeeze_chain(b.head, /*keep_one=*/false);
    if (!b.tail) b.head = nullptr;
  }

  // Owner: its queue, under the lock (which keeps synchronizers out).
  void squeeze_queue(Queue& q) {
    LockGuard g(lock_);
    q.tail = squeeze_chain(q.head.load(std::memory_order_relaxed), /*keep_one=*/true);
    q.bytes -= q.stolen_bytes.load(std::memory_order_relaxed);
    q.count -= q.stolen_count.load(std::memory_order_relaxed);
    q.stolen_bytes.store(0, std::memory_order_relaxed);
    q.stolen_count.store(0, std::memory_order_relaxed);
  }

  // Owner: the queue's chunks become the FIFO's tail batch, under the lock
  // (so they are never in flight between the two).
  bool transfer(Queue& q) {
    LockGuard g(lock_);
    List batch;
    batch.head = q.head.load(std::memory_order_relaxed);
    batch.tail = q.tail;
    batch.bytes = q.bytes - q.stolen_bytes.load(std::memory_order_relaxed);
    batch.count = q.count - q.stolen_count.load(std::memory_order_relaxed);
    batch.tags = q.tags.load(std::memory_order_relaxed);
    q.head.store(nullptr, std::memory_order_relaxed);
    q.tail = nullptr;
    q.bytes = q.count = 0;
    q.stolen_bytes.store(0, std::memory_order_relaxed);
    q.stolen_count.store(0, std::memory_order_relaxed);
    q.tags.store(0, std::memory_order_relaxed);
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

  // Claims (group by group, see the protocol above) and frees every node of
  // ev's batch, in order, from group `from` on.
  void evict(Evicting& ev, void* ctx, u32 from = 0) {
    constexpr unsigned kAhead = 8;
    u32 g = 0;
    for (Chunk* c = ev.batch.head; c; c = c->next.load(std::memory_order_relaxed)) {
      const u32 n = c->count.load(std::memory_order_relaxed);
      for (u32 g0 = 0; g0 < n; g0 += kGroup, g++) {
        if (g < from) continue;
        for (unsigned spins = 0;; spins++) {  // a synchronizer holds kStop only while it clears entries
          u32 expect = g;
          if (ev.pos.compare_exchange_weak(expect, g + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
          Cb::relax(spins);
        }
        Cb::in_flight();
        const u32 end = g0 + kGroup < n ? g0 + kGroup : n;
        for (u32 i = g0; i < end; i++) {
          if (i + kAhead < n) {
            if (Node* p = c->nodes[i + kAhead].load(std::memory_order_relaxed)) Cb::prefetch(p);
          }
          if (Node* x = c->nodes[i].load(std::memory_order_relaxed)) Cb::recycle(x, ctx);
        }
        // Release: a synchronizer that reads done > g sees these recycles.
        ev.done.store(g + 1, std::memory_order_release);
      }
    }
    // Only an extracted list can have a spill (no chunk could be had): its
    // nodes are not claimable, so a concurrent synchronizer cannot take them.
    for (Node* n = ev.batch.spill; n;) {
      Node* nx = Cb::next(n);
      Cb::recycle(n, ctx);
      n = nx;
    }
    ev.batch.spill = nullptr;
  }

  void finish(Evicting& ev) {
    {
      LockGuard g(lock_);
      for (Evicting** p = &inflight_; *p; p = &(*p)->next)
        if (*p == &ev) {
          *p = ev.next;
          break;
        }
    }
    ev.next = nullptr;
    ev.batch.release();  // no synchronizer can reach the chunks any more
    ev.pos.store(0, std::memory_order_relaxed);
    ev.done.store(0, std::memory_order_relaxed);
  }

  bool is_registered(Evicting& ev) {
    for (Evicting* e = inflight_; e; e = e->next)
      if (e == &ev) return true;
    return false;
  }

  // Under the lock: only synchronizers, serialised by the lock, clear
  // entries (a queue's owner writes only at and after count).
  template <typename Pred>
  static void extract_chunks(Chunk* head, Pred& pred, List& out) {
    for (Chunk* c = head; c; c = c->next.load(std::memory_order_acquire)) {
      const u32 n = c->count.load(std::memory_order_acquire);
      for (u32 i = 0; i < n; i++) {
        Node* x = c->nodes[i].load(std::memory_order_relaxed);
        if (!x || !pred(x)) continue;
        c->nodes[i].store(nullptr, std::memory_order_relaxed);
        out.push(x, Cb::size(x));
      }
    }
  }

  // Under the lock: takes the matching nodes of the groups ev's evictor has
  // not claimed, then, if wait_claimed, waits until it has freed the group it
  // is in if that group holds a matching node.
  template <typename Pred>
  void extract_evicting_locked(Evicting& ev, Pred& pred, List& out, bool wait_claimed) {
    u32 p = ev.pos.load(std::memory_order_relaxed);
    while (!ev.pos.compare_exchange_weak(p, p | kStop, std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    // Groups >= p are frozen; group p-1 may be being freed.
    u32 g = 0;
    bool busy_match = false;
    const bool in_progress = ev.done.load(std::memory_order_acquire) < p;
    for (Chunk* c = ev.batch.head; c; c = c->next.load(std::memory_order_relaxed)) {
      const u32 n = c->count.load(std::memory_order_relaxed);
      for (u32 g0 = 0; g0 < n; g0 += kGroup, g++) {
        if (g + 1 < p) continue;
        const u32 end = g0 + kGroup < n ? g0 + kGroup : n;
        // The evictor's current group: its nodes are its own. Once that
        // group is done its entries name freed objects, which pred must not
        // look at (their slab may be being released by a destroy that
        // waited for this very group: a ThreadSanitizer race, 1 run in 3 of
        // destroy_stress_test's 16-thread case).
        if (g + 1 == p && !in_progress) continue;
        for (u32 i = g0; i < end; i++) {
          Node* x = c->nodes[i].load(std::memory_order_relaxed);
          if (!x || !pred(x)) continue;
          if (g + 1 == p) {
            busy_match = true;
            continue;
          }
          c->nodes[i].store(nullptr, std::memory_order_relaxed);
          out.push(x, Cb::size(x));
        }
      }
    }
    ev.pos.store(p, std::memory_order_release);  // unfreeze; publishes the cleared entries
    if (!wait_claimed || !busy_match) return;
    for (unsigned spins = 0; ev.done.load(std::memory_order_acquire) < p; spins++) Cb::relax(spins);
  }

  template <typename Pred>
  void extract_queue_locked(Queue& q, Pred& pred, u64 tag, List& out) {
    // The nested stack first: exchange it out, keep what does not match.
    if (q.nested.load(std::memory_order_relaxed)) {
      Node* n = q.nested.exchange(nullptr, std::memory_order_acquire);
      while (n) {
        Node* nx = Cb::next(n);
        if (pred(n))
          out.push(n, Cb::size(n));
        else
          put_nested(q, n);
        n = nx;
      }
    }
    if (tag && !(q.tags.load(std::memory_order_relaxed) & tag)) return;
    const uptr before_bytes = out.bytes, before_count = out.count;
    extract_chunks(q.head.load(std::memory_order_acquire), pred, out);
    q.stolen_bytes.store(q.stolen_bytes.load(std::memory_order_relaxed) + out.bytes - before_bytes,
                         std::memory_order_relaxed);
    q.stolen_count.store(q.stolen_count.load(std::memory_order_relaxed) + out.count - before_count,
                         std::memory_order_relaxed);
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
      } else if (fifo_[i].head) {
        fifo_[i].release();  // only cleared entries left
      }
      if (i == tail_) break;
    }
    tail_ = n ? (head_ + n - 1) % kBatches : head_;
  }

  List pop_oldest_locked() {
    // extract may have emptied batches; skip them so one step frees one
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
  static inline Chunk* pool_bump_ = nullptr;  // the newest block's chunks not yet handed out
  static inline Chunk* pool_end_ = nullptr;
  static inline unsigned pool_blocks_ = 0;
  static constexpr uptr kFirstBlockBytes = 32 * 1024;
  static constexpr unsigned kBlockDoublings = 3;  // 32 KiB, 64, 128, then 256 KiB blocks
  Lock lock_;
  std::atomic<uptr> bytes_{0};
  std::atomic<uptr> max_bytes_{0};
  uptr cache_bytes_ = 0;
  uptr batch_bytes_ = 1;
  unsigned head_ = 0, tail_ = 0;
  Stats stats_{};
  Evicting* inflight_ = nullptr;  // under lock_
  List fifo_[kBatches];
};

}  // namespace ukasan
