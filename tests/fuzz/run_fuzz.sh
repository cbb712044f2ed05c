#!/usr/bin/env bash
# Runs the slab fuzzer (tests/fuzz/slab_fuzzer.cpp) for a bounded time.
#   run_fuzz.sh FUZZER SEED_CORPUS WORK_DIR SECONDS [--fresh] [libFuzzer flags...]
# New inputs go to WORK_DIR/corpus (the committed seed corpus is only read);
# crashes, timeouts and model violations to WORK_DIR/artifacts/. --fresh
# empties WORK_DIR/corpus first, so a run depends only on the seeds and -seed.
# Exit status: the fuzzer's; 77 (ctest SKIP) when the fuzzer was not built.
set -u
fuzzer=$1 seeds=$2 work=$3 secs=$4
shift 4
if [ ! -x "$fuzzer" ]; then
  echo "SKIP: $fuzzer was not built (no clang++ able to link -fsanitize=fuzzer at configure time)"
  exit 77
fi
if [ "${1:-}" = --fresh ]; then
  shift
  rm -rf "$work/corpus"
fi
mkdir -p "$work/corpus" "$work/artifacts"
cd "$work" || exit 1
rm -f fuzz-*.log
echo "slab fuzzer: ${secs}s, seeds $seeds, corpus $work/corpus"
"$fuzzer" -max_total_time="$secs" -seed=1 -max_len=4096 -timeout=30 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds"
rc=$?
for log in fuzz-*.log; do  # -jobs=N: one log per job
  [ -f "$log" ] || continue
  echo "---- $log (tail)"
  tail -n 25 "$log"
  grep -q "MODEL VIOLATION\|ERROR: libFuzzer\|==ERROR" "$log" && rc=1
done
echo "slab fuzzer: exit status $rc; corpus now $(ls "$work/corpus" | wc -l) inputs"
exit $rc
