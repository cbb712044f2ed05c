#!/usr/bin/env bash
# Uninstrumented programs with heap bugs, run under LD_PRELOAD=libukasan.so:
# each must print the right header ("BUG: KASAN: <type> in", KFENCE's, or
# SLUB debug's "BUG <cache> (Not tainted): ..." for a pattern found changed).
# Usage: bash heap_reports.sh SRC_DIR BUILD_DIR
set -u
src=$1 build=$2
lib=$build/lib/libukasan.so
progs=$build/tests/heap/progs
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect HEADER EXTRA_GREP [ENV...] -- PROG ARGS...
# The kernel's line shapes, as its tooling (syzkaller's parser) reads them:
# KASAN's and KFENCE's header "BUG: <tool>: <type> in func+0xOFF/0xSIZE";
# SLUB debug's "BUG <cache> (Not tainted): <what> overwritten" with its
# rule, the changed-bytes line and "Allocated in func+0xOFF/0xSIZE pid=N";
# the CPU line; every stack line a frame in decode_stacktrace.sh's shape.
frame_re='^ ([A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+ [^ ]+|[A-Za-z_][A-Za-z0-9_.]* [^ ]+ \[inline\]|0x[0-9a-f]+ \[[^ ]+\])( \(.*\))?$'
shapes() {  # FILE: "" if every line is in shape, else what is not
  local f=$1 hdr bad
  hdr=$(grep -m1 '^BUG' "$f")
  case $hdr in
    "BUG: KASAN: "*|"BUG: KFENCE: "*)
      grep -qE '^BUG: (KASAN: [a-z-]+|KFENCE: [a-z -]+) in [A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+$' <<<"$hdr" ||
        echo "header '$hdr'" ;;
    *)
      grep -qE '^BUG [A-Za-z0-9_.-]+ \(Not tainted\): (Right Redzone|Left Redzone|Poison) overwritten$' <<<"$hdr" ||
        echo "header '$hdr'"
      grep -A1 '^BUG ' "$f" | grep -qx -- '-----------------------------------------------------------------------------' ||
        echo "no rule under the header"
      grep -qE '^0x[0-9a-f]{16}-0x[0-9a-f]{16} @offset=[0-9]+\. First byte 0x[0-9a-f]+ instead of 0x[0-9a-f]+$' "$f" ||
        echo "no changed-bytes line"
      grep -qE '^Allocated in [A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+ pid=[0-9]+$' "$f" || echo "no Allocated in line" ;;
  esac
  if grep -q '^Call Trace:' "$f"; then grep -qE '^CPU: [0-9]+ PID: [0-9]+ Comm: .' "$f" || echo "no CPU line"; fi
  bad=$(awk '/^(Call Trace:|Allocated by task|Freed by task|allocated by task|freed by task|Allocated in |Freed in )/ {on=1; next}
             on && !/^ / {on=0} on' "$f" | grep -vE "$frame_re")
  [ -z "$bad" ] || echo "frames not in the kernel's shape: $bad"
}

expect() {
  local header=$1 extra=$2
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" LD_PRELOAD="$lib" timeout 120 "$@" >"$out" 2>&1
  local rc=$?
  local want="^BUG: KASAN: $header in "
  case $header in
    KFENCE:*) want="^BUG: $header in " ;;
    *"(Not tainted)"*) want="^BUG $header\$" ;;  # SLUB debug's (a pattern found changed)
  esac
  local extra_ok=1
  if [ "${extra#@}" != "$extra" ]; then
    # "@FIRST-LAST": the changed bytes, as offsets in the object (SLUB's
    # "0xA-0xB @offset=..." line and its "Object 0xO" line).
    local range obj
    range=$(grep -m1 -oE '^0x[0-9a-f]+-0x[0-9a-f]+ @offset=' "$out" | sed 's/ @offset=//')
    obj=$(grep -m1 -oE '^Object 0x[0-9a-f]+' "$out" | sed 's/Object //')
    if [ -z "$range" ] || [ -z "$obj" ] ||
       [ "@$((${range%-*} - obj))-$((${range#*-} - obj))" != "$extra" ]; then extra_ok=0; fi
  elif ! grep -q -- "$extra" "$out"; then
    extra_ok=0
  fi
  local shape
  shape=$(shapes "$out")
  if ! grep -q "$want" "$out" || [ $extra_ok = 0 ] || [ $rc -ne 0 ] || [ -n "$shape" ]; then
    echo "FAIL: $* (rc $rc): expected '$want' and '$extra'${shape:+; line shapes: $shape}"
    cat "$out"
    fail=1
  else
    echo "ok: $* -> $(grep -m1 '^BUG' "$out")"
  fi
}

