#!/bin/bash
# Checks that the includes of src/ follow README's layering line (README
# "Layout": the line starting with "Layers:"), that every directory of src/
# is on it, and that no .cpp file declares by hand what a header should
# (an `extern` other than `extern "C"` for a libc/ABI name).
# Usage: layers.sh SOURCE_DIR [BUILD_DIR]
set -u
src=${1:?source dir}
line=$(grep -m1 '^Layers: ' "$src/README.md") || { echo "FAIL: README.md has no 'Layers:' line"; exit 1; }
# "Layers: `a` → `b` / `c` → ..." -> rank per directory
declare -A rank
r=0
for tok in $(echo "${line#Layers: }" | tr -d '`' | sed 's|→| > |g; s|/| |g'); do
  if [ "$tok" = ">" ]; then r=$((r + 1)); else rank[$tok]=$r; fi
done
fail=0
for d in "$src"/src/*/; do
  d=$(basename "$d")
  [ -n "${rank[$d]+x}" ] || { echo "FAIL: src/$d is not on README's Layers line"; fail=1; }
done
for f in "$src"/src/*/*; do
  d=$(basename "$(dirname "$f")")
  [ -n "${rank[$d]+x}" ] || continue
  while IFS= read -r inc; do
    t=${inc%%/*}
    [ "$t" = "$d" ] && continue
    [ "$t" = "ukasan" ] && continue  # the public headers (include/ukasan)
    if [ -z "${rank[$t]+x}" ]; then
      echo "FAIL: ${f#$src/} includes $inc: '$t' is not a layer"; fail=1
    elif [ "${rank[$t]}" -ge "${rank[$d]}" ]; then
      echo "FAIL: ${f#$src/} ($d, layer ${rank[$d]}) includes $inc ($t, layer ${rank[$t]}): not below it"; fail=1
    fi
  done < <(sed -n 's/^#include "\([^"]*\/[^"]*\)".*/\1/p' "$f")
done
# Hand-written declarations in .cpp files: `extern` that is not `extern "C"`.
if grep -nE '^\s*extern\s+[^"[:space:]]' "$src"/src/*/*.cpp; then
  echo "FAIL: extern declarations in .cpp files (declare them in the layer's header)"; fail=1
fi
[ $fail = 0 ] && echo "layers: ok (${line#Layers: })"
exit $fail
