#!/usr/bin/env bash
# Juliet-like detection suite: builds every program of tests/detect/progs in
# its BAD and GOOD variant under several configurations, runs them, and prints
# a per-CWE Markdown table of what each configuration detects on the BAD
# variants and how many false reports it gives on the GOOD ones.
#
#   bash tests/detect/run.sh [-v] [BUILD_DIR]
#
# BUILD_DIR: the ukasan build (default `build`, relative to the repo root).
# JOBS: parallel builds and runs (default 2). KEEP=1 keeps the scratch
# directory (its path is printed on stderr). ONLY=REGEX restricts the run to
# the programs whose path (e.g. CWE415/01_free_twice.c) matches.
# -v lists, per configuration, each missed BAD program and each false report
# with its first report line.
# Exit status: 1 if a configuration other than glibc gives a false report on
# a GOOD program, or a program fails to build; 2 on a usage error.
# shellcheck disable=SC2016,SC2317  # functions run through xargs; literal $
set -u

usage() { awk 'NR > 1 && /^# shellcheck/ { exit } NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

verbose=0
build=build
for a in "$@"; do
  case $a in
    -v) verbose=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option $a" >&2; usage >&2; exit 2 ;;
    *) build=$a ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) B=$build ;; *) B=$root/$build ;; esac
JOBS=${JOBS:-2}
case $JOBS in ''|*[!0-9]*|0) echo "run.sh: JOBS must be a positive integer" >&2; exit 2 ;; esac
PROGS=$here/progs
CFLAGS="-O1 -g"
RUN_TIMEOUT=20

start=$(date +%s)
W=$(mktemp -d "${TMPDIR:-/tmp}/ukasan-detect.XXXXXX") || exit 2
if [ "${KEEP:-0}" = 1 ]; then
  echo "run.sh: scratch kept in $W" >&2
else
  trap 'rm -rf "$W"' EXIT
fi
mkdir -p "$W/cwd" "$W/probe"

CONFIGS="asan-gcc ukasan-gcc ukasan-clang ukasan-preload ukasan-kfence ukasan-kfence-below glibc"
declare -A FLAVOUR=([asan-gcc]=asan [ukasan-gcc]=ukgcc [ukasan-clang]=ukclang
                    [ukasan-preload]=plain [ukasan-kfence]=plain [ukasan-kfence-below]=plain [glibc]=plain)
declare -A SKIP=()      # config -> why it is skipped
declare -A FSKIP=()     # flavour -> why it cannot be built

# compile FLAVOUR SRC OUT VARIANT: one program, one variant.
compile() {
  local f=$1 src=$2 out=$3 v=$4 cxx=0 cc
  case $src in *.cpp|*.cc) cxx=1 ;; esac
  case $f in
    asan|plain)
      if [ $cxx = 1 ]; then cc=g++; else cc=gcc; fi
      if [ "$f" = asan ]; then
        # shellcheck disable=SC2086
        "$cc" -fsanitize=address $CFLAGS "-D$v" "$src" -o "$out"
      else
        # shellcheck disable=SC2086
        "$cc" $CFLAGS "-D$v" "$src" -o "$out"
      fi ;;
    ukgcc|ukclang)
      local ucc=gcc ucxx=g++
      [ "$f" = ukclang ] && { ucc=clang; ucxx=clang++; }
      if [ $cxx = 1 ]; then cc=$B/bin/ukasan-c++; else cc=$B/bin/ukasan-cc; fi
      # shellcheck disable=SC2086
      UKASAN_CC=$ucc UKASAN_CXX=$ucxx "$cc" $CFLAGS "-D$v" "$src" -o "$out" ;;
  esac
}

# run_env CONFIG: the environment of one run (printed as env arguments).
run_env() {
  local common="exitcode=23:detect_leaks=1"
  case $1 in
    asan-gcc) echo "ASAN_OPTIONS=detect_leaks=1:exitcode=23" ;;
    ukasan-gcc|ukasan-clang) echo "UKASAN_OPTIONS=$common" ;;
    ukasan-preload) echo "LD_PRELOAD=$B/lib/libukasan.so UKASAN_OPTIONS=$common" ;;
    ukasan-kfence) echo "LD_PRELOAD=$B/lib/libukasan.so UKASAN_OPTIONS=$common:kfence_sample_interval=1" ;;
    ukasan-kfence-below) echo "LD_PRELOAD=$B/lib/libukasan.so UKASAN_OPTIONS=$common:kfence_sample_interval=1:kfence_align=2" ;;
    glibc) echo "LIBC_FATAL_STDERR_=1" ;;
  esac
}

