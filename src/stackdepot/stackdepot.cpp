// Deduplicating stack depot.
//
// Memory: one MAP_NORESERVE reservation made lazily on first use (no static
// constructor, no malloc): a page of shared counters (the pool's cursor, the
// table's size), an array of 2^20 bucket words (4 MiB), then an
// append-only record pool of 60 MiB. Untouched pages cost nothing,
// and only a prefix of the bucket array is in use: the table grows with the
// number of stacks (below), so a short process's hundred stacks touch one
// page of it, not a hundred (a fixed 2^20-bucket table cost every process a
// page fault per unique stack: a third of cmake configure's faults).
//
// The mapping is MAP_SHARED: a process and the children it forks share one
// depot. A private one was copy-on-write after every fork(), so the parent's
// next insert wrote (and faulted in) a page of the bucket array or of the
// record before it on the list, again after each fork: cmake configure's
// main process, which forks a child per command, took 16,107 page faults in
// the depot on 850 distinct pages. Sharing is safe because the depot is
// content-addressed and append-only: a handle names a record whose frames
// never change, whichever process wrote it, and a record a child added is a
// stack like any other to the parent (equal frames, equal record). Every
// word another process may change is in the region (the counters too), and
// changed only by the atomic steps below, which are as atomic between
// processes as between threads; a process that exits or is killed mid-
// insert is a thread that stops forever, which they already tolerate. A
// child that calls exec() drops the mapping; the new program starts its own.
//
// Record: {next link, key, u32 nframes, u32 magic, uptr pcs[n]}, 8-aligned;
// its handle is (pool offset / 8), never 0 (the pool starts at 8).
//
// The table is a split-ordered list (Shalev and Shavit, "Split-ordered
// lists: lock-free extensible hash tables", JACM 2006), without deletion:
// every record is on one linked list sorted by its key, the bit-reversed
// 32-bit hash, and bucket b is a dummy node on that list, keyed by bit-
// reversed b, ahead of every record whose hash is b modulo the table size.
// Growing the table (doubling 2^log) moves nothing: a new bucket's dummy is
// linked in on first use, after its parent's (b without its top bit).
//
// Concurrency (lock-free, async-signal-safe, nothing waits for anyone):
//   * lookup: start at the bucket's dummy (or, where it is not linked yet,
//     its nearest linked ancestor, which precedes it on the list); walk
//     acquire-loaded links up to the first greater key;
//   * insert: reserve space with one fetch_add on the pool cursor, fill the
//     record, publish it with a release compare_exchange on the link of the
//     node it follows. A lost CAS means a node was added right there: the
//     walk resumes from that node (nodes are never removed, so it is still
//     on the list), finds a twin inserted meanwhile (the reserved record is
//     abandoned, counted in bytes_used) or the new place. Two inserts of one
//     stack need the same link: one CAS wins, and the other sees its record.
//     So a stack has one handle whatever the table size either thread saw;
//   * a dummy is linked by the one thread that claims it (state 0 -> 1 by
//     CAS), then marked ready (2, one release RMW); until then every other thread
//     walks from the ancestor, so a claimant preempted or interrupted
//     mid-way delays no one (a signal handler on its own thread included);
//   * the size grows by one CAS when the stacks outnumber the buckets;
//     any size a thread reads is right, only the walk is longer for an old
//     one;
//   * when the pool is full, depot_save returns 0 and counts `dropped`;
//   * before all that, a per-thread memo of recent stacks (by 64-bit hash)
//     answers most saves: thread-local, so only the thread's own signal
//     handlers can interrupt its use, and they go around it (t_memo_busy).
#include "stackdepot/stackdepot.h"

#include <atomic>

#include "platform/options.h"
#include "platform/platform.h"

