// KASAN reports in the kernel's format. Everything here is a slow path; it
// must never crash the runtime: metadata is validated before it is trusted.
#include "report/report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>

#include "platform/lock.h"
#include "platform/options.h"
#include "platform/platform.h"
#include "platform/print.h"
#include "shadow/shadow.h"
#include "slab/slab.h"
#include "stackdepot/stackdepot.h"
#include "symbolize/symbolizer.h"

namespace ukasan {

uptr large_size(const Span* s);

static Lock g_report_lock;
static std::atomic<u64> g_reports{0};
static UKASAN_TLS bool t_in_report;

bool in_report() { return t_in_report; }
u64 report_count() { return g_reports.load(std::memory_order_relaxed); }

void report_init() {
  const char* path = options().log_path;
  static int log_fd = -1;  // the fd we opened for log_path, if any
  if (path && *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      set_report_fd(fd);
      if (log_fd >= 0) close(log_fd);
      log_fd = fd;
    } else {
      raw_puts(2, "ukasan: cannot open log_path; reporting to stderr\n");
    }
  }
  symbolizer_disable(!options().symbolize);
}

void report_lock_for_fork() { g_report_lock.lock(); }
void report_unlock_after_fork(bool child) {
  if (child)
    g_report_lock.reset();
  else
    g_report_lock.unlock();
}

// ---- report session: lock, one-shot, fault=abort -----------------------------

class ReportScope {
 public:
  // counts: whether this is a KASAN bug (counted, subject to multi_shot).
  explicit ReportScope(bool counts) {
    if (t_in_report) {  // a fault inside our own report: never recurse
      raw_puts(report_fd(), "ukasan: nested report suppressed\n");
      return;
    }
    if (counts) {
      u64 n = g_reports.fetch_add(1, std::memory_order_relaxed);
      if (n > 0 && !options().multi_shot) return;  // only the first report is printed
    }
    active_ = true;
    counts_ = counts;
    t_in_report = true;
    g_report_lock.lock();
  }
  ~ReportScope() {
    if (!active_) return;
    g_report_lock.unlock();
    t_in_report = false;
    if (counts_ && options().fault == kFaultAbort) {
      raw_puts(report_fd(), "ukasan: fault=abort: aborting after the report\n");
      abort();
    }
  }
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool counts_ = false;
};

static const char kRule[] = "==================================================================\n";

static void print_task_line_suffix() {
  char comm[32];
  current_comm(comm, sizeof(comm));
  report_printf(" by task %s/%d\n", comm, current_tid());
}

static void print_stack_handle(depot_handle_t h) {
  const uptr* pcs;
  unsigned n = depot_fetch(h, &pcs);
  if (!n) {
    report_printf(" (stack is not available)\n");
    return;
  }
  print_stack_trace(pcs, n);
}

static void print_current_stack(uptr ip) {
  uptr pcs[64];
  unsigned n = capture_stack_from(ip, pcs, 64);
  report_printf("Call Trace:\n");
  print_stack_trace(pcs, n);
}

static void print_header(const char* type, uptr ip, const char* fn_override) {
  char fn[256];
  if (fn_override) {
    snprintf(fn, sizeof(fn), "%s", fn_override);
  } else {
    function_name_for_pc(ip ? ip - 1 : 0, fn, sizeof(fn));
    if (!fn[0]) snprintf(fn, sizeof(fn), "0x%lx", static_cast<unsigned long>(ip));
  }
  report_printf("%s", kRule);
  report_printf("BUG: KASAN: %s in %s\n", type, fn);
}

// ---- bug types (the kernel's report_generic.c mapping) -------------------------

