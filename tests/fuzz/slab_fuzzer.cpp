// libFuzzer harness for the kernel slab API (issue #6, "Verification").
//
// Each input is a program: a stream of operations on kmem_caches and kmalloc
// blocks, valid ones and misuse (double free, invalid free of interior /
// stack / global / foreign pointers, wrong cache, free after destroy, use after
// free or after destroy through kasan_check_*, double destroy). A reference
// model (the bookkeeping below) knows which objects are live, which are freed
// and certainly still in the quarantine, and which caches exist. After every
// operation the harness checks that:
//   - the runtime did not crash itself (any crash is a libFuzzer finding);
//   - the number of new reports (ukasan_report_count() delta) and their
//     "BUG: KASAN: <type>" headers (read back from a memfd that receives
//     every report) are exactly what the model expects: one per misuse, none
//     for valid operations; every report block is framed by the rule lines;
//   - allocations never overlap a live object or an object still in the
//     quarantine; ksize() is right; object contents survive until free and
//     are carried over by krealloc; *zalloc memory is zero.
// A violation prints the operation and the report text, then aborts, which
// libFuzzer records as a crash with the input that caused it.
//
// What the model cannot know: a freed object leaves the quarantine once
// enough bytes are freed after it, and its memory may then be reused. So a
// freed object is only used for misuse while the bytes freed after it stay
// far below the quarantine bound (kCertainBudget); after that it is
// forgotten. Objects of a destroyed cache whose slabs were released are only
// used until the next operation that may allocate pages.
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "../common/test_util.h"
#include "ukasan/slab.h"
#include "ukasan/ukasan.h"

namespace {

constexpr uint64_t kQuarantineBytes = 4ull << 20;  // quarantine_size_mb=4 below
constexpr uint64_t kCacheQueueBytes = 64ull << 10; // quarantine_cache_kb=64 below
// A freed object is certainly still quarantined while the bytes freed after it
// (its own included) stay below this. The FIFO evicts its oldest batch only
// when it holds more than kQuarantineBytes; the object's batch holds at most
// two per-thread queues' worth of older objects plus one large block.
constexpr uint64_t kCertainBudget = kQuarantineBytes - 2 * kCacheQueueBytes - (512ull << 10);
constexpr size_t kMaxCacheRecords = 12;
constexpr size_t kMaxActiveCaches = 6;
constexpr size_t kMaxLive = 400;
constexpr unsigned kMaxLeakedCaches = 128;  // per process: leaked caches keep their descriptor forever
constexpr size_t kMaxOps = 2000;

const char kRule[] = "==================================================================";

int g_fd = -1;
off_t g_off = 0;
unsigned g_leaked_caches = 0;
bool g_trace = false;
char g_global[64];
std::string g_op;  // description of the current operation (for failures)

void dump_and_abort() {
  fprintf(stderr, "slab_fuzzer: report text of this operation follows\n");
  struct stat st;
  if (fstat(g_fd, &st) == 0 && st.st_size > g_off) {
    std::string t(static_cast<size_t>(st.st_size - g_off), '\0');
    ssize_t r = pread(g_fd, t.data(), t.size(), g_off);
    if (r > 0) fwrite(t.data(), 1, static_cast<size_t>(r), stderr);
  }
  abort();
}

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  fprintf(stderr, "\nslab_fuzzer: MODEL VIOLATION in operation [%s]: ", g_op.c_str());
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  dump_and_abort();
  __builtin_unreachable();
}

__attribute__((format(printf, 1, 2))) void op(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  g_op = buf;
  if (g_trace) fprintf(stderr, "op: %s\n", buf);
}

// ---- report checking ------------------------------------------------------

std::string new_report_text() {
  struct stat st;
  if (fstat(g_fd, &st) != 0) fail("fstat of the report memfd failed");
  std::string t;
  if (st.st_size > g_off) {
    t.resize(static_cast<size_t>(st.st_size - g_off));
    ssize_t r = pread(g_fd, t.data(), t.size(), g_off);
    if (r != static_cast<ssize_t>(t.size())) fail("short read of the report memfd");
  }
  return t;
}

using ukasan_test::split_lines;

// Checks the reports printed since the last call: exactly n, each header's
// type in `types` (empty: any). leak: a destroy-with-objects message (not a
// counted BUG) is expected instead.
void expect_reports(uint64_t count_before, unsigned n, std::initializer_list<const char*> types = {},
                    bool leak = false) {
  uint64_t delta = ukasan_report_count() - count_before;
  std::string t = new_report_text();
  std::vector<std::string> lines = split_lines(t);
  unsigned headers = 0, rules = 0;
  for (size_t i = 0; i < lines.size(); i++) {
    const std::string& l = lines[i];
    if (l == kRule) {
      rules++;
      continue;
    }
    if (l.rfind("BUG: KASAN: ", 0) != 0) continue;
    headers++;
    if (i == 0 || lines[i - 1] != kRule) fail("header not preceded by the rule line: %s", l.c_str());
    size_t in = l.find(" in ", 12);
    std::string type = l.substr(12, in == std::string::npos ? std::string::npos : in - 12);
    bool ok = types.size() == 0;
    for (const char* ty : types) ok |= type == ty;
    if (!ok) fail("unexpected report type '%s'", type.c_str());
  }
  if (delta != n) fail("expected %u report(s), ukasan_report_count() grew by %lu", n, (unsigned long)delta);
  if (headers != n) fail("expected %u report header(s), found %u", n, headers);
  if (rules != 2 * n) fail("expected %u rule lines, found %u", 2 * n, rules);
  if (n && (lines.front() != kRule || lines.back() != kRule)) fail("report text not framed by rule lines");
  bool has_leak = t.find("Slab cache still has objects") != std::string::npos;
  if (leak != has_leak) fail(leak ? "missing destroy-with-objects message" : "unexpected destroy-with-objects message");
  if (!leak && n == 0 && !t.empty()) fail("unexpected output on the report fd");
  g_off += static_cast<off_t>(t.size());
}