E=UKASAN_OPTIONS=exitcode=0
Q=UKASAN_OPTIONS=exitcode=0:quarantine_size_mb=1:quarantine_cache_kb=64
# A write after free is found when the object leaves the quarantine: SLUB
# debug's "Poison overwritten", both tracks, the finding allocation labelled.
P="(Not tainted): Poison overwritten"
expect "kmalloc-128 $P" "^Freed in main+0x" $Q -- "$progs/uaf_write"
expect "kmalloc-128 $P" "^Found when the object left the quarantine by task uaf_write/" $Q -- "$progs/uaf_write"
expect "kmalloc-128 $P" "First byte 0x41 instead of 0x6b$" $Q -- "$progs/uaf_write"
# The pattern check finds the exact bytes wherever they are in the object.
expect "kmalloc-128 $P" "@40-41" $Q -- "$progs/uaf_write" 100 40
expect "kmalloc-2048 $P" "@17-18" $Q -- "$progs/uaf_write" 2000 17
expect "kmalloc-2048 $P" "@1234-1235" $Q -- "$progs/uaf_write" 2000 1234
expect "kmalloc-2048 $P" "@1999-1999" $Q -- "$progs/uaf_write" 2000 1999
# A write after free whose object never leaves the quarantine (256 MiB, the
# program exits first) is found by the check at exit.
expect "kmalloc-128 $P" "^Found by the quarantine check, the object still in the quarantine\.$" $E -- "$progs/uaf_write" 100 40
expect "kmalloc-large $P" "@1000-1001" $E -- "$progs/uaf_write" 100000 1000
# (A single-threaded process is checked in address order; once a thread was
# created, along the quarantine's FIFO under its lock.)
expect "kmalloc-128 $P" "^Found by the quarantine check, the object still in the quarantine\.$" $E -- "$progs/uaf_write" 100 40 thread
expect "kmalloc-large $P" "@1000-1001" $E -- "$progs/uaf_write" 100000 1000 thread
# Blocks of 1 MiB and more are protected once freed: the write faults and is
# reported at the access (smaller ones: by their free pattern, above).
expect use-after-free "Write of size 1 at addr" $E -- "$progs/uaf_write" 2097152 1000
expect use-after-free "freed 2097152-byte region" $E -- "$progs/uaf_write" 2097152 2097151
# ... and their shadow is not written: calloc(1 GiB) + free peaks at a few MiB.
hwm=$(LD_PRELOAD="$lib" "$progs/huge_free" 2>&1)
if [ -z "$hwm" ] || [ "$hwm" -gt 65536 ] 2>/dev/null; then
  echo "FAIL: calloc(1 GiB) + free peaked at ${hwm:-?} KiB (want < 64 MiB)"; fail=1
else
  echo "ok: calloc(1 GiB) + free peaks at $hwm KiB"
