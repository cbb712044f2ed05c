// CWE-401 (C++): objects from new are never deleted (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct Task {
    int id;
    double cost[6];
};

__attribute__((noinline)) static double run(int id)
{
    Task *t = new Task();
    t->id = id;
    for (int i = 0; i < 6; i++)
        t->cost[i] = id + i;
    double c = t->cost[5];
#ifdef GOOD
    delete t;
#endif
    return c;
}

__attribute__((noinline)) static int run_case()
{
    double sum = 0;
    for (int i = 0; i < 3; i++)
        sum += run(i);
    std::printf("%.1f\n", sum);
    return 0;
}

// A conservative leak scan (LeakSanitizer, kmemleak) takes any word on the
// stack for a possible pointer. The case runs in run_case(); main() then
// overwrites the stack below its own frame, so that whether a stale copy of
// the lost pointer, left behind by the calls that have returned, keeps the
// block "referenced" does not depend on the stack layout of the run.
// The scrub is not instrumented: redzones in its frame would stay unwritten.
__attribute__((noinline, no_sanitize_address)) static void scrub_stack(void)
{
    volatile char pad[32768];
    for (unsigned i = 0; i < sizeof(pad); i++)
        pad[i] = 0;
}

int main()
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
