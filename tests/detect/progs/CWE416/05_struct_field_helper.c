/* CWE-416: a freed struct's counter is incremented by a non-inlined helper
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct session {
    char user[24];
    int hits;
    int flags;
};

__attribute__((noinline)) static int touch(struct session *s)
{
    return ++s->hits;
}

int main(void)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s)
        return 1;
    touch(s);
#ifdef BAD
    free(s);
    printf("%d\n", touch(s));
#else
    printf("%d\n", touch(s));
    free(s);
#endif
    return 0;
}
