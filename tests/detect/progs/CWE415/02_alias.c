/* CWE-415: a second pointer to the same block is freed after the first
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct holder {
    int *data;
};

int main(void)
{
    int *p = malloc(8 * sizeof(int));
    if (!p)
        return 1;
    for (int i = 0; i < 8; i++)
        p[i] = i;
    struct holder h = {p};
    printf("%d\n", h.data[7]);
    free(p);
#ifdef BAD
    free(h.data);
#else
    h.data = NULL;
    free(h.data);
#endif
    return 0;
}