// ---- input reader -----------------------------------------------------------

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (!n) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  size_t pick(size_t count) { return count ? u16() % count : 0; }
};

// ---- the model -------------------------------------------------------------

enum class CState { Active, Leaked, Released, Gone };

struct Cache {
  kmem_cache* ptr;
  unsigned size;
  unsigned align;  // effective object alignment
  bool rcu;
  bool ctor;
  CState st;
};

struct Live {
  uintptr_t addr;
  size_t req;     // accessible bytes
  size_t usable;  // ksize()
  uint64_t cost;  // upper bound of what the quarantine counts for it
  int cache;      // model cache index, -1: kmalloc
  bool large;
  uint8_t fill;
};

enum class FState { Quarantined, LeakedCache, ReleasedCache };

struct Freed {
  uintptr_t addr;
  size_t req;
  int cache;
  bool large;
  uint64_t at;  // g_freed_bytes before it was freed
  FState st;
};

std::vector<Cache> caches;
std::vector<Live> live;
std::vector<Freed> freed;
uint64_t g_freed_bytes;

void ctor_fn(void* p) { *static_cast<volatile unsigned char*>(p) = 0x5a; }

const unsigned kKmallocClasses[] = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};

size_t round_page(size_t n) { return (n + 4095) & ~size_t(4095); }

size_t kmalloc_usable(size_t size) {
  for (unsigned c : kKmallocClasses)
    if (size <= c) return c;
  return round_page(size);
}

// The quarantine charges an object its memory plus that memory's shadow
// (1/8) and its 8-byte batch pointer (quarantine_charge in src/slab).
uint64_t quarantine_charge(uint64_t bytes) { return bytes + bytes / 8 + 8; }

// Upper bounds of what the quarantine charges for a freed block: a slot is
// at most the class plus the largest redzone and metadata; a large block is
// its pages plus a guard page on each side.
uint64_t kmalloc_cost(size_t size) {
  if (size <= 8192) return quarantine_charge(kmalloc_usable(size) + 2064 + 16);
  return quarantine_charge(round_page(size) + 2 * 4096);
}

size_t size_from(Reader& r) {
  uint8_t b = r.u8();
  switch (b >> 6) {
    case 0: return (b & 63) + 1u;
    case 1: return r.u16() % 512 + 1u;
    case 2: return r.u16() % 8192 + 1u;
    default: return 8193u + (r.u16() % 65536) * 4u;  // large blocks, up to 256 KiB
  }
}

const char* cache_name(const Live& o) { return o.cache < 0 ? "kmalloc" : "cache"; }

// Index of the first byte of [p, p+n) that is not v, or n. Not instrumented
// for coverage: byte compares would dominate the run time and say nothing.
__attribute__((no_sanitize("coverage"), noinline)) size_t mismatch(const void* p, size_t n, unsigned char v) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return i;
  return n;
}

void check_fill(const Live& o, size_t n, const char* when) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(o.addr);
  if (size_t i = mismatch(p, n, o.fill); i < n)
      fail("%s: byte %zu of the %s object %#lx (req %zu) is %#x, expected %#x", when, i, cache_name(o),
           (unsigned long)o.addr, o.req, p[i], o.fill);
}

// Every operation that may allocate pages calls this first: pages of a
// destroyed cache may then be reused, so its objects are forgotten.
void before_alloc() {
  freed.erase(std::remove_if(freed.begin(), freed.end(), [](const Freed& f) { return f.st == FState::ReleasedCache; }),
              freed.end());
}

void prune() {
  freed.erase(std::remove_if(freed.begin(), freed.end(),
                             [](const Freed& f) {
                               return f.st == FState::Quarantined && g_freed_bytes - f.at > kCertainBudget;
                             }),
              freed.end());
}

bool overlaps(uintptr_t a, size_t an, uintptr_t b, size_t bn) { return a < b + bn && b < a + an; }

// Validates and records a fresh allocation.
void on_alloc(void* p, size_t req, int cache, uint8_t fill, bool zeroed) {
  if (!p) fail("allocation of %zu bytes returned NULL", req);
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  Live o;
  o.addr = a;
  o.req = req;
  o.cache = cache;
  if (cache < 0) {
    o.large = req > 8192;
    o.usable = kmalloc_usable(req);
    o.cost = kmalloc_cost(req);
    if (a % (o.large ? 4096 : 16)) fail("kmalloc(%zu) returned misaligned %#lx", req, (unsigned long)a);
  } else {
    const Cache& c = caches[static_cast<size_t>(cache)];
    o.large = false;
    o.usable = c.size;
    o.cost = quarantine_charge(c.size + 2064 + c.align);
    if (a % c.align) fail("cache object %#lx not aligned to %u", (unsigned long)a, c.align);
  }
  for (const Live& l : live)
    if (overlaps(a, o.usable, l.addr, l.usable))
      fail("new object %#lx+%zu overlaps the live object %#lx+%zu", (unsigned long)a, o.usable,
           (unsigned long)l.addr, l.usable);
  for (const Freed& f : freed)
    if (overlaps(a, o.usable, f.addr, f.req ? f.req : 1))
      fail("new object %#lx+%zu overlaps the freed object %#lx+%zu that must still be in the quarantine%s",
           (unsigned long)a, o.usable, (unsigned long)f.addr, f.req,
           f.st == FState::LeakedCache ? " (of a destroyed cache)" : "");
  unsigned char* b = static_cast<unsigned char*>(p);
  if (size_t i = zeroed ? mismatch(b, req, 0) : req; i < req) fail("zeroed allocation has byte %zu = %#x", i, b[i]);
  o.fill = fill;
  memset(p, fill, req);
  live.push_back(o);
}

bool cache_rcu(int cache) { return cache >= 0 && caches[static_cast<size_t>(cache)].rcu; }

