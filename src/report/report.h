// KASAN reports in the kernel's format (mm/kasan/report.c, report_generic.c).
// Every report is printed under one report lock, unbuffered, to the report fd.
#pragma once
#include "platform/types.h"

namespace ukasan {

struct KmemCache;

// A bad access of [addr, addr+size) detected by a check or instrumentation.
// ip: the code address of the access (its return address into the caller).
void report_access(uptr addr, uptr size, bool is_write, uptr ip);
// Describes a non-heap bad address (stack frame, global variable) in
// report_access; installed by the instrumentation runtime (null: none).
using DescribeHook = void (*)(uptr bad_addr);
void set_describe_hook(DescribeHook hook);

enum class FreeError { kDoubleFree, kInvalidFree };
// why (may be null) adds one explanatory line after the header.
void report_free_error(uptr addr, uptr ip, FreeError kind, const char* why);

// Heap (src/heap): a block freed with a function that does not match the one
// that allocated it (malloc/free, new/delete, new[]/delete[], sized delete).
// allocated_with / freed_with name the two functions.
void report_alloc_dealloc_mismatch(uptr addr, uptr ip, const char* allocated_with, const char* freed_with);
// Heap (src/heap), no instrumentation: [bad, bad+size) of the object at obj
// was found overwritten by a check (redzone canary at free, free pattern at
// quarantine eviction). type: the KASAN bug type; detail: one line saying
// when and how it was detected.
void report_corruption(const char* type, uptr obj, uptr bad, uptr size, uptr ip, const char* detail);

// kmem_cache_destroy of a cache that still has objects (not a BUG: report,
// the kernel's pr_err + object list).
void report_destroy_leak(KmemCache* c, u64 live, uptr ip);
// kmem_cache_destroy of a destroyed or bogus cache pointer.
void report_bad_destroy(uptr cache_ptr, uptr ip, bool double_destroy);

// Whether a report is currently being printed by this thread.
bool in_report();
u64 report_count();
// Called at exit: exit status handling and print_stats.
void report_at_exit();
// Called after options are parsed (log_path).
void report_init();
void report_lock_for_fork();
void report_unlock_after_fork(bool child);

}  // namespace ukasan
