// Symbolizer tests: llvm-symbolizer / addr2line subprocess, module+offset
// fallback, dead or misbehaving symbolizers, environment hygiene.
#include "symbolize/symbolizer.h"

#include <algorithm>
#include <dirent.h>

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "platform/print.h"
#include "stackdepot/stackdepot.h"
#include "symbolize/elf.h"

using namespace ukasan;

#define KEEP_FRAME() __asm__ volatile("" ::: "memory")

extern "C" UKASAN_NOINLINE int symbolizer_test_known_function(int x) {
  int r = x * 3 + 1;
  KEEP_FRAME();
  return r;
}

namespace {

uptr g_pcs[kMaxStackFrames];
unsigned g_n;

UKASAN_NOINLINE void capture_here() {
  g_n = capture_stack(g_pcs, kMaxStackFrames, 0);
  KEEP_FRAME();
}

// Base name of this test executable (the module of the test's functions).
const char* exe_base() {
  static char path[4096];
  if (!path[0]) {
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = 0;
  }
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}
std::string exe_plus() { return std::string(exe_base()) + "+0x"; }

bool have_file(const char* p) { return access(p, X_OK) == 0; }

// Runs print_stack_trace with the report fd redirected to a temp file.
std::string print_to_string(const uptr* pcs, unsigned n) {
  char path[] = "/tmp/ukasan_symbolizer_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  unlink(path);
  int old = report_fd();
  set_report_fd(fd);
  print_stack_trace(pcs, n);
  set_report_fd(old);
  std::string out;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t r;
  while ((r = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(r));
  close(fd);
  return out;
}

// Temp dirs the running test made (removed with their files by TearDown).
std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
std::string make_temp_dir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  EXPECT_NE(mkdtemp(buf.data()), nullptr);
  temp_dirs().push_back(buf.data());
  return buf.data();
}
void remove_temp_dirs() {
  for (const std::string& d : temp_dirs()) {
    if (DIR* dp = opendir(d.c_str())) {
      while (dirent* e = readdir(dp))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) unlink((d + "/" + e->d_name).c_str());
      closedir(dp);
    }
    rmdir(d.c_str());
  }
  temp_dirs().clear();
}

// Makes an executable shell script in a temp dir; returns its path.
std::string make_script(const std::string& body) {
  const std::string dir = make_temp_dir("ukasan_fake_symbolizer");
  std::string path = dir + "/fake-symbolizer";
  FILE* f = fopen(path.c_str(), "w");
  EXPECT_NE(f, nullptr);
  fprintf(f, "#!/bin/sh\n%s\n", body.c_str());
  fclose(f);
  chmod(path.c_str(), 0755);
  return path;
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Every test leaves the symbolizer in its default state.
class Symbolizer : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("UKASAN_SYMBOLIZER_PATH");
    symbolizer_disable(false);
    symbolizer_restart();  // stops a fake symbolizer before its directory goes
    remove_temp_dirs();
  }
};

}  // namespace

TEST_F(Symbolizer, KnownFunctionHasNameFileAndLine) {
  SymbolizedFrame f;
  uptr pc = reinterpret_cast<uptr>(&symbolizer_test_known_function) + 1;
  ASSERT_TRUE(symbolize_pc(pc, &f));
  EXPECT_NE(strstr(f.function, "symbolizer_test_known_function"), nullptr) << f.function;
  EXPECT_NE(strstr(f.file, "symbolizer_test.cpp"), nullptr) << f.file;
  EXPECT_GT(f.line, 0);
  EXPECT_NE(strstr(f.module, exe_base()), nullptr) << f.module;
  EXPECT_GT(f.module_offset, 0u);
  // Repeated queries reuse the same subprocess and give the same answer.
  for (int i = 0; i < 50; i++) {
    SymbolizedFrame g;
    ASSERT_TRUE(symbolize_pc(pc, &g));
    ASSERT_STREQ(g.function, f.function);
    ASSERT_EQ(g.line, f.line);
  }
}

