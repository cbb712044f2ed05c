#!/bin/bash
# Under an address-space limit (ulimit -v, prlimit --as) the shadow cannot be
# reserved: start-up must say so, with the limit, not blame another sanitizer.
# Usage: rlimit_as.sh SOURCE_DIR BUILD_DIR
build=${2:?build dir}
out=$( (ulimit -v 8000000 && LD_PRELOAD="$build/lib/libukasan.so" /bin/true) 2>&1 )
rc=$?
echo "$out"
[ $rc -ne 0 ] || { echo "FAIL: started under ulimit -v 8000000"; exit 1; }
grep -q 'the address-space limit (RLIMIT_AS, ulimit -v) is 7812 MiB' <<<"$out" || { echo "FAIL: no RLIMIT_AS diagnosis"; exit 1; }
grep -q 'another sanitizer' <<<"$out" && { echo "FAIL: blames another sanitizer"; exit 1; }
echo "rlimit_as: ok"
