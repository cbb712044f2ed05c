// Deduplicating stack depot.
//
// Memory: one 64 MiB MAP_NORESERVE reservation made lazily on first use (no
// static constructor, no malloc): a 4 MiB hash table of 2^20 bucket heads
// followed by an append-only record pool. Untouched pages cost nothing.
//
// Record: {u32 next handle, u32 hash, u32 nframes, u32 magic, uptr pcs[n]},
// 8-aligned; its handle is (pool offset / 8), never 0 (the pool starts at 8).
//
// Concurrency (lock-free, async-signal-safe):
//   * lookup: acquire-load the bucket head, walk immutable records;
//   * insert: reserve space with one fetch_add on the pool cursor, fill the
//     record, publish it with a release compare_exchange on the bucket head.
//     If the CAS loses, only the records added since the previous head are
//     searched for a duplicate before retrying; if one is found the reserved
//     record is abandoned (a few bytes, counted in bytes_used).
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

constexpr uptr kReserveSize = uptr(64) << 20;
constexpr u32 kBucketBits = 20;
constexpr u32 kBucketCount = u32(1) << kBucketBits;
constexpr uptr kBucketBytes = uptr(kBucketCount) * sizeof(u32);
constexpr uptr kPoolSize = kReserveSize - kBucketBytes;
constexpr u64 kPoolStart = 8;  // offset 0 would be handle 0
constexpr u32 kRecordMagic = 0x5dce7a11;

struct RecordHeader {
  u32 next;  // handle of the next record in the bucket chain (0: end)
  u32 hash;
  u32 size;  // number of frames
  u32 magic;
};
static_assert(sizeof(RecordHeader) == 16);
static_assert(sizeof(std::atomic<u32>) == sizeof(u32));
static_assert(std::atomic<u32>::is_always_lock_free);
static_assert(kPoolSize / 8 < (u64(1) << 32));

std::atomic<char*> g_region{nullptr};
std::atomic<bool> g_region_failed{false};
std::atomic<u64> g_cursor{kPoolStart};
std::atomic<u64> g_unique{0};
std::atomic<u64> g_dropped{0};

UKASAN_NOINLINE char* init_region() {
  if (g_region_failed.load(std::memory_order_relaxed)) return nullptr;
  void* m = map_anon(kReserveSize, /*noreserve=*/true);
  if (m == nullptr) {
    g_region_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
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

UKASAN_ALWAYS_INLINE std::atomic<u32>* buckets(char* r) {
  return reinterpret_cast<std::atomic<u32>*>(r);
}
UKASAN_ALWAYS_INLINE char* pool(char* r) { return r + kBucketBytes; }

UKASAN_ALWAYS_INLINE RecordHeader* record(char* r, u32 handle) {
  return reinterpret_cast<RecordHeader*>(pool(r) + (uptr(handle) << 3));
}
UKASAN_ALWAYS_INLINE uptr* record_pcs(RecordHeader* rec) {
  return reinterpret_cast<uptr*>(rec + 1);
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

UKASAN_ALWAYS_INLINE bool same_stack(RecordHeader* rec, u32 hash, const uptr* pcs, unsigned n) {
  if (rec->hash != hash || rec->size != n) return false;
  const uptr* stored = record_pcs(rec);
  for (unsigned i = 0; i < n; i++)
    if (stored[i] != pcs[i]) return false;
  return true;
}

// Searches the chain from `from` up to (not including) `stop`.
UKASAN_ALWAYS_INLINE u32 find(char* r, u32 from, u32 stop, u32 hash, const uptr* pcs, unsigned n) {
  for (u32 h = from; h != 0 && h != stop;) {
    RecordHeader* rec = record(r, h);
    if (same_stack(rec, hash, pcs, n)) return h;
    h = rec->next;
  }
  return 0;
}

UKASAN_NOINLINE u32 save_slow(char* r, u64 h64, const uptr* pcs, unsigned n) {
  const u32 hash = static_cast<u32>(h64);
  std::atomic<u32>& bucket = buckets(r)[hash & (kBucketCount - 1)];
  u32 head = bucket.load(std::memory_order_acquire);
  if (u32 found = find(r, head, 0, hash, pcs, n)) return found;

  // Not present: reserve and fill a new record.
  const u64 bytes = sizeof(RecordHeader) + u64(n) * sizeof(uptr);
  const u64 off = g_cursor.fetch_add(bytes, std::memory_order_relaxed);
  if (UKASAN_UNLIKELY(off + bytes > kPoolSize)) {
    // Full. The cursor stays past the end, so every later insert fails fast
    // too; lookups of already stored stacks keep working.
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const u32 handle = static_cast<u32>(off >> 3);
  RecordHeader* rec = record(r, handle);
  rec->hash = hash;
  rec->size = n;
  rec->magic = kRecordMagic;
  uptr* dst = record_pcs(rec);
  for (unsigned i = 0; i < n; i++) dst[i] = pcs[i];

  for (;;) {
    rec->next = head;
    if (bucket.compare_exchange_weak(head, handle, std::memory_order_release,
                                     std::memory_order_acquire)) {
      g_unique.fetch_add(1, std::memory_order_relaxed);
      return handle;
    }
    // Lost the race (or spurious failure): check what was added meanwhile.
    if (u32 found = find(r, head, rec->next, hash, pcs, n)) return found;
  }
}

}  // namespace

depot_handle_t depot_save(const uptr* pcs, unsigned n) {
  if (n == 0 || pcs == nullptr) return 0;
  if (n > kMaxStackFrames) n = kMaxStackFrames;  // deeper stacks are truncated
  char* r = region();
  if (UKASAN_UNLIKELY(r == nullptr)) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
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
  DepotStats s;
  s.unique_stacks = g_unique.load(std::memory_order_relaxed);
  u64 used = g_cursor.load(std::memory_order_relaxed) - kPoolStart;
  const u64 cap = kPoolSize - kPoolStart;
  s.bytes_used = used > cap ? cap : used;
  s.dropped = g_dropped.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ukasan
