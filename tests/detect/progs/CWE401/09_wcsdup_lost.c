/* CWE-401: a wide string copy from wcsdup is never freed (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static size_t title_length(const wchar_t *t)
{
    wchar_t *copy = wcsdup(t);
    if (!copy)
        return 0;
    size_t n = wcslen(copy);
#ifdef GOOD
    free(copy);
#endif
    return n;
}

__attribute__((noinline)) static int run_case(void)
{
    printf("%zu\n", title_length(L"a wide title"));
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
