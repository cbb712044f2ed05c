// CWE-590 (C++): delete of an object that lives on the stack (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

struct Counter {
    int n = 0;
};

__attribute__((noinline)) static void finish(Counter *c)
{
    std::printf("%d\n", c->n);
    delete c;
}

int main()
{
#ifdef BAD
    Counter local;
    local.n = 5;
    finish(&local);
#else
    Counter *c = new Counter;
    c->n = 5;
    finish(c);
#endif
    return 0;
}