// The object at live[i] was freed (validly).
void on_free(size_t i) {
  Live o = live[i];
  live.erase(live.begin() + static_cast<long>(i));
  if (cache_rcu(o.cache)) return;  // SLAB_TYPESAFE_BY_RCU: not quarantined, reused at once
  Freed f{o.addr, o.req, o.cache, o.large, g_freed_bytes, FState::Quarantined};
  g_freed_bytes += o.cost;
  freed.push_back(f);
}

const char* uaf_type(const Freed& f) {
  switch (f.st) {
    case FState::Quarantined: return f.large ? "use-after-free" : "slab-use-after-free";
    case FState::LeakedCache: return "slab-use-after-free";
    case FState::ReleasedCache: return "use-after-free";
  }
  return "?";
}

std::vector<size_t> caches_in(CState st) {
  std::vector<size_t> v;
  for (size_t i = 0; i < caches.size(); i++)
    if (caches[i].st == st) v.push_back(i);
  return v;
}

// Live objects that may be freed normally (not of a destroyed cache).
std::vector<size_t> freeable() {
  std::vector<size_t> v;
  for (size_t i = 0; i < live.size(); i++)
    if (live[i].cache < 0 || caches[static_cast<size_t>(live[i].cache)].st == CState::Active) v.push_back(i);
  return v;
}

// ---- operations -------------------------------------------------------------

enum Op {
  kOpCreate, kOpCacheAlloc, kOpKmalloc, kOpFree, kOpKrealloc, kOpKsize, kOpCheckValid, kOpCheckOob,
  kOpBulkAlloc, kOpBulkFree, kOpShrink, kOpDestroy, kOpBadDestroy, kOpDoubleFree, kOpUafCheck,
  kOpInteriorFree, kOpForeignFree, kOpWrongCache, kOpFreeAfterDestroy, kOpNullWild, kOpDrain,
  kOpOverflow, kOpRefill, kNumOps
};

void do_create(Reader& r) {
  if (caches.size() >= kMaxCacheRecords || caches_in(CState::Active).size() >= kMaxActiveCaches) return;
  uint8_t b = r.u8();
  unsigned size = (b & 0x80) ? r.u16() % 20000 + 1u : r.u16() % 1024 + 1u;
  static const unsigned kAligns[] = {0, 8, 16, 32, 64, 128, 512, 4096};
  unsigned align = kAligns[b & 7];
  bool hw = b & 8, rcu = b & 16, ct = b & 32;
  slab_flags_t flags = (hw ? SLAB_HWCACHE_ALIGN : 0) | (rcu ? SLAB_TYPESAFE_BY_RCU : 0) | ((b & 64) ? SLAB_ACCOUNT : 0);
  char name[16];
  snprintf(name, sizeof(name), "fz%zu", caches.size());
  op("kmem_cache_create(%s, %u, align %u, flags %#x, ctor %d)", name, size, align, flags, ct);
  uint64_t before = ukasan_report_count();
  kmem_cache* c = kmem_cache_create(name, size, align, flags, ct ? ctor_fn : nullptr);
  expect_reports(before, 0);
  if (!c) fail("kmem_cache_create returned NULL");
  if (kmem_cache_size(c) != size) fail("kmem_cache_size %u != %u", kmem_cache_size(c), size);
  if (strcmp(kmem_cache_name(c), name) != 0) fail("kmem_cache_name is '%s'", kmem_cache_name(c));
  for (Cache& old : caches) {
    if (old.ptr != c || old.st == CState::Gone) continue;
    if (old.st == CState::Active || old.st == CState::Leaked) fail("kmem_cache_create returned a cache in use");
    old.st = CState::Gone;  // a released descriptor was reused: the stale pointer is now the new cache
  }
  unsigned eff = align < 8 ? 8 : align;
  if (hw && eff < 64) eff = 64;
  caches.push_back(Cache{c, size, eff, rcu, ct, CState::Active});
}

void do_cache_alloc(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty() || live.size() >= kMaxLive) return;
  size_t ci = act[r.pick(act.size())];
  bool z = r.u8() & 1;
  uint8_t fill = r.u8();
  op("kmem_cache_%salloc(fz%zu)", z ? "z" : "", ci);
  before_alloc();
  uint64_t before = ukasan_report_count();
  void* p = z ? kmem_cache_zalloc(caches[ci].ptr, GFP_KERNEL) : kmem_cache_alloc(caches[ci].ptr, GFP_KERNEL);
  expect_reports(before, 0);
  on_alloc(p, caches[ci].size, static_cast<int>(ci), fill, z);
}

void do_kmalloc(Reader& r) {
  if (live.size() >= kMaxLive) return;
  uint8_t how = r.u8() % 4;
  size_t size = (r.u8() % 16 == 0) ? 0 : size_from(r);
  uint8_t fill = r.u8();
  static const char* const kNames[] = {"kmalloc", "kzalloc", "kmalloc_array", "kcalloc"};
  op("%s(%zu)", kNames[how], size);
  before_alloc();
  uint64_t before = ukasan_report_count();
  void* p;
  switch (how) {
    case 0: p = kmalloc(size, GFP_KERNEL); break;
    case 1: p = kzalloc(size, GFP_KERNEL); break;
    case 2: p = size % 2 ? kmalloc_array(1, size, GFP_KERNEL) : kmalloc_array(size / 2, 2, GFP_KERNEL); break;
    default: p = size % 4 ? kcalloc(size, 1, GFP_KERNEL) : kcalloc(4, size / 4, GFP_KERNEL); break;
  }
  expect_reports(before, 0);
  if (size == 0) {
    if (p != ZERO_SIZE_PTR) fail("zero-size allocation returned %p, not ZERO_SIZE_PTR", p);
    kfree(p);
    expect_reports(before, 0);
    return;
  }
  on_alloc(p, size, -1, fill, how == 1 || how == 3);
}

