/* ukasan runtime controls and explicit checks (the kernel's kasan-checks.h). C and C++. */
#ifndef UKASAN_UKASAN_H
#define UKASAN_UKASAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Check that [p, p+size) may be read/written; print a KASAN report if not.
 * Return true if the access is valid. */
bool kasan_check_read(const volatile void *p, unsigned int size);
bool kasan_check_write(const volatile void *p, unsigned int size);

/* Records the caller's stack as the latest "potentially related work
 * creation" of the slab object containing p (see <ukasan/kslab.h>). */
void kasan_record_aux_stack(void *p);
void kasan_record_aux_stack_noalloc(void *p);

struct ukasan_stats {
  uint64_t quarantine_bytes;      /* bytes in the global FIFO now */
  uint64_t quarantine_peak_bytes;
  uint64_t quarantine_max_bytes;  /* the bound */
  uint64_t quarantine_batches;
  uint64_t evicted_bytes;
  uint64_t evicted_objects;
  uint64_t evictions;             /* eviction steps (one batch each) */
  uint64_t max_evict_bytes;       /* largest single eviction step */
  uint64_t max_evict_objects;
  uint64_t transfers;             /* per-CPU queue -> global FIFO moves */
  uint64_t reports;               /* reports detected (printed or not) */
  uint64_t stack_depot_stacks;
  uint64_t stack_depot_bytes;
  uint64_t kept_objects;          /* quarantine_keep_referenced: objects the second quarantine took */
};

/* Parse options in UKASAN_OPTIONS syntax ("a=1:b=2") on top of the current
 * ones. Returns the number of malformed entries (each named on stderr). */
int ukasan_set_options(const char *opts);
void ukasan_get_stats(struct ukasan_stats *out);
/* Really free everything in the quarantine (every thread's queue too). */
void ukasan_quarantine_drain(void);
/* Verifies the free pattern of every heap object still in the quarantine
 * (done at exit too; UKASAN_OPTIONS=check_quarantine_at_exit=0 turns that
 * off): a write after free is reported as it would be at eviction, once.
 * Returns the number of objects reported. */
unsigned ukasan_check_quarantine(void);
/* kmemleak: scans for unreferenced heap objects now (with every other
 * thread stopped) and reports the ones no scan reported before, in the
 * kernel's "unreferenced object" format. Returns how many it reported.
 * Done at exit too (UKASAN_OPTIONS=detect_leaks=0 turns that off). */
unsigned long ukasan_leak_scan(void);
/* The runtime's version, "MAJOR.MINOR". */
const char *ukasan_version(void);
/* A program may define this to set its own option defaults (parsed before
 * UKASAN_OPTIONS, which overrides them), as ASan's __asan_default_options.
 * Seen when the program links the runtime (ukasan-cc, -lukasan). */
const char *__ukasan_default_options(void);
/* Reports go to this fd from now on (default 2, or log_path). */
void ukasan_set_report_fd(int fd);
uint64_t ukasan_report_count(void);

#ifdef __cplusplus
}
#endif
#endif /* UKASAN_UKASAN_H */
