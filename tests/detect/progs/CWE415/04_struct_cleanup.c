/* CWE-415: an owned member is freed early, then the cleanup function frees
 * it again with the struct (BAD: the member was not reset to NULL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct conn {
    int fd;
    char *name;
};

__attribute__((noinline)) static void conn_destroy(struct conn *c)
{
    free(c->name);
    free(c);
}

int main(void)
{
    struct conn *c = malloc(sizeof(*c));
    if (!c)
        return 1;
    c->fd = 3;
    c->name = malloc(16);
    if (!c->name)
        return 1;
    strcpy(c->name, "peer");
    printf("%d %s\n", c->fd, c->name);
    free(c->name);   /* renaming: the old name goes */
#ifdef GOOD
    c->name = NULL;
#endif
    conn_destroy(c);
    return 0;
}