void do_free(Reader& r) {
  auto f = freeable();
  if (f.empty()) return;
  size_t i = f[r.pick(f.size())];
  Live o = live[i];
  uint8_t how = r.u8() % 3;
  bool again = r.u8() % 4 == 0;
  static const char* const kNames[] = {"kfree", "kmem_cache_free", "kfree_sensitive"};
  if (how == 1 && o.cache < 0) how = 0;  // kmalloc objects: kfree
  op("%s(%#lx) %s object req %zu", kNames[how],
     (unsigned long)o.addr, cache_name(o), o.req);
  check_fill(o, o.req, "before free");
  uint64_t before = ukasan_report_count();
  void* p = reinterpret_cast<void*>(o.addr);
  if (how == 1)
    kmem_cache_free(caches[static_cast<size_t>(o.cache)].ptr, p);
  else if (how == 2)
    kfree_sensitive(p);
  else
    kfree(p);
  expect_reports(before, 0);
  on_free(i);
  if (again && cache_rcu(o.cache)) {
    // SLAB_TYPESAFE_BY_RCU objects are not quarantined, but a second free
    // before anything is allocated is still a double free.
    op("second kfree(%#lx) of an RCU-cache object", (unsigned long)o.addr);
    before = ukasan_report_count();
    kfree(p);
    expect_reports(before, 1, {"double-free"});
  }
}

void do_krealloc(Reader& r) {
  auto f = freeable();
  bool from_null = f.empty() || r.u8() % 8 == 0;
  uint8_t sel = r.u8();
  size_t new_size = sel % 16 == 0 ? 0 : sel % 16 == 1 ? SIZE_MAX : size_from(r);
  gfp_t flags = (sel & 0x80) ? GFP_KERNEL | __GFP_ZERO : GFP_KERNEL;
  uint8_t fill = r.u8();
  before_alloc();
  if (from_null) {
    if (live.size() >= kMaxLive) return;
    op("krealloc(NULL, %zu, %#x)", new_size, flags);
    uint64_t before = ukasan_report_count();
    void* p = krealloc(nullptr, new_size, flags);
    expect_reports(before, 0);
    if (new_size == SIZE_MAX) {
      if (p) fail("krealloc(NULL, SIZE_MAX) did not fail");
    } else if (new_size == 0) {
      if (p != ZERO_SIZE_PTR) fail("krealloc(NULL, 0) returned %p", p);
    } else {
      on_alloc(p, new_size, -1, fill, flags & __GFP_ZERO);
    }
    return;
  }
  size_t i = f[r.pick(f.size())];
  Live o = live[i];
  op("krealloc(%#lx %s req %zu usable %zu, %zu, %#x)", (unsigned long)o.addr, cache_name(o), o.req, o.usable, new_size,
     flags);
  check_fill(o, o.req, "before krealloc");
  uint64_t before = ukasan_report_count();
  void* p = krealloc(reinterpret_cast<void*>(o.addr), new_size, flags);
  expect_reports(before, 0);
  if (new_size == 0) {
    if (p != ZERO_SIZE_PTR) fail("krealloc(p, 0) returned %p", p);
    on_free(i);
    return;
  }
  if (new_size == SIZE_MAX) {
    if (p) fail("krealloc(p, SIZE_MAX) did not fail");
    check_fill(o, o.req, "after a failed krealloc");
    return;
  }
  if (!p) fail("krealloc returned NULL");
  size_t keep = std::min(o.req, new_size);
  const unsigned char* b = static_cast<const unsigned char*>(p);
  if (size_t k = mismatch(b, keep, o.fill); k < keep)
    fail("krealloc lost byte %zu (%#x, expected %#x)", k, b[k], o.fill);
  if ((flags & __GFP_ZERO) && new_size > o.req)
    if (size_t k = o.req + mismatch(b + o.req, new_size - o.req, 0); k < new_size)
      fail("krealloc with __GFP_ZERO left byte %zu = %#x", k, b[k]);
  if (new_size <= o.usable) {
    if (p != reinterpret_cast<void*>(o.addr)) fail("krealloc within ksize() moved the object");
    live[i].req = new_size;
    if (o.large) live[i].usable = round_page(new_size);
    live[i].fill = fill;
    memset(p, fill, new_size);
    return;
  }
  if (p == reinterpret_cast<void*>(o.addr)) fail("krealloc beyond ksize() kept the object in place");
  on_alloc(p, new_size, -1, fill, false);
  on_free(i);
}

void do_ksize(Reader& r) {
  if (live.empty()) return;
  const Live& o = live[r.pick(live.size())];
  op("ksize(%#lx)", (unsigned long)o.addr);
  uint64_t before = ukasan_report_count();
  size_t n = ksize(reinterpret_cast<void*>(o.addr));
  expect_reports(before, 0);
  if (n != o.usable) fail("ksize = %zu, expected %zu", n, o.usable);
}

void do_check_valid(Reader& r) {
  uint8_t b = r.u8();
  bool w = b & 1;
  uintptr_t a;
  size_t len;
  char local[48];
  memset(local, 0, sizeof(local));
  if ((b & 6) == 0 || live.empty()) {  // globals and the stack have no poison
    bool stack = b & 8;
    a = reinterpret_cast<uintptr_t>(stack ? local : g_global);
    size_t off = r.u8() % 32;
    a += off;
    len = r.u8() % 16 + 1;
    op("kasan_check_%s(%s+%zu, %zu)", w ? "write" : "read", stack ? "stack" : "global", off, len);
  } else {
    const Live& o = live[r.pick(live.size())];
    size_t off = r.u16() % o.req;
    len = r.u16() % (o.req - off) + 1;
    a = o.addr + off;
    op("kasan_check_%s(%#lx+%zu, %zu) of req %zu", w ? "write" : "read", (unsigned long)o.addr, off, len, o.req);
  }
  uint64_t before = ukasan_report_count();
  bool ok = w ? kasan_check_write(reinterpret_cast<void*>(a), static_cast<unsigned>(len))
              : kasan_check_read(reinterpret_cast<void*>(a), static_cast<unsigned>(len));
  expect_reports(before, 0);
  if (!ok) fail("valid access reported as invalid");
}

