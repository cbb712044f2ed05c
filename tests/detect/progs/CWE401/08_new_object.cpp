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

#include "scrub_stack.h"

int main()
{
    int rc = run_case();
    scrub_stack();
    return rc;
}
