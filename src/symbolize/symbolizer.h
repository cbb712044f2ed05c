// Symbolization, used only when reporting (never on a fast path).
// Uses llvm-symbolizer (preferred) or addr2line as a subprocess; without
// either prints module+offset. Spec owner: symbolize helper.
#pragma once
#include "platform/types.h"

namespace ukasan {

struct SymbolizedFrame {
  char function[256];  // demangled function name, "" if unknown
  char file[256];      // source file, "" if unknown
  int line;            // 0 if unknown
  char module[256];    // path of the module containing pc, "" if unknown
  uptr module_offset;  // pc - module load base
};

// pc is a code address inside the instruction of interest (for return
// addresses the caller passes pc - 1). Returns false if nothing is known.
bool symbolize_pc(uptr pc, SymbolizedFrame* out);

// Prints a stack trace to the report fd, one frame per line, in the shape
// of the kernel's symbolized reports (decode_stacktrace.sh): inlined
// callees " func file:line [inline]", then " func+0xoff/0xsize file:line";
// func a plain identifier (a C++ name sanitized, the demangled one after the
// line in parentheses); " func+0xoff/0xsize [module+0xoff]" without line
// info, " 0xPC [module+0xoff]" without a name.
// pcs are return addresses (as from capture_stack). With an indent, each
// line is kmemleak's backtrace line instead: indent "[<pc>]" then the same.
void print_stack_trace(const uptr* pcs, unsigned n, const char* indent = nullptr);

// One line of a symbolized stack, as print_stack_trace prints it: the
// frames of one return address pc, inlined callees (inlined) first. Strings
// are "" when unknown (module "" when pc is in no module). Valid during the
// visit only.
struct StackLine {
  uptr pc;               // the return address
  const char* title;     // "token+0xoff/0xsize" (outer frame) or "token" (inlined); "" if no name
  const char* ident;     // the plain identifier token
  const char* function;  // the symbolizer's (demangled) name
  const char* file;
  int line;
  bool inlined;
  bool symbolized;  // false: the symbolizer was busy (a nested report), module+offset only
  const char* module;
  uptr module_offset;  // of pc
};
using FrameVisitor = void (*)(const StackLine& line, void* ctx);
// Calls visit for every line print_stack_trace would print, in order.
void walk_stack(const uptr* pcs, unsigned n, FrameVisitor visit, void* ctx);

// Function name (the innermost inlined one) at code address pc. Writes ""
// if unknown.
void function_name_for_pc(uptr pc, char* buf, uptr len);
// The report header's function ("BUG: KASAN: ... in <title>"), as the
// kernel prints it: "func+0xoff/0xsize" for the function the return address
// ret_pc is in (the outermost of an inline chain; a plain identifier token,
// see print_stack_trace; 0x0/0x0 when no symbol table knows it). "" if
// unknown.
void function_title_for_pc(uptr ret_pc, char* buf, uptr len);

// Turn symbolization off (e.g. stacktrace=0 or tests); then module+offset only.
void symbolizer_disable(bool disabled);

// Stops the symbolizer subprocess(es) and forgets the chosen tool and the
// failure count; the next query looks up UKASAN_SYMBOLIZER_PATH / PATH again.
void symbolizer_restart();

// fork(): the symbolizer's lock is taken before and released (reset in the
// child) after, so a child never inherits it held. Taken after the report
// lock (a report holds that lock while it symbolizes).
void symbolizer_fork_prepare();
void symbolizer_fork_parent();
void symbolizer_fork_child();
}  // namespace ukasan
