#!/usr/bin/env bash
# ukasan benchmarks: `make bench` runs `bash bench/run.sh build`.
#   1. micro benchmarks (Google Benchmark, bench_micro) with the configured
#      lock policy, and the lock-sensitive ones again built with
#      UKASAN_LOCK_POLICY=mutex and =pi_mutex (build-bench-mutex, build-bench-pi)
#   2. whole-program workloads (bench/workloads.c) under glibc, jemalloc,
#      tcmalloc, mimalloc, scudo (with quarantine), ASan (preload and build),
#      ukasan (preload and ukasan-cc build): tables, RSS/quarantine plots
#   3. real programs (bench/real/): python3, sqlite3, bash, perl, gcc -c,
#      cmake configure, git, under the preloads
#   4. the protocol under preemption (bench/protocol.sh): destroy latency with
#      1-64 churning threads, fork with churning threads, 16/64-thread hammer
#   5. the leak scan (bench/leak_scan.c): ms per MiB of live heap, ukasan's
#      kmemleak against ASan's LeakSanitizer, alternating in one run; the
#      stop-the-world time with 4-64 spinning threads (bench/leak_stop.c)
# Output: BUILD/bench/ (README.md there collects the tables).
# QUICK=1: shorter runs. Nothing is gated on timing; the exit status only
# says whether the benchmarks could run.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)  # absolute: LD_PRELOAD paths must not depend on the cwd
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$BUILD/bench
mkdir -p "$OUT"
QUICK=${QUICK:-0}
export QUICK
MIN_TIME=0.2
[ "$QUICK" != 0 ] && MIN_TIME=0.05
START=$(date +%s)

echo "== ukasan benchmarks (QUICK=$QUICK) on $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
cmake --build "$BUILD" -j"$(nproc)" --target bench_workloads bench_preempt bench_destroy_latency bench_leak_scan bench_leak_stop >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bench_micro >/dev/null 2>&1 || echo "   (bench_micro not built: Google Benchmark missing?)"

micro() {  # micro BUILD_DIR NAME [filter]
  local bin=$1/bin/bench_micro name=$2 filter=${3:-.}
  if [ ! -x "$bin" ]; then echo "   (no $bin: Google Benchmark missing?)"; return 0; fi
  "$bin" --benchmark_min_time=$MIN_TIME --benchmark_filter="$filter" \
    --benchmark_out="$OUT/micro-$name.json" --benchmark_out_format=json 2>&1 | grep -v "^\*\*\*WARNING" \
    > "$OUT/micro-$name.txt" || true
}

echo "== 1. micro benchmarks (lock policy from $BUILD: $(grep -oP 'UKASAN_LOCK_POLICY:STRING=\K.*' "$BUILD/CMakeCache.txt" || echo spin))"
micro "$BUILD" spin
LOCK_FILTER='QuarantinePut|QuarantineReduce|KmemCacheAllocFree|KmallocKfree/(64|1024)$'
for pol in mutex pi_mutex; do
  case $pol in mutex) dir=$SRC/build-bench-mutex ;; *) dir=$SRC/build-bench-pi ;; esac
  echo "   lock policy $pol -> $dir"
  if cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUKASAN_LOCK_POLICY=$pol >/dev/null &&
     cmake --build "$dir" -j"$(nproc)" --target bench_micro >/dev/null; then
    micro "$dir" "$pol" "$LOCK_FILTER"
  else
    echo "   (build with $pol failed; skipped)"
  fi
done
python3 "$SRC/bench/micro_table.py" "$OUT/micro.md" spin="$OUT/micro-spin.json" mutex="$OUT/micro-mutex.json" \
  pi_mutex="$OUT/micro-pi_mutex.json" >/dev/null
cat "$OUT/micro.md"

echo "== 2. the quarantine protocol under preemption"
bash "$SRC/bench/protocol.sh" "$BUILD" "$OUT"

echo "== 3+4. workloads and real programs"
python3 "$SRC/bench/run_workloads.py" "$BUILD" "$OUT"

echo "== 5. leak scan"
LIBASAN=$(gcc -print-file-name=libasan.so)
{
  echo "| live heap | ukasan (kmemleak) | ASan (LeakSanitizer) |"
  echo "|---|---|---|"
  for mib in 64 256; do
    [ "$QUICK" != 0 ] && [ $mib = 256 ] && continue
    for obj in 64 1024; do
      uk=$(UKASAN_OPTIONS=quarantine_size_mb=256 LD_PRELOAD="$BUILD/lib/libukasan.so" "$BUILD/bin/bench_leak_scan" $mib $obj 5 | grep -oP 'median \K[0-9.]+ ms \([0-9.]+ ms/MiB\)')
      as=$(ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 LD_PRELOAD="$LIBASAN" "$BUILD/bin/bench_leak_scan" $mib $obj 5 | grep -oP 'median \K[0-9.]+ ms \([0-9.]+ ms/MiB\)' || echo "n/a")
      echo "| $mib MiB in $obj-byte objects | $uk | $as |"
    done
  done
  echo
  echo "Stopping the world: N spinning threads on $(nproc) CPUs, tiny heap, median (max) of 20 scans"
  echo
  echo "| threads | ukasan | ASan (LeakSanitizer) |"
  echo "|---|---|---|"
  for n in 4 16 64; do
    uk=$(LD_PRELOAD="$BUILD/lib/libukasan.so" "$BUILD/bin/bench_leak_stop" $n 20 spin | grep -oP 'median \K.*')
    as=$(ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 LD_PRELOAD="$LIBASAN" "$BUILD/bin/bench_leak_stop" $n 20 spin | grep -oP 'median \K.*' || echo "n/a")
    echo "| $n | $uk | $as |"
  done
} > "$OUT/leaks.md"
cat "$OUT/leaks.md"

{
  echo "# ukasan benchmark results ($(date -u +%FT%TZ), QUICK=$QUICK, $(nproc) CPUs)"
  echo
  echo "## Micro benchmarks (ns per iteration, real time)"
  echo
  cat "$OUT/micro.md"
  echo
  echo "## The quarantine protocol under preemption"
  echo
  cat "$OUT/protocol.md"
  echo
  echo "## Workloads"
  echo
  cat "$OUT/workloads.md"
  echo
  echo "## Leak scan (median of 5 scans)"
  echo
  cat "$OUT/leaks.md"
} > "$OUT/README.md"
echo "== done in $(( $(date +%s) - START )) s; results in $OUT/README.md"
