// KASAN reports in the kernel's format (mm/kasan/report.c, report_generic.c).
// Every report is printed under one report lock, unbuffered, to the report fd.
//
// The report layer sits below the allocator: it knows shadow memory, stacks
// and symbols, not slabs. What a report says about a heap object comes from
// the object describer the slab layer installs (report_set_object_describer),
// what it says about a stack frame or a global from the instrumentation's
// describer (report_set_describe_hook). Each entry point below fills a
// ReportInfo and hands it to the one printer, print_report().
#pragma once
#include "platform/types.h"
#include "stackdepot/stackdepot.h"

namespace ukasan {

// ---- what the slab layer tells a report about a heap object ---------------------
struct ObjectInfo {
  bool in_heap;         // the address is in the allocator's arena (its shadow is printed)
  bool found;           // an object (slab object or large block) was found there
  bool meta_corrupt;    // its metadata fails its integrity check: nothing else is trusted
  bool large;           // a page-backed block (kmalloc-large)
  bool allocated, freed;
  uptr obj;             // the object's start
  uptr region;          // the bytes "the buggy address is located ... of" refers to
  u32 cache_size;       // the cache's object size (0 for large blocks)
  uptr slab_start;      // the first byte of its slab (or its large block's pages)
  u32 slab_objects;     // objects the slab holds (1 for a large block)
  const char* cache_name;
  u32 alloc_tid, free_tid;
  depot_handle_t alloc_stack, free_stack;
  depot_handle_t aux_stack[2];  // latest "potentially related work creation" stacks (0: none)
};
// Fills *out for addr; obj_hint (0: none) names the object when addr lies
// outside its slot (a write just before an object lands in the previous slot).
using ObjectDescriber = void (*)(uptr addr, uptr obj_hint, ObjectInfo* out);
void report_set_object_describer(ObjectDescriber fn);

// Describes a non-heap bad address (stack frame, global variable) in
// report_access; installed by the instrumentation runtime (null: none).
using DescribeHook = void (*)(uptr bad_addr);
void report_set_describe_hook(DescribeHook hook);

// ---- the report skeleton (the kernel's struct kasan_report_info) ----------------
struct ReportInfo {
  const char* bug_type;     // "slab-use-after-free", "double-free", ...
  const char* function;     // the header's function; null: the symbol at ip
  const char* op;           // "Read", "Write" or "Free" (the access line)
  uptr addr;                // the access line's address
  uptr size;                // its size (printed when op is not "Free")
  uptr ip;                  // the return address into the reporting frame's caller
  const char* detail;       // a line printed before the call trace (may be null)
  const char* why;          // lines printed after the call trace (may be null)
  depot_handle_t why_stack; // a stack printed after them (0: none)
  bool describe;            // describe the object at describe_addr, print the shadow around bad_addr
  bool describe_stack;      // ... and, outside the heap, the stack frame or global at bad_addr
  uptr describe_addr;
  uptr bad_addr;            // the first bad byte
  uptr obj_hint;            // see ObjectDescriber
  bool counts;              // a KASAN bug: counted, subject to multi_shot and fault=abort
};
void print_report(const ReportInfo& info);

// ---- entry points ---------------------------------------------------------------
// A bad access of [addr, addr+size) detected by a check or instrumentation.
// ip: the code address of the access (its return address into the caller).
void report_access(uptr addr, uptr size, bool is_write, uptr ip);

enum class FreeError { kDoubleFree, kInvalidFree };
// why (may be null) adds one explanatory line after the header.
void report_free_error(uptr addr, uptr ip, FreeError kind, const char* why);

// Heap (src/heap): a block freed with a function that does not match the one
// that allocated it (malloc/free, new/delete, new[]/delete[], sized delete).
// allocated_with / freed_with name the two functions.
void report_alloc_dealloc_mismatch(uptr addr, uptr ip, const char* allocated_with, const char* freed_with);
// Heap (src/heap), no instrumentation: bytes that hold a known pattern (a
// redzone canary, checked at free; the free pattern, checked when the
// object leaves the quarantine) were found changed. The access itself was
// not seen, so this is SLUB debug's report (check_bytes_and_report()):
// "BUG <cache> (Not tainted): <what> overwritten", the changed bytes, the
// object's tracks and bytes, then the stack that found it, labelled so.
struct Corruption {
  const char* what;    // "Right Redzone overwritten", "Left Redzone overwritten", "Poison overwritten"
                       // (a string constant: the report tallies keep it)
  const char* kasan_type;  // the KASAN type of the same bug, for suppressions ("slab-out-of-bounds")
  uptr obj;            // the object
  uptr obj_size;       // its requested size
  uptr first, last;    // the first and last changed byte (addresses)
  u8 expected;         // the pattern byte
  uptr redzone_end;    // the end of the right redzone's checked bytes
  const char* found;   // how it was found ("when the object left the quarantine"), or null: ...
  const char* at;      // ... at this call ("free()", "realloc()")
  uptr ip;             // a return address into the finding code's caller (0: none)
};
void report_corruption(const Corruption& c);

// kmem_cache_destroy of a cache that still has objects (not a BUG: the
// kernel's pr_err + object list). objs: up to n of the live objects.
struct LeakedObject {
  uptr obj;
  uptr offset;  // from the start of its slab
  u32 alloc_tid;
  depot_handle_t alloc_stack;
};
void report_destroy_leak(const char* cache_name, u64 live, const LeakedObject* objs, unsigned n, uptr ip);
// kmemleak (src/kmemleak): an unreferenced object, printed as the kernel's
// print_unreferenced() does, one per allocation stack: count objects with
// this stack, total_bytes in all; the first one's address, size, bytes.
struct LeakRecord {
  uptr obj;
  uptr size;
  u32 alloc_tid;
  depot_handle_t alloc_stack;
  u32 count;
  u64 total_bytes;
  u8 head[32];  // its first min(size, 32) bytes, copied while the world was stopped
};
// False when a "leak:" suppression matches its allocation stack (nothing
// printed; the caller does not count it).
bool report_leak(const LeakRecord& r);
// After the leaks of one scan: kmemleak's "N new suspected memory leaks".
void report_leak_summary(u64 objects, u64 bytes, u64 stacks);
// A scan that could not see every root reports nothing; this says why.
void report_leak_scan_incomplete(const char* why);

// A use of a destroyed kmem_cache (alloc, free, shrink, destroy, ...): the
// kernel's slab-use-after-free on the cache descriptor. api: the function
// used; the cache's name and object size, and who destroyed it.
struct DestroyedCache {
  const char* name;
  u32 object_size;
  u32 destroy_tid;
  depot_handle_t destroy_stack;
};
void report_cache_use_after_destroy(uptr cache_ptr, uptr size, const char* api, const DestroyedCache& c, uptr ip);
// A pointer the allocator never returned, passed to an API that needs one of
// its objects or caches (ksize, krealloc, kfree_sensitive, kmem_cache_*):
// api names the call ("ksize()" prints "ksize() of addr ..."); frees: whether
// the call frees the pointer (invalid-free) or only uses it (invalid-access);
// why: the line that says what the pointer is not; function: the header's
// function (null: the caller's).
void report_bad_pointer(uptr addr, uptr ip, const char* api, bool frees, const char* why,
                        const char* function = nullptr);
// KFENCE (src/heap/kfence.cpp), in the kernel's mm/kfence/report.c format:
// a fault on a guard page (out-of-bounds) or a freed object's page
// (use-after-free) of the sampled pool, an access to a pool page no object
// was ever given (invalid), a free of a pool address that is not a live
// object's start (invalid free), or a damaged canary in an object's page
// found at its free (memory corruption).
struct KfenceObject {
  int index;  // kfence-#N
  uptr addr, size;
  const char* cache;  // the allocating API
  bool freed;
  u32 alloc_tid, free_tid;
  int alloc_cpu, free_cpu;
  u64 alloc_ns, free_ns;  // CLOCK_MONOTONIC (the kernel's: since boot)
  depot_handle_t alloc_stack, free_stack;
};
enum class KfenceError { kOutOfBounds, kUseAfterFree, kInvalid, kInvalidFree, kCorruption };
struct KfenceReport {
  KfenceError error;
  bool is_write;
  uptr addr;                // the access, the freed pointer, or the first damaged byte
  uptr ip;                  // a return address (the faulting pc + 1 for faults)
  const KfenceObject* obj;  // null: none (kInvalid)
  uptr distance;            // out-of-bounds: bytes from the object
  bool left;                // out-of-bounds: before the object
  u8 bytes[16];             // corruption: the bytes from addr ...
  u8 intact[16];            // ... and whether each is the canary (printed as '.')
  unsigned nbytes;
};
void report_kfence(const KfenceReport& r);
// Not a KASAN bug: a warning line with the caller's stack (the kernel's
// pr_warn + dump_stack), e.g. kmem_cache_create's failures.
void report_warning(const char* line, uptr ip);
// What a report says about addr (its object, or its frame/global, and the
// shadow around it), without a bug (__asan_describe_address).
void report_describe_address(uptr addr);
// The caller's stack, "Call Trace:" and its frames (__sanitizer_print_stack_trace).
void report_stack_trace(uptr ip);
// Called before fault=abort aborts (__sanitizer_set_death_callback).
void report_set_death_callback(void (*cb)());

// ---- state ------------------------------------------------------------------------
// Whether a report is currently being printed by this thread (inline: every
// intercepted libc call asks).
extern UKASAN_TLS bool t_in_report;
UKASAN_ALWAYS_INLINE bool in_report() { return t_in_report; }
u64 report_count();
// At exit: "SUMMARY: KASAN: N reports: 3 slab-out-of-bounds, 1 ..." (nothing
// if there were none), with how many repeats were not printed.
void report_summary();
// Called after options are parsed or changed (log_path, symbolize).
void report_init();
// fork(): the report lock is taken before and released (reset in the child) after.
void report_fork_prepare();
void report_fork_parent();
void report_fork_child(bool locks_taken);  // locks_taken: reset the locks prepare took

}  // namespace ukasan
