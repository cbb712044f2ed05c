// CWE-416 (C++): a member function called on an object after delete reads a
// member of the freed object (BAD).
#include <cstdio>

#if defined(BAD) == defined(GOOD)
#error "build with exactly one of -DBAD or -DGOOD"
#endif

class Account {
public:
    explicit Account(long b) : balance_(b) {}
    __attribute__((noinline)) long balance() const { return balance_; }
private:
    long pad_[3] = {0, 0, 0};
    long balance_;
};

int main()
{
    Account *a = new Account(250);
#ifdef BAD
    delete a;
    std::printf("%ld\n", a->balance());
#else
    std::printf("%ld\n", a->balance());
    delete a;
#endif
    return 0;
}