void do_check_oob(Reader& r) {
  if (live.empty()) return;
  const Live& o = live[r.pick(live.size())];
  uint8_t b = r.u8();
  bool w = b & 1, left = b & 2;
  size_t inside = r.u16() % (o.req + 1), outside = b / 4 % 16 + 1;
  uintptr_t a;
  size_t len;
  if (left) {
    a = o.addr - outside;
    len = outside + inside;
  } else {
    a = o.addr + o.req - inside;
    len = inside + outside;
  }
  op("kasan_check_%s(%#lx, %zu): %zu bytes %s of %#lx req %zu", w ? "write" : "read", (unsigned long)a, len, outside,
     left ? "before" : "after", (unsigned long)o.addr, o.req);
  uint64_t before = ukasan_report_count();
  bool ok = w ? kasan_check_write(reinterpret_cast<void*>(a), static_cast<unsigned>(len))
              : kasan_check_read(reinterpret_cast<void*>(a), static_cast<unsigned>(len));
  expect_reports(before, 1, {"slab-out-of-bounds"});
  if (ok) fail("out-of-bounds access reported as valid");
}

void do_bulk_alloc(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty()) return;
  size_t ci = act[r.pick(act.size())];
  size_t n = r.u8() % 16 + 1;
  uint8_t fill = r.u8();
  if (live.size() + n > kMaxLive) return;
  op("kmem_cache_alloc_bulk(fz%zu, %zu)", ci, n);
  before_alloc();
  void* v[16];
  uint64_t before = ukasan_report_count();
  int got = kmem_cache_alloc_bulk(caches[ci].ptr, GFP_KERNEL, n, v);
  expect_reports(before, 0);
  if (got != static_cast<int>(n)) fail("kmem_cache_alloc_bulk returned %d", got);
  for (size_t k = 0; k < n; k++) on_alloc(v[k], caches[ci].size, static_cast<int>(ci), fill, false);
}

void do_bulk_free(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty()) return;
  size_t ci = act[r.pick(act.size())];
  std::vector<size_t> mine;
  for (size_t i = 0; i < live.size(); i++)
    if (live[i].cache == static_cast<int>(ci)) mine.push_back(i);
  uint8_t mask = r.u8(), misuse = r.u8() % 6;
  void* v[16];
  size_t n = 0;
  std::vector<uintptr_t> victims;
  for (size_t k = 0; k < mine.size() && k < 8; k++)
    if (mask & (1u << k)) {
      check_fill(live[mine[k]], live[mine[k]].req, "before bulk free");
      victims.push_back(live[mine[k]].addr);
      v[n++] = reinterpret_cast<void*>(live[mine[k]].addr);
    }
  if (mask & 0x80) v[n++] = nullptr;  // skipped, as in the kernel's build_detached_freelist
  unsigned expected = 0;
  const char* type = nullptr;
  if (misuse == 1 && !victims.empty() && !caches[ci].rcu) {  // the same object twice
    v[n++] = reinterpret_cast<void*>(victims[0]);
    expected = 1;
    type = "double-free";
  } else if (misuse == 2) {
    for (const Live& l : live)
      if (l.cache == static_cast<int>(ci) && l.req >= 2 &&
          std::find(victims.begin(), victims.end(), l.addr) == victims.end()) {
        v[n++] = reinterpret_cast<void*>(l.addr + 1);
        expected = 1;
        type = "invalid-free";
        break;
      }
  } else if (misuse == 3) {
    for (const Freed& f : freed)
      if (f.cache == static_cast<int>(ci) && f.st == FState::Quarantined) {
        v[n++] = reinterpret_cast<void*>(f.addr);
        expected = 1;
        type = "double-free";
        break;
      }
  }
  op("kmem_cache_free_bulk(fz%zu, %zu entries, %zu objects, misuse %u)", ci, n, victims.size(), expected);
  uint64_t before = ukasan_report_count();
  kmem_cache_free_bulk(caches[ci].ptr, n, v);
  if (type)
    expect_reports(before, expected, {type});
  else
    expect_reports(before, 0);
  for (uintptr_t a : victims)
    for (size_t i = 0; i < live.size(); i++)
      if (live[i].addr == a) {
        on_free(i);
        break;
      }
}

void do_shrink(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty()) return;
  size_t ci = act[r.pick(act.size())];
  op("kmem_cache_shrink(fz%zu)", ci);
  uint64_t before = ukasan_report_count();
  int ret = kmem_cache_shrink(caches[ci].ptr);
  expect_reports(before, 0);
  if (ret != 0) fail("kmem_cache_shrink returned %d", ret);
}

void free_all_of(size_t ci) {
  for (size_t i = live.size(); i-- > 0;)
    if (live[i].cache == static_cast<int>(ci)) {
      check_fill(live[i], live[i].req, "before free");
      uint64_t before = ukasan_report_count();
      kmem_cache_free(caches[ci].ptr, reinterpret_cast<void*>(live[i].addr));
      expect_reports(before, 0);
      on_free(i);
    }
}

void destroy(size_t ci, bool leak_ok) {
  Cache& c = caches[ci];
  size_t n_live = 0;
  for (const Live& l : live) n_live += l.cache == static_cast<int>(ci);
  bool leak = n_live && leak_ok && g_leaked_caches < kMaxLeakedCaches;
  if (n_live && !leak) {
    op("free the %zu objects of fz%zu before destroying it", n_live, ci);
    free_all_of(ci);
  }
  op("kmem_cache_destroy(fz%zu) with %zu live objects", ci, leak ? n_live : 0);
  uint64_t before = ukasan_report_count();
  kmem_cache_destroy(c.ptr);
  expect_reports(before, 0, {}, leak);
  c.st = leak ? CState::Leaked : CState::Released;
  if (leak) g_leaked_caches++;
  for (Freed& f : freed)
    if (f.cache == static_cast<int>(ci) && f.st == FState::Quarantined)
      f.st = leak ? FState::LeakedCache : FState::ReleasedCache;
}

