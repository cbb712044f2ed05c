// KFENCE: the sampled guard-page allocator (see kfence.h).
//
// The pool is one reservation: a guard page, then for each object its page
// and a guard page after it. Object pages are PROT_READ|WRITE while the
// object lives and PROT_NONE otherwise; guard pages are always PROT_NONE
// (until a fault on one was reported: then it is opened so the access can
// complete, as the kernel's kfence_unprotect does). Freed objects are reused
// least recently freed first (a FIFO), which keeps each freed page protected
// as long as the pool allows.
//
// Concurrency. The metadata and the FIFO are guarded by one futex mutex
// (sampled allocations are rare; it sleeps rather than spins when its holder
// is preempted). The fault hook reads an object's metadata without it: it
// runs on a thread that touched a pool page it does not own, and only prints
// what it reads. Orders that make the hook's view consistent:
//   * alloc: page opened, then metadata written, then state = allocated;
//   * free: state = freed (under the lock: one of two racing frees wins, the
//     other reports an invalid free), then the kmemleak entry removed, then
//     the page protected, then the object queued for reuse.
// So a fault on an object page sees freed (use-after-free) or never used
// (invalid), and a leak scan (which holds the registry lock while the world
// is stopped) never reads a protected page: the entry goes before the page.
// The heap serves signal handlers (malloc/free in a handler that interrupted
// malloc/free): a sampled allocation or a free of a pool object runs with the
// asynchronous signals blocked, so no handler re-enters it while this thread
// holds its lock or the kmemleak registry's (two system calls per sampled
// operation).
#include "heap/kfence.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdio.h>
#include <time.h>

#include <atomic>

#include "heap/heap.h"
#include "kmemleak/kmemleak.h"
#include "platform/lock.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "report/report.h"
#include "runtime/runtime.h"
#include "shadow/shadow.h"
#include "slab/slab.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {

UKASAN_TLS long t_kfence_countdown;
uptr g_kfence_lo, g_kfence_size;

namespace {

enum : u8 { kUnused = 0, kAllocated = 1, kFreed = 2 };

struct Meta {
  std::atomic<u8> state;
  u8 kind;
  bool left;  // placed at the start of its page
  u32 next;   // FIFO link (index + 1; 0: none)
  KfenceObject info;
};

constexpr long kNever = 0x7fffffffffffffffL;
long g_interval;        // 0: off
u32 g_num;              // objects in the pool
unsigned g_align_mode;  // options().kfence_align, with 0 resolved below
Meta* g_meta;
FutexMutex g_lock;
u32 g_head, g_tail;  // FIFO of unused/freed objects (index + 1)
bool g_next_left;    // alternation of placements (mode 0)
std::atomic<u64> g_missed{0};  // sampled allocations the pool had no room for

UKASAN_ALWAYS_INLINE uptr obj_page(u32 i) { return g_kfence_lo + (2 * uptr(i) + 1) * kPageSize; }
// The object whose page holds pool address a; null for a guard page.
UKASAN_ALWAYS_INLINE Meta* meta_of(uptr a) {
  const uptr pi = (a - g_kfence_lo) / kPageSize;
  return (pi & 1) ? &g_meta[(pi - 1) / 2] : nullptr;
}
// The live object starting at a; null if a is none's.
const Meta* live_at(uptr a) {
  const Meta* m = meta_of(a);
  return m && m->state.load(std::memory_order_acquire) == kAllocated && m->info.addr == a ? m : nullptr;
}
// The canary byte at addr (the kernel's KFENCE_CANARY_PATTERN).
UKASAN_ALWAYS_INLINE u8 canary(uptr addr) { return static_cast<u8>(0xaa ^ (addr & 7)); }

u64 now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return u64(ts.tv_sec) * 1000000000ull + u64(ts.tv_nsec);
}

