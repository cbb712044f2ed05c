// report_format=json: each report as one line holding one JSON object, for
// CI tools (the text format, which kernel tooling parses, stays the
// default). Called by report.cpp inside its ReportScope (under the report
// lock, output gathered and written at once); the text parts a report
// cannot structure (a stack frame's or global's description, the shadow
// dump) come in as strings.
//
// Every object has "kind": "report" (a KASAN or KFENCE bug: "tool", "type",
// "title" as syzkaller titles the kernel's, "access", "size", "address",
// "task", "call_trace", "object" with "allocated"/"freed" stacks and
// "aux_stacks" (kasan_record_aux_stack's, latest first)), "leak"
// (kmemleak), "leak_summary", "summary", "warning", "cache_destroy_leak",
// "describe_address", "stack_trace", "notice". A stack is an array of
// frames: "pc", "symbol" (func+0xoff/0xsize), "function" (as demangled),
// "file", "line", "inline", "module", "module_offset".
#pragma once
#include "platform/types.h"
#include "report/report.h"

namespace ukasan {

// Writes one JSON object on one line through report_write: members are
// added in order; strings are escaped.
class JsonLine {
 public:
  explicit JsonLine(const char* kind);
  ~JsonLine();  // closes every open object/array, then the line
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;

  void str(const char* key, const char* v);  // v null: the member is left out
  void num(const char* key, u64 v);
  void hex(const char* key, uptr v);  // "0x..." (addresses, as text: JSON numbers lose 64-bit precision)
  void flag(const char* key, bool v);
  void begin_object(const char* key);  // key null: an array element
  void end_object();
  void begin_array(const char* key);
  void end_array();
  // A stack (pcs as from capture_stack, or a depot handle; 0 or an empty
  // one: an empty array) as the array `key`.
  void stack(const char* key, const uptr* pcs, unsigned n);
  void stack(const char* key, depot_handle_t h);
  // "task": {"comm", "pid", "tid", "cpu"} of the calling thread.
  void current_task();

 private:
  void member(const char* key);
  void open(const char* key, char opener, char closer);
  void quoted(const char* s);
  static constexpr int kMaxDepth = 8;
  bool first_[kMaxDepth];
  char close_[kMaxDepth];
  int depth_ = 0;
};

// The object part of a KASAN report (ObjectInfo) as "object": {...}.
void json_object_info(JsonLine& j, uptr addr, const ObjectInfo& o);

}  // namespace ukasan
