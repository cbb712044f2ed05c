// Thin OS layer: raw memory mapping, thread ids, output. Nothing here allocates
// from the C heap, so every function is usable from inside malloc/free.
#pragma once
#include "platform/arch.h"
#include "platform/types.h"

namespace ukasan {

// Reserve/commit anonymous memory. Return nullptr on failure (never abort).
void* map_anon(uptr size, bool noreserve = false);
// The same, MAP_SHARED (and MAP_NORESERVE): a child made by fork() shares
// the pages with its parent instead of getting copy-on-write copies, so
// neither pays a page fault per page it writes after the fork.
void* map_anon_shared(uptr size);
// Map exactly at addr without replacing anything already there; nullptr on failure.
void* map_fixed_noreplace(uptr addr, uptr size, bool accessible);
void unmap(void* p, uptr size);
void release_pages(void* p, uptr size);  // give the pages back to the OS, keep the range
// Faults the pages of [p, p + size) in with one call (MADV_POPULATE_WRITE,
// Linux 5.14) for memory about to be written whole; a no-op where the
// kernel lacks it. errno is left as it was.
void populate_pages(void* p, uptr size);
// The same for memory about to be read only (MADV_POPULATE_READ): an
// untouched page maps the shared zero page where the kernel has one.
void populate_pages_read(void* p, uptr size);
// mincore: vec[i] bit 0 set when page i of [p, p + npages pages) is resident
// (present, or in the swap cache). False when the kernel refuses.
bool pages_resident(void* p, uptr npages, u8* vec);

int current_tid();
// The calling thread's stack [*lo, *top) (0, 0 if unknown). Main thread:
// glibc's entry stack end rounded up to the page, minus RLIMIT_STACK (capped
// at 1 GiB); other threads: pthread_getattr_np, which may call malloc.
void query_thread_stack(uptr* lo, uptr* top);
void platform_after_fork_child();  // the forking thread has a new tid in the child
// Copies the current thread's name (like the kernel's current->comm) into buf.
void current_comm(char* buf, uptr len);

// Raw, unbuffered writes. write_all retries short writes / EINTR; false if
// the bytes could not all be written (errno is left as it was).
bool write_all(int fd, const char* s, uptr n);

// A setuid/setgid/file-capability process (AT_SECURE): its environment comes
// from a less privileged user, so nothing in it may make the runtime open or
// execute a file.
bool process_is_secure();
// No thread but the caller's was ever created (glibc's
// __libc_single_threaded: it stays false once a thread was created).
bool process_single_threaded();
// For pthread_atfork handlers: whether this fork's prepare handler took its
// locks. A process with one thread (process_single_threaded) skips them, as
// glibc's fork skips its own malloc and stdio locks: no other thread can hold
// one, so the child inherits them free, and the parent's unlocks and the
// child's resets, writes to pages the fork has just made copy-on-write,
// would cost a page fault and a page copy each in both processes (26 per
// fork + exec measured). The decision is taken in the prepare handler
// (fork_locks_decide) and read by the parent and child handlers of the same
// fork (same thread; glibc serialises forks of a multithreaded process).
bool fork_locks_decide();
bool fork_locks_taken();
// The dynamic loader's executable segment [*lo, *hi), from its ELF headers in
// memory (AT_BASE); false when unknown (a static program, or ld.so run as
// the program itself).
bool loader_text(uptr* lo, uptr* hi);
// The process runs under valgrind (its preload objects are in LD_PRELOAD).
bool running_under_valgrind();
// ... with a tool that replaces malloc and checks the heap itself (memcheck,
// helgrind, drd, massif, dhat); not callgrind, cachegrind or lackey.
bool valgrind_replaces_malloc();

// The address-space limit (RLIMIT_AS, `ulimit -v`) in bytes; 0: unlimited.
u64 address_space_limit();
void raw_puts(int fd, const char* s);
// The hexadecimal number at p (after blanks and an optional "0x"), lower
// case, as /proc writes them; p is left after its last digit.
uptr parse_hex(const char*& p);

[[noreturn]] void die(const char* msg);

}  // namespace ukasan
