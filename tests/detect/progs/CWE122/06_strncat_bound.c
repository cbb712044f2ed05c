/* CWE-122: strncat bounded by the source length instead of the room left in
 * the destination (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile suffix = "-and-a-rather-long-suffix";

int main(void)
{
    size_t cap = 16;
    char *s = malloc(cap);
    if (!s)
        return 1;
    strcpy(s, "prefix");
#ifdef BAD
    strncat(s, suffix, strlen(suffix));
#else
    strncat(s, suffix, cap - strlen(s) - 1);
#endif
    printf("%s\n", s);
    free(s);
    return 0;
}