static const char* bug_type_for_shadow(u8 v) {
  switch (v) {
    case kShadowSlabRedzone:
    case kShadowPageRedzone:
      return "slab-out-of-bounds";
    case kShadowSlabFree:
    case kShadowSlabFreeTrack:
      return "slab-use-after-free";
    case kShadowPageFree:
      return "use-after-free";
    case kShadowGlobalRedzone:
      return "global-out-of-bounds";
    case kShadowStackLeft:
    case kShadowStackMid:
    case kShadowStackRight:
    case kShadowStackUseAfterScope:
      return "stack-out-of-bounds";
    case kShadowStackAfterReturn:
      return "stack-use-after-return";
    case kShadowAllocaLeft:
    case kShadowAllocaRight:
      return "alloca-out-of-bounds";
    default:
      return "out-of-bounds";
  }
}

static const char* bug_type_at(uptr bad) {
  u8 v = *mem_to_shadow(bad);
  // A partially accessible granule: the reason is in the next shadow byte.
  if (v > 0 && v < kGranule) v = *mem_to_shadow(bad + kGranule);
  return bug_type_for_shadow(v);
}

// ---- object description ---------------------------------------------------------

// obj_hint: the object to describe when addr lies outside its slot (a
// write before the start of an object lands in the previous slot).
static void describe_object(uptr addr, uptr obj_hint = 0) {
  Span* s = page_allocator().span_of(addr);
  if (!s || s->kind == kSpanFree) return;
  uptr obj, region;
  const char* cache_name;
  u32 cache_size;
  AllocMeta* am;
  FreeMeta* fm;
  if (s->kind == kSpanSlab) {
    KmemCache* c = s->cache;
    obj = obj_hint ? obj_hint : slab_object_of(s, addr);
    am = alloc_meta(c, obj);
    fm = free_meta(c, obj);
    cache_name = c->name;
    cache_size = c->object_size;
    region = 0;
  } else {
    obj = s->user;
    am = &s->large_alloc;
    fm = &s->large_free;
    cache_name = "kmalloc-large";
    cache_size = 0;
    region = large_size(s);
  }
  if (am->check != meta_check(obj)) {
    report_printf("The object's metadata is corrupted (a write past its end?)\n\n");
    return;
  }
  u8 st = am->state.load(std::memory_order_acquire);
  bool allocated = st == kObjAllocated;
  bool freed = st == kObjQuarantined || (st == kObjFree && fm->free_tid != 0);
  if (allocated || freed) {
    report_printf("Allocated by task %u:\n", am->alloc_tid);
    print_stack_handle(am->alloc_stack);
    report_printf("\n");
  }
  if (freed) {
    report_printf("Freed by task %u:\n", fm->free_tid);
    print_stack_handle(fm->free_stack);
    report_printf("\n");
  }
  if (s->kind == kSpanSlab) region = allocated ? am->requested : cache_size;
  if (s->kind == kSpanSlab)
    report_printf("The buggy address belongs to the object at %016lx\n which belongs to the cache %s of size %u\n",
                  static_cast<unsigned long>(obj), cache_name, cache_size);
  else
    report_printf("The buggy address belongs to the object at %016lx\n which belongs to the cache %s of size %lu\n",
                  static_cast<unsigned long>(obj), cache_name, static_cast<unsigned long>(region));
  const char* rel;
  uptr rel_bytes;
  if (addr < obj) {
    rel = "to the left of";
    rel_bytes = obj - addr;
  } else if (addr >= obj + region) {
    rel = "to the right of";
    rel_bytes = addr - (obj + region);
  } else {
    rel = "inside of";
    rel_bytes = addr - obj;
  }
  report_printf("The buggy address is located %lu bytes %s\n %s%lu-byte region [%016lx, %016lx)\n\n",
                static_cast<unsigned long>(rel_bytes), rel, allocated ? "allocated " : (freed ? "freed " : ""),
                static_cast<unsigned long>(region), static_cast<unsigned long>(obj),
                static_cast<unsigned long>(obj + region));
}

