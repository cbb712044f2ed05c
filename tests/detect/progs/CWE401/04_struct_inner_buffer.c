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

/* A conservative leak scan (LeakSanitizer, kmemleak) takes any word on the
 * stack for a possible pointer. The case runs in run_case(); main() then
 * overwrites the stack below its own frame, so that whether a stale copy of
 * the lost pointer, left behind by the calls that have returned, keeps the
 * block "referenced" does not depend on the stack layout of the run. The
 * scrub is not instrumented: redzones in its frame would stay unwritten. */
__attribute__((noinline, no_sanitize_address)) static void scrub_stack(void)
{
    volatile char pad[32768];
    for (unsigned i = 0; i < sizeof(pad); i++)
        pad[i] = 0;
}

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
