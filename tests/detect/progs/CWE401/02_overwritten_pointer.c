/* CWE-401: the only pointer to a block is overwritten by a new allocation
 * (BAD: the first block is lost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static char *volatile current;

__attribute__((noinline)) static int run_case(void)
{
    current = malloc(48);
    if (!current)
        return 1;
    strcpy(current, "first version");
    puts(current);
#ifdef GOOD
    free(current);
#endif
    current = malloc(96);
    if (!current)
        return 1;
    strcpy(current, "second version");
    puts(current);
    free(current);
    current = NULL;
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
