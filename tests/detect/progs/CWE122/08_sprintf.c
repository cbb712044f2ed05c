/* CWE-122: sprintf into a 12-byte heap buffer with output that needs more
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static const char *volatile kind = "component";
#else
static const char *volatile kind = "item";
#endif

int main(void)
{
    char *name = malloc(12);
    if (!name)
        return 1;
    sprintf(name, "%s-%04d", kind, 42);
    printf("%s\n", name);
    free(name);
    return 0;
}
