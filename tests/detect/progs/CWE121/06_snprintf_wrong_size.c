/* CWE-121: snprintf is given a size larger than the local buffer (BAD), so
 * the formatted text runs past it. */
#include <stdio.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile sensor = "outside-temperature";

__attribute__((noinline)) static void show(int value)
{
    char line[12];
#ifdef BAD
    size_t limit = 64;
#else
    size_t limit = sizeof(line);
#endif
    snprintf(line, limit, "%s:%d", sensor, value);
    printf("[%s]\n", line);
}

int main(void)
{
    show(21);
    return 0;
}
