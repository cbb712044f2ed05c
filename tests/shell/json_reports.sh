#!/bin/bash
# report_format=json: every line the runtime writes to the log is one JSON
# object; each report says the same as its text form (type, title from the
# text header's function, access, address, stacks with file:line, object
# and cache); KASAN (kernel API, instrumented, preload), KFENCE, kmemleak,
# the summary and fault=abort's notice.
# Usage: json_reports.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"
lib=$BUILD/lib/libukasan.so

cat >"$WORK/heap.c" <<'C'
#include <stdlib.h>
#include <string.h>
#define NI __attribute__((noinline))
void *volatile keep;
NI void copy_from(const char *src) { char dst[40]; memcpy(dst, src, 33); keep = dst; keep = 0; }
NI void leak_one(void) {
  static const char text[] = "tab\there \"q\" \\ \001";
  keep = malloc(48);
  for (unsigned i = 0; i < sizeof(text); i++) ((volatile char *)keep)[i] = text[i];
  keep = 0;
}
int main(int argc, char **argv) {
  char *p = malloc(32);
  if (argc > 1 && !strcmp(argv[1], "kfence")) { volatile char c = p[32]; (void)c; return 0; }
  if (argc > 1 && !strcmp(argv[1], "redzone")) { ((volatile char *)p)[33] = 1; free(p); return 0; }
  copy_from(p);
  free(p);
  free(p);
  leak_one();
  return 0;
}
C
cat >"$WORK/instr.c" <<'C'
#include <stdlib.h>
#include <sanitizer/asan_interface.h>
#define NI __attribute__((noinline))
NI int read_at(int *a, int i) { return a[i]; }
int main(int argc, char **argv) {
  int local[4] = {1, 2, 3, 4};
  int r = read_at(local, 3 + argc);
  int *h = malloc(4 * sizeof(int));
  free(h);
  __asan_describe_address(h);
  return r + read_at(h, argc - 1);
}
C
gcc -O1 -g -fno-builtin -fno-omit-frame-pointer "$WORK/heap.c" -o "$WORK/heap" || { echo "cannot build heap.c"; exit 1; }
"$BUILD/bin/ukasan-gcc" -O1 -g "$WORK/instr.c" -o "$WORK/instr" || { echo "cannot build instr.c"; exit 1; }

# Each program twice, text and JSON, to compare.
run() {  # name format options program args...
  local name=$1 fmt=$2 opts=$3
  shift 3
  UKASAN_OPTIONS=multi_shot=1:report_format=$fmt:$opts "$@" >/dev/null 2>"$WORK/$name.$fmt"
  echo $? >"$WORK/$name.$fmt.rc"
}
for fmt in text json; do
  LD_PRELOAD=$lib run heap $fmt "" "$WORK/heap"
  LD_PRELOAD=$lib run kfence $fmt "kfence_sample_interval=1" "$WORK/heap" kfence
  LD_PRELOAD=$lib run slub $fmt "" "$WORK/heap" redzone
  run instr $fmt "" "$WORK/instr"
  run kapi $fmt "" "$BUILD/examples/slab_uaf"
  run abort $fmt "fault=abort" "$WORK/instr"
done

python3 - "$WORK" <<'PY' || FAILS=$((FAILS + 1))
import json, re, sys
work = sys.argv[1]
bad = []
def check(cond, what):
    if not cond: bad.append(what)

def lines(name):
    objs = []
    for i, l in enumerate(open(f"{work}/{name}.json", encoding="utf-8")):
        try:
            objs.append(json.loads(l))
        except ValueError:
            bad.append(f"{name}: line {i + 1} is not a JSON object: {l[:80]!r}")
    return objs

def headers(name):  # the text form's "BUG: <tool>: <type> in <func>"
    return re.findall(r"^BUG: (KASAN|KFENCE): (.+?) in (\S+)$", open(f"{work}/{name}.text").read(), re.M)

def frames_ok(name, stack, what):
    check(isinstance(stack, list) and stack, f"{name}: {what}: no frames")
    for f in stack or []:
        check(re.fullmatch(r"0x[0-9a-f]+", f.get("pc", "")), f"{name}: {what}: frame without pc: {f}")
        if "symbol" in f:
            check(re.fullmatch(r"[A-Za-z0-9_.]+(\+0x[0-9a-f]+/0x[0-9a-f]+)?", f["symbol"]), f"{name}: {what}: symbol {f['symbol']}")

def reports(name):
    objs = lines(name)
    reps = [o for o in objs if o.get("kind") == "report"]
    text = headers(name)
    check(len(reps) == len(text), f"{name}: {len(reps)} JSON reports, {len(text)} text reports")
    for o, (tool, typ, fn) in zip(reps, text):
        check(o.get("tool") == tool, f"{name}: tool {o.get('tool')} != {tool}")
        check(o.get("type") == typ, f"{name}: type {o.get('type')} != {typ}")
        check(o.get("function") == fn, f"{name}: function {o.get('function')} != {fn}")
        access = " " + o["access"] if o.get("access") in ("Read", "Write") and tool == "KASAN" else ""
        check(o.get("title") == f"{tool}: {typ}{access} in {fn.split('+')[0]}", f"{name}: title {o.get('title')}")
        check(re.fullmatch(r"0x[0-9a-f]+", o.get("address", "")), f"{name}: address {o.get('address')}")
        check(o.get("task", {}).get("pid", 0) > 0, f"{name}: no task")
        frames_ok(name, o.get("call_trace"), "call_trace")
    return objs, reps