fi
# Canaries are checked at free: SLUB debug's "Right/Left Redzone overwritten".
R="(Not tainted): Right Redzone overwritten"
expect "kmalloc-32 $R" "@24-24" $E -- "$progs/overflow" right 24
expect "kmalloc-32 $R" "^Found at free() by task overflow/" $E -- "$progs/overflow" right 24
expect "kmalloc-128 (Not tainted): Left Redzone overwritten" "@-1--1" $E -- "$progs/overflow" left 100
expect "kmalloc-large $R" "@100000-100000" $E -- "$progs/overflow" right 100000
# The same byte written or read by a libc call is found at the call, short
# ranges (the interceptors' inline test) and long ones alike.
expect slab-out-of-bounds "Write of size 25 at" $E -- "$progs/overflow" memset 24
expect slab-out-of-bounds "Write of size 1001 at" $E -- "$progs/overflow" memset 1000
expect slab-out-of-bounds "Read of size 25 at" $E -- "$progs/overflow" memmove 24
expect slab-out-of-bounds "Read of size 1001 at" $E -- "$progs/overflow" memmove 1000
expect slab-out-of-bounds "Read of size 25 at" $E -- "$progs/overflow" memcmp 24
expect slab-out-of-bounds "Read of size 25 at" $E -- "$progs/overflow" bcmp 24
# The canary covers at least redzone_check_bytes (16) bytes past the end, to
# the end of that cache line (so at most 79); 0 extends it to the whole slack
# of the size class (897 B in kmalloc-1024).
expect "kmalloc-1024 $R" "@912-912" $E -- "$progs/overflow" far 897 15
expect "kmalloc-1024 $R" "@1097-1097" $E:redzone_check_bytes=0 -- "$progs/overflow" far 897 200
LD_PRELOAD="$lib" "$progs/overflow" far 897 200 >"$out" 2>&1
if grep -q "^BUG" "$out"; then
  echo "FAIL: overflow far 897 200 reported with the default canary window"; cat "$out"; fail=1
else
  echo "ok: overflow far 897 200 -> not checked with the default window (as documented)"
fi
expect double-free "Free of addr" $E -- "$progs/double_free"
expect invalid-free "not allocated by ukasan" $E -- "$progs/free_stack"
expect invalid-free "not at the start of an object" $E -- "$progs/free_middle"
expect alloc-dealloc-mismatch "allocated with operator new \[\] and is being freed with operator delete" $E -- "$progs/mismatch" newarray-delete
expect alloc-dealloc-mismatch "allocated with malloc() and is being freed with operator delete" $E -- "$progs/mismatch" malloc-delete
expect alloc-dealloc-mismatch "allocated with operator new and is being freed with free()" $E -- "$progs/mismatch" new-free
expect alloc-dealloc-mismatch "sized operator delete (size 16)" $E -- "$progs/mismatch" sized

# Code without frame pointers: the Call Trace (DWARF) names every function
# from the caller of memcpy to main; no stack prints a frame that is not code
# (the frame-pointer walk of the alloc stack may stop early, never go wild);
# with fast_unwind_on_malloc=0 the alloc stack is complete too.
# frames OUT SECTION: the function names of SECTION's frames, one line.
frames() { awk -v s="$2" '$0 ~ "^"s {on=1; next} on && /^$/ {exit} on {sub(/\+0x.*/, "", $1); print $1}' "$1" | tr '\n' ' '; }
for mode in fast full; do
  o=exitcode=0; [ $mode = full ] && o=$o:fast_unwind_on_malloc=0
  UKASAN_OPTIONS=$o LD_PRELOAD="$lib" "$progs/nofp" >"$out" 2>&1
  trace=$(frames "$out" "Call Trace:")
  alloc=$(frames "$out" "Allocated by task")
  case "$trace" in
    "level5 level4 level3 level2 level1 main "*) echo "ok: nofp ($mode): Call Trace: $trace" ;;
    *) echo "FAIL: nofp ($mode): Call Trace '$trace', want level5 ... level1 main"; cat "$out"; fail=1 ;;
  esac
  if grep -A40 -E "^(Call Trace|Allocated by|Freed by)" "$out" | grep -qE "^ (0x[0-9a-f]+|\?\?)"; then
    echo "FAIL: nofp ($mode): a frame that is not code, or unnamed"; cat "$out"; fail=1
  fi
  if [ $mode = full ]; then
    case "$alloc" in
      "level5 level4 level3 level2 level1 main "*) echo "ok: nofp (full): Allocated by: $alloc" ;;
      *) echo "FAIL: nofp (full): Allocated by '$alloc', want level5 ... level1 main"; cat "$out"; fail=1 ;;
    esac
  else
    case "$alloc" in
      level5*) echo "ok: nofp (fast): Allocated by: $alloc" ;;
      *) echo "FAIL: nofp (fast): Allocated by '$alloc', want level5 first"; cat "$out"; fail=1 ;;
    esac
  fi
