/* An instrumented shared library with its own globals. */
int lib_table[10];
volatile long lib_sink;
__attribute__((noinline)) void lib_global_oob(int i) { lib_sink = lib_table[i]; }
