/* CWE-416: an element pointer taken before realloc is used after the block
 * moved (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    int *v = malloc(4 * sizeof(int));
    if (!v)
        return 1;
    for (int i = 0; i < 4; i++)
        v[i] = i + 1;
    int *first = &v[0];
    int *w = realloc(v, 4096 * sizeof(int));
    if (!w) {
        free(v);
        return 1;
    }
#ifdef GOOD
    first = &w[0];
#endif
    printf("%d\n", *first);
    free(w);
    return 0;
}
