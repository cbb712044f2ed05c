/* CWE-590: a destroy function frees its struct argument; BAD calls it on a
 * struct that lives on the stack. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct pair {
    long a, b;
};

__attribute__((noinline)) static void pair_destroy(struct pair *p)
{
    printf("%ld\n", p->a + p->b);
    free(p);
}

int main(void)
{
#ifdef BAD
    struct pair local = {1, 2};
    struct pair *p = &local;
#else
    struct pair *p = malloc(sizeof(*p));
    if (!p)
        return 1;
    p->a = 1;
    p->b = 2;
#endif
    pair_destroy(p);
    return 0;
}
