# Sourced by the shell tests of tests/shell: "$1" source dir, "$2" build
# dir; sets SRC, BUILD, WORK (removed at exit) and fail() counting FAILS.
set -u
SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
