/* CWE-416: a store into a freed block that nothing reads afterwards; the
 * compiler may delete it (Juliet has such cases). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    long *p = malloc(8 * sizeof(long));
    if (!p)
        return 1;
    p[4] = 1;
    printf("%ld\n", p[4]);
#ifdef BAD
    free(p);
    p[4] = 2;
#else
    p[4] = 2;
    free(p);
#endif
    return 0;
}
