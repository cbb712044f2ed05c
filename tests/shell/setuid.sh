#!/bin/bash
# A setuid-root program linked with ukasan, run by an unprivileged user: the
# caller's UKASAN_OPTIONS=log_path must not make it create a file, and the
# caller's UKASAN_SYMBOLIZER_PATH must not be executed. Needs root (CI runs
# as root); exits 77 (skipped) otherwise.
# Usage: setuid.sh SOURCE_DIR BUILD_DIR
src=${1:?source dir}
build=${2:?build dir}
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
command -v setpriv >/dev/null || { echo "skipped: no setpriv"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cat >"$dir/prog.c" <<'C'
#include <stdio.h>
#include <unistd.h>
#include <ukasan/slab.h>
#include <ukasan/ukasan.h>
int main(void) {
  printf("euid=%d\n", (int)geteuid());
  fflush(stdout);
  char *p = kmalloc(16, GFP_KERNEL);
  kasan_check_write(p + 16, 1);
  return 0;
}
C
gcc -O1 -g -fno-omit-frame-pointer -I"$src/include" -c "$dir/prog.c" -o "$dir/prog.o" || exit 1
g++ "$dir/prog.o" "$build/lib/libukasan.a" -lpthread -ldl -o "$dir/prog" || exit 1
chown root:root "$dir/prog" && chmod 4755 "$dir/prog"
printf '#!/bin/sh\ntouch %s/pwned\n' "$dir" >"$dir/evil.sh"
chmod 755 "$dir/evil.sh"
mkdir "$dir/logs" && chmod 777 "$dir/logs"
out=$(cd "$dir" && UKASAN_OPTIONS=log_path=$dir/logs/report:exitcode=0 UKASAN_SYMBOLIZER_PATH=$dir/evil.sh \
      setpriv --reuid=nobody --regid=nogroup --clear-groups ./prog 2>&1)
echo "$out"
grep -q '^euid=0$' <<<"$out" || { echo "skipped: the setuid bit has no effect here (nosuid mount?)"; exit 77; }
fail=0
[ -z "$(ls -A "$dir/logs")" ] || { echo "FAIL: created $(ls "$dir/logs")"; fail=1; }
[ ! -e "$dir/pwned" ] || { echo "FAIL: executed UKASAN_SYMBOLIZER_PATH"; fail=1; }
grep -q 'log_path is ignored in a setuid/setgid program' <<<"$out" || { echo "FAIL: no notice"; fail=1; }
grep -q 'BUG: KASAN: slab-out-of-bounds' <<<"$out" || { echo "FAIL: the report is not on stderr"; fail=1; }
[ $fail = 0 ] && echo "setuid: ok"
exit $fail
