#!/usr/bin/env bash
# The quarantine protocol under preemption (part of `make bench`):
#   destroy latency  bench_destroy_latency K ROUNDS, K = 1, 4, 16, 64 churning threads
#   fork             bench_preempt fork 8 200   (8 threads churn malloc/free, 200 forks)
#   hammer           bench_preempt hammer T OPS (T = 16, 64; cross-thread frees)
# under glibc, scudo standalone with the same quarantine, and ukasan (preload).
# Usage: bash bench/protocol.sh BUILD OUT. Writes OUT/protocol.md. Not gated.
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd)  # absolute: LD_PRELOAD paths must not depend on the cwd
OUT=${2:-$BUILD/bench}
mkdir -p "$OUT"
QMB=256
ROUNDS=1000
[ "${QUICK:-0}" != 0 ] && ROUNDS=200
SCUDO=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so 2>/dev/null | head -1)
LIB=$BUILD/lib/libukasan.so
P=$BUILD/bin/bench_preempt
md=$OUT/protocol.md
{
  echo "### kmem_cache_destroy latency (µs) while K threads churn kmalloc/kfree ($(nproc) CPUs)"
  echo
  echo "| K | p50 | p99 | max | max when not preempted | calls preempted | rounds/s |"
  echo "|---|---|---|---|---|---|---|"
  for k in 1 4 16 64; do
    line=$(UKASAN_OPTIONS=quarantine_size_mb=$QMB "$BUILD/bin/bench_destroy_latency" $k $ROUNDS)
    get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
    echo "| $k | $(get p50) | $(get p99) | $(get max) | $(get max_not_preempted) | $(get preempted)/$ROUNDS | $(get rounds_per_s) |"
  done
  echo
  echo "### fork and hammer (seconds; longest single call in ms), alternating allocators"
  echo
  echo "| case | glibc | scudo+q | ukasan |"
  echo "|---|---|---|---|"
  for c in "fork 8 200" "hammer 16 200000" "hammer 64 50000"; do
    row="| \`$c\` |"
    for a in glibc scudo ukasan; do
      case $a in
        glibc) env=() ;;
        scudo) [ -n "$SCUDO" ] || { row="$row n/a |"; continue; }
               env=(LD_PRELOAD=$SCUDO SCUDO_OPTIONS=quarantine_size_kb=$((QMB * 1024)):thread_local_quarantine_size_kb=1024:quarantine_max_chunk_size=2097152) ;;
        ukasan) env=(LD_PRELOAD=$LIB UKASAN_OPTIONS=quarantine_size_mb=$QMB) ;;
      esac
      # shellcheck disable=SC2086
      line=$(env "${env[@]}" timeout 600 $P $c)
      row="$row $(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$line") s ($(sed -n 's/.*max_op_ms=\([0-9.]*\).*/\1/p' <<<"$line") ms) |"
    done
    echo "$row"
  done
} >"$md"
cat "$md"