const char* cache_name(u8 kind) {
  switch (kind & kKindMask) {
    case kKindNew: return "operator new";
    case kKindNewArray: return "operator new []";
    default: return "malloc";
  }
}

void fifo_push(u32 i) {  // under g_lock
  g_meta[i].next = 0;
  if (g_tail)
    g_meta[g_tail - 1].next = i + 1;
  else
    g_head = i + 1;
  g_tail = i + 1;
}
bool fifo_pop(u32* i) {  // under g_lock
  if (!g_head) return false;
  *i = g_head - 1;
  g_head = g_meta[*i].next;
  if (!g_head) g_tail = 0;
  return true;
}

// The alignment of an object placed at the end of its page: 16 (malloc's)
// leaves up to 15 bytes of slack after it, where an over-read faults nowhere.
// In Electric Fence mode (kfence_align=1, the default at interval 1) a
// malloc'ed block whose size is not a multiple of 16 is aligned to 8 only,
// so one of 8k bytes ends exactly at the page's end. Not less than 8: a
// struct with a trailing string (malloc(sizeof(s) + strlen(name) + 1)) needs
// its pointers aligned, and kmemleak reads aligned words only. operator new
// keeps 16 (C++ compilers assume it), and an explicit alignment is kept.
uptr placement_align(uptr size, uptr align, u8 kind) {
  if (align > 16) return align;
  if (g_align_mode != 1 || (kind & kKindMask) != kKindMalloc) return 16;
  return size % 16 ? 8 : 16;
}

void fill_canary(uptr lo, uptr hi) {
  for (uptr a = lo; a < hi; a++) *reinterpret_cast<u8*>(a) = canary(a);
}

// The first damaged canary byte of object i's page, 0 if none.
uptr find_damage(const Meta& m) {
  const uptr page = obj_page(m.info.index);
  const uptr end = m.info.addr + m.info.size;
  for (uptr a = page; a < m.info.addr; a++)
    if (*reinterpret_cast<const u8*>(a) != canary(a)) return a;
  for (uptr a = end; a < page + kPageSize; a++)
    if (*reinterpret_cast<const u8*>(a) != canary(a)) return a;
  return 0;
}

void report_damage(const Meta& m, uptr bad, uptr ip) {
  KfenceReport r{};
  r.error = KfenceError::kCorruption;
  r.is_write = true;
  r.addr = bad;
  r.ip = ip;
  r.obj = &m.info;
  // Up to 16 bytes from the first damaged one, within the canary range it is in.
  const uptr page = obj_page(m.info.index);
  const uptr limit = bad < m.info.addr ? m.info.addr : page + kPageSize;
  for (uptr a = bad; a < limit && r.nbytes < 16; a++, r.nbytes++) {
    r.bytes[r.nbytes] = *reinterpret_cast<const u8*>(a);
    r.intact[r.nbytes] = r.bytes[r.nbytes] == canary(a);
  }
  report_kfence(r);
}

// Blocks every signal but the synchronous ones (which cannot be blocked
// usefully: a fault with SIGSEGV blocked kills the process).
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) sigdelset(&all, s);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  ~AsyncSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

void fork_prepare() {
  if (fork_locks_decide()) g_lock.lock();
}
void fork_parent() {
  if (fork_locks_taken()) g_lock.unlock();
}
void fork_child() {
  if (fork_locks_taken()) g_lock.reset();
}

// ---- faults -----------------------------------------------------------------------

// Opens the page the access faulted on so it can complete (after the report,
// under fault=report), as the kernel does.
void open_page(uptr addr) {
  mprotect(reinterpret_cast<void*>(addr & ~(kPageSize - 1)), kPageSize, PROT_READ | PROT_WRITE);
}

