/* CWE-121: a single store one past a local array whose contents are never
 * read again. The compiler may delete the whole array and the store with it,
 * so the flaw may not exist in the binary (Juliet has such cases). */
#include <stdio.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

#ifdef BAD
static volatile int where = 10;
#else
static volatile int where = 9;
#endif

int main(void)
{
    char flags[10];
    flags[where] = 'A';
    puts("done");
    return 0;
}