void do_destroy(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty()) return;
  size_t ci = act[r.pick(act.size())];
  destroy(ci, r.u8() & 1);
}

void do_bad_destroy(Reader& r) {
  uint8_t how = r.u8() % 5;
  std::vector<size_t> dead = caches_in(CState::Leaked), rel = caches_in(CState::Released);
  dead.insert(dead.end(), rel.begin(), rel.end());
  char local[64];
  uint64_t before = ukasan_report_count();
  if (how == 0 && !dead.empty()) {
    size_t ci = dead[r.pick(dead.size())];
    op("kmem_cache_destroy(fz%zu) again", ci);
    kmem_cache_destroy(caches[ci].ptr);
    expect_reports(before, 1, {"double-free"});
  } else if (how == 1) {
    op("kmem_cache_destroy(NULL)");
    kmem_cache_destroy(nullptr);
    expect_reports(before, 0);
  } else if (how == 2 && !caches.empty()) {
    size_t ci = r.pick(caches.size());
    if (caches[ci].st == CState::Gone) return;
    size_t off = r.u8() % 63 + 1;
    op("kmem_cache_destroy(fz%zu + %zu)", ci, off);
    kmem_cache_destroy(reinterpret_cast<kmem_cache*>(reinterpret_cast<char*>(caches[ci].ptr) + off));
    expect_reports(before, 1, {"invalid-free"});
  } else {
    bool stack = how == 3;
    op("kmem_cache_destroy(%s pointer)", stack ? "stack" : "global");
    kmem_cache_destroy(reinterpret_cast<kmem_cache*>(stack ? local : g_global));
    expect_reports(before, 1, {"invalid-free"});
  }
}

// Second free, or ksize/krealloc/kfree_sensitive, of a freed object.
void do_double_free(Reader& r) {
  if (freed.empty()) return;
  size_t fi = r.pick(freed.size());
  const Freed f = freed[fi];
  uint8_t how = r.u8() % 5;
  void* p = reinterpret_cast<void*>(f.addr);
  bool cache_ok = f.cache >= 0 && caches[static_cast<size_t>(f.cache)].st != CState::Gone;
  const char* free_type = f.st == FState::LeakedCache ? "invalid-free" : "double-free";
  uint64_t before = ukasan_report_count();
  if (how == 0 || (how == 1 && !cache_ok)) {
    op("kfree(%#lx) again (freed state %d)", (unsigned long)f.addr, (int)f.st);
    kfree(p);
    expect_reports(before, 1, {free_type});
  } else if (how == 1) {
    op("kmem_cache_free(fz%d, %#lx) again (freed state %d)", f.cache, (unsigned long)f.addr, (int)f.st);
    kmem_cache_free(caches[static_cast<size_t>(f.cache)].ptr, p);
    expect_reports(before, 1, {free_type});
  } else if (how == 2) {
    op("ksize(%#lx) of a freed object (state %d)", (unsigned long)f.addr, (int)f.st);
    size_t n = ksize(p);
    expect_reports(before, 1, {uaf_type(f)});
    if (n) fail("ksize of a freed object returned %zu", n);
  } else if (how == 3) {
    op("kfree_sensitive(%#lx) of a freed object (state %d)", (unsigned long)f.addr, (int)f.st);
    kfree_sensitive(p);
    expect_reports(before, 1, {uaf_type(f)});
  } else {
    op("krealloc(%#lx, 64) of a freed object (state %d)", (unsigned long)f.addr, (int)f.st);
    void* q = krealloc(p, 64, GFP_KERNEL);
    expect_reports(before, 1, {uaf_type(f)});
    if (q) fail("krealloc of a freed object returned %p", q);
  }
}

void do_uaf_check(Reader& r) {
  if (freed.empty()) return;
  const Freed& f = freed[r.pick(freed.size())];
  size_t req = f.req ? f.req : 1;
  size_t off = r.u16() % req, len = r.u16() % (req - off) + 1;
  bool w = r.u8() & 1;
  op("kasan_check_%s(%#lx+%zu, %zu) of a freed object (state %d)", w ? "write" : "read", (unsigned long)f.addr, off,
     len, (int)f.st);
  uint64_t before = ukasan_report_count();
  void* a = reinterpret_cast<void*>(f.addr + off);
  bool ok = w ? kasan_check_write(a, static_cast<unsigned>(len)) : kasan_check_read(a, static_cast<unsigned>(len));
  expect_reports(before, 1, {uaf_type(f)});
  if (ok) fail("use after free reported as valid");
}

void do_interior_free(Reader& r) {
  std::vector<size_t> c;
  for (size_t i = 0; i < live.size(); i++)
    if (live[i].req >= 2) c.push_back(i);
  if (c.empty()) return;
  const Live& o = live[c[r.pick(c.size())]];
  size_t off = r.u16() % (o.req - 1) + 1;
  void* p = reinterpret_cast<void*>(o.addr + off);
  uint8_t how = r.u8() % 5;
  bool own_cache = o.cache >= 0 && caches[static_cast<size_t>(o.cache)].st == CState::Active;
  uint64_t before = ukasan_report_count();
  if (how == 0 || (how == 1 && !own_cache)) {
    op("kfree(%#lx + %zu)", (unsigned long)o.addr, off);
    kfree(p);
    expect_reports(before, 1, {"invalid-free"});
  } else if (how == 1) {
    op("kmem_cache_free(fz%d, %#lx + %zu)", o.cache, (unsigned long)o.addr, off);
    kmem_cache_free(caches[static_cast<size_t>(o.cache)].ptr, p);
    expect_reports(before, 1, {"invalid-free"});
  } else {
    // ksize/kfree_sensitive/krealloc check the pointer like the kernel's
    // kasan_check_byte: an interior pointer is reported (the type depends on
    // the shadow there), nothing is freed or resized.
    static const char* const kNames[] = {"", "", "ksize", "kfree_sensitive", "krealloc"};
    const char* fn = kNames[how];
    op("%s(%#lx + %zu)", fn, (unsigned long)o.addr, off);
    before_alloc();
    void* q = nullptr;
    size_t n = 0;
    if (how == 2) n = ksize(p);
    if (how == 3) kfree_sensitive(p);
    if (how == 4) q = krealloc(p, o.req + 4096, GFP_KERNEL);
    expect_reports(before, 1, {"invalid-free", "out-of-bounds", "slab-out-of-bounds"});
    if (n || q) fail("%s of an interior pointer succeeded", fn);
  }
  check_fill(o, o.req, "after an invalid free of an interior pointer");
}