TEST_F(Symbolizer, FunctionNameForPc) {
  char buf[256];
  function_name_for_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function) + 2, buf,
                       sizeof(buf));
  EXPECT_NE(strstr(buf, "symbolizer_test_known_function"), nullptr) << buf;
  char small[8];
  function_name_for_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function) + 2, small,
                       sizeof(small));
  EXPECT_EQ(strlen(small), 7u);  // truncated, terminated
}

TEST_F(Symbolizer, UnknownPc) {
  SymbolizedFrame f;
  EXPECT_FALSE(symbolize_pc(0x10, &f));
  EXPECT_STREQ(f.function, "");
  char buf[64] = "junk";
  function_name_for_pc(0x10, buf, sizeof(buf));
  EXPECT_STREQ(buf, "");
  uptr pcs[] = {0, 0x10};
  std::string out = print_to_string(pcs, 2);
  EXPECT_EQ(out, "");  // pc 0 skipped; 0x10 is not code: not printed
}

// A frame-pointer walk through code without frame pointers can return a
// stack address as a frame: it and everything after it are not printed.
TEST_F(Symbolizer, FramesThatAreNotCodeEndTheTrace) {
  int on_stack = 0;
  const uptr code = reinterpret_cast<uptr>(&symbolizer_test_known_function) + 2;
  uptr pcs[] = {code, reinterpret_cast<uptr>(&on_stack), code};
  std::string out = print_to_string(pcs, 3);
  EXPECT_NE(out.find("symbolizer_test_known_function"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST_F(Symbolizer, PrintStackTraceHasFileAndLine) {
  capture_here();
  ASSERT_GE(g_n, 2u);
  std::string out = print_to_string(g_pcs, g_n);
  // The kernel's shape: an identifier token (a C++ name sanitized),
  // +0xoff/0xsize from the symbol table, file:line, then the demangled name.
  EXPECT_NE(out.find(" _anonymous_namespace___capture_here+0x"), std::string::npos) << out;
  EXPECT_NE(out.find(" /"), std::string::npos) << out;
  EXPECT_NE(out.find("symbolizer_test.cpp:"), std::string::npos) << out;
  EXPECT_NE(out.find(" ((anonymous namespace)::capture_here())"), std::string::npos) << out;
  char title[256];
  function_title_for_pc(g_pcs[0], title, sizeof(title));
  EXPECT_EQ(strncmp(title, "_anonymous_namespace___capture_here+0x", 38), 0) << title;
  // One frame per line, each starting with a space.
  size_t pos = 0;
  while (pos < out.size()) {
    EXPECT_EQ(out[pos], ' ') << out;
    pos = out.find('\n', pos);
    ASSERT_NE(pos, std::string::npos);
    pos++;
  }
}

TEST_F(Symbolizer, DisabledPrintsModuleOffset) {
  symbolizer_disable(true);
  capture_here();
  std::string out = print_to_string(g_pcs, g_n);
  EXPECT_NE(out.find(exe_plus()), std::string::npos) << out;
  EXPECT_EQ(out.find("symbolizer_test.cpp:"), std::string::npos) << out;
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function), &f));
  EXPECT_STREQ(f.function, "");
  EXPECT_NE(strstr(f.module, exe_base()), nullptr);
  // The module offset matches the one llvm-symbolizer is given for a PIE.
  symbolizer_disable(false);
  std::string on = print_to_string(g_pcs, g_n);
  EXPECT_NE(on.find("symbolizer_test.cpp:"), std::string::npos) << on;
}

TEST_F(Symbolizer, Addr2lineFallback) {
  if (!have_file("/usr/bin/addr2line")) GTEST_SKIP() << "no addr2line";
  setenv("UKASAN_SYMBOLIZER_PATH", "/usr/bin/addr2line", 1);
  symbolizer_restart();
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function) + 1, &f));
  EXPECT_NE(strstr(f.function, "symbolizer_test_known_function"), nullptr) << f.function;
  EXPECT_NE(strstr(f.file, "symbolizer_test.cpp"), nullptr) << f.file;
  EXPECT_GT(f.line, 0);
  capture_here();
  std::string out = print_to_string(g_pcs, g_n);
  EXPECT_NE(out.find("symbolizer_test.cpp:"), std::string::npos) << out;
}

