/* CWE-127: a global array read at index -1 (BAD). Globals usually get only a
 * right redzone, so whether the byte before is poisoned depends on what the
 * linker put there. */
#include <stdio.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int header[4] = {9, 9, 9, 9};
int levels[8] = {10, 20, 30, 40, 50, 60, 70, 80};

#ifdef BAD
static volatile int slot = -1;
#else
static volatile int slot = 0;
#endif

int main(void)
{
    printf("%d %d\n", levels[slot], header[0]);
    return 0;
}
