/* CWE-401: a struct is freed but the buffer it owns is not (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct doc {
    size_t len;
    char *body;
};

__attribute__((noinline)) static struct doc *doc_new(const char *text)
{
    struct doc *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    d->len = strlen(text);
    d->body = malloc(d->len + 1);
    if (!d->body) {
        free(d);
        return NULL;
    }
    memcpy(d->body, text, d->len + 1);
    return d;
}

__attribute__((noinline)) static void doc_free(struct doc *d)
{
#ifdef GOOD
    free(d->body);
#endif
    free(d);
}

__attribute__((noinline)) static int run_case(void)
{
    struct doc *d = doc_new("a document body that lives on the heap");
    if (!d)
        return 1;
    printf("%zu\n", d->len);
    doc_free(d);
    return 0;
}

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
