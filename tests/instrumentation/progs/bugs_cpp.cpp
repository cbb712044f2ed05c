// C++: heap (new/delete), stack and globals under instrumentation; a bad
// access in an instrumented shared library.
#include <cstdio>
#include <cstring>
#include <string>
#include <ukasan/slab.h>

#define NI __attribute__((noinline))
extern "C" void lib_global_oob(int i);
volatile long sink;
volatile int idx = 10;
struct Obj { long a[4]; };
int cpp_global[6];

NI void cpp_new_oob() { Obj *o = new Obj[2]; sink = reinterpret_cast<long *>(o)[idx - 2]; delete[] o; }
static Obj *launder(Obj *p) { __asm__ volatile("" : "+r"(p)); return p; }
NI void cpp_new_uaf() { Obj *o = new Obj; delete launder(o); sink = o->a[1]; }
NI void cpp_stack_oob() { std::string s = "x"; volatile int arr[5] = {}; sink = arr[idx - 5] + (long)s.size(); }
NI void cpp_global_oob() { sink = cpp_global[idx - 4]; }
NI void cpp_kmalloc_oob() { char *p = static_cast<char *>(kmalloc(30, GFP_KERNEL)); p[idx + 20] = 0; kfree(p); }

int main(int argc, char **argv) {
  for (int a = 1; a < argc; a++) {
    std::string w = argv[a];
    if (w == "new-oob") cpp_new_oob();
    else if (w == "new-uaf") cpp_new_uaf();
    else if (w == "stack-oob") cpp_stack_oob();
    else if (w == "global-oob") cpp_global_oob();
    else if (w == "kmalloc-oob") cpp_kmalloc_oob();
    else if (w == "lib-global-oob") lib_global_oob(idx);
    std::printf("MARKER %s continued\n", argv[a]);
    std::fflush(stdout);
  }
  return 0;
}
