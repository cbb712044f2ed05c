/* CWE-122: one byte written past a heap buffer that is freed right after and
 * never read; the compiler may delete the store (Juliet has such cases). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int where = 10;
#else
static volatile int where = 9;
#endif

int main(void)
{
    char *p = malloc(10);
    if (!p)
        return 1;
    p[where] = 'x';
    free(p);
    puts("done");
    return 0;
}
