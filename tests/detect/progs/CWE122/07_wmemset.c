/* CWE-122: wmemset fills one wide character more than the heap buffer holds
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t fill = 9;
#else
static volatile size_t fill = 8;
#endif

int main(void)
{
    wchar_t *w = malloc(8 * sizeof(wchar_t));
    if (!w)
        return 1;
    size_t n = fill;
    wmemset(w, L'x', n);
    printf("%d %d\n", (int)w[0], (int)w[7]);
    free(w);
    return 0;
}
