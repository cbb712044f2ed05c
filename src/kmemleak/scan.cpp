// The conservative scan (mm/kmemleak.c's kmemleak_scan, in user space).
//
// Order of one scan, and why each step is safe:
//  1. The registry lock, then the loader's lock (everything runs inside a
//     dl_iterate_phdr callback, as LSan does): no stopped thread can be
//     half-way through a registry update, and no module can be unmapped
//     while its segments are scanned.
//  2. stop_the_world(): every other thread sleeps in a signal handler on its
//     own stack, its registers in the signal frame above its stack pointer.
//     From here to the resume nothing allocates or takes a lock; the slab
//     metadata is read lock-free (slab.h: scan_find_object).
//  3. Roots are scanned directly (never queued, so never lost), then the
//     objects they reach, through a work stack of ranges. A full work stack
//     leaves objects marked but unscanned: a rescan of every marked object
//     follows until nothing overflowed (kmemleak's "scan the gray list").
//  4. Unreferenced objects allocated by the dynamic loader are roots too
//     (ld.so keeps pointers in memory from its own minimal malloc, which no
//     root covers; LSan makes the same exception).
//  5. The unreferenced, unreported objects are copied out (address, size,
//     stack, first bytes) and marked reported; every mark is cleared.
//  6. Resume; then group by allocation stack and print.
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <new>

#include "kmemleak/internal.h"
#include "kmemleak/kmemleak.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "platform/stop_world.h"
#include "platform/test_knobs.h"
#include "report/report.h"
#include "slab/slab.h"