bool on_fault(int sig, siginfo_t* si, ucontext_t* uc) {
  const uptr fa = reinterpret_cast<uptr>(si->si_addr);
  if (sig != SIGSEGV || !kfence_owns(reinterpret_cast<void*>(fa))) return false;
  if (in_report()) {  // the report itself touched the page (never recurse)
    open_page(fa);
    return true;
  }
  KfenceReport r{};
  r.addr = fa;
  r.ip = static_cast<uptr>(UKASAN_UCONTEXT_PC(uc)) + 1;
  r.is_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;  // the page fault's error code: W
  const uptr pi = (fa - g_kfence_lo) / kPageSize;
  if (const Meta* obj = meta_of(fa)) {  // an object's page
    const Meta& m = *obj;
    if (m.state.load(std::memory_order_acquire) == kFreed) {
      r.error = KfenceError::kUseAfterFree;
      r.obj = &m.info;
    } else {
      r.error = KfenceError::kInvalid;
    }
  } else {  // a guard page: out of bounds of the nearer live object beside it
    const Meta* left = pi >= 2 ? &g_meta[(pi - 2) / 2] : nullptr;  // its page ends where this one starts
    const Meta* right = (pi / 2) < g_num ? &g_meta[pi / 2] : nullptr;
    uptr dl = ~uptr(0), dr = ~uptr(0);
    if (left && left->state.load(std::memory_order_acquire) == kAllocated) dl = fa - (left->info.addr + left->info.size);
    if (right && right->state.load(std::memory_order_acquire) == kAllocated) dr = right->info.addr - fa;
    if (dl == ~uptr(0) && dr == ~uptr(0)) {
      r.error = KfenceError::kInvalid;
    } else {
      r.error = KfenceError::kOutOfBounds;
      r.left = dr < dl;
      r.obj = r.left ? &right->info : &left->info;
      r.distance = r.left ? dr : dl + 1;  // the first byte past the end is "1B right"
    }
  }
  report_kfence(r);
  open_page(fa);
  return true;
}

}  // namespace

void kfence_init() {
  const u64 interval = options().kfence_sample_interval;
  if (!interval) return;
  u64 num = options().kfence_num_objects;
  if (num == kAutoSize) num = interval == 1 ? 16384 : 255;
  if (num == 0) return;
  const uptr bytes = (2 * num + 1) * kPageSize;
  void* pool = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  g_meta = static_cast<Meta*>(map_anon(sizeof(Meta) * num));
  if (pool == MAP_FAILED || !g_meta) {
    raw_puts(2, "ukasan: KFENCE: cannot map its pool; off\n");
    return;
  }
  g_num = static_cast<u32>(num);
  g_align_mode = static_cast<unsigned>(options().kfence_align);
  if (g_align_mode == 0 && interval == 1) g_align_mode = 1;  // Electric Fence: overflows fault
  for (u32 i = 0; i < g_num; i++) {
    g_meta[i].info.index = static_cast<int>(i);
    fifo_push(i);
  }
  fault_hook_add(on_fault);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  g_interval = static_cast<long>(interval);
  g_kfence_lo = reinterpret_cast<uptr>(pool);
  if (options().verbosity >= 1) {
    char line[160];
    snprintf(line, sizeof(line), "ukasan: KFENCE: 1 in %lu allocations of each thread, a pool of %u objects\n",
             static_cast<unsigned long>(interval), g_num);
    raw_puts(2, line);
  }
  __atomic_store_n(&g_kfence_size, bytes, __ATOMIC_RELEASE);
}

