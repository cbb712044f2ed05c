/* ASan's user interface under ukasan-cc: code written for ASan (it sees
 * __SANITIZE_ADDRESS__ / __has_feature(address_sanitizer)) links and its
 * annotations are checked. Prints CHECK lines the driver compares, and
 * makes two bad accesses it expects as reports: use-after-poison,
 * container-overflow; under fault=abort the death callback runs first. */
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__SANITIZE_ADDRESS__)
#if defined(__has_feature)
#if !__has_feature(address_sanitizer)
#error "built without address sanitizer semantics"
#endif
#endif
#endif

/* Newer than gcc 12's headers (LLVM 16's): declared as such a program would. */
void __sanitizer_annotate_double_ended_contiguous_container(const void *storage_beg, const void *storage_end,
                                                            const void *old_beg, const void *old_end,
                                                            const void *new_beg, const void *new_end);
int __sanitizer_verify_double_ended_contiguous_container(const void *storage_beg, const void *beg,
                                                         const void *end, const void *storage_end);

static volatile char sink;
static void on_death(void) { fputs("DEATH CALLBACK\n", stderr); }
static int reports_seen;
static void on_report(const char *text) { /* the report's text, after it is written */
  if (strstr(text, "BUG: KASAN: ")) reports_seen++;
}

__attribute__((noinline)) void touch_poisoned(char* p) { sink = p[3]; }
__attribute__((noinline)) void touch_container(char* p) { p[20] = 1; }

int main(void) {
  __sanitizer_set_death_callback(on_death); /* runs before fault=abort aborts */
  __asan_set_error_report_callback(on_report);
  setvbuf(stdout, NULL, _IONBF, 0);
  __sanitizer_print_stack_trace();
  char* buf = malloc(64);
  ASAN_POISON_MEMORY_REGION(buf + 16, 16);
  printf("CHECK poisoned %d %d %d\n", __asan_address_is_poisoned(buf + 15), __asan_address_is_poisoned(buf + 16),
         __asan_address_is_poisoned(buf + 31));
  printf("CHECK region %ld\n", (long)((char*)__asan_region_is_poisoned(buf, 64) - buf));
  touch_poisoned(buf + 16); /* use-after-poison */
  ASAN_UNPOISON_MEMORY_REGION(buf + 16, 16);
  printf("CHECK unpoisoned %d %p\n", __asan_address_is_poisoned(buf + 20), __asan_region_is_poisoned(buf, 64));
  /* A vector of 8 elements in a 64-byte buffer: size 16 of 64 used. */
  __sanitizer_annotate_contiguous_container(buf, buf + 64, buf + 64, buf + 16);
  printf("CHECK container %d %d\n", __sanitizer_verify_contiguous_container(buf, buf + 16, buf + 64),
         __asan_address_is_poisoned(buf + 16));
  touch_container(buf); /* container-overflow */
  __sanitizer_annotate_contiguous_container(buf, buf + 64, buf + 16, buf + 64);
  /* A deque's storage: elements [24, 40) of 64 bytes. */
  __sanitizer_annotate_double_ended_contiguous_container(buf, buf + 64, buf, buf + 64, buf + 24, buf + 40);
  printf("CHECK deque %d %d %d %d %d\n", __sanitizer_verify_double_ended_contiguous_container(buf, buf + 24, buf + 40, buf + 64),
         __asan_address_is_poisoned(buf + 8), __asan_address_is_poisoned(buf + 24), __asan_address_is_poisoned(buf + 39),
         __asan_address_is_poisoned(buf + 40));
  __sanitizer_annotate_double_ended_contiguous_container(buf, buf + 64, buf + 24, buf + 40, buf, buf + 64);
  printf("CHECK callback %d\n", reports_seen);
  printf("CHECK end\n");
  free(buf);
  return 0;
}
