/* CWE-126: memcmp of 16 bytes where the second buffer is an 8-byte heap
 * block (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t len = 16;
#else
static volatile size_t len = 8;
#endif

int main(void)
{
    char *a = malloc(16);
    char *b = malloc(8);
    if (!a || !b)
        return 1;
    memset(a, 'k', 16);
    memset(b, 'k', 8);
    int r = memcmp(a, b, len);
    printf("%d\n", r == 0);
    free(a);
    free(b);
    return 0;
}
