/* CWE-122: a 64 KiB heap array (a large block for most allocators) written
 * one element past its end (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#define COUNT (16 * 1024)

#ifdef BAD
static volatile size_t past = COUNT;
#else
static volatile size_t past = COUNT - 1;
#endif

int main(void)
{
    int *big = malloc(COUNT * sizeof(int));
    if (!big)
        return 1;
    for (size_t i = 0; i < COUNT; i++)
        big[i] = (int)i;
    big[past] = -1;
    printf("%d %d\n", big[0], big[COUNT - 1]);
    free(big);
    return 0;
}
