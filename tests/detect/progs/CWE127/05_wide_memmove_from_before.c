/* CWE-127: memmove out of a local wchar_t array from a pointer 8 elements
 * before it (BAD). */
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int shift = -8;
#else
static volatile int shift = 0;
#endif

__attribute__((noinline)) static long wide_sum(void)
{
    wchar_t buf[40];
    wmemset(buf, L'W', 40);
    wchar_t out[40];
    memmove(out, buf + shift, 20 * sizeof(wchar_t));
    long sum = 0;
    for (int i = 8; i < 20; i++)
        sum += out[i];
    return sum;
}

int main(void)
{
    printf("%ld\n", wide_sum());
    return 0;
}
