// Built without debug information (-g0) into libsymbolizer_nodebug.so, as a
// distribution ships its libraries: symbolizer_test's module whose frames
// are answered from the symbol table, without a symbolizer process.
extern "C" __attribute__((noinline)) int symbolizer_nodebug_c_function(int x) {
  __asm__ volatile("" ::: "memory");
  return x * 5 + 2;
}

namespace symbolizer_nodebug {
__attribute__((noinline)) int cxx_function(int x) {
  __asm__ volatile("" ::: "memory");
  return x * 7 + 3;
}
}  // namespace symbolizer_nodebug
