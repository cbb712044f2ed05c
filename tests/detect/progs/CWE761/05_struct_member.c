/* CWE-761: free() of the address of a member that is not the first in a
 * heap struct (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct msg {
    long seq;
    char text[24];
};

__attribute__((noinline)) static void release_text(char *text, struct msg *m)
{
#ifdef BAD
    (void)m;
    free(text);
#else
    (void)text;
    free(m);
#endif
}

int main(void)
{
    struct msg *m = malloc(sizeof(*m));
    if (!m)
        return 1;
    m->seq = 1;
    strcpy(m->text, "hello");
    printf("%ld %s\n", m->seq, m->text);
    release_text(m->text, m);
    return 0;
}
