/* kmemleak's annotations (the kernel's <linux/kmemleak.h>) for code that
 * runs on ukasan, C and C++. The heap's and the slab API's objects are
 * tracked without them; they tell the scan what it cannot know. */
#ifndef UKASAN_KMEMLEAK_H
#define UKASAN_KMEMLEAK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The object starting at ptr is not a leak, whether referenced or not; it
 * is still scanned (what it points to is referenced). */
void kmemleak_not_leak(const void *ptr);
/* The object starting at ptr is neither scanned nor reported. */
void kmemleak_ignore(const void *ptr);
/* An object of an allocator ukasan does not know, [ptr, ptr + size):
 * tracked, scanned and reported like a heap object from now on.
 * min_count: 1 reported when unreferenced, 0 never reported (scanned),
 * -1 neither scanned nor reported. gfp is accepted and ignored. */
void kmemleak_alloc(const void *ptr, size_t size, int min_count, unsigned int gfp);
/* The end of an object registered with kmemleak_alloc. */
void kmemleak_free(const void *ptr);

/* LeakSanitizer's interface, as <sanitizer/lsan_interface.h> declares it
 * (programs written for LSan build and run unchanged):
 * __lsan_ignore_object: the object holding p (any byte of it) is not a
 * leak; __lsan_disable/__lsan_enable: this thread's allocations in between
 * are not leaks (they nest); root regions are scanned like globals;
 * __lsan_do_leak_check: the end-of-process check now (a process that leaked
 * then exits with `exitcode`), once; __lsan_do_recoverable_leak_check:
 * a scan now, nonzero if unreferenced objects exist. */
void __lsan_ignore_object(const void *p);
void __lsan_register_root_region(const void *p, size_t size);
void __lsan_unregister_root_region(const void *p, size_t size);
void __lsan_disable(void);
void __lsan_enable(void);
void __lsan_do_leak_check(void);
int __lsan_do_recoverable_leak_check(void);

#ifdef __cplusplus
}
#endif
#endif /* UKASAN_KMEMLEAK_H */
