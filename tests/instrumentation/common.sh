# Shared by the instrumentation test scripts: $1 source dir, $2 build dir.
set -u
SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
PROGS=$SRC/tests/instrumentation/progs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-instr.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export UKASAN_OPTIONS=fault=report:multi_shot=1:exitcode=0
JOBS=${JOBS:-$(nproc)}
FAILS=0
have() { command -v "$1" >/dev/null 2>&1; }
COMPILERS="gcc"
have clang && COMPILERS="$COMPILERS clang"
# The runtime interposes malloc/new when the heap front end is built in.
HEAP=0
nm -D --defined-only "$BUILD/lib/libukasan.so" 2>/dev/null | grep -qw malloc && HEAP=1
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
# Runs the queued commands in $WORK/jobs.N (one shell line each) in parallel;
# each writes $WORK/*.fail on failure.
run_parallel() {
  ls "$WORK"/jobs.* >/dev/null 2>&1 || return 0
  cat "$WORK"/jobs.* | xargs -P "$JOBS" -I{} bash -c '{}'
  rm -f "$WORK"/jobs.*
}
