/* CWE-401 memory leak: the caller uses the buffer a helper returns and
 * drops the last pointer to it (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static char *make_label(int n)
{
    char *s = malloc(32);
    if (s)
        snprintf(s, 32, "label-%d", n);
    return s;
}

__attribute__((noinline)) static void show(int n)
{
    char *s = make_label(n);
    if (!s)
        return;
    printf("%s\n", s);
#ifdef GOOD
    free(s);
#endif
}

__attribute__((noinline)) static int run_case(void)
{
    show(1);
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