void do_foreign_free(Reader& r) {
  uint8_t b = r.u8();
  unsigned where = b % 3, how = b / 3 % 5;
  char local[32];
  memset(local, 1, sizeof(local));
  void* foreign = where == 2 ? malloc(64) : nullptr;  // glibc's: ukasan_core does not interpose malloc
  void* p = where == 0 ? static_cast<void*>(local) : where == 1 ? static_cast<void*>(g_global) : foreign;
  p = static_cast<char*>(p) + (b & 0x80 ? 1 : 0);  // unaligned or not, same verdict
  static const char* const kWhere[] = {"stack", "global", "malloc"};
  static const char* const kHow[] = {"kfree", "kmem_cache_free", "ksize", "kfree_sensitive", "krealloc"};
  auto act = caches_in(CState::Active);
  op("%s(%s pointer)", kHow[how], kWhere[where]);
  uint64_t before = ukasan_report_count();
  void* q = nullptr;
  size_t n = 0;
  switch (how) {
    case 0: kfree(p); break;
    case 1: kmem_cache_free(act.empty() ? nullptr : caches[act[r.pick(act.size())]].ptr, p); break;
    case 2: n = ksize(p); break;
    case 3: kfree_sensitive(p); break;
    default: before_alloc(); q = krealloc(p, 100, GFP_KERNEL); break;
  }
  expect_reports(before, 1, {"invalid-free"});
  if (n || q) fail("%s of a foreign pointer succeeded", kHow[how]);
  if (foreign) {
    for (int i = 0; i < 64; i++) static_cast<char*>(foreign)[i] = 0;  // still glibc's and intact
    free(foreign);
  }
}

void do_wrong_cache(Reader& r) {
  auto act = caches_in(CState::Active);
  if (act.empty() || live.empty()) return;
  size_t ci = act[r.pick(act.size())];
  const Live& o = live[r.pick(live.size())];
  if (o.cache == static_cast<int>(ci)) return;
  op("kmem_cache_free(fz%zu, %#lx of %s %d)", ci, (unsigned long)o.addr, cache_name(o), o.cache);
  uint64_t before = ukasan_report_count();
  kmem_cache_free(caches[ci].ptr, reinterpret_cast<void*>(o.addr));
  expect_reports(before, 1, {"invalid-free"});
  check_fill(o, o.req, "after a wrong-cache free");
}

void do_free_after_destroy(Reader& r) {
  std::vector<size_t> c;
  for (size_t i = 0; i < live.size(); i++)
    if (live[i].cache >= 0 && caches[static_cast<size_t>(live[i].cache)].st == CState::Leaked) c.push_back(i);
  if (c.empty()) return;
  const Live& o = live[c[r.pick(c.size())]];
  bool via_cache = r.u8() & 1;
  op("%s(%#lx) of a destroyed cache's live object", via_cache ? "kmem_cache_free" : "kfree", (unsigned long)o.addr);
  uint64_t before = ukasan_report_count();
  if (via_cache)
    kmem_cache_free(caches[static_cast<size_t>(o.cache)].ptr, reinterpret_cast<void*>(o.addr));
  else
    kfree(reinterpret_cast<void*>(o.addr));
  expect_reports(before, 1, {"invalid-free"});
  check_fill(o, o.req, "after a free after destroy");  // the destroyed cache kept its memory
}

void do_null_wild(Reader& r) {
  uint8_t b = r.u8();
  unsigned len = b / 8 % 16 + 1;
  uint64_t before = ukasan_report_count();
  switch (b % 6) {
    case 0: {
      uintptr_t a = r.u16() % 4000;
      op("kasan_check_read(%#lx, %u)", (unsigned long)a, len);
      if (kasan_check_read(reinterpret_cast<void*>(a), len)) fail("NULL access passed");
      expect_reports(before, 1, {"null-ptr-deref"});
      break;
    }
    case 1:
      op("kasan_check_write(ZERO_SIZE_PTR, %u)", len);
      if (kasan_check_write(ZERO_SIZE_PTR, len)) fail("ZERO_SIZE_PTR access passed");
      expect_reports(before, 1, {"null-ptr-deref"});
      break;
    case 2: {
      uintptr_t a = b & 1 ? 0xffff800000001000ull : 0x0000900000000000ull + r.u16();
      op("kasan_check_read(wild %#lx, %u)", (unsigned long)a, len);
      if (kasan_check_read(reinterpret_cast<void*>(a), len)) fail("wild access passed");
      expect_reports(before, 1, {"wild-memory-access"});
      break;
    }
    case 3:
      op("kfree(NULL), kfree(ZERO_SIZE_PTR), ksize(NULL), krealloc(ZERO_SIZE_PTR, 0)");
      kfree(nullptr);
      kfree(ZERO_SIZE_PTR);
      kfree_sensitive(nullptr);
      if (ksize(nullptr) || ksize(ZERO_SIZE_PTR)) fail("ksize(NULL) != 0");
      if (krealloc(ZERO_SIZE_PTR, 0, GFP_KERNEL) != ZERO_SIZE_PTR) fail("krealloc(ZERO_SIZE_PTR, 0)");
      expect_reports(before, 0);
      break;
    case 4:
      op("kasan_check_read(p, 0) of anything");
      if (!kasan_check_read(nullptr, 0) || !kasan_check_write(reinterpret_cast<void*>(0xffff800000000000ull), 0))
        fail("zero-size check failed");
      expect_reports(before, 0);
      break;
    default: {
      op("kasan_check_read(range wrapping the address space)");
      if (kasan_check_read(reinterpret_cast<void*>(~uintptr_t(0) - 8), 64)) fail("wrapping access passed");
      expect_reports(before, 1, {"wild-memory-access"});
      break;
    }
  }
}

