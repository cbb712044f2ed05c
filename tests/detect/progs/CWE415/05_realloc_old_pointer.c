/* CWE-415: after realloc the old pointer is freed as well (BAD): it was
 * either freed by realloc already or equals the new one. */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

int main(void)
{
    int *p = malloc(4 * sizeof(int));
    if (!p)
        return 1;
    for (int i = 0; i < 4; i++)
        p[i] = i;
    int *q = realloc(p, 1024 * sizeof(int));
    if (!q) {
        free(p);
        return 1;
    }
    q[1023] = 5;
    printf("%d %d\n", q[3], q[1023]);
    free(q);
#ifdef BAD
    free(p);
#endif
    return 0;
}
