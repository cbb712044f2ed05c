/* CWE-401: a strdup'ed temporary is printed and dropped (BAD). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static char *upper_copy(const char *s)
{
    char *c = strdup(s);
    if (c)
        for (char *p = c; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    return c;
}

__attribute__((noinline)) static void shout(const char *s)
{
    char *u = upper_copy(s);
    printf("%s\n", u ? u : "(null)");
#ifdef GOOD
    free(u);
#endif
}

__attribute__((noinline)) static int run_case(void)
{
    shout("quiet words");
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