namespace ukasan {

namespace {

constexpr u32 kMaxLog = 20;
constexpr u32 kMinLog = 8;
constexpr u32 kMaxBuckets = u32(1) << kMaxLog;
constexpr uptr kPoolSize = uptr(60) << 20;
constexpr u64 kPoolStart = 8;  // offset 0 would be handle 0
constexpr u32 kRecordMagic = 0x5dce7a11;

// Links: 0 ends the list; a record is its handle << 1 (even, >= 2); bucket
// b's dummy (b >= 1; bucket 0 is the list's head) is (b << 1) | 1. Both
// stay below 2^30: a bucket's word is its dummy's link to the next node in
// the low 30 bits and the bucket's state in the top two.
constexpr u32 kEnd = 0;
constexpr u32 kLinkMask = (u32(1) << 30) - 1;
enum : u32 { kBucketUnlinked = 0, kBucketClaimed = u32(1) << 30, kBucketReady = u32(2) << 30 };
constexpr u32 kStateMask = ~kLinkMask;

struct RecordHeader {
  std::atomic<u32> next;  // link to the next node on the list
  u32 key;                // bit-reversed hash
  u32 size;               // number of frames
  u32 magic;
};
static_assert(sizeof(RecordHeader) == 16);
static_assert(std::atomic<u32>::is_always_lock_free);
static_assert((kPoolSize / 8) << 1 <= kLinkMask && kMaxBuckets << 1 <= kLinkMask);

// A bucket: its dummy's next link and state (bucket 0: the list's first
// link; it is always ready).
using Bucket = std::atomic<u32>;
constexpr uptr kBucketBytes = uptr(kMaxBuckets) * sizeof(Bucket);

// The region's first page: the state every process sharing it updates.
struct Shared {
  std::atomic<u64> cursor;   // pool offset of the next record
  std::atomic<u64> unique;   // records linked
  std::atomic<u64> dropped;  // saves refused for a full pool
  std::atomic<u32> log;      // the table has 2^log buckets
};
static_assert(sizeof(Shared) <= kPageSize && std::atomic<u64>::is_always_lock_free);
constexpr uptr kSharedBytes = kPageSize;
constexpr uptr kReserveSize = kSharedBytes + kBucketBytes + kPoolSize;

std::atomic<char*> g_region{nullptr};
std::atomic<bool> g_region_failed{false};
std::atomic<u64> g_dropped_unmapped{0};  // saves refused for want of a region (this process's)

UKASAN_ALWAYS_INLINE Shared* shared(char* r) { return reinterpret_cast<Shared*>(r); }

UKASAN_NOINLINE char* init_region() {
  if (g_region_failed.load(std::memory_order_relaxed)) return nullptr;
  void* m = map_anon_shared(kReserveSize);
  if (m == nullptr) m = map_anon(kReserveSize, /*noreserve=*/true);  // a kernel without shmem
  if (m == nullptr) {
    g_region_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  // Initialised before the release CAS below publishes the region; no other
  // process can see it before that either (a child forked meanwhile has no
  // pointer to it).
  shared(static_cast<char*>(m))->cursor.store(kPoolStart, std::memory_order_relaxed);
  shared(static_cast<char*>(m))->log.store(kMinLog, std::memory_order_relaxed);
  char* expected = nullptr;
  if (!g_region.compare_exchange_strong(expected, static_cast<char*>(m), std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
    unmap(m, kReserveSize);  // another thread won the race
    return expected;
  }
  return static_cast<char*>(m);
}

UKASAN_ALWAYS_INLINE char* region() {
  char* r = g_region.load(std::memory_order_acquire);
  if (UKASAN_LIKELY(r != nullptr)) return r;
  return init_region();
}

UKASAN_ALWAYS_INLINE Bucket* buckets(char* r) { return reinterpret_cast<Bucket*>(r + kSharedBytes); }
UKASAN_ALWAYS_INLINE char* pool(char* r) { return r + kSharedBytes + kBucketBytes; }

UKASAN_ALWAYS_INLINE RecordHeader* record(char* r, u32 handle) {
  return reinterpret_cast<RecordHeader*>(pool(r) + (uptr(handle) << 3));
}
UKASAN_ALWAYS_INLINE uptr* record_pcs(RecordHeader* rec) {
  return reinterpret_cast<uptr*>(rec + 1);
}

UKASAN_ALWAYS_INLINE u32 reverse_bits(u32 x) {
  x = __builtin_bswap32(x);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  return ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
}
// The list's order: a dummy before the records of its bucket (same reversed
// bits: the dummy's low bit is 0, a record's 1).
UKASAN_ALWAYS_INLINE u64 record_order(u32 key) { return (u64(key) << 1) | 1; }
UKASAN_ALWAYS_INLINE u64 dummy_order(u32 b) { return u64(reverse_bits(b)) << 1; }

UKASAN_ALWAYS_INLINE bool is_dummy(u32 link) { return link & 1; }
UKASAN_ALWAYS_INLINE std::atomic<u32>* next_of(char* r, u32 link) {
  return is_dummy(link) ? &buckets(r)[link >> 1] : &record(r, link >> 1)->next;
}
UKASAN_ALWAYS_INLINE u64 order_of(char* r, u32 link) {
  return is_dummy(link) ? dummy_order(link >> 1) : record_order(record(r, link >> 1)->key);
}

// 32-bit hash of the frames: two independent multiply-xor chains (even and
// odd frames), so a deep stack costs about one multiply latency per two
// frames instead of two dependent murmur rounds per frame (a 32-frame
// interpreter stack is hashed on every malloc and free). Return addresses
// are already well spread; the final avalanche mixes the chains.
UKASAN_ALWAYS_INLINE u64 hash_stack(const uptr* pcs, unsigned n) {
  constexpr u64 k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
  u64 a = 0x243F6A8885A308D3ull ^ n, b = 0x13198A2E03707344ull;
  unsigned i = 0;
  for (; i + 2 <= n; i += 2) {
    a = (a ^ pcs[i]) * k1;
    b = (b ^ pcs[i + 1]) * k2;
    a ^= a >> 29;
    b ^= b >> 29;
  }
  if (i < n) a = (a ^ pcs[i]) * k1;
  u64 h = a ^ ((b << 31) | (b >> 33));
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}

// A thread's recent stacks, by their 64-bit hash: a hit costs neither the
// bucket nor the record, two lines spread over the depot's 64 MiB that
// the program's own memory traffic (a quarantine streams through hundreds
// of MiB) keeps evicting. A hit trusts the hash: two different stacks of
// one thread would have to agree on 64 bits (and on the frame count).
struct Memo {
  u64 key;
  u32 handle;
  u32 n;
};
constexpr unsigned kMemoSize = 64;
UKASAN_TLS Memo t_memo[kMemoSize];
UKASAN_TLS bool t_memo_busy;

UKASAN_ALWAYS_INLINE bool same_stack(RecordHeader* rec, const uptr* pcs, unsigned n) {
  if (rec->size != n) return false;
  const uptr* stored = record_pcs(rec);
  for (unsigned i = 0; i < n; i++)
    if (stored[i] != pcs[i]) return false;
  return true;
}

// A place on the list: the link *at (of the node before it) held succ.
struct Place {
  std::atomic<u32>* at;
  u32 succ;
};

// Walks from the link `at` to the place of order `order`: before the first
// node that sorts after it. A record of that order holding the stack
// (pcs, n) is returned instead (its handle); n == 0 looks for no record (a
// dummy's place). Acquire loads: a node's fields were written before the
// release CAS that linked it. place->succ is the word as read, with a
// bucket's state bits.
UKASAN_ALWAYS_INLINE u32 walk(char* r, std::atomic<u32>* at, u64 order, const uptr* pcs, unsigned n, Place* place) {
  for (;;) {
    const u32 word = at->load(std::memory_order_acquire), cur = word & kLinkMask;
    if (cur != kEnd) {
      const u64 o = order_of(r, cur);
      if (o < order) {
        at = next_of(r, cur);
        continue;
      }
      if (o == order && n != 0) {  // the same hash: this stack, or another
        if (same_stack(record(r, cur >> 1), pcs, n)) return cur >> 1;
        at = next_of(r, cur);
        continue;
      }
    }
    *place = Place{at, word};
    return 0;
  }
}

// Links node `link` (its own next word: `next`, whose state bits `state`
// it keeps) at the place found for `order`, resuming the walk from the
// node before it whenever the CAS loses (also when only the state bits of
// the word before it changed). Returns 0, or a twin record found on the way
// (then nothing was linked).
UKASAN_ALWAYS_INLINE u32 link_in(char* r, Place place, u32 link, std::atomic<u32>* next, u32 state, u64 order,
                                 const uptr* pcs, unsigned n) {
  for (;;) {
    next->store(state | (place.succ & kLinkMask), std::memory_order_relaxed);  // unreachable until the CAS
    if (place.at->compare_exchange_weak(place.succ, (place.succ & kStateMask) | link, std::memory_order_release,
                                        std::memory_order_relaxed))
      return 0;
    // Something was linked after the same node: walk on from it.
    if (u32 found = walk(r, place.at, order, pcs, n, &place)) return found;
  }
}

// The link to start a walk of bucket b from: b's dummy's, once linked;
// else it is linked here (by the thread that claims it) and, while another
// thread holds the claim, its nearest linked ancestor's (b without its top
// bit, whose dummy precedes b's records on the list).
UKASAN_NOINLINE Bucket* link_bucket(char* r, u32 b) {
  Bucket& bk = buckets(r)[b];
  const u32 parent = b & ~(u32(1) << (31 - __builtin_clz(b)));
  Bucket& pb = buckets(r)[parent];
  Bucket* from = parent == 0 || (pb.load(std::memory_order_acquire) & kStateMask) == kBucketReady
                     ? &pb
                     : link_bucket(r, parent);
  u32 word = kBucketUnlinked;
  if (!bk.compare_exchange_strong(word, kBucketClaimed, std::memory_order_acquire, std::memory_order_acquire))
    return (word & kStateMask) == kBucketReady ? &bk : from;
  // Claimed: no other thread links this dummy, so no dummy of this order is
  // on the list, and its word is ours until the CAS publishes it.
  const u64 order = dummy_order(b);
  Place place;
  walk(r, from, order, nullptr, 0, &place);
  link_in(r, place, (b << 1) | 1, &bk, kBucketClaimed, order, nullptr, 0);
  // Claimed -> Ready in one RMW that keeps the link other threads may be
  // changing meanwhile (only the claimant changes the state bits).
  bk.fetch_xor(kBucketClaimed ^ kBucketReady, std::memory_order_release);
  return &bk;
}

UKASAN_ALWAYS_INLINE Bucket* bucket_start(char* r, u32 hash) {
  const u32 b = hash & ((u32(1) << shared(r)->log.load(std::memory_order_relaxed)) - 1);
  Bucket& bk = buckets(r)[b];
  if (b == 0 || UKASAN_LIKELY((bk.load(std::memory_order_acquire) & kStateMask) == kBucketReady)) return &bk;
  return link_bucket(r, b);
}

UKASAN_NOINLINE u32 save_slow(char* r, u64 h64, const uptr* pcs, unsigned n) {
  const u32 hash = static_cast<u32>(h64);
  const u32 key = reverse_bits(hash);
  const u64 order = record_order(key);
  Place place;
  if (u32 found = walk(r, bucket_start(r, hash), order, pcs, n, &place)) return found;

  // Not present: reserve and fill a new record.
  const u64 bytes = sizeof(RecordHeader) + u64(n) * sizeof(uptr);
  const u64 off = shared(r)->cursor.fetch_add(bytes, std::memory_order_relaxed);
  if (UKASAN_UNLIKELY(off + bytes > kPoolSize)) {
    // Full. The cursor stays past the end, so every later insert fails fast
    // too; lookups of already stored stacks keep working.
    shared(r)->dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const u32 handle = static_cast<u32>(off >> 3);
  RecordHeader* rec = record(r, handle);
  rec->key = key;
  rec->size = n;
  rec->magic = kRecordMagic;
  uptr* dst = record_pcs(rec);
  for (unsigned i = 0; i < n; i++) dst[i] = pcs[i];
  if (u32 found = link_in(r, place, handle << 1, &rec->next, 0, order, pcs, n)) return found;  // a twin won

  // Grow: the stacks now outnumber the buckets. One CAS; a loser's size was
  // grown by the winner.
  const u64 unique = shared(r)->unique.fetch_add(1, std::memory_order_relaxed) + 1;
  u32 log = shared(r)->log.load(std::memory_order_relaxed);
  if (log < kMaxLog && unique > (u64(1) << log))
    shared(r)->log.compare_exchange_strong(log, log + 1, std::memory_order_relaxed);
  return handle;
}

}  // namespace

depot_handle_t depot_save(const uptr* pcs, unsigned n) {
  if (n == 0 || pcs == nullptr) return 0;
  if (n > kMaxStackFrames) n = kMaxStackFrames;  // deeper stacks are truncated
  char* r = region();
  if (UKASAN_UNLIKELY(r == nullptr)) {
    g_dropped_unmapped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const u64 h64 = hash_stack(pcs, n);
  // A signal handler's depot_save while this thread is inside the memo
  // (reading or rewriting an entry) goes around it: an entry is never seen
  // half written, nor rewritten under the interrupted code's feet.
  if (UKASAN_UNLIKELY(t_memo_busy)) return save_slow(r, h64, pcs, n);
  t_memo_busy = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  Memo& memo = t_memo[(h64 >> 40) & (kMemoSize - 1)];
  u32 found;
  if (memo.key == h64 && memo.n == n && memo.handle) {
    found = memo.handle;
  } else {
    found = save_slow(r, h64, pcs, n);
    if (found) memo = Memo{h64, found, n};
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_memo_busy = false;
  return found;
}

unsigned depot_fetch(depot_handle_t h, const uptr** pcs) {
  if (pcs) *pcs = nullptr;
  if (h == 0) return 0;
  char* r = g_region.load(std::memory_order_acquire);
  if (r == nullptr) return 0;
  const u64 off = u64(h) << 3;
  if (off < kPoolStart || off + sizeof(RecordHeader) > kPoolSize) return 0;
  RecordHeader* rec = record(r, h);
  if (rec->magic != kRecordMagic || rec->size == 0 || rec->size > kMaxStackFrames) return 0;
  if (off + sizeof(RecordHeader) + u64(rec->size) * sizeof(uptr) > kPoolSize) return 0;
  if (pcs) *pcs = record_pcs(rec);
  return rec->size;
}

UKASAN_NOINLINE depot_handle_t save_current_stack(unsigned skip) {
  uptr pcs[kMaxStackFrames];
  // +1: the return address into this function.
  const unsigned n = capture_stack(pcs, kMaxStackFrames, skip + 1);
  return depot_save(pcs, n);
}

UKASAN_TLS PcMemo t_pc_memo[kPcMemoSize];

UKASAN_NOINLINE depot_handle_t save_one_frame_slow(PcMemo& m, uptr ip) {
  const depot_handle_t h = depot_save(&ip, 1);
  if (!h) return 0;
  pc_memo_store(m, ip, h);
  return h;
}

UKASAN_NOINLINE depot_handle_t save_stack_walk(uptr ip) {
  uptr buf[kMaxStackFrames + 8];  // + the runtime's frames above ip
  unsigned n;
  const uptr* pcs = capture_stack_from(ip, buf, kMaxStackFrames + 8, &n, !options().fast_unwind_on_malloc);
  return depot_save(pcs, n < kMaxStackFrames ? n : kMaxStackFrames);
}

DepotStats depot_stats() {
  DepotStats s{0, 0, g_dropped_unmapped.load(std::memory_order_relaxed)};
  char* r = g_region.load(std::memory_order_acquire);
  if (r == nullptr) return s;
  s.unique_stacks = shared(r)->unique.load(std::memory_order_relaxed);
  u64 used = shared(r)->cursor.load(std::memory_order_relaxed) - kPoolStart;
  const u64 cap = kPoolSize - kPoolStart;
  s.bytes_used = used > cap ? cap : used;
  s.dropped += shared(r)->dropped.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ukasan
