// KASAN reports in the kernel's format (mm/kasan/report.c, report_generic.c).
// Every report is printed under one report lock, unbuffered, to the report fd.
#pragma once
#include "platform/types.h"

namespace ukasan {

struct KmemCache;

// A bad access of [addr, addr+size) detected by a check or instrumentation.
// ip: the code address of the access (its return address into the caller).
void report_access(uptr addr, uptr size, bool is_write, uptr ip);

enum class FreeError { kDoubleFree, kInvalidFree };
// why (may be null) adds one explanatory line after the header.
void report_free_error(uptr addr, uptr ip, FreeError kind, const char* why);

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
