/* CWE-401: an error path returns without freeing the buffer allocated
 * before the check (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile input = "bad-input";

__attribute__((noinline)) static int parse(const char *text)
{
    char *work = malloc(128);
    if (!work)
        return -1;
    strncpy(work, text, 127);
    work[127] = '\0';
    if (strncmp(work, "bad", 3) == 0) {
#ifdef GOOD
        free(work);
#endif
        return -1;
    }
    int n = (int)strlen(work);
    free(work);
    return n;
}

__attribute__((noinline)) static int run_case(void)
{
    printf("%d\n", parse(input));
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
