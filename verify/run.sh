#!/usr/bin/env bash
# verify/run.sh -- model-check the quarantine protocol (verify/quarantine.pml)
# and the stack depot's table (verify/stackdepot.pml) with spin.
#
#   correct model            exhaustive safety search (assertions + invalid end
#                            states); must report 0 errors and a complete search
#   -DPROGRESS               the same with any one owner stopped forever at any
#                            point (P5): 0 errors, complete search
#   -DBROKEN                 must report >= 1 error: remove_cache(C1) returns
#                            while a C1 object is in an in-flight batch
#   -DBROKEN -DNO_DESTROY_CHECK
#                            must report >= 1 error: that object is later freed
#                            after its cache was destroyed
#   -DBROKEN_EVICT           must report >= 1 error: an unregistered evicting
#                            batch hides a C1 object
#   -DPROGRESS -DWAIT_ALL    must report >= 1 error: waiting for any group in
#                            progress waits for a stopped owner forever
#
# stackdepot.pml: correct and -DPROGRESS must verify (0 errors, complete);
# -DNO_CLAIM, -DNO_REWALK and -DNO_TWIN must each report >= 1 error.
#
# Exit status 0 only if all eleven outcomes are as expected.  Works from any
# cwd; everything is built in a temporary directory (KEEP=1 keeps it).
set -u

src=${BASH_SOURCE[0]}
case $src in */*) here=${src%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd) || exit 2
model="$here/quarantine.pml"

if ! command -v spin >/dev/null 2>&1; then
    echo "run.sh: error: 'spin' is not installed (Debian/Ubuntu: apt-get install spin)" >&2
    exit 2
fi
CC=${CC:-gcc}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: error: C compiler '$CC' not found (needed to build spin's pan verifier)" >&2
    exit 2
fi
[ -f "$model" ] || { echo "run.sh: error: $model not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-spin.XXXXXX") || exit 2
if [ "${KEEP:-0}" = 1 ]; then
    echo "run.sh: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi

DEPTH=100000   # -m: DFS depth bound (the model's max depth is ~400)

# run_pan NAME "SPIN_DEFINES" "CC_DEFINES" -- builds and runs pan in $tmp/NAME,
# leaves its output in $tmp/NAME/pan.out; sets globals errors, complete, summary.
run_pan() {
    local name=$1 sdefs=$2 cdefs=$3 d="$tmp/$1"
    mkdir -p "$d" && cp "$model" "$d/" || return 2
    (
        cd "$d" || exit 2
        # shellcheck disable=SC2086
        spin -a $sdefs "${model##*/}" >spin.out 2>&1 || { cat spin.out; exit 2; }
        # shellcheck disable=SC2086
        "$CC" -O2 -w $cdefs -o pan pan.c >cc.out 2>&1 || { cat cc.out; exit 2; }
        start=$(date +%s.%N)
        ./pan -m$DEPTH -w25 >pan.out 2>&1
        end=$(date +%s.%N)
        echo "$start $end" >wall.out
    ) || { echo "run.sh: error: building/running $name failed" >&2; return 2; }
    local out="$d/pan.out"
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | tail -1)
    [ -n "$errors" ] || errors=unknown
    # complete: complete | stopped (at the first error) | truncated (depth bound)
    complete=complete
    grep -qi 'search not completed' "$out" && complete=stopped
    grep -q 'max search depth too small' "$out" && complete=truncated
    local states trans mem ptime wall
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -1)
    trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$out" | head -1)
    mem=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' "$out" | head -1)
    ptime=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$out" | head -1)
    wall=$(awk '{printf "%.2f", $2 - $1}' "$d/wall.out")
    summary="errors: $errors, states stored: ${states:-?}, transitions: ${trans:-?}, memory: ${mem:-?} MB, pan time: ${ptime:-?} s (wall ${wall} s), search: $complete"
    return 0
}

# show_trail NAME "SPIN_DEFINES" -- print the replayed counterexample's events
show_trail() {
    local d="$tmp/$1" m="${model##*/}"
    if [ ! -f "$d/$m.trail" ]; then
        echo "    (no trail file written)"
        return
    fi
    # printf events only (-T: no indentation), up to the failed assertion
    # shellcheck disable=SC2086
    (cd "$d" && spin -T -t $2 "$m" 2>&1) | sed '/^#processes/,$d' \
        | tail -n 30 | sed 's/^/    /'
}

