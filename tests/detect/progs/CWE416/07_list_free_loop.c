/* CWE-416: freeing a linked list reads node->next after freeing the node
 * (BAD). */
#include <stdio.h>
#include <stdlib.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct node {
    struct node *next;
    int value;
};

int main(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 5; i++) {
        struct node *n = malloc(sizeof(*n));
        if (!n)
            return 1;
        n->value = i;
        n->next = head;
        head = n;
    }
    int sum = 0;
    for (struct node *n = head; n; n = n->next)
        sum += n->value;
    printf("%d\n", sum);
#ifdef BAD
    for (struct node *n = head; n; n = n->next)
        free(n);
#else
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
#endif
    return 0;
}
