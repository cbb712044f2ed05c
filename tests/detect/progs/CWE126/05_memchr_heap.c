/* CWE-126: memchr searches 32 bytes of a 16-byte heap buffer for a byte that
 * is not there (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile size_t span = 32;
#else
static volatile size_t span = 16;
#endif

int main(void)
{
    unsigned char *p = malloc(16);
    if (!p)
        return 1;
    memset(p, 'a', 16);
    const void *hit = memchr(p, 'z', span);
    printf("%s\n", hit ? "found" : "absent");
    free(p);
    return 0;
}
