/* Shared by the CWE-401 programs. A conservative leak scan (LeakSanitizer,
 * kmemleak) takes any word on the stack for a possible pointer. Each case
 * runs in run_case(); main() then calls scrub_stack() to overwrite the stack
 * below its own frame, so that whether a stale copy of the lost pointer, left
 * behind by the calls that have returned, keeps the block "referenced" does
 * not depend on the stack layout of the run. The scrub is not instrumented:
 * redzones in its frame would stay unwritten. */
#ifndef DETECT_SCRUB_STACK_H
#define DETECT_SCRUB_STACK_H
__attribute__((noinline, no_sanitize_address)) static void scrub_stack(void)
{
    volatile char pad[32768];
    for (unsigned i = 0; i < sizeof(pad); i++)
        pad[i] = 0;
}
#endif
