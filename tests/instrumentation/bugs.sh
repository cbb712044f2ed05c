#!/usr/bin/env bash
# One test program per bug type, per compiler (gcc, clang), per mode (inline,
# outline): the first report's header must be "BUG: KASAN: <type> in <fn>"
# and the program must go on after it (fault=report), or die of the fault for
# null-ptr-deref / wild-memory-access (the access itself cannot complete).
. "$(dirname "$0")/common.sh"
CASES="slab-oob:slab-out-of-bounds:bug_slab_oob
slab-uaf:slab-use-after-free:bug_slab_uaf
large-uaf:use-after-free:bug_large_uaf
global-oob:global-out-of-bounds:bug_global_oob
global-oob-static:global-out-of-bounds:bug_global_oob_static
stack-oob:stack-out-of-bounds:bug_stack_oob
alloca-oob:alloca-out-of-bounds:bug_alloca_oob
null:null-ptr-deref:bug_null_deref
wild:wild-memory-access:bug_wild
memcpy-oob:slab-out-of-bounds:bug_memcpy_oob
memset-uaf:slab-use-after-free:bug_memset_uaf
strlen-oob:slab-out-of-bounds:bug_strlen_oob
printf-oob:slab-out-of-bounds:bug_printf_oob
atomic-uaf:slab-use-after-free:bug_atomic_uaf
use-after-scope:use-after-scope:bug_use_after_scope
wcscat-oob:slab-out-of-bounds:bug_wcscat_oob
wmemset-uaf:slab-use-after-free:bug_wmemset_uaf
strstr-oob:slab-out-of-bounds:bug_strstr_oob
strcasecmp-oob:slab-out-of-bounds:bug_strcasecmp_oob
stpcpy-oob:slab-out-of-bounds:bug_stpcpy_oob
mempcpy-oob:slab-out-of-bounds:bug_mempcpy_oob
read-oob:slab-out-of-bounds:bug_read_oob
write-uaf:slab-use-after-free:bug_write_uaf
fgets-oob:slab-out-of-bounds:bug_fgets_oob
strncat-oob:slab-out-of-bounds:bug_strncat_oob
strtol-oob:slab-out-of-bounds:bug_strtol_oob
sscanf-oob:slab-out-of-bounds:bug_sscanf_oob
qsort-oob:slab-out-of-bounds:bug_qsort_oob
bsearch-oob:slab-out-of-bounds:bug_bsearch_oob
readv-oob:slab-out-of-bounds:bug_readv_oob
writev-uaf:slab-use-after-free:bug_writev_uaf
getline-oob:slab-out-of-bounds:bug_getline_oob
strndup-oob:slab-out-of-bounds:bug_strndup_oob
strtok-oob:slab-out-of-bounds:bug_strtok_oob
fscanf-uaf:slab-use-after-free:bug_fscanf_uaf
send-oob:slab-out-of-bounds:bug_send_oob"
[ $HEAP = 1 ] && CASES="$CASES
malloc-oob:slab-out-of-bounds:bug_malloc_oob
malloc-uaf:slab-use-after-free:bug_malloc_uaf"
CXXCASES="kmalloc-oob:slab-out-of-bounds:cpp_kmalloc_oob
stack-oob:stack-out-of-bounds:cpp_stack_oob
global-oob:global-out-of-bounds:cpp_global_oob
lib-global-oob:global-out-of-bounds:lib_global_oob"
[ $HEAP = 1 ] && CXXCASES="$CXXCASES
new-oob:slab-out-of-bounds:cpp_new_oob
new-uaf:slab-use-after-free:cpp_new_uaf"
# Extra build variants (frame pointers, optimisation, PIE) on a subset.
VARIANTS="O1:-O1 -g"
SUBSET_VARIANTS="O0:-O0 -g|O2nofp:-O2 -g -fomit-frame-pointer|O3nopie:-O3 -g -fno-pie -no-pie"
SUBSET="slab-oob stack-oob global-oob alloca-oob memcpy-oob atomic-uaf"

i=0
for cc in $COMPILERS; do
  if [ $cc = gcc ]; then cxx=g++; else cxx=clang++; fi
  for mode in inline outline; do
    tag=$cc-$mode
    W="UKASAN_CC=$cc UKASAN_CXX=$cxx UKASAN_MODE=$mode"
    echo "$W $BUILD/bin/ukasan-cc -O1 -g -Wall -Werror -fPIC -shared $PROGS/lib.c -o $WORK/lib-$tag.so || touch $WORK/build-lib-$tag.fail" >>"$WORK/jobs.$((i++ % 4))"
    echo "$W $BUILD/bin/ukasan-cc -O1 -g -Wall -Werror $PROGS/bugs.c -o $WORK/bugs-$tag-O1 || touch $WORK/build-$tag.fail" >>"$WORK/jobs.$((i++ % 4))"
    IFS='|'
    for v in $SUBSET_VARIANTS; do
      echo "$W $BUILD/bin/ukasan-cc ${v#*:} -Wall -Werror $PROGS/bugs.c -o $WORK/bugs-$tag-${v%%:*} || touch $WORK/build-$tag-${v%%:*}.fail" >>"$WORK/jobs.$((i++ % 4))"
    done
    unset IFS
  done
