/* CWE-126: wcslen of a local wchar_t array filled by wmemset without a
 * terminator (BAD). */
#include <stdio.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static size_t measure(void)
{
    wchar_t w[8];
#ifdef BAD
    wmemset(w, L'w', 8);
#else
    wmemset(w, L'w', 7);
    w[7] = L'\0';
#endif
    return wcslen(w);
}

int main(void)
{
    printf("%d\n", measure() >= 7);
    return 0;
}
