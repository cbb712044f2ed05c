/* CWE-415: a 1 MiB block (mmap-backed in glibc) freed twice (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    size_t n = 1 << 20;
    unsigned char *big = malloc(n);
    if (!big)
        return 1;
    memset(big, 1, n);
    printf("%d\n", big[n - 1]);
    free(big);
#ifdef BAD
    free(big);
#endif
    return 0;
}