flat() { local s=${1//\//__}; echo "${s%.*}"; }

build_one() {   # FLAVOUR REL VARIANT
  local f=$1 rel=$2 v=$3 n
  n=$(flat "$rel")
  compile "$f" "$PROGS/$rel" "$W/bin/$f/$n.$v" "$v" >"$W/log/$f/$n.$v.log" 2>&1
  return 0
}

run_one() {     # CONFIG REL VARIANT
  local c=$1 rel=$2 v=$3 n bin out rc
  n=$(flat "$rel")
  bin=$W/bin/${FLAVOUR[$c]}/$n.$v
  out=$W/out/$c/$n.$v
  if [ ! -x "$bin" ]; then echo nobuild >"$out.rc"; return 0; fi
  # shellcheck disable=SC2046
  { ( cd "$W/cwd" && ulimit -c 0 &&
      exec env -u LD_PRELOAD -u ASAN_OPTIONS -u LSAN_OPTIONS -u UKASAN_OPTIONS \
        $(run_env "$c") timeout -k 5 "$RUN_TIMEOUT" "$bin" \
        >"$out.stdout" 2>"$out.stderr" </dev/null ); rc=$?; } 2>/dev/null
  echo "$rc" >"$out.rc"
  return 0
}

job() {         # build|run ...
  local what=$1; shift
  case $what in build) build_one "$@" ;; run) run_one "$@" ;; esac
}

export -f compile run_env flat build_one run_one job
# Associative arrays do not export: each job re-declares FLAVOUR.
FLAVOUR_DECL=$(declare -p FLAVOUR)
export B W PROGS CFLAGS RUN_TIMEOUT FLAVOUR_DECL
run_jobs() {
  xargs -P "$JOBS" -L 1 bash -c 'eval "$FLAVOUR_DECL"; job "$@"' _
}

# --- toolchains -------------------------------------------------------------
printf 'int main(void){return 0;}\n' >"$W/probe/p.c"
printf 'int main(){return 0;}\n' >"$W/probe/p.cpp"
probe() {       # FLAVOUR: empty output if it builds both languages
  local f=$1 s
  for s in p.c p.cpp; do
    if ! compile "$f" "$W/probe/$s" "$W/probe/$f.$s.out" GOOD >"$W/probe/$f.$s.log" 2>&1; then
      head -n 1 "$W/probe/$f.$s.log"; echo "cannot build $s"; return
    fi
  done
}
for f in asan plain; do
  if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then FSKIP[$f]="gcc/g++ not found"; continue; fi
  why=$(probe "$f"); [ -n "$why" ] && FSKIP[$f]="$(echo "$why" | head -n 1)"
done
for f in ukgcc ukclang; do
  if [ ! -x "$B/bin/ukasan-cc" ] || [ ! -x "$B/bin/ukasan-c++" ]; then
    FSKIP[$f]="no $B/bin/ukasan-cc or ukasan-c++"; continue
  fi
  if [ "$f" = ukclang ] && { ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; }; then
    FSKIP[$f]="clang/clang++ not found"; continue
  fi
  why=$(probe "$f"); [ -n "$why" ] && FSKIP[$f]="$(echo "$why" | head -n 1)"
done
for c in $CONFIGS; do
  f=${FLAVOUR[$c]}
  if [ -n "${FSKIP[$f]:-}" ]; then SKIP[$c]=${FSKIP[$f]}; continue; fi
  case $c in ukasan-preload|ukasan-kfence*)
    [ -e "$B/lib/libukasan.so" ] || SKIP[$c]="no $B/lib/libukasan.so" ;;
  esac
done
active=""
for c in $CONFIGS; do [ -z "${SKIP[$c]:-}" ] && active="$active $c"; done
flavours=""
for c in $active; do
  case " $flavours " in *" ${FLAVOUR[$c]} "*) ;; *) flavours="$flavours ${FLAVOUR[$c]}" ;; esac