void do_drain(Reader&) {
  op("ukasan_quarantine_drain()");
  uint64_t before = ukasan_report_count();
  ukasan_quarantine_drain();
  expect_reports(before, 0);
  // Drained objects are back on their slabs: they may be handed out again.
  freed.erase(std::remove_if(freed.begin(), freed.end(), [](const Freed& f) { return f.st == FState::Quarantined; }),
              freed.end());
}

void do_overflow(Reader& r) {
  uint8_t b = r.u8();
  size_t big = (SIZE_MAX >> (b % 8)) - r.u8();
  op("overflowing sizes (%#zx)", big);
  before_alloc();
  uint64_t before = ukasan_report_count();
  if (kmalloc(big, GFP_KERNEL)) fail("kmalloc(%#zx) succeeded", big);
  if (kzalloc(big, GFP_KERNEL)) fail("kzalloc(%#zx) succeeded", big);
  if (kmalloc_array(big, 3, GFP_KERNEL)) fail("kmalloc_array overflow succeeded");
  if (kmalloc_array(5, big, GFP_KERNEL)) fail("kmalloc_array overflow succeeded");
  if (kcalloc(big, big, GFP_KERNEL)) fail("kcalloc overflow succeeded");
  if (!live.empty()) {
    const Live& o = live[r.pick(live.size())];
    if (o.cache < 0 || caches[static_cast<size_t>(o.cache)].st == CState::Active) {
      if (krealloc(reinterpret_cast<void*>(o.addr), big, GFP_KERNEL)) fail("krealloc(p, %#zx) succeeded", big);
      check_fill(o, o.req, "after a failed krealloc");
    }
  }
  expect_reports(before, 0);
}

void do_refill(Reader& r) {
  if (live.empty()) return;
  Live& o = live[r.pick(live.size())];
  uint8_t fill = r.u8();
  op("refill %#lx", (unsigned long)o.addr);
  check_fill(o, o.req, "before refill");
  o.fill = fill;
  memset(reinterpret_cast<void*>(o.addr), fill, o.req);
}

void cleanup() {
  op("cleanup");
  for (size_t i = live.size(); i-- > 0;) {
    const Live& o = live[i];
    if (o.cache >= 0 && caches[static_cast<size_t>(o.cache)].st == CState::Leaked) continue;  // leaked for good
    check_fill(o, o.req, "at cleanup");
    uint64_t before = ukasan_report_count();
    kfree(reinterpret_cast<void*>(o.addr));
    expect_reports(before, 0);
  }
  for (size_t ci = 0; ci < caches.size(); ci++)
    if (caches[ci].st == CState::Active) {
      uint64_t before = ukasan_report_count();
      kmem_cache_destroy(caches[ci].ptr);
      expect_reports(before, 0);
    }
  caches.clear();
  live.clear();
  freed.clear();
  g_freed_bytes = 0;
  // Start the next input with an empty report file.
  if (ftruncate(g_fd, 0) != 0 || lseek(g_fd, 0, SEEK_SET) != 0) fail("cannot reset the report memfd");
  g_off = 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = getenv("SLAB_FUZZER_TRACE") != nullptr;
  if (ukasan_set_options("multi_shot=1:exitcode=0:symbolize=0:stacktrace=1:quarantine_size_mb=4:quarantine_cache_kb=64") !=
      0) {
    fprintf(stderr, "slab_fuzzer: ukasan_set_options failed\n");
    abort();
  }
  g_fd = memfd_create("slab_fuzzer_reports", MFD_CLOEXEC);
  if (g_fd < 0) {
    perror("memfd_create");
    abort();
  }
  ukasan_set_report_fd(g_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  for (size_t n = 0; r.n && n < kMaxOps; n++) {
    switch (r.u8() % kNumOps) {
      case kOpCreate: do_create(r); break;
      case kOpCacheAlloc: do_cache_alloc(r); break;
      case kOpKmalloc: do_kmalloc(r); break;
      case kOpFree: do_free(r); break;
      case kOpKrealloc: do_krealloc(r); break;
      case kOpKsize: do_ksize(r); break;
      case kOpCheckValid: do_check_valid(r); break;
      case kOpCheckOob: do_check_oob(r); break;
      case kOpBulkAlloc: do_bulk_alloc(r); break;
      case kOpBulkFree: do_bulk_free(r); break;
      case kOpShrink: do_shrink(r); break;
      case kOpDestroy: do_destroy(r); break;
      case kOpBadDestroy: do_bad_destroy(r); break;
      case kOpDoubleFree: do_double_free(r); break;
      case kOpUafCheck: do_uaf_check(r); break;
      case kOpInteriorFree: do_interior_free(r); break;
      case kOpForeignFree: do_foreign_free(r); break;
      case kOpWrongCache: do_wrong_cache(r); break;
      case kOpFreeAfterDestroy: do_free_after_destroy(r); break;
      case kOpNullWild: do_null_wild(r); break;
      case kOpDrain: do_drain(r); break;
      case kOpOverflow: do_overflow(r); break;
      case kOpRefill: do_refill(r); break;
      default: break;
    }
    prune();
  }
  cleanup();
  return 0;
}
