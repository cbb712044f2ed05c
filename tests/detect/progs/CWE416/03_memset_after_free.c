/* CWE-416: memset clears a buffer that was already freed (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static volatile size_t size = 64;

int main(void)
{
    size_t n = size;
    char *key = malloc(n);
    if (!key)
        return 1;
    memset(key, 'K', n);
    printf("%c\n", key[n - 1]);
#ifdef BAD
    free(key);
    memset(key, 0, n);   /* "wipe the secret" after it was freed */
#else
    memset(key, 0, n);
    free(key);
#endif
    return 0;
}
