/* CWE-401: only the head of a linked list is freed; the rest of the nodes
 * are lost (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct node {
    struct node *next;
    long value;
};

__attribute__((noinline)) static int run_case(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 6; i++) {
        struct node *n = malloc(sizeof(*n));
        if (!n)
            return 1;
        n->value = i;
        n->next = head;
        head = n;
    }
    long sum = 0;
    for (struct node *n = head; n; n = n->next)
        sum += n->value;
    printf("%ld\n", sum);
#ifdef BAD
    free(head);
#else
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
#endif
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