// 5 rows of 16 shadow bytes (128 bytes of memory each) around the bad
// address, the row holding it marked with '>' and the byte with '^'.
static void print_memory_state(uptr bad) {
  constexpr uptr kRowBytes = 16 * kGranule;
  uptr row0 = round_down(bad, kRowBytes) - 2 * kRowBytes;
  for (uptr r = 0; r < 5; r++) {
    uptr row = row0 + r * kRowBytes;
    if (!addr_has_shadow(row) || !addr_has_shadow(row + kRowBytes - 1)) continue;
    char line[128];
    int n = snprintf(line, sizeof(line), "%c%016lx:", row == round_down(bad, kRowBytes) ? '>' : ' ',
                     static_cast<unsigned long>(row));
    const u8* sh = mem_to_shadow(row);
    for (int i = 0; i < 16; i++) n += snprintf(line + n, sizeof(line) - n, " %02x", sh[i]);
    report_printf("%s\n", line);
    if (row == round_down(bad, kRowBytes)) {
      uptr col = 3 + 16 + (bad - row) / kGranule * 3 + 1;  // 1-based column of the byte's first digit
      char caret[80];
      uptr i = 0;
      for (; i + 1 < col && i < sizeof(caret) - 2; i++) caret[i] = ' ';
      caret[i++] = '^';
      caret[i] = 0;
      report_printf("%s\n", caret);
    }
  }
}

static void print_footer() { report_printf("%s", kRule); }

// ---- entry points -----------------------------------------------------------------

static DescribeHook g_describe_hook;
void set_describe_hook(DescribeHook hook) { g_describe_hook = hook; }

void report_access(uptr addr, uptr size, bool is_write, uptr ip) {
  ReportScope scope(true);
  if (!scope.active()) return;
  const char* type;
  uptr bad = addr;
  bool has_meta = false;
  const RangeClass where = classify_range(addr, size ? size : 1);
  if (where == kRangeNull) {
    type = "null-ptr-deref";
  } else if (where == kRangeWild) {
    type = "wild-memory-access";
  } else {
    uptr fb = find_first_bad(addr, size ? size : 1);
    if (fb) bad = fb;
    type = bug_type_at(bad);
    has_meta = true;
  }
  print_header(type, ip, nullptr);
  report_printf("%s of size %lu at addr %016lx", is_write ? "Write" : "Read", static_cast<unsigned long>(size),
                static_cast<unsigned long>(addr));
  print_task_line_suffix();
  report_printf("\n");
  print_current_stack(ip);
  report_printf("\n");
  if (has_meta) {
    describe_object(addr);
    if (g_describe_hook && !page_allocator().contains(addr)) g_describe_hook(bad);
    report_printf("Memory state around the buggy address:\n");
    print_memory_state(bad);
  }
  print_footer();
}

void report_free_error(uptr addr, uptr ip, FreeError kind, const char* why) {
  ReportScope scope(true);
  if (!scope.active()) return;
  print_header(kind == FreeError::kDoubleFree ? "double-free" : "invalid-free", ip, nullptr);
  report_printf("Free of addr %016lx", static_cast<unsigned long>(addr));
  print_task_line_suffix();
  report_printf("\n");
  print_current_stack(ip);
  report_printf("\n");
  if (why) report_printf("%s\n\n", why);
  if (page_allocator().contains(addr) && addr_has_shadow(addr)) {
    describe_object(addr);
    report_printf("Memory state around the buggy address:\n");
    print_memory_state(addr);
  }
  print_footer();
}

void report_alloc_dealloc_mismatch(uptr addr, uptr ip, const char* allocated_with, const char* freed_with) {
  ReportScope scope(true);
  if (!scope.active()) return;
  print_header("alloc-dealloc-mismatch", ip, nullptr);
  report_printf("Free of addr %016lx", static_cast<unsigned long>(addr));
  print_task_line_suffix();
  report_printf("\n");
  print_current_stack(ip);
  report_printf("\nThe object was allocated with %s and is being freed with %s.\n\n", allocated_with, freed_with);
  if (page_allocator().contains(addr) && addr_has_shadow(addr)) {
    describe_object(addr);
    report_printf("Memory state around the buggy address:\n");
    print_memory_state(addr);
  }
  print_footer();
}

