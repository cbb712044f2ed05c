/* Linked into executables by the ukasan wrappers: maps the shadow before any
 * constructor of any library runs (an instrumented constructor of a library
 * initialised before libukasan.so would otherwise read unmapped shadow). */
void __ukasan_preinit(int argc, char **argv, char **envp);
__attribute__((section(".preinit_array"), used)) static void (*const ukasan_preinit_entry)(int, char **, char **) =
    __ukasan_preinit;
