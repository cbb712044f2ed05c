/* CWE-122: malloc(10) where ten ints were meant (BAD: the size is in
 * elements, not bytes); the loop then writes 40 bytes. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
#ifdef BAD
    int *data = malloc(10);
#else
    int *data = malloc(10 * sizeof(int));
#endif
    if (!data)
        return 1;
    for (int i = 0; i < 10; i++)
        data[i] = i * i;
    printf("%d\n", data[9]);
    free(data);
    return 0;
}