void report_corruption(const char* type, uptr obj, uptr bad, uptr size, uptr ip, const char* detail) {
  ReportScope scope(true);
  if (!scope.active()) return;
  print_header(type, ip, nullptr);
  report_printf("Write of size %lu at addr %016lx", static_cast<unsigned long>(size), static_cast<unsigned long>(bad));
  print_task_line_suffix();
  report_printf("\n");
  if (detail) report_printf("%s\n\n", detail);
  print_current_stack(ip);
  report_printf("\n");
  if (page_allocator().contains(bad) && addr_has_shadow(bad)) {
    describe_object(bad, obj);
    report_printf("Memory state around the buggy address:\n");
    print_memory_state(bad);
  }
  print_footer();
}

void report_bad_destroy(uptr cache_ptr, uptr ip, bool double_destroy) {
  ReportScope scope(true);
  if (!scope.active()) return;
  print_header(double_destroy ? "double-free" : "invalid-free", ip, "kmem_cache_destroy");
  report_printf("Free of addr %016lx", static_cast<unsigned long>(cache_ptr));
  print_task_line_suffix();
  report_printf("\n");
  print_current_stack(ip);
  report_printf("\n%s\n", double_destroy ? "The kmem_cache was already destroyed."
                                         : "The pointer is not a kmem_cache created by kmem_cache_create.");
  print_footer();
}

void report_destroy_leak(KmemCache* c, u64 live, uptr ip) {
  ReportScope scope(false);
  if (!scope.active()) return;
  char fn[256];
  function_name_for_pc(ip ? ip - 1 : 0, fn, sizeof(fn));
  report_printf("kmem_cache_destroy %s: Slab cache still has objects when called from %s\n", c->name,
                fn[0] ? fn : "?");
  report_printf("Objects remaining in %s on kmem_cache_destroy(): %lu\n", c->name, static_cast<unsigned long>(live));
  unsigned shown = 0;
  for (Span* s = c->slabs; s && shown < 4; s = s->slab_next) {
    for (u32 i = 0; i < s->nobjs && shown < 4; i++) {
      uptr o = s->start + c->lead + static_cast<uptr>(i) * c->slot_size;
      AllocMeta* am = alloc_meta(c, o);
      if (am->state.load(std::memory_order_relaxed) != kObjAllocated) continue;
      report_printf("Object 0x%016lx @offset=%lu allocated by task %u:\n", static_cast<unsigned long>(o),
                    static_cast<unsigned long>(o - s->start), am->alloc_tid);
      print_stack_handle(am->alloc_stack);
      shown++;
    }
  }
  report_printf("The cache's memory is kept: its objects stay valid.\n");
}

void report_at_exit() {
  if (options().print_stats) {
    SlabQuarantine::Stats q = quarantine().stats();
    DepotStats d = depot_stats();
    char buf[768];
    int n = snprintf(buf, sizeof(buf),
                     "ukasan: stats: quarantine %lu bytes now, peak %lu, bound %lu, batches %lu; evicted %lu bytes "
                     "in %lu objects over %lu steps (max step %lu bytes, %lu objects); transfers %lu; reports %lu; "
                     "stack depot %lu stacks, %lu bytes\n",
                     (unsigned long)q.bytes, (unsigned long)q.peak_bytes, (unsigned long)quarantine().max_bytes(),
                     (unsigned long)q.batches, (unsigned long)q.evicted_bytes, (unsigned long)q.evicted_objects,
                     (unsigned long)q.evictions, (unsigned long)q.max_evict_bytes,
                     (unsigned long)q.max_evict_objects, (unsigned long)q.transfers, (unsigned long)report_count(),
                     (unsigned long)d.unique_stacks, (unsigned long)d.bytes_used);
    write_all(2, buf, n > 0 ? static_cast<uptr>(n) : 0);
  }
  if (report_count() > 0 && options().fault == kFaultReport && options().exitcode != 0) {
    fflush(nullptr);  // _exit skips stdio: do not lose the program's buffered output
    _exit(options().exitcode);
  }
}

}  // namespace ukasan