void* kfence_alloc_slow(uptr size, uptr align, u8 kind, bool zero, uptr ip) {
  if (!g_interval) {  // off (the heap is up, so kfence_init has run)
    t_kfence_countdown = kNever;
    return nullptr;
  }
  t_kfence_countdown = g_interval - 1;
  if (size == 0 || size > kPageSize || align > kPageSize) return nullptr;
  AsyncSignalsBlocked no_signals;
  u32 i;
  bool left;
  g_lock.lock();
  const bool got = fifo_pop(&i);
  if (got) {
    left = g_align_mode == 2 || (g_align_mode == 0 && g_next_left);
    g_next_left = !g_next_left;
  }
  g_lock.unlock();
  if (!got) {
    g_missed.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  Meta& m = g_meta[i];
  const uptr page = obj_page(i);
  const uptr addr = left ? page : (page + kPageSize - size) & ~(placement_align(size, align, kind) - 1);
  mprotect(reinterpret_cast<void*>(page), kPageSize, PROT_READ | PROT_WRITE);
  fill_canary(page, addr);
  fill_canary(addr + size, page + kPageSize);
  if (zero) internal_memset(reinterpret_cast<void*>(addr), 0, size);
  // The shadow says the same as the page (the rest of it a redzone), so the
  // libc interceptors and instrumented code check a KFENCE object's bounds
  // exactly, the alignment slack included (its bytes fault nowhere).
  // An object not on a granule (Electric Fence placement) gets its first
  // granule whole: the shadow cannot say "from byte k of a granule".
  if (addr_has_shadow(page)) {
    const uptr g = addr & ~(kGranule - 1);
    poison(page, g - page, kShadowPageRedzone);
    unpoison_within(g, addr + size - g, page + kPageSize - g, kShadowPageRedzone);
  }
  m.kind = kind;
  m.left = left;
  KfenceObject& k = m.info;
  k.addr = addr;
  k.size = size;
  k.cache = cache_name(kind);
  k.freed = false;
  k.alloc_tid = static_cast<u32>(current_tid());
  k.alloc_cpu = sched_getcpu();
  k.alloc_ns = now_ns();
  k.alloc_stack = save_stack_from(ip);
  k.free_stack = 0;
  m.state.store(kAllocated, std::memory_order_release);
  // kmemleak scans it like any heap object (what it points to is not a leak)
  // and reports it if it leaks, unless it was born never a leak as a slab
  // object would be (min_count 0: kMetaNoLeak).
  leak_register(reinterpret_cast<void*>(addr), size, born_no_leak(ip) ? 0 : 1, ip);
  return reinterpret_cast<void*>(addr);
}

void kfence_free(void* p, uptr ip) {
  const uptr a = reinterpret_cast<uptr>(p);
  Meta* m = meta_of(a);
  AsyncSignalsBlocked no_signals;
  g_lock.lock();
  const bool ok = m && m->state.load(std::memory_order_relaxed) == kAllocated && m->info.addr == a;
  if (ok) {
    m->state.store(kFreed, std::memory_order_release);
    KfenceObject& k = m->info;
    k.freed = true;
    k.free_tid = static_cast<u32>(current_tid());
    k.free_cpu = sched_getcpu();
    k.free_ns = now_ns();
  }
  g_lock.unlock();
  if (!ok) {
    KfenceReport r{};
    r.error = KfenceError::kInvalidFree;
    r.addr = a;
    r.ip = ip;
    r.obj = m && m->state.load(std::memory_order_acquire) != kUnused ? &m->info : nullptr;
    report_kfence(r);
    return;
  }
  m->info.free_stack = save_stack_from(ip);
  if (const uptr bad = find_damage(*m)) report_damage(*m, bad, ip);
  leak_unregister(p);
  if (addr_has_shadow(a)) {
    const uptr g = a & ~(kGranule - 1);
    poison(g, a + m->info.size - g, kShadowPageFree);
  }
  mprotect(reinterpret_cast<void*>(obj_page(m->info.index)), kPageSize, PROT_NONE);
  g_lock.lock();
  fifo_push(static_cast<u32>(m->info.index));
  g_lock.unlock();
}

u8 kfence_kind(const void* p) {
  const Meta* m = live_at(reinterpret_cast<uptr>(p));
  return m ? m->kind : 0;
}

uptr kfence_usable_size(const void* p) {
  const Meta* m = live_at(reinterpret_cast<uptr>(p));
  return m ? m->info.size : 0;
}

}  // namespace ukasan
