/* CWE-126: printf %s of a local char array that holds no terminator (BAD). */
#include <stdio.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

static const char *volatile code = "XYZ123";

__attribute__((noinline)) static void show(void)
{
#ifdef BAD
    char name[6];
#else
    char name[7];
    name[6] = '\0';
#endif
    memcpy(name, code, 6);
    printf("[%s]\n", name);
}

int main(void)
{
    show();
    return 0;
}
