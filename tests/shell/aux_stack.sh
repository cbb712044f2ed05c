#!/bin/bash
# kasan_record_aux_stack / _noalloc: the report of an object whose release
# was deferred (tests/kslab/aux_stack.c) prints its two latest aux stacks as
# the kernel's "Last / Second to last potentially related work creation:"
# sections, after "Freed by task", in the stack format of the others; an
# object allocated again has none. Compared exactly, once addresses, ids,
# offsets, paths, libc's frames and the shadow rows are normalized away.
# Usage: aux_stack.sh SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../common/shell_test.sh"

"$BUILD/bin/ukasan-cc" -O1 -g "$SRC/tests/kslab/aux_stack.c" -o "$WORK/aux" || fail "build"
(cd "$WORK" && UKASAN_OPTIONS=multi_shot=1:quarantine_size_mb=0:detect_leaks=0 ./aux >out 2>err)
grep -qx 'allocated again' "$WORK/out" || fail "the freed object was not allocated again"
sed -E -e '/^[ >][0-9a-f]{16}:|^ +\^$/d' -e '/^ (__libc_start|_start)/d' \
  -e 's/\+0x[0-9a-f]+\/0x[0-9a-f]+/+OFF/' -e 's/ [^ ]*\/([^/ ]+:[0-9]+)$/ \1/' \
  -e 's/[0-9a-f]{16}/ADDR/g' -e 's/(task|PID:?) [0-9]+/\1 N/g' -e 's/aux\/[0-9]+/aux\/N/' -e 's/CPU: [0-9]+/CPU: N/' \
  "$WORK/err" >"$WORK/got"
cat >"$WORK/want" <<'TXT'
==================================================================
BUG: KASAN: slab-use-after-free in work_peek+OFF
Read of size 8 at addr ADDR by task aux/N

CPU: N PID: N Comm: aux
Call Trace:
 work_peek+OFF aux_stack.c:16
 main+OFF aux_stack.c:28

Allocated by task N:
 work_new+OFF aux_stack.c:12
 main+OFF aux_stack.c:22

Freed by task N:
 work_release+OFF aux_stack.c:15
 main+OFF aux_stack.c:27

Last potentially related work creation:
 queue_work_like+OFF aux_stack.c:13
 main+OFF aux_stack.c:26

Second to last potentially related work creation:
 call_rcu_like+OFF aux_stack.c:14
 main+OFF aux_stack.c:25

The buggy address belongs to the object at ADDR
 which belongs to the cache work_cache of size 32
The buggy address is located 8 bytes inside of
 freed 32-byte region [ADDR, ADDR)

Memory state around the buggy address:
==================================================================
==================================================================
BUG: KASAN: slab-out-of-bounds in work_peek_past+OFF
Read of size 8 at addr ADDR by task aux/N

CPU: N PID: N Comm: aux
Call Trace:
 work_peek_past+OFF aux_stack.c:18
 main+OFF aux_stack.c:35

Allocated by task N:
 work_new+OFF aux_stack.c:12
 main+OFF aux_stack.c:32

The buggy address belongs to the object at ADDR
 which belongs to the cache work_cache of size 32
The buggy address is located 0 bytes to the right of
 allocated 32-byte region [ADDR, ADDR)

Memory state around the buggy address:
==================================================================
SUMMARY: KASAN: 2 reports: 1 slab-use-after-free, 1 slab-out-of-bounds
TXT
diff -u "$WORK/want" "$WORK/got" || fail "the reports differ from the expected text (above)"
# report_format=json: the same two stacks, latest first, as "aux_stacks";
# none once the object is allocated again.
(cd "$WORK" && UKASAN_OPTIONS=multi_shot=1:quarantine_size_mb=0:detect_leaks=0:report_format=json ./aux >/dev/null 2>json)
python3 - "$WORK/json" <<'PY' || fail "JSON aux_stacks"
import json, sys
reps = [o for o in map(json.loads, open(sys.argv[1])) if o.get("kind") == "report"]
assert len(reps) == 2, reps
tops = [s[0].get("function") for s in reps[0]["object"].get("aux_stacks", [])]
assert tops == ["queue_work_like", "call_rcu_like"], tops
assert "aux_stacks" not in reps[1]["object"], reps[1]["object"]
PY
[ $FAILS = 0 ] && echo "aux_stack: OK"
exit $FAILS
