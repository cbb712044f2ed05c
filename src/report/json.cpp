// report_format=json: the writer and the parts every JSON report shares.
#include "report/json.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/print.h"
#include "stackdepot/stackdepot.h"
#include "symbolize/symbolizer.h"

namespace ukasan {

JsonLine::JsonLine(const char* kind) {
  report_write("{", 1);
  first_[0] = true;
  close_[0] = '}';
  depth_ = 1;
  str("kind", kind);
}

JsonLine::~JsonLine() {
  while (depth_ > 0) {
    const char c = close_[--depth_];
    report_write(&c, 1);
  }
  report_write("\n", 1);
}

void JsonLine::member(const char* key) {
  if (depth_ == 0) return;
  if (!first_[depth_ - 1]) report_write(",", 1);
  first_[depth_ - 1] = false;
  if (key) {
    quoted(key);
    report_write(":", 1);
  }
}

// s as a JSON string: quotes, backslashes and control characters escaped;
// a byte that does not start a valid UTF-8 sequence becomes U+FFFD (a
// file name or a program's comm need not be UTF-8; the line must be).
void JsonLine::quoted(const char* s) {
  char buf[512];
  uptr n = 0;
  buf[n++] = '"';
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p;) {
    if (n > sizeof(buf) - 16) {
      report_write(buf, n);
      n = 0;
    }
    const unsigned char c = *p;
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = static_cast<char>(c);
      p++;
    } else if (c < 0x20 || c == 0x7f) {
      n += static_cast<uptr>(snprintf(buf + n, sizeof(buf) - n, "\\u%04x", c));
      p++;
    } else if (c < 0x80) {
      buf[n++] = static_cast<char>(c);
      p++;
    } else {
      const unsigned len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
      unsigned k = 1;
      while (len && k < len && (p[k] & 0xc0) == 0x80) k++;
      if (len && k == len) {
        for (unsigned i = 0; i < len; i++) buf[n++] = static_cast<char>(p[i]);
        p += len;
      } else {
        n += static_cast<uptr>(snprintf(buf + n, sizeof(buf) - n, "\\ufffd"));
        p++;
      }
    }
  }
  buf[n++] = '"';
  report_write(buf, n);
}

void JsonLine::str(const char* key, const char* v) {
  if (!v) return;
  member(key);
  quoted(v);
}

void JsonLine::num(const char* key, u64 v) {
  member(key);
  char b[24];
  const int n = snprintf(b, sizeof(b), "%llu", static_cast<unsigned long long>(v));
  report_write(b, static_cast<uptr>(n));
}

void JsonLine::hex(const char* key, uptr v) {
  member(key);
  char b[24];
  const int n = snprintf(b, sizeof(b), "\"0x%lx\"", static_cast<unsigned long>(v));
  report_write(b, static_cast<uptr>(n));
}

void JsonLine::flag(const char* key, bool v) {
  member(key);
  report_write(v ? "true" : "false", v ? 4 : 5);
}

void JsonLine::open(const char* key, char opener, char closer) {
  if (depth_ >= kMaxDepth) return;
  member(key);
  report_write(&opener, 1);
  first_[depth_] = true;
  close_[depth_++] = closer;
}
void JsonLine::begin_object(const char* key) { open(key, '{', '}'); }
void JsonLine::begin_array(const char* key) { open(key, '[', ']'); }

void JsonLine::end_object() {
  if (depth_ > 1) report_write(&close_[--depth_], 1);
}
void JsonLine::end_array() { end_object(); }

static void frame_json(const StackLine& l, void* ctx) {
  JsonLine& j = *static_cast<JsonLine*>(ctx);
  j.begin_object(nullptr);
  j.hex("pc", l.pc);
  if (l.title[0]) j.str("symbol", l.title);
  if (l.function[0]) j.str("function", l.function);
  if (l.file[0]) {
    j.str("file", l.file);
    j.num("line", static_cast<u64>(l.line > 0 ? l.line : 0));
  }
  if (l.inlined) j.flag("inline", true);
  if (l.module[0]) {
    j.str("module", l.module);
    j.hex("module_offset", l.module_offset);
  }
  j.end_object();
}

void JsonLine::stack(const char* key, const uptr* pcs, unsigned n) {
  begin_array(key);
  walk_stack(pcs, n, frame_json, this);
  end_array();
}

void JsonLine::stack(const char* key, depot_handle_t h) {
  const uptr* pcs = nullptr;
  const unsigned n = h ? depot_fetch(h, &pcs) : 0;
  stack(key, pcs, n);
}

void JsonLine::current_task() {
  char comm[32];
  current_comm(comm, sizeof(comm));
  begin_object("task");
  str("comm", comm);
  num("pid", static_cast<u64>(getpid()));
  num("tid", static_cast<u64>(current_tid()));
  const int cpu = sched_getcpu();
  num("cpu", static_cast<u64>(cpu >= 0 ? cpu : 0));
  end_object();
}

void json_object_info(JsonLine& j, uptr addr, const ObjectInfo& o) {
  j.begin_object("object");
  if (o.meta_corrupt) {
    j.flag("metadata_corrupt", true);
    j.end_object();
    return;
  }
  j.hex("address", o.obj);
  j.str("cache", o.cache_name);
  j.num("cache_size", o.large ? o.region : o.cache_size);
  j.num("region_size", o.region);
  j.str("state", o.allocated ? "allocated" : o.freed ? "freed" : "unknown");
  const char* rel = addr < o.obj ? "left" : addr >= o.obj + o.region ? "right" : "inside";
  j.str("relation", rel);
  j.num("offset", addr < o.obj ? o.obj - addr : addr >= o.obj + o.region ? addr - (o.obj + o.region) : addr - o.obj);
  if (o.allocated || o.freed) {
    j.begin_object("allocated");
    j.num("tid", o.alloc_tid);
    j.stack("stack", o.alloc_stack);
    j.end_object();
  }
  if (o.freed) {
    j.begin_object("freed");
    j.num("tid", o.free_tid);
    j.stack("stack", o.free_stack);
    j.end_object();
  }
  // "Last" and "Second to last potentially related work creation".
  if (o.aux_stack[0]) {
    j.begin_array("aux_stacks");
    for (unsigned i = 0; i < 2; i++)
      if (o.aux_stack[i]) j.stack(nullptr, o.aux_stack[i]);
    j.end_array();
  }
  j.end_object();
}

}  // namespace ukasan
