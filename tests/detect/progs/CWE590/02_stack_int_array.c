/* CWE-590: free() of a pointer into a local int array (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    int *data;
#ifdef BAD
    int local[10];
    data = local;
#else
    data = malloc(10 * sizeof(int));
    if (!data)
        return 1;
#endif
    for (int i = 0; i < 10; i++)
        data[i] = i;
    printf("%d\n", data[9]);
    free(data);
    return 0;
}