TEST_F(Symbolizer, MissingSymbolizerFallsBack) {
  setenv("UKASAN_SYMBOLIZER_PATH", "/nonexistent/llvm-symbolizer", 1);
  symbolizer_restart();
  capture_here();
  std::string out = print_to_string(g_pcs, g_n);
  EXPECT_EQ(out.find("symbolizer_test.cpp:"), std::string::npos) << out;
  EXPECT_NE(out.find("+0x"), std::string::npos) << out;
}

TEST_F(Symbolizer, DeadSymbolizerNeverHangsOrCrashes) {
  setenv("UKASAN_SYMBOLIZER_PATH", "/bin/true", 1);
  symbolizer_restart();
  double t0 = now_s();
  for (int i = 0; i < 10; i++) {
    SymbolizedFrame f;
    ASSERT_TRUE(symbolize_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function), &f));
    EXPECT_STREQ(f.file, "");
    EXPECT_NE(strstr(f.module, exe_base()), nullptr);
  }
  capture_here();
  std::string out = print_to_string(g_pcs, g_n);
  EXPECT_NE(out.find(exe_plus()), std::string::npos) << out;
  EXPECT_LT(now_s() - t0, 5.0);
}

TEST_F(Symbolizer, SymbolizerDyingMidSessionFallsBack) {
  // Answers exactly one query, then exits.
  std::string script = make_script(
      "read line\n"
      "printf 'fake_function\\n/fake/dir/fake.c:7:3\\n\\n'\n"
      "exit 0");
  setenv("UKASAN_SYMBOLIZER_PATH", script.c_str(), 1);
  symbolizer_restart();
  uptr pc = reinterpret_cast<uptr>(&symbolizer_test_known_function);
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(pc, &f));
  EXPECT_STREQ(f.function, "fake_function");
  EXPECT_STREQ(f.file, "/fake/dir/fake.c");
  EXPECT_EQ(f.line, 7);
  double t0 = now_s();
  for (int i = 0; i < 10; i++) {
    // Either a restarted fake (fake_function again) or the fallback; never a crash.
    ASSERT_TRUE(symbolize_pc(pc, &f));
    EXPECT_NE(strstr(f.module, exe_base()), nullptr);
  }
  EXPECT_LT(now_s() - t0, 5.0);
}

TEST_F(Symbolizer, InlinedFramesAndGarbageAnswers) {
  // Two inlined frames, then an unknown answer, then garbage.
  std::string script = make_script(
      "read line\n"
      "printf 'inner_fn\\n/src/a.h:10:5\\nouter_fn\\n/src/b.cpp:20:1\\n\\n'\n"
      "while read line; do printf '??\\n??:0:0\\n\\n'; done");
  setenv("UKASAN_SYMBOLIZER_PATH", script.c_str(), 1);
  symbolizer_restart();
  uptr pc = reinterpret_cast<uptr>(&symbolizer_test_known_function) + 1;
  std::string out = print_to_string(&pc, 1);
  // Inlined callees first, marked [inline]; the function the code is in last,
  // with its offset (of the return address) and size from the symbol table.
  EXPECT_EQ(out.rfind(" inner_fn /src/a.h:10 [inline]\n outer_fn+0x1/0x", 0), 0u) << out;
  EXPECT_NE(out.find(" /src/b.cpp:20\n"), std::string::npos) << out;
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(pc, &f));
  EXPECT_STREQ(f.function, "");
  EXPECT_STREQ(f.file, "");
  EXPECT_EQ(f.line, 0);
  out = print_to_string(&pc, 1);
  EXPECT_NE(out.find(exe_plus()), std::string::npos) << out;
}

