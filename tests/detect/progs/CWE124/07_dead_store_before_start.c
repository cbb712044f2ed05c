/* CWE-124: one byte written just before a heap buffer that is freed right
 * after; the compiler may delete the store (Juliet has such cases). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int where = -1;
#else
static volatile int where = 0;
#endif

int main(void)
{
    char *p = malloc(32);
    if (!p)
        return 1;
    p[where] = 0;
    free(p);
    puts("done");
    return 0;
}
