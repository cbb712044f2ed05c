/* CWE-761: free(p + 1) after skipping a leading marker byte (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    char *p = malloc(32);
    if (!p)
        return 1;
    strcpy(p, "#comment");
    char *body = p + 1;
    printf("%s\n", body);
#ifdef BAD
    free(body);
#else
    free(p);
#endif
    return 0;
}
