#!/usr/bin/env bash
# Real programs under LD_PRELOAD=libukasan.so: identical output to a plain
# run, no report, clean exit; process-life cases (fork, spawn, threads, TLS
# destructors, constructors, signal handlers); -lukasan linking.
# Usage: bash heap_programs.sh SRC_DIR BUILD_DIR
set -u
src=$1 build=$2
lib=$(cd "$build/lib" && pwd)/libukasan.so
progs=$build/tests/heap/progs
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Debian's bash leaks its parse trees at exit (LSan reports the same 155
# objects): the shell that runs each command is not what is under test.
printf 'leak:*/bash\n' >"$tmp/bash.supp"
export UKASAN_OPTIONS=suppressions=$tmp/bash.supp

# same NAME CMD...: stdout identical with and without the preload, stderr empty under it.
same() {
  local name=$1
  shift
  timeout 300 bash -c "$*" >"$tmp/plain" 2>/dev/null
  local rc0=$?
  LD_PRELOAD="$lib" timeout 300 bash -c "$*" >"$tmp/pre" 2>"$tmp/err"
  local rc1=$?
  if [ $rc0 -ne $rc1 ] || ! cmp -s "$tmp/plain" "$tmp/pre" || [ -s "$tmp/err" ]; then
    echo "FAIL: $name (rc $rc0 vs $rc1)"; diff "$tmp/plain" "$tmp/pre" | head; head -50 "$tmp/err"; fail=1
  else
    echo "ok: $name ($(wc -c <"$tmp/pre") bytes identical)"
  fi
}

cat >"$tmp/script.py" <<'PY'
import collections, hashlib, json, re, threading
words = [("w%d" % (i * 7919 % 5003)) * (i % 7 + 1) for i in range(60000)]
c = collections.Counter(words)
d = {k: [v, str(v) * 3] for k, v in c.items()}
s = json.dumps(d, sort_keys=True)
out = []
def work(n):
    out.append(hashlib.sha256((s * n).encode()).hexdigest())
ts = [threading.Thread(target=work, args=(i,)) for i in range(1, 5)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(s), sorted(out)[0], len(re.findall(r"w1\d+", s)))
PY
if command -v python3 >/dev/null; then
  same "python3 (PYTHONMALLOC=malloc)" "PYTHONMALLOC=malloc python3 $tmp/script.py"
fi
same "coreutils pipeline" "seq 1 300000 | sort -r | uniq -c | sort -n -k2 | sha256sum"
same "multi-threaded churn" "$progs/mt_stress"
same "constructors, TLS destructors, atexit" "$progs/early_main"

# KFENCE on real programs: every allocation (that fits a page) and a sampled
# mix; the same output, no report.
KF1="UKASAN_OPTIONS=$UKASAN_OPTIONS:kfence_sample_interval=1"
KF7="UKASAN_OPTIONS=$UKASAN_OPTIONS:kfence_sample_interval=7"
if command -v python3 >/dev/null; then
  same "python3 under KFENCE (every allocation)" "$KF1 PYTHONMALLOC=malloc python3 $tmp/script.py"
fi
same "coreutils pipeline under KFENCE (every allocation)" "$KF1 bash -c 'seq 1 100000 | sort -r | uniq -c | sort -n -k2 | sha256sum'"
same "multi-threaded churn under KFENCE (1 in 7)" "$KF7 $progs/mt_stress"
UKASAN_OPTIONS=kfence_sample_interval=1 LD_PRELOAD="$lib" timeout 120 "$progs/sigstorm" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q '^ok$' "$tmp/out"; then
  echo "FAIL: sigstorm under KFENCE (rc $rc)"; cat "$tmp/out" "$tmp/err" | head -40; fail=1
else
  echo "ok: malloc/free in a 5 kHz signal handler under KFENCE (every allocation)"
fi