namespace ukasan {

namespace {

struct Range {
  uptr lo, hi;
};

// Scratch arrays: address space reserved on first use, pages given back
// after each scan.
template <class T>
struct Scratch {
  T* p = nullptr;
  uptr cap = 0, n = 0, limit = 0;
  bool init(uptr max) {
    if (!p) {
      p = static_cast<T*>(map_anon(sizeof(T) * max, true));
      if (!p) return false;
      cap = max;
    }
    n = 0;
    limit = cap;
    return true;
  }
  bool push(const T& v) {
    if (n == limit) return false;
    p[n++] = v;
    return true;
  }
  void release() {
    if (p) release_pages(p, round_up(sizeof(T) * (n ? n : 1), kPageSize));
    n = 0;
  }
};

struct CustomRef {
  uptr ptr, size;
  CustomObject* obj;
  bool marked;
};

struct ScanState {
  bool report;
  bool track_freed;   // quarantine_keep_referenced: flag freed objects live memory points into
  bool refresh_only;  // ... and nothing else: no leak is looked for, no object walk
  Scratch<AllocMeta*> marked;  // refresh_only: what to unmark at the end
  bool marked_overflow;
  uptr self_sp;
  uptr stack_from;  // the calling thread's stack from here (0: from self_sp)
  uptr arena_lo, arena_hi;
  uptr ldso_lo, ldso_hi;
  uptr static_tls;          // the modules' TLS blocks (PT_TLS), each aligned
  Scratch<Range> segments;  // writable PT_LOAD segments of every module
  Scratch<Range> maps;      // readable mappings, sorted
  Scratch<Range> work;
  bool overflow;
  Scratch<CustomRef> custom;  // sorted by ptr
  uptr custom_lo, custom_hi;
  Scratch<LeakRecord> leaks;
  u64 new_objects, new_bytes, objects;
  const char* incomplete;
  bool raced;  // incomplete because a thread that was not stopped ran: worth another try
  char why[96];
  Scratch<char> maps_text;
  int pagemap = -1;  // /proc/self/pagemap during a scan
};

// In mapped memory, not in this module's data: the scan reads every
// module's data as a root, and its own state holds the bounds of the
// objects it is looking for (custom_lo is one of them).
ScanState* g_state;
#define g_s (*g_state)
std::atomic<bool> g_scanning{false};
std::atomic<u64> g_reported_total{0};

// ---- /proc/self/maps -------------------------------------------------------------
bool read_maps() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  Scratch<char>& t = g_s.maps_text;
  t.n = 0;
  for (;;) {
    if (t.cap - t.n < 4096) {
      close(fd);
      return false;
    }
    const ssize_t r = read(fd, t.p + t.n, t.cap - t.n - 1);
    if (r <= 0) break;
    t.n += static_cast<uptr>(r);
  }
  close(fd);
  t.p[t.n] = 0;
  g_s.maps.n = 0;
  for (const char* l = t.p; *l;) {
    const char* q = l;
    const uptr lo = parse_hex(q);
    if (*q == '-') q++;
    const uptr hi = parse_hex(q);
    const bool readable = q[0] == ' ' && q[1] == 'r';
    const char* e = strchr(l, '\n');
    const bool special = memmem(l, e ? static_cast<uptr>(e - l) : strlen(l), "[v", 2) != nullptr;  // [vvar], [vsyscall]
    if (readable && !special && hi > lo) g_s.maps.push(Range{lo, hi});
    if (!e) break;
    l = e + 1;
  }
  return true;
}

// The first readable mapping that ends above a (maps.n if none).
uptr first_mapping_above(uptr a) {
  const Range* m = g_s.maps.p;
  uptr lo = 0, hi = g_s.maps.n;
  while (lo < hi) {
    const uptr mid = (lo + hi) / 2;
    if (m[mid].hi <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

const Range* mapping_of(uptr a) {
  const uptr i = first_mapping_above(a);
  return i < g_s.maps.n && g_s.maps.p[i].lo <= a ? &g_s.maps.p[i] : nullptr;
}

// ---- marking --------------------------------------------------------------------------
UKASAN_ALWAYS_INLINE void push_object(uptr lo, uptr hi) {
  if (hi - lo < sizeof(uptr)) return;
  if (!g_s.work.push(Range{lo, hi})) g_s.overflow = true;
}

void consider_custom(uptr w) {
  CustomRef* c = g_s.custom.p;
  uptr lo = 0, hi = g_s.custom.n;
  while (lo < hi) {  // the last object starting at or before w
    const uptr mid = (lo + hi) / 2;
    if (c[mid].ptr <= w)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return;
  CustomRef& r = c[lo - 1];
  if (w - r.ptr >= r.size && !(r.size == 0 && w == r.ptr)) return;
  if (r.marked) return;
  r.marked = true;
  if (!(r.obj->flags & kMetaNoScan)) push_object(r.ptr, r.ptr + r.size);
}

// Marks an allocated object reached; false if it already was. A refresh
// scan remembers it, to unmark it without walking every object.
UKASAN_ALWAYS_INLINE bool mark_object(AllocMeta* am) {
  const u8 k = am->kind;
  if (k & kMetaMarked) return false;
  am->kind = static_cast<u8>(k | kMetaMarked);
  if (g_s.refresh_only && !g_s.marked.push(am)) g_s.marked_overflow = true;
  return true;
}

UKASAN_ALWAYS_INLINE void consider(uptr w) {
  if (w - g_s.arena_lo < g_s.arena_hi - g_s.arena_lo) {
    ObjectRef r;
    uptr size;
    const u8 st = scan_lookup(w, &r, &size);
    if (st == kObjAllocated) {
      if (mark_object(r.am) && !(r.am->kind & kMetaNoScan)) push_object(r.obj, r.obj + size);
    } else if (st == kObjQuarantined && g_s.track_freed) {
      // A dangling pointer: remembered, never followed (freed memory is not
      // live). Set directly: a flag a later scan would no longer set only
      // keeps the object once more (see quarantine_keep_referenced).
      if (!(r.am->kind & kMetaDangling)) r.am->kind = static_cast<u8>(r.am->kind | kMetaDangling);
    }
  }
  if (w - g_s.custom_lo < g_s.custom_hi - g_s.custom_lo) consider_custom(w);
}

void scan_words(uptr lo, uptr hi) {
  for (uptr p = round_up(lo, sizeof(uptr)); p + sizeof(uptr) <= hi; p += sizeof(uptr))
    consider(*reinterpret_cast<const uptr*>(p));
}

// Calls fn(lo, hi) for the runs of [lo, hi) on pages that hold anything:
// present or swapped, by /proc/self/pagemap. A page of a private mapping the
// process never touched (or gave back) is zeros (.bss, anonymous memory) or
// the file's contents (.data), neither of which holds a heap pointer; reading
// it would map it, a page fault each (and on some kernels a page). Where
// pagemap cannot be read, the whole range.
template <class Fn>
void for_used_runs(uptr lo, uptr hi, Fn fn) {
  constexpr uptr kBatch = 512;  // pagemap entries per read
  constexpr u64 kPresent = u64(1) << 63, kSwapped = u64(1) << 62;
  u64 e[kBatch];
  uptr page = lo & ~(kPageSize - 1), run = 0;  // run: start of the used pages not yet visited (0: none)
  while (g_s.pagemap >= 0 && page < hi) {
    uptr n = (hi - page + kPageSize - 1) / kPageSize;
    if (n > kBatch) n = kBatch;
    const ssize_t r = pread(g_s.pagemap, e, n * sizeof(u64), static_cast<off_t>(page / kPageSize * sizeof(u64)));
    if (r != static_cast<ssize_t>(n * sizeof(u64))) break;
    for (uptr i = 0; i < n; i++, page += kPageSize) {
      const bool used = e[i] & (kPresent | kSwapped);
      if (used && !run) run = page > lo ? page : lo;
      if (!used && run) {
        fn(run, page);
        run = 0;
      }
    }
  }
  if (page < hi && !run) run = page > lo ? page : lo;  // pagemap unreadable: the rest whole
  if (run) fn(run, hi);
}

// An object this big (a large block) may have pages the program never
// touched (a 32 KiB zlib window holding a few hundred bytes): one pread of
// pagemap is cheaper than a fault on such a page.
constexpr uptr kUsedPagesMin = 8 * kPageSize;

void drain() {
  while (g_s.work.n) {
    const Range r = g_s.work.p[--g_s.work.n];
    if (r.hi - r.lo >= kUsedPagesMin)
      for_used_runs(r.lo, r.hi, scan_words);
    else
      scan_words(r.lo, r.hi);
  }
}

// A root: only its readable parts are read, and it is scanned now.
void scan_root(uptr lo, uptr hi) {
  while (lo < hi) {
    const uptr i = first_mapping_above(lo);
    if (i == g_s.maps.n || g_s.maps.p[i].lo >= hi) return;
    const Range* m = &g_s.maps.p[i];
    if (m->lo > lo) lo = m->lo;  // skip the unreadable gap
    const uptr end = m->hi < hi ? m->hi : hi;
    scan_words(lo, end);
    drain();
    lo = end;
  }
}

// A module's writable segment, only its pages that hold anything: above all
// this skips the runtime's own .bss (report buffers and tables, about
// 600 KiB that a process without a report never touches), which was more
// than half of a short process's exit-time scan.
void scan_segment(uptr lo, uptr hi) { for_used_runs(lo, hi, scan_root); }

// A stack from sp up: to the end of its mapping, or of the heap object that
// holds it (a stack the program allocated), which is then reachable too.
void scan_stack(uptr sp) {
  ObjectRef r;
  uptr size;
  if (sp - g_s.arena_lo < g_s.arena_hi - g_s.arena_lo) {
    if (scan_find_object(sp, &r, &size)) {
      mark_object(r.am);
      scan_root(sp, r.obj + size);
    }
    return;
  }
  const Range* m = mapping_of(sp);
  if (m) scan_root(sp, m->hi);
}

// The TCB and static TLS sit at and just below the thread pointer; for
// threads glibc created they are at the top of the stack just scanned, for
// the main thread in memory from ld.so's own allocator. The DTV lists the
// dynamic TLS blocks (heap objects).
void scan_thread_pointer(uptr tp, uptr sp) {
  if (!tp) return;
  const Range* m = mapping_of(tp);
  if (!m) return;
  const Range* s = mapping_of(sp);
  if (s != m) {
    // Only the static TLS blocks below tp and glibc's struct pthread above
    // it: the mapping may have merged with other anonymous memory (the
    // runtime's own, whose magazines hold stale object pointers).
    const uptr below = g_s.static_tls + 4096, above = 4096;
    scan_root(tp - m->lo > below ? tp - below : m->lo, m->hi - tp > above ? tp + above : m->hi);
  }
  if (!mapping_of(tp + 8)) return;
  const uptr dtv = *reinterpret_cast<const uptr*>(tp + 8);  // tcbhead_t::dtv
  if (!dtv || !mapping_of(dtv - 16)) return;
  const uptr len = *reinterpret_cast<const uptr*>(dtv - 16);  // dtv[-1].counter
  scan_root(dtv - 16, dtv + 16 * (len < 4096 ? len + 1 : 4097));
}

// ---- walks over every object ----------------------------------------------------------
void rescan_marked(const ObjectRef& r, uptr size, void*) {
  const u8 k = r.am->kind;
  if ((k & kMetaMarked) && !(k & kMetaNoScan)) {
    scan_words(r.obj, r.obj + size);
    drain();
  }
}

bool allocated_by_loader(depot_handle_t h) {
  const uptr* pcs;
  return g_s.ldso_hi && depot_fetch(h, &pcs) && pcs[0] - g_s.ldso_lo < g_s.ldso_hi - g_s.ldso_lo;
}

// The heap objects that are roots: the never-leak ones, and the loader's
// (what ld.so allocated is reachable from its own structures, as LSan
// assumes). One walk for both: the marked set is the same closure as
// pushing the loader's after the others are marked, for one walk less.
void push_roots(const ObjectRef& r, uptr size, void*) {
  const u8 k = r.am->kind;
  if (k & kMetaNoLeak) {
    if (mark_object(r.am) && !(k & kMetaNoScan)) push_object(r.obj, r.obj + size);
  } else if (!(k & (kMetaMarked | kMetaNoScan)) && allocated_by_loader(r.am->alloc_stack) && mark_object(r.am)) {
    push_object(r.obj, r.obj + size);
  }
}

void unmark(const ObjectRef& r, uptr, void*) {
  if (r.am->kind & kMetaMarked) r.am->kind = static_cast<u8>(r.am->kind & ~kMetaMarked);
}

// Undoes collect()'s kMetaReported for an object of a scan that is dropped.
void unreport(uptr obj) {
  ObjectRef r;
  uptr size;
  if (scan_lookup(obj, &r, &size) == kObjAllocated && r.obj == obj) {
    r.am->kind = static_cast<u8>(r.am->kind & ~kMetaReported);
    return;
  }
  uptr n;
  CustomObject* c = registry_objects(&n);
  for (uptr i = 0; i < n; i++)
    if (c[i].ptr == obj) c[i].flags = static_cast<u8>(c[i].flags & ~kMetaReported);
}

void record_leak(uptr obj, uptr size, u32 tid, depot_handle_t stack) {
  g_s.new_objects++;
  g_s.new_bytes += size;
  LeakRecord rec{};
  rec.obj = obj;
  rec.size = size;
  rec.alloc_tid = tid;
  rec.alloc_stack = stack;
  rec.count = 1;
  rec.total_bytes = size;
  internal_memcpy(rec.head, reinterpret_cast<const void*>(obj), size < sizeof(rec.head) ? size : sizeof(rec.head));
  g_s.leaks.push(rec);  // full: counted, not printed
}

void collect(const ObjectRef& r, uptr size, void*) {
  const u8 k = r.am->kind;
  u8 nk = static_cast<u8>(k & ~kMetaMarked);
  if (!(k & (kMetaMarked | kMetaNoLeak | kMetaNoScan)) && !g_s.incomplete) {
    g_s.objects++;
    if (!(k & kMetaReported) && g_s.report) {
      record_leak(r.obj, size, r.am->alloc_tid, r.am->alloc_stack);
      nk = static_cast<u8>(nk | kMetaReported);
    }
  }
  if (nk != k) r.am->kind = nk;
}

// ---- the stopped world ----------------------------------------------------------------
void mark_until_done() {
  drain();
  while (g_s.overflow) {
    g_s.overflow = false;
    scan_for_each_object(rescan_marked, nullptr);
    for (uptr i = 0; i < g_s.custom.n; i++) {
      const CustomRef& c = g_s.custom.p[i];
      if (c.marked && !(c.obj->flags & kMetaNoScan)) {
        scan_words(c.ptr, c.ptr + c.size);
        drain();
      }
    }
  }
}

void scan_stopped(const StoppedThread* threads, unsigned n, void*) {
  if (!read_maps()) {  // nothing is marked yet
    g_s.incomplete = "/proc/self/maps cannot be read";
    return;
  }
  // The arena's used part, read with every thread stopped: a slab built
  // after an earlier reading would hold objects no pointer seems to reach.
  scan_arena(&g_s.arena_lo, &g_s.arena_hi);
  // Custom objects, sorted, with their bounds.
  uptr ncustom;
  CustomObject* objs = registry_objects(&ncustom);
  g_s.custom_lo = g_s.custom_hi = 0;
  for (uptr i = 0; i < ncustom; i++) {
    if (!g_s.custom.push(CustomRef{objs[i].ptr, objs[i].size, &objs[i], false})) break;
  }
  std::sort(g_s.custom.p, g_s.custom.p + g_s.custom.n,
            [](const CustomRef& a, const CustomRef& b) { return a.ptr < b.ptr; });
  if (g_s.custom.n) {
    g_s.custom_lo = g_s.custom.p[0].ptr;
    for (uptr i = 0; i < g_s.custom.n; i++) {
      const uptr end = g_s.custom.p[i].ptr + (g_s.custom.p[i].size ? g_s.custom.p[i].size : 1);
      if (end > g_s.custom_hi) g_s.custom_hi = end;
    }
  }
  // Roots: the modules' writable segments, root regions, the threads.
  for (uptr i = 0; i < g_s.segments.n; i++) scan_segment(g_s.segments.p[i].lo, g_s.segments.p[i].hi);
  uptr nroots;
  const uptr* roots = registry_root_regions(&nroots);
  for (uptr i = 0; i < nroots; i++) scan_root(roots[2 * i], roots[2 * i] + roots[2 * i + 1]);
  // A thread's alternate signal stack is memory the kernel refers to.
  if (g_s.stack_from) {
    scan_root(g_s.self_sp, g_s.self_sp + 6 * sizeof(uptr));  // leak_scan's regs[]
    scan_stack(g_s.stack_from);
  } else {
    scan_stack(g_s.self_sp);
  }
  scan_thread_pointer(current_thread_pointer(), g_s.self_sp);
  consider(current_altstack());
  for (unsigned i = 0; i < n; i++) {
    const StoppedThread& t = threads[i];
    if (t.how == StoppedThread::kUnknown) {
      if (!g_s.incomplete) {
        snprintf(g_s.why, sizeof(g_s.why), "thread %d could not be stopped", t.tid);
        g_s.incomplete = g_s.why;
      }
      continue;
    }
    scan_stack(t.sp);
    scan_thread_pointer(t.tp, t.sp);
    consider(t.altstack);
  }
  drain();
  if (g_s.refresh_only) {  // the dangling flags are set; unmark what was marked
    mark_until_done();
    if (g_s.marked_overflow) {
      scan_for_each_object(unmark, nullptr);
    } else {
      for (uptr i = 0; i < g_s.marked.n; i++) g_s.marked.p[i]->kind &= static_cast<u8>(~kMetaMarked);
    }
    return;
  }
  // Objects that are never leaks are roots, and so are the loader's
  // (custom ones too: KFENCE's come from malloc).
  scan_for_each_object(push_roots, nullptr);
  for (uptr i = 0; i < g_s.custom.n; i++) {
    CustomRef& c = g_s.custom.p[i];
    if (c.marked) continue;
    const u8 f = c.obj->flags;
    if (f & kMetaNoLeak) {
      c.marked = true;
      if (!(f & kMetaNoScan)) push_object(c.ptr, c.ptr + c.size);
    } else if (!(f & kMetaNoScan) && allocated_by_loader(c.obj->stack)) {
      c.marked = true;
      push_object(c.ptr, c.ptr + c.size);
    }
  }
  mark_until_done();
  // What nothing reached.
  scan_for_each_object(collect, nullptr);
  for (uptr i = 0; i < g_s.custom.n && !g_s.incomplete; i++) {
    CustomRef& c = g_s.custom.p[i];
    CustomObject* o = c.obj;
    if (c.marked || (o->flags & (kMetaNoLeak | kMetaNoScan)) || o->min_count <= 0) continue;
    g_s.objects++;
    if ((o->flags & kMetaReported) || !g_s.report) continue;
    o->flags = static_cast<u8>(o->flags | kMetaReported);
    record_leak(o->ptr, o->size, o->tid, o->stack);
  }
  // Last: a thread read from its system call (it blocks the stop signal)
  // must not have run at any point of the scan, collection included: what
  // it allocated or moved meanwhile would look unreferenced. If it did,
  // nothing found is reported, and the marks set above are undone.
  int ran = 0;
  if (!g_s.incomplete && !stopped_threads_stayed_still(&ran)) {
    snprintf(g_s.why, sizeof(g_s.why), "thread %d, which blocks the stop signal, ran during it", ran);
    g_s.incomplete = g_s.why;
    g_s.raced = true;
    for (uptr i = 0; i < g_s.leaks.n; i++) unreport(g_s.leaks.p[i].obj);
    g_s.leaks.n = 0;
    g_s.new_objects = g_s.new_bytes = g_s.objects = 0;
  }
}

// ---- modules ---------------------------------------------------------------------------
int collect_module(dl_phdr_info* info, size_t, void*) {
  const bool loader = info->dlpi_name && strstr(info->dlpi_name, "/ld-linux");
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_TLS) g_s.static_tls += round_up(ph.p_memsz, ph.p_align > 16 ? ph.p_align : 16);
    if (ph.p_type != PT_LOAD) continue;
    const uptr lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (ph.p_flags & PF_W) g_s.segments.push(Range{lo, hi});
    if (loader && (ph.p_flags & PF_X)) {
      g_s.ldso_lo = lo;
      g_s.ldso_hi = hi;
    }
  }
  return 0;
}

int with_loader_lock(dl_phdr_info*, size_t, void*) {
  // dl_iterate_phdr's lock is recursive: the inner walk lists the modules.
  g_s.segments.n = 0;
  g_s.static_tls = g_s.ldso_lo = g_s.ldso_hi = 0;
  dl_iterate_phdr(collect_module, nullptr);
  const char* why = nullptr;
  g_s.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (!stop_the_world(scan_stopped, nullptr, &why)) g_s.incomplete = why ? why : "the threads cannot be stopped";
  if (g_s.pagemap >= 0) close(g_s.pagemap);
  g_s.pagemap = -1;
  return 1;
}

bool scratch_ready() {
  return g_s.segments.init(1 << 16) && g_s.maps.init(1 << 20) && g_s.work.init(uptr(1) << 24) &&
         g_s.custom.init(uptr(1) << 20) && g_s.leaks.init(uptr(1) << 20) && g_s.maps_text.init(uptr(64) << 20) &&
         g_s.marked.init(uptr(1) << 24);
}

void report_groups() {
  LeakRecord* r = g_s.leaks.p;
  const uptr n = g_s.leaks.n;
  std::sort(r, r + n, [](const LeakRecord& a, const LeakRecord& b) {
    return a.alloc_stack != b.alloc_stack ? a.alloc_stack < b.alloc_stack : a.obj < b.obj;
  });
  uptr groups = 0;
  for (uptr i = 0; i < n;) {  // the first record of each stack carries the group's totals
    uptr j = i + 1;
    while (j < n && r[j].alloc_stack == r[i].alloc_stack && r[i].alloc_stack != 0) {
      r[i].count++;
      r[i].total_bytes += r[j].size;
      j++;
    }
    r[groups++] = r[i];
    i = j;
  }
  std::sort(r, r + groups, [](const LeakRecord& a, const LeakRecord& b) {
    return a.total_bytes != b.total_bytes ? a.total_bytes > b.total_bytes : a.obj < b.obj;
  });
  uptr shown = 0;
  for (uptr i = 0; i < groups; i++) {
    if (report_leak(r[i])) {
      shown++;
    } else {  // suppressed: neither reported nor counted
      g_s.new_objects -= r[i].count;
      g_s.new_bytes -= r[i].total_bytes;
    }
  }
  if (g_s.new_objects) report_leak_summary(g_s.new_objects, g_s.new_bytes, shown);
}

}  // namespace

u64 leak_reported_total() { return g_reported_total.load(std::memory_order_relaxed); }

void leak_refresh_dangling() { leak_scan(false, /*refresh_only=*/true); }

// The caller's callee-saved registers are stored just below everything this
// scan treats as the calling thread's stack: a pointer the caller keeps only
// in a register is seen.
UKASAN_NOINLINE LeakScanResult leak_scan(bool report, bool refresh_only, uptr stack_from) {
  uptr regs[6];
  asm volatile(
      "mov %%rbx, 0(%0)\n\tmov %%rbp, 8(%0)\n\tmov %%r12, 16(%0)\n\t"
      "mov %%r13, 24(%0)\n\tmov %%r14, 32(%0)\n\tmov %%r15, 40(%0)"
      :
      : "r"(regs)
      : "memory");
  LeakScanResult res{};
  // Under valgrind (which checks leaks itself) threads are serialised by its
  // own scheduler and stopping them with signals never completes: no scan.
  if (running_under_valgrind()) {
    if (report) report_leak_scan_incomplete("running under valgrind, which checks leaks itself");
    return res;
  }
  bool expected = false;
  if (!g_scanning.compare_exchange_strong(expected, true, std::memory_order_acquire)) return res;
  if (!g_state) {
    void* m = map_anon(round_up(sizeof(ScanState), kPageSize));
    if (m) g_state = new (m) ScanState();
  }
  if (!g_state || !scratch_ready()) {
    g_scanning.store(false, std::memory_order_release);
    if (report) report_leak_scan_incomplete("out of memory");
    return res;
  }
  const u64 work_max = g_test_knobs.leak_work_max.load(std::memory_order_relaxed);
  if (work_max && work_max < g_s.work.cap) g_s.work.limit = work_max;
  g_s.report = report && !refresh_only;
  g_s.track_freed = options().quarantine_keep_referenced;
  g_s.refresh_only = refresh_only;
  g_s.marked_overflow = false;
  g_s.self_sp = reinterpret_cast<uptr>(regs);
  // A start above the scan's own frame (and on the same stack): the
  // callee-saved registers above are scanned on their own.
  g_s.stack_from = stack_from > g_s.self_sp && stack_from - g_s.self_sp < (64u << 20) ? stack_from : 0;
  g_s.ldso_lo = g_s.ldso_hi = g_s.static_tls = 0;
  g_s.overflow = false;
  g_s.new_objects = g_s.new_bytes = g_s.objects = 0;
  // A scan a signal-blocking thread raced with is tried again (the thread
  // usually sleeps again at once).
  for (int attempt = 0; attempt < 4; attempt++) {
    g_s.incomplete = nullptr;
    g_s.raced = false;
    g_s.new_objects = g_s.new_bytes = g_s.objects = 0;
    g_s.leaks.n = g_s.custom.n = g_s.work.n = g_s.marked.n = 0;
    g_s.overflow = g_s.marked_overflow = false;
    registry_lock();
    dl_iterate_phdr(with_loader_lock, nullptr);
    registry_unlock();
    if (!g_s.raced) break;
  }
  if (g_s.incomplete) {
    if (report) report_leak_scan_incomplete(g_s.incomplete);
  } else if (g_s.new_objects) {
    if (report) report_groups();  // takes the suppressed ones out of the counts
    g_reported_total.fetch_add(g_s.new_objects, std::memory_order_relaxed);
  }
  res.complete = !g_s.incomplete;
  res.new_objects = g_s.new_objects;
  res.new_bytes = g_s.new_bytes;
  res.objects = g_s.objects;
  g_s.segments.release();
  g_s.maps.release();
  g_s.work.release();
  g_s.custom.release();
  g_s.leaks.release();
  g_s.maps_text.release();
  g_s.marked.release();
  asm volatile("" : : "r"(regs) : "memory");  // regs live until here
  g_scanning.store(false, std::memory_order_release);
  return res;
}

}  // namespace ukasan