TEST_F(Symbolizer, ChildEnvironmentHasNoPreloadOrOptions) {
  const std::string env_file = make_temp_dir("ukasan_env") + "/env.txt";
  std::string script = make_script("env > " + env_file +
                                   "\n"
                                   "while read line; do printf 'f\\nfile.c:1:1\\n\\n'; done");
  setenv("UKASAN_SYMBOLIZER_PATH", script.c_str(), 1);
  setenv("LD_PRELOAD", "/nonexistent/libukasan_test.so", 1);
  setenv("UKASAN_OPTIONS", "halt_on_error=0", 1);
  setenv("UKASAN_TEST_MARKER", "kept", 1);
  symbolizer_restart();
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(reinterpret_cast<uptr>(&symbolizer_test_known_function), &f));
  EXPECT_STREQ(f.function, "f");
  unsetenv("LD_PRELOAD");
  unsetenv("UKASAN_OPTIONS");
  unsetenv("UKASAN_TEST_MARKER");
  FILE* e = fopen(env_file.c_str(), "r");
  ASSERT_NE(e, nullptr);
  std::string env;
  char line[4096];
  while (fgets(line, sizeof(line), e)) env += line;
  fclose(e);
  EXPECT_EQ(env.find("LD_PRELOAD="), std::string::npos) << env;
  EXPECT_EQ(env.find("UKASAN_OPTIONS="), std::string::npos) << env;
  EXPECT_NE(env.find("UKASAN_TEST_MARKER=kept"), std::string::npos) << env;
}

TEST_F(Symbolizer, WorksInForkedChild) {
  SymbolizedFrame f;
  uptr pc = reinterpret_cast<uptr>(&symbolizer_test_known_function) + 1;
  ASSERT_TRUE(symbolize_pc(pc, &f));  // parent's symbolizer is running
  ASSERT_GT(f.line, 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SymbolizedFrame c;
    bool ok = symbolize_pc(pc, &c) && strcmp(c.function, f.function) == 0 && c.line == f.line;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The parent's process is unaffected.
  SymbolizedFrame g;
  ASSERT_TRUE(symbolize_pc(pc, &g));
  EXPECT_STREQ(g.function, f.function);
  EXPECT_EQ(g.line, f.line);
}

// ---- modules without debug information ----------------------------------------------

extern "C" int symbolizer_nodebug_c_function(int x);
namespace symbolizer_nodebug {
int cxx_function(int x);
}

namespace {

// A fake symbolizer that leaves a mark when it starts and answers every query
// with fake_function.
std::string marking_symbolizer(std::string* mark) {
  *mark = make_temp_dir("ukasan_symbolizer_mark") + "/started";
  return make_script("touch " + *mark +
                     "\nwhile read line; do printf 'fake_function\\n/fake/dir/fake.c:7:3\\n\\n'; done");
}

bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

std::string copy_file(const std::string& from, const std::string& to) {
  std::string cmd = "cp '" + from + "' '" + to + "'";
  EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
  return to;
}

}  // namespace

// A module built without debug information (as distributions ship theirs) is
// answered from its symbol table: no symbolizer process is started for it,
// while a module with debug information still gets one.
TEST_F(Symbolizer, ModuleWithoutDebugInfoIsAnsweredFromItsSymbolTable) {
  std::string mark;
  setenv("UKASAN_SYMBOLIZER_PATH", marking_symbolizer(&mark).c_str(), 1);
  symbolizer_restart();
  const uptr c_pc = reinterpret_cast<uptr>(&symbolizer_nodebug_c_function) + 1;
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(c_pc, &f));
  EXPECT_STREQ(f.function, "symbolizer_nodebug_c_function");
  EXPECT_STREQ(f.file, "");
  EXPECT_NE(strstr(f.module, "libsymbolizer_nodebug.so"), nullptr) << f.module;
  std::string out = print_to_string(&c_pc, 1);  // a return address one byte in
  EXPECT_EQ(out.rfind(" symbolizer_nodebug_c_function+0x1/0x", 0), 0u) << out;
  EXPECT_NE(out.find(" [" + std::string(f.module) + "+0x"), std::string::npos) << out;
  EXPECT_FALSE(exists(mark)) << "a symbolizer was started for a module without debug information";

  const uptr g_pc = reinterpret_cast<uptr>(&symbolizer_test_known_function) + 1;
  ASSERT_TRUE(symbolize_pc(g_pc, &f));
  EXPECT_STREQ(f.function, "fake_function");
  EXPECT_TRUE(exists(mark));
}

