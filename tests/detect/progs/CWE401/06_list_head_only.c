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

#include "scrub_stack.h"

int main(void)
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