done

# --- programs ---------------------------------------------------------------
mapfile -t PROGRAMS < <(cd "$PROGS" && find . -type f \( -name '*.c' -o -name '*.cpp' \) | sed 's|^\./||' |
                        grep -E -- "${ONLY:-.}" | LC_ALL=C sort)
if [ ${#PROGRAMS[@]} = 0 ]; then echo "run.sh: no programs under $PROGS" >&2; exit 2; fi
CWES=$(printf '%s\n' "${PROGRAMS[@]}" | cut -d/ -f1 | LC_ALL=C sort -u)

for f in $flavours; do mkdir -p "$W/bin/$f" "$W/log/$f"; done
for c in $active; do mkdir -p "$W/out/$c"; done

# jobs ACTION NAMES...: one "ACTION NAME PROGRAM VARIANT" line per name,
# program and variant.
jobs() {
  local action=$1 n p v
  shift
  for n in "$@"; do
    for p in "${PROGRAMS[@]}"; do for v in BAD GOOD; do echo "$action $n $p $v"; done; done
  done
}
# shellcheck disable=SC2086
jobs build $flavours >"$W/build.jobs"
echo "run.sh: ${#PROGRAMS[@]} programs; building $(wc -l <"$W/build.jobs") binaries (JOBS=$JOBS) ..." >&2
run_jobs <"$W/build.jobs"

# shellcheck disable=SC2086
jobs run $active >"$W/run.jobs"
echo "run.sh: $(wc -l <"$W/run.jobs") runs ..." >&2
run_jobs <"$W/run.jobs"

# --- classification ---------------------------------------------------------
report_re() {
  case $1 in
    asan-gcc) echo 'ERROR: (AddressSanitizer|LeakSanitizer)' ;;
    glibc) echo '^$never' ;;
    *) echo 'BUG: KASAN|BUG: KFENCE|^BUG [^ ]+ \(Not tainted\)|unreferenced object' ;;
  esac
}
# verdict CONFIG NAME VARIANT -> "report|signal|exit N|timeout|ok|nobuild" + first line
declare -A DET FP MISSED FALSE
NOISE=""
status=0
buildfail=""
for f in $flavours; do
  for p in "${PROGRAMS[@]}"; do
    n=$(flat "$p")
    for v in BAD GOOD; do
      [ -x "$W/bin/$f/$n.$v" ] || buildfail="$buildfail
  $f: $p ($v): $(grep -m1 -E 'error' "$W/log/$f/$n.$v.log" || head -n 1 "$W/log/$f/$n.$v.log")"
    done
  done
done

first_line() {  # CONFIG FILE-PREFIX: the report's first line, or what happened
  local c=$1 o=$2 rc re l
  rc=$(cat "$o.rc")
  re=$(report_re "$c")
  l=$(grep -m1 -E "$re" "$o.stderr" 2>/dev/null | sed 's/^==[0-9]*==//')
  if [ -n "$l" ]; then echo "$l"; return; fi
  case $rc in
    nobuild) echo "not built" ;;
    0) echo "exit 0, no report" ;;
    124) echo "timed out after ${RUN_TIMEOUT}s" ;;
    *)
      l=$(grep -m1 -v '^[[:space:]]*$' "$o.stderr" 2>/dev/null)
      if [ "$rc" -gt 128 ] 2>/dev/null; then
        echo "killed by signal $((rc - 128))${l:+: $l}"
      else
        echo "exit $rc${l:+: $l}"
      fi ;;
  esac
}

