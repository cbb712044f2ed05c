/* CWE-122: wcscat appends to a heap wide string that has no room left for
 * the second half plus terminator (BAD: 10 elements for 11). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const wchar_t *volatile tail = L"fghij";

int main(void)
{
#ifdef BAD
    size_t cap = 10;
#else
    size_t cap = 11;
#endif
    wchar_t *w = malloc(cap * sizeof(wchar_t));
    if (!w)
        return 1;
    wcscpy(w, L"abcde");
    wcscat(w, tail);
    printf("%ls\n", w);
    free(w);
    return 0;
}
