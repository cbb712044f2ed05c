#!/usr/bin/env bash
# `make demo`: one program built with the ukasan-cc wrapper
# (-fsanitize=kernel-address, inline checks) and the report for its
# stack-out-of-bounds read, found at the faulting access.
build=${1:-build}
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/stack_oob.c" <<'EOC'
#include <stdio.h>
volatile int idx = 8;
__attribute__((noinline)) int sum_first(int n) {
  int arr[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int s = 0;
  for (int i = 0; i <= n; i++) s += arr[i]; /* off by one: reads arr[8] */
  return s;
}
int main(void) {
  printf("sum = %d\n", sum_first(idx));
  return 0;
}
EOC
echo "### $build/bin/ukasan-cc -O1 -g stack_oob.c  (instrumented: -fsanitize=kernel-address)"
if "$build/bin/ukasan-cc" -O1 -g "$tmp/stack_oob.c" -o "$tmp/stack_oob"; then
  "$tmp/stack_oob"
  echo "### exit status: $?"
else
  echo "### (could not build the instrumented example)"
fi
