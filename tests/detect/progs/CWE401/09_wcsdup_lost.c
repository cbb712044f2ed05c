/* CWE-401: a wide string copy from wcsdup is never freed (BAD). */
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

__attribute__((noinline)) static size_t title_length(const wchar_t *t)
{
    wchar_t *copy = wcsdup(t);
    if (!copy)
        return 0;
    size_t n = wcslen(copy);
#ifdef GOOD
    free(copy);
#endif
    return n;
}

__attribute__((noinline)) static int run_case(void)
{
    printf("%zu\n", title_length(L"a wide title"));
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
