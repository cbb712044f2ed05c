/* CWE-590: free() of a function-static wchar_t buffer (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static wchar_t *make_title(void)
{
#ifdef BAD
    static wchar_t title[32];
#else
    wchar_t *title = malloc(32 * sizeof(wchar_t));
    if (!title)
        return NULL;
#endif
    wcscpy(title, L"wide title");
    return title;
}

int main(void)
{
    wchar_t *t = make_title();
    if (!t)
        return 1;
    printf("%ls\n", t);
    free(t);
    return 0;
}