# malloc/free in a 5 kHz signal handler interrupting malloc/free (3 s). Only
# under the preload: glibc's malloc deadlocks here.
LD_PRELOAD="$lib" timeout 120 "$progs/sigstorm" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q '^ok$' "$tmp/out"; then
  echo "FAIL: sigstorm (rc $rc)"; cat "$tmp/out" "$tmp/err" | head -40; fail=1
else
  echo "ok: malloc/free in a 5 kHz signal handler"
fi

# fork/exec stress (the child allocates at once; posix_spawn, system, popen).
LD_PRELOAD="$lib" timeout 300 "$progs/fork_exec" 300 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q '^done$' "$tmp/out" || ! grep -q '^spawned$' "$tmp/out" \
   || ! grep -q '^system$' "$tmp/out" || ! grep -q '^popen$' "$tmp/out"; then
  echo "FAIL: fork_exec (rc $rc)"; cat "$tmp/out" "$tmp/err" | head -40; fail=1
else
  echo "ok: fork/exec stress"
fi

# fork() with one thread: the runtime's handlers take no lock and write no
# page the fork made copy-on-write (they did: here the parent took 11 page
# faults a fork, now 3, glibc's own fork's). Then with two threads.
out=$(UKASAN_OPTIONS=exitcode=0 LD_PRELOAD="$lib" timeout 120 "$progs/fork_single" 2>"$tmp/err")
rc=$?
per=$(echo "$out" | sed -n 's/^faults per fork //p')
if [ $rc -ne 0 ] || ! echo "$out" | grep -q '^done$' || [ -z "$per" ] || [ "$per" -gt 7 ] \
   || [ "$(grep -c '^BUG: KASAN: double-free' "$tmp/err")" -ne 62 ]; then
  echo "FAIL: fork_single (rc $rc, ${per:-?} faults per fork, $(grep -c '^BUG: KASAN: double-free' "$tmp/err") reports)"
  echo "$out"; head -20 "$tmp/err"; fail=1
else
  echo "ok: fork with one thread: $per page faults a fork in the parent; 62 children reported their double free"
fi

# Thread churn: 6000 short threads; RSS growth after the first 1000 bounded
# (a leaked thread state alone is ~9 KiB: 5000 leaks would be ~45 MiB).
growth=$(UKASAN_OPTIONS=quarantine_size_mb=8 LD_PRELOAD="$lib" timeout 300 "$progs/thread_churn" 6000 2>"$tmp/err")
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || [ -z "$growth" ] || [ "$growth" -gt 12288 ]; then
  echo "FAIL: thread churn (rc $rc, RSS growth ${growth:-?} KiB)"; cat "$tmp/err" | head; fail=1
else
  echo "ok: thread churn (RSS growth ${growth} KiB over 5000 threads)"
fi

# free() from a signal handler.
LD_PRELOAD="$lib" timeout 120 "$progs/sigfree" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then echo "FAIL: sigfree (rc $rc)"; cat "$tmp/err" | head -40; fail=1; else echo "ok: free from a signal handler"; fi

# Linked with -lukasan, no preload.
LD_LIBRARY_PATH="$build/lib" timeout 60 "$progs/linked_heap" >"$tmp/out" 2>&1
if [ $? -ne 0 ]; then echo "FAIL: linked_heap"; cat "$tmp/out"; fail=1; else echo "ok: -lukasan program ($(cat "$tmp/out"))"; fi

# Silence by default; print_stats=1 prints the statistics at exit.
LD_PRELOAD="$lib" /bin/true 2>"$tmp/err"
if [ -s "$tmp/err" ]; then echo "FAIL: a clean run printed something"; cat "$tmp/err"; fail=1; else echo "ok: clean run is silent"; fi
UKASAN_OPTIONS=print_stats=1 LD_PRELOAD="$lib" /bin/true 2>"$tmp/err"
if ! grep -q "^ukasan: stats" "$tmp/err"; then echo "FAIL: print_stats=1 printed no statistics"; fail=1; else echo "ok: print_stats=1"; fi
exit $fail