status=0
echo "== quarantine protocol model (spin $(spin -V 2>/dev/null | sed -n 's/^Spin Version \([^ ]*\).*/\1/p'))"

# exhaustive runs that must verify: NAME "SPIN_DEFINES" WHAT
check_correct() {
    local name=$1 sdefs=$2 what=$3
    run_pan "$name" "$sdefs" "-DSAFETY -DCOLLAPSE" || exit 2
    echo "-- $what (${sdefs:-no defines}, exhaustive, -DSAFETY -DCOLLAPSE):"
    echo "   $summary"
    if [ "$errors" != 0 ] || [ "$complete" != complete ] || ! grep -q 'Full statespace search' "$tmp/$name/pan.out"; then
        echo "   FAIL: expected 0 errors from a complete search"
        sed -n '/violated\|invalid end state\|error/p' "$tmp/$name/pan.out" | head -5 | sed 's/^/   /'
        [ -f "$tmp/$name/${model##*/}.trail" ] && show_trail "$name" "$sdefs"
        status=1
    else
        echo "   OK: 0 errors, search complete"
    fi
}

# 1. the protocol as implemented, and its progress property
check_correct correct "" "correct model"
check_correct progress "-DPROGRESS" "correct model, any owner stopped forever (progress)"
check_correct drainer "-DDRAINER" "correct model with a second synchronizer draining concurrently"

# 2. broken variants: BFS for the shortest counterexample (DFS where BFS
#    would take minutes and gigabytes to reach it)
check_broken() {
    local name=$1 sdefs=$2 what=$3 search=${4:-BFS}
    local cdefs="-DSAFETY -DBFS"
    [ "$search" = DFS ] && cdefs="-DSAFETY -DCOLLAPSE"
    run_pan "$name" "$sdefs" "$cdefs" || exit 2
    echo "-- broken model ($sdefs, $search):"
    echo "   $summary"
    if [ "$errors" = unknown ] || [ "$errors" -lt 1 ]; then
        echo "   FAIL: expected a counterexample ($what)"
        status=1
        return
    fi
    echo "   OK: counterexample found ($what)"
    grep -m1 'assertion violated\|invalid end state' "$tmp/$name/pan.out" | sed 's/^/   /'
    echo "   trail (events of the replayed counterexample):"
    show_trail "$name" "$sdefs"
}
check_broken broken "-DBROKEN" \
    "remove_cache(C1) returns while a C1 object is in an in-flight batch"
check_broken broken_late "-DBROKEN -DNO_DESTROY_CHECK" \
    "an object of C1 is freed after remove_cache(C1) returned"
check_broken broken_evict "-DBROKEN_EVICT" \
    "an evictor's unregistered batch hides a C1 object from remove_cache(C1)"
check_broken wait_all "-DPROGRESS -DWAIT_ALL" \
    "a synchronizer that waits for any group in progress waits for a stopped owner forever"
check_broken broken_drain "-DDRAINER -DBROKEN_DRAIN" \
    "a drain takes C1 objects out of remove_cache(C1)'s own extracted list"

# 3. the stack depot's table (verify/stackdepot.pml): a split-ordered list
model="$here/stackdepot.pml"
[ -f "$model" ] || { echo "run.sh: error: $model not found" >&2; exit 2; }
echo "== stack depot table model (split-ordered list)"
check_correct depot "" "correct model: inserts of one stack agree, the list stays sorted and whole"
check_correct depot_progress "-DPROGRESS" "correct model, any inserter stopped forever (progress)"
check_broken depot_no_claim "-DNO_CLAIM" \
    "every thread links a bucket's dummy itself: the list loses or repeats a node" DFS
check_broken depot_no_rewalk "-DNO_REWALK" \
    "a lost CAS retried at the same place: one stack gets two handles"
check_broken depot_no_twin "-DNO_TWIN" \
    "a record of the same order not compared: one stack gets two handles"

if [ "$status" = 0 ]; then
    echo "== PASS: correct models verified; broken variants refuted"
else
    echo "== FAIL"
fi
exit "$status"
