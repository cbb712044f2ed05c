/* CWE-415 double free: the same heap pointer is freed twice (BAD). */
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
    strcpy(p, "twice");
    printf("%s\n", p);
    free(p);
#ifdef BAD
    free(p);
#endif
    return 0;
}