# preload: memcpy reading past the end (caught at the call), double free, a leak, the summary
objs, reps = reports("heap")
check([r["type"] for r in reps] == ["slab-out-of-bounds", "double-free"], f"heap: types {[r['type'] for r in reps]}")
if reps:
    r = reps[0]
    check(r.get("access") == "Read" and r.get("size") == 33, f"heap: access {r.get('access')} {r.get('size')}")
    ob = r.get("object", {})
    check(ob.get("cache") == "kmalloc-32" and ob.get("relation") == "inside" and ob.get("state") == "allocated",
          f"heap: object {ob}")
    check(int(r.get("first_bad_address", "0"), 16) == int(ob.get("address", "0"), 16) + 32,
          f"heap: first bad byte {r.get('first_bad_address')}")
    names = [f.get("function") for f in r["call_trace"]]
    check("copy_from" in names and "main" in names, f"heap: call trace {names}")
    check(any(f.get("file", "").endswith("heap.c") and f.get("line") == 5 for f in r["call_trace"]),
          "heap: no heap.c:5 frame")
    check(ob.get("allocated", {}).get("stack"), "heap: no allocation stack")
if len(reps) > 1:
    ob = reps[1].get("object", {})
    check(ob.get("state") == "freed" and ob.get("freed", {}).get("stack"), f"heap: double-free object {ob}")
leaks = [o for o in objs if o.get("kind") == "leak"]
check(len(leaks) == 1 and leaks[0].get("size") == 48, f"heap: leaks {leaks}")
if leaks:
    check(leaks[0].get("head", "").startswith("7461620968657265"), f"heap: leak head {leaks[0].get('head')}")
    check(any(f.get("function") == "leak_one" for f in leaks[0].get("backtrace", [])), "heap: leak backtrace")
check([o.get("objects") for o in objs if o.get("kind") == "leak_summary"] == [1], "heap: leak_summary")
summ = [o for o in objs if o.get("kind") == "summary"]
check(len(summ) == 1 and summ[0].get("reports") == 2 and summ[0].get("types") == {"slab-out-of-bounds": 1, "double-free": 1},
      f"heap: summary {summ}")

# KFENCE: the out-of-bounds read on the guard page
objs, reps = reports("kfence")
check(len(reps) == 1 and reps[0].get("type") == "out-of-bounds read", f"kfence: {[r.get('type') for r in reps]}")
if reps:
    ob = reps[0].get("object", {})
    check(ob.get("size") == 32 and reps[0].get("side") == "right" and ob.get("allocated", {}).get("stack"),
          f"kfence: object {ob}")

# a redzone found changed at free: SLUB debug's report
objs = lines("slub")
reps = [o for o in objs if o.get("kind") == "report"]
text = re.findall(r"^(BUG \S+ \(Not tainted\): .*)$", open(f"{work}/slub.text").read(), re.M)
check(len(reps) == 1 and text == ["BUG kmalloc-32 (Not tainted): Right Redzone overwritten"], f"slub: {reps} / {text}")
if reps:
    r = reps[0]
    check(r.get("tool") == "SLUB" and r.get("type") == "Right Redzone overwritten" and r.get("title") == text[0],
          f"slub: {r.get('tool')} {r.get('type')} {r.get('title')}")
    check(r.get("found") == "at free()" and r.get("expected_byte") == 0xcc and r.get("first_byte") == 1, f"slub: {r}")
    ob = r.get("object", {})
    check(int(r.get("address", "0"), 16) - int(ob.get("address", "0"), 16) == 33, f"slub: address {r.get('address')}")
    frames_ok("slub", r.get("found_by"), "found_by")
    check(r.get("found_by", [{}])[0].get("function") == "main", f"slub: found by {r.get('found_by')}")

# instrumented: a stack frame (its description as text) and a heap use-after-free
objs, reps = reports("instr")
check([r["type"] for r in reps] == ["stack-out-of-bounds", "slab-use-after-free"], f"instr: {[r['type'] for r in reps]}")
if reps:
    check("local" in reps[0].get("description", ""), "instr: the frame's description does not name 'local'")
    check(reps[0].get("memory_state", "").count("\n") >= 3, "instr: no shadow dump")
if len(reps) > 1:
    check(reps[1].get("object", {}).get("freed", {}).get("stack"), "instr: no free stack")
desc = [o for o in objs if o.get("kind") == "describe_address"]
check(len(desc) == 1 and desc[0].get("object", {}).get("state") == "freed" and desc[0].get("memory_state"),
      f"instr: describe_address {desc}")

# the kernel API example
objs, reps = reports("kapi")
check(len(reps) == 1 and reps[0].get("object", {}).get("cache") == "session_cache", f"kapi: {reps}")

# fault=abort: the report, then the notice, all JSON
objs, reps = reports("abort")
check(len(reps) == 1 and objs[-1] == {"kind": "notice", "message": "fault=abort: aborting after the report"},
      f"abort: last line {objs[-1] if objs else None}")

for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
for n in heap instr kapi; do
  [ "$(cat "$WORK/$n.text.rc")" = "$(cat "$WORK/$n.json.rc")" ] || fail "$n: exit status differs between text and json"
done
echo "json_reports: $FAILS failed"
[ $FAILS = 0 ]