done

# KFENCE (every allocation sampled): each report type at the faulting access,
# in the kernel's format, and the program goes on.
K=UKASAN_OPTIONS=exitcode=0:kfence_sample_interval=1
expect "KFENCE: out-of-bounds read" "Out-of-bounds read at 0x[0-9a-f]* (1B right of kfence-#" $K -- "$progs/kfence" oob-read
expect "KFENCE: out-of-bounds write" "^kfence-#[0-9]*: 0x[0-9a-f]*-0x[0-9a-f]*, size=32, cache=malloc" $K -- "$progs/kfence" oob-write
expect "KFENCE: out-of-bounds read" "(1B left of kfence-#" $K:kfence_align=2 -- "$progs/kfence" oob-left
expect "KFENCE: use-after-free read" "^freed by task [0-9]* on cpu [0-9]* at [0-9]*\.[0-9]*s:" $K -- "$progs/kfence" uaf-read
expect "KFENCE: use-after-free write" "Use-after-free write at 0x[0-9a-f]* (in kfence-#" $K -- "$progs/kfence" uaf-write
expect "KFENCE: invalid free" "Invalid free of 0x" $K -- "$progs/kfence" double-free
expect "KFENCE: invalid free" "Invalid free of 0x" $K -- "$progs/kfence" interior-free
# (a 9-byte object: 8-aligned at the page's end, its 7 bytes of slack are canary)
expect "KFENCE: memory corruption" "Corrupted memory at 0x[0-9a-f]* \[ 0x55 \. \. \. \. \. \. \]" $K -- "$progs/kfence" corrupt
UKASAN_OPTIONS=kfence_sample_interval=1 LD_PRELOAD="$lib" "$progs/kfence" ok leak >"$out" 2>&1
rc=$?
if [ $rc -ne 1 ] || grep -q "^BUG:" "$out" || ! grep -q "^unreferenced object 0x[0-9a-f]* (size 77):" "$out" \
   || ! grep -q "^continued" "$out"; then
  echo "FAIL: kfence ok+leak (rc $rc): want no BUG, the 77-byte leak reported, exit 1"; cat "$out"; fail=1
else
  echo "ok: KFENCE: correct use silent, a leaked KFENCE object reported by kmemleak"
fi
expect alloc-dealloc-mismatch "allocated with operator new and is being freed with free()" $K -- "$progs/mismatch" new-free
expect alloc-dealloc-mismatch "sized operator delete (size 16)" $K -- "$progs/mismatch" sized
# libc calls check a KFENCE object's bounds exactly (the shadow), the
# alignment slack included: a 9-byte object at the start of its page, 10
# bytes read by memcpy (the 10th is no fault: the page goes on).
expect slab-out-of-bounds "Read of size 10" $K:kfence_align=2 -- "$progs/kfence" memcpy-slack
# Off by default: the same bug is the canary's, found at free.
expect "kmalloc-32 $R" "@32-32" $E -- "$progs/kfence" oob-write

# Matching pairs: silent, exit 0.
LD_PRELOAD="$lib" "$progs/mismatch" ok >"$out" 2>&1
if [ $? -ne 0 ] || [ -s "$out" ]; then echo "FAIL: mismatch ok printed or failed"; cat "$out"; fail=1; else echo "ok: matching pairs are silent"; fi

# Default exitcode: a process that printed a report exits 1.
LD_PRELOAD="$lib" "$progs/double_free" >"$out" 2>&1
rc=$?
if [ $rc -ne 1 ]; then echo "FAIL: default exit code after a report is $rc, not 1"; fail=1; else echo "ok: exit code 1 after a report"; fi
exit $fail