// Demangling is the symbolizer's: a C++ name in such a module goes to it.
TEST_F(Symbolizer, MangledNameWithoutDebugInfoGoesToTheSymbolizer) {
  std::string mark;
  setenv("UKASAN_SYMBOLIZER_PATH", marking_symbolizer(&mark).c_str(), 1);
  symbolizer_restart();
  SymbolizedFrame f;
  ASSERT_TRUE(symbolize_pc(reinterpret_cast<uptr>(&symbolizer_nodebug::cxx_function) + 1, &f));
  EXPECT_STREQ(f.function, "fake_function");
  EXPECT_TRUE(exists(mark));
}

// So does everything when the symbolizer may fetch debug files (debuginfod).
TEST_F(Symbolizer, DebuginfodSendsEveryModuleToTheSymbolizer) {
  std::string mark;
  setenv("UKASAN_SYMBOLIZER_PATH", marking_symbolizer(&mark).c_str(), 1);
  setenv("DEBUGINFOD_URLS", "http://debuginfod.invalid", 1);
  symbolizer_restart();
  SymbolizedFrame f;
  const bool ok = symbolize_pc(reinterpret_cast<uptr>(&symbolizer_nodebug_c_function) + 1, &f);
  unsetenv("DEBUGINFOD_URLS");
  ASSERT_TRUE(ok);
  EXPECT_STREQ(f.function, "fake_function");
  EXPECT_TRUE(exists(mark));
}

// Debug information in the file, or in a separate file where the tools look
// for the one .gnu_debuglink names; a file that is not ELF is the tools' to judge.
TEST_F(Symbolizer, WhereDebugInformationIsLookedFor) {
  EXPECT_TRUE(elf_may_have_debug_info("/proc/self/exe"));  // this test is built with -g
  const std::string dir = make_temp_dir("ukasan_debuglink");
  const std::string lib = copy_file(SYMBOLIZER_NODEBUG_LIB, dir + "/lib.so");
  EXPECT_FALSE(elf_may_have_debug_info(lib.c_str()));
  const std::string not_elf = dir + "/not-elf";
  FILE* fh = fopen(not_elf.c_str(), "w");
  ASSERT_NE(fh, nullptr);
  fputs("#!/bin/sh\nexit 0\n", fh);
  fclose(fh);
  EXPECT_TRUE(elf_may_have_debug_info(not_elf.c_str()));
  EXPECT_TRUE(elf_may_have_debug_info((dir + "/missing.so").c_str()));

  if (!have_file("/usr/bin/objcopy")) GTEST_SKIP() << "no objcopy to add a .gnu_debuglink";
  copy_file(lib, dir + "/lib.debug");
  const std::string cmd = "cd '" + dir + "' && objcopy --add-gnu-debuglink=lib.debug lib.so linked.so";
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  const std::string linked = dir + "/linked.so";
  EXPECT_TRUE(elf_may_have_debug_info(linked.c_str()));  // beside it
  ASSERT_EQ(mkdir((dir + "/.debug").c_str(), 0755), 0);
  ASSERT_EQ(rename((dir + "/lib.debug").c_str(), (dir + "/.debug/lib.debug").c_str()), 0);
  EXPECT_TRUE(elf_may_have_debug_info(linked.c_str()));  // in .debug/
  unlink((dir + "/.debug/lib.debug").c_str());
  rmdir((dir + "/.debug").c_str());
  EXPECT_FALSE(elf_may_have_debug_info(linked.c_str()));  // named, found nowhere
}
