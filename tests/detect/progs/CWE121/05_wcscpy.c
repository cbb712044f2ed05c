/* CWE-121: wcscpy of a 10-wide-character string into wchar_t[10] (BAD, the
 * terminator does not fit). */
#include <stdio.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static const wchar_t *volatile text = L"0123456789";
#else
static const wchar_t *volatile text = L"012345678";
#endif

int main(void)
{
    wchar_t dst[10];
    wcscpy(dst, text);
    printf("%zu %ls\n", wcslen(dst), dst);
    return 0;
}
