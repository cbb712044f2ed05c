/* CWE-590: a name that may come from strdup or be a literal default is
 * always freed; BAD takes the literal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile configured = NULL;

int main(void)
{
    char *name;
    if (configured)
        name = strdup(configured);
    else
#ifdef BAD
        name = (char *)"anonymous";
#else
        name = strdup("anonymous");
#endif
    if (!name)
        return 1;
    printf("%s\n", name);
    free(name);
    return 0;
}