done
run_parallel
for cc in $COMPILERS; do
  if [ $cc = gcc ]; then cxx=g++; else cxx=clang++; fi
  for mode in inline outline; do
    tag=$cc-$mode
    echo "UKASAN_CC=$cc UKASAN_CXX=$cxx UKASAN_MODE=$mode $BUILD/bin/ukasan-c++ -O1 -g -Wall -Werror $PROGS/bugs_cpp.cpp $WORK/lib-$tag.so -o $WORK/cpp-$tag || touch $WORK/build-cpp-$tag.fail" >>"$WORK/jobs.$((i++ % 4))"
  done
done
run_parallel
for f in "$WORK"/*.fail; do [ -e "$f" ] && fail "build: $(basename "$f" .fail)"; done

# check PROG CASE TYPE FN: one run, assertions written to $WORK/<name>.fail
cat >"$WORK/check.sh" <<'EOS'
prog=$1 case=$2 type=$3 fn=$4
out=$prog.$case.out
"$prog" "$case" >"$out" 2>&1
rc=$?
hdr=$(grep -m1 '^BUG: KASAN:' "$out")
name=$(basename "$prog").$case
case "$hdr" in
  "BUG: KASAN: $type in $fn"|"BUG: KASAN: $type in $fn"[.+\ \(]*) ;;
  *) { echo "$name: header '$hdr', want 'BUG: KASAN: $type in $fn'"; cat "$out"; } >"$prog.$case.fail"; exit 0 ;;
esac
# The kernel's line shapes (report.c, dump_stack, decode_stacktrace.sh), as
# syzkaller's parser reads them: the header's function as func+0xOFF/0xSIZE,
# a CPU line, every frame an identifier with +0xOFF/0xSIZE and file:line or
# [module+0xOFF] (a C++ name's demangled form after it), or an inlined
# callee marked [inline], or a bare address with its module.
frame_re='^ ([A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+ [^ ]+|[A-Za-z_][A-Za-z0-9_.]* [^ ]+ \[inline\]|0x[0-9a-f]+ \[[^ ]+\])( \(.*\))?$'
bad=$(awk '/^(Call Trace:|Allocated by task|Freed by task)/ {on=1; next} on && /^$/ {on=0} on' "$out" | grep -vE "$frame_re")
if ! printf '%s\n' "$hdr" | grep -qE '^BUG: KASAN: [a-z-]+ in [A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+$' \
   || ! grep -qE '^CPU: [0-9]+ PID: [0-9]+ Comm: .' "$out" || [ -n "$bad" ]; then
  { echo "$name: line shapes: header '$hdr'; frames not in the kernel's shape:"; echo "$bad"; cat "$out"; } >"$prog.$case.fail"
  exit 0
fi
if [ "$type" = null-ptr-deref ] || [ "$type" = wild-memory-access ]; then
  [ $rc = 139 ] || [ $rc = 135 ] || echo "$name: exit $rc, want death by SIGSEGV" >"$prog.$case.fail"
else
  grep -q "^MARKER $case continued" "$out" && [ $rc = 0 ] || { echo "$name: did not continue (rc $rc)"; cat "$out"; } >"$prog.$case.fail"
fi
EOS
n=0
for cc in $COMPILERS; do
  for mode in inline outline; do
    tag=$cc-$mode
    for c in $CASES; do
      IFS=: read -r cs ty fn <<<"$c"
      echo "bash $WORK/check.sh $WORK/bugs-$tag-O1 $cs $ty $fn" >>"$WORK/jobs.$((i++ % 4))"; n=$((n + 1))
      case " $SUBSET " in *" $cs "*)
        for v in O0 O2nofp O3nopie; do
          echo "bash $WORK/check.sh $WORK/bugs-$tag-$v $cs $ty $fn" >>"$WORK/jobs.$((i++ % 4))"; n=$((n + 1))
        done ;;
      esac
    done
    for c in $CXXCASES; do
      IFS=: read -r cs ty fn <<<"$c"
      echo "bash $WORK/check.sh $WORK/cpp-$tag $cs $ty $fn" >>"$WORK/jobs.$((i++ % 4))"; n=$((n + 1))
    done
  done
done
rm -f "$WORK"/*.fail
run_parallel
for f in "$WORK"/*.fail; do [ -e "$f" ] && { cat "$f"; FAILS=$((FAILS + 1)); }; done
echo "bugs: $n checks ($COMPILERS; inline, outline), $FAILS failed"
[ $FAILS = 0 ]
