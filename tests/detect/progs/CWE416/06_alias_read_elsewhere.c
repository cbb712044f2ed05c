/* CWE-416: a cached alias of a freed object is read in another function
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct point {
    long x, y;
};

static struct point *cached;

__attribute__((noinline)) static long cached_x(void)
{
    return cached->x;
}

int main(void)
{
    struct point *p = malloc(sizeof(*p));
    if (!p)
        return 1;
    p->x = 12;
    p->y = 34;
    cached = p;
#ifdef BAD
    free(p);
    printf("%ld\n", cached_x());
#else
    printf("%ld\n", cached_x());
    free(p);
    cached = NULL;
#endif
    return 0;
}