for c in $active; do
  re=$(report_re "$c")
  for cwe in $CWES; do DET[$c,$cwe]=0; FP[$c,$cwe]=0; done
  MISSED[$c]=""; FALSE[$c]=""
  for p in "${PROGRAMS[@]}"; do
    cwe=${p%%/*}
    n=$(flat "$p")
    o=$W/out/$c/$n.BAD
    rc=$(cat "$o.rc")
    hit=0
    if [ "$c" = glibc ]; then
      [ "$rc" != nobuild ] && [ "$rc" -gt 128 ] && hit=1
    else
      grep -qE "$re" "$o.stderr" 2>/dev/null && hit=1
    fi
    if [ $hit = 1 ]; then
      DET[$c,$cwe]=$((DET[$c,$cwe] + 1))
    else
      MISSED[$c]="${MISSED[$c]}
  - $p — $(first_line "$c" "$o")"
    fi
    o=$W/out/$c/$n.GOOD
    rc=$(cat "$o.rc")
    bad=0
    if [ "$rc" = nobuild ]; then bad=0   # listed with the build failures
    elif [ "$rc" != 0 ]; then bad=1
    elif [ "$c" != glibc ] && grep -qE "$re" "$o.stderr" 2>/dev/null; then bad=1
    fi
    # A correct program prints nothing on stderr: under glibc alone any
    # output there is the program's own (listed with -v, not counted).
    if [ $bad = 0 ] && [ "$c" = glibc ] && [ -s "$o.stderr" ]; then
      NOISE="$NOISE
  - $p — $(head -n 1 "$o.stderr")"
    fi
    if [ $bad = 1 ]; then
      FP[$c,$cwe]=$((FP[$c,$cwe] + 1))
      FALSE[$c]="${FALSE[$c]}
  - $p — $(first_line "$c" "$o")"
      [ "$c" != glibc ] && status=1
    fi
  done
done

# --- table ------------------------------------------------------------------
echo "## ukasan detection suite ($(date -u '+%Y-%m-%d %H:%M UTC'), build: $B)"
echo
echo "Each configuration's cell: **detected BAD / false reports on GOOD**."
echo
hdr="| CWE | bad programs |"; sep="|---|---|"
for c in $CONFIGS; do hdr="$hdr $c |"; sep="$sep---|"; done
echo "$hdr"; echo "$sep"
declare -A TD TF
for c in $CONFIGS; do TD[$c]=0; TF[$c]=0; done
total=0
for cwe in $CWES; do
  cnt=$(printf '%s\n' "${PROGRAMS[@]}" | grep -c "^$cwe/")
  total=$((total + cnt))
  row="| ${cwe#CWE} | $cnt |"
  for c in $CONFIGS; do
    if [ -n "${SKIP[$c]:-}" ]; then row="$row n/a |"; continue; fi
    row="$row ${DET[$c,$cwe]} / ${FP[$c,$cwe]} |"
    TD[$c]=$((TD[$c] + DET[$c,$cwe])); TF[$c]=$((TF[$c] + FP[$c,$cwe]))
  done
  echo "$row"
done
row="| **total** | **$total** |"
for c in $CONFIGS; do
  if [ -n "${SKIP[$c]:-}" ]; then row="$row n/a |"; else row="$row **${TD[$c]} / ${TF[$c]}** |"; fi
done
echo "$row"
echo
for c in $CONFIGS; do
  [ -n "${SKIP[$c]:-}" ] && echo "- $c skipped: ${SKIP[$c]}"
done
# Whatever the runtime says about the options of a configuration (e.g. an
# option it does not know) is shown once.
for c in $active; do
  case $c in ukasan-*)
    l=$(cat "$W/out/$c/"*.GOOD.stderr 2>/dev/null | grep -m1 -iE "ukasan.*(unknown|malformed).*option")
    [ -n "$l" ] && echo "- $c: the runtime says: \`$l\`" ;;
  esac
done
if [ -n "$buildfail" ]; then
  echo "- build failures:$buildfail"
  status=1
fi

if [ $verbose = 1 ]; then
  for c in $active; do
    echo
    echo "### $c"
    if [ -n "${MISSED[$c]}" ]; then echo "Missed BAD programs:${MISSED[$c]}"; else echo "Missed BAD programs: none"; fi
    if [ -n "${FALSE[$c]}" ]; then echo "False reports on GOOD programs:${FALSE[$c]}"; else echo "False reports on GOOD programs: none"; fi
  done
  [ -n "$NOISE" ] && { echo; echo "GOOD programs writing to stderr under glibc:$NOISE"; }
fi

echo
echo "Total time: $(( $(date +%s) - start )) s (JOBS=$JOBS)."
if [ $status != 0 ]; then
  echo "FAIL: false reports on GOOD programs or build failures (see above)." >&2
fi
exit $status
