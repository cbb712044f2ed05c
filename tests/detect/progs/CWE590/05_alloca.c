/* CWE-590: free() of a block that came from alloca() (BAD). */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static volatile size_t want = 64;

int main(void)
{
#ifdef BAD
    char *tmp = alloca(want);
#else
    char *tmp = malloc(want);
    if (!tmp)
        return 1;
#endif
    memset(tmp, 'a', want - 1);
    tmp[want - 1] = '\0';
    printf("%zu\n", strlen(tmp));
    free(tmp);
    return 0;
}
