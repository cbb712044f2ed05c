/* CWE-761: free() of an int pointer advanced past a 4-element header
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static int *payload(int *block)
{
    return block + 4;
}

int main(void)
{
    int *block = malloc(20 * sizeof(int));
    if (!block)
        return 1;
    for (int i = 0; i < 20; i++)
        block[i] = i;
    int *body = payload(block);
    printf("%d\n", body[0]);
#ifdef BAD
    free(body);
#else
    free(block);
#endif
    return 0;
}
