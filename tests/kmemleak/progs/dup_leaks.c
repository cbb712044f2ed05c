/* Leaks one copy from each allocating string function the runtime
 * implements itself (strdup, strndup, glibc's __strdup and __strndup,
 * wcsdup), each from a function of its own, with a unique size: 11, 16, 28,
 * 33 and 40 bytes. Built without frame pointers, as distribution binaries
 * are, the first backtrace frame of each report must still be that function,
 * not libc's copy routine (tests/kmemleak/kmemleak.sh). */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

char* __strdup(const char* s);
char* __strndup(const char* s, size_t n);

static void* volatile sink;
/* Read through a volatile pointer: no constant for the compiler to fold. */
static const char g_text[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const wchar_t g_wide[] = L"abcdefghi";
static const char* volatile text = g_text;
static const wchar_t* volatile wide = g_wide;

#define NOINLINE __attribute__((noinline))
NOINLINE void leak_strdup(void) { sink = strdup(text + 26); sink = 0; }
NOINLINE void leak_strndup(void) { sink = strndup(text, 15); sink = 0; }
NOINLINE void leak___strdup(void) { sink = __strdup(text + 9); sink = 0; }
NOINLINE void leak___strndup(void) { sink = __strndup(text, 32); sink = 0; }
NOINLINE void leak_wcsdup(void) { sink = wcsdup(wide); sink = 0; }

int main(void) {
  leak_strdup();
  leak_strndup();
  leak___strdup();
  leak___strndup();
  leak_wcsdup();
  return 0;
}
