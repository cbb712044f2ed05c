/* CWE-416 use after free: a heap int array is read after it was freed
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    int *v = malloc(16 * sizeof(int));
    if (!v)
        return 1;
    for (int i = 0; i < 16; i++)
        v[i] = i;
#ifdef BAD
    free(v);
    printf("%d\n", v[10]);
#else
    printf("%d\n", v[10]);
    free(v);
#endif
    return 0;
}
