/* CWE-761: the result of wcschr, a pointer into the middle of a heap wide
 * string, is freed (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    wchar_t *s = malloc(32 * sizeof(wchar_t));
    if (!s)
        return 1;
    wcscpy(s, L"path/to/file");
    wchar_t *slash = wcschr(s, L'/');
    if (!slash) {
        free(s);
        return 1;
    }
    printf("%ls\n", slash);
#ifdef BAD
    free(slash);
#else
    free(s);
#endif
    return 0;
}
