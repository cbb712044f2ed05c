#!/usr/bin/env python3
"""Whole-program and real-program benchmarks for ukasan (called by bench/run.sh).

Runs every workload of bench/workloads.c under every available allocator,
alternating allocators inside each repetition (rep 1: all allocators, rep 2:
all allocators, ...) so that slow drift of a shared machine hits all of them
alike; reports the median of the repetitions and ratios against glibc and
scudo computed from those medians. Writes under OUT:
  workloads.md        the tables (Markdown)
  results.json        every single run
  occ-*.dat / *.png   RSS and ukasan quarantine occupancy over time (rep 1),
                      plots if gnuplot is installed
Nothing here is a pass/fail gate: targets are reported as met/missed.
Usage: run_workloads.py BUILD_DIR OUT_DIR   (env QUICK=1: fewer ops, 3 reps still;
REAL_ONLY=1: only the real programs; UKASAN_BEFORE=path/to/an/older/libukasan.so: it runs
too, as ukasan-before with ukasan's options, for a before/after in the same run)
"""
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

# Absolute: the real programs change directory (git.sh, cmake's compiler
# checks), and ld.so resolves a relative LD_PRELOAD against each process's
# own working directory: a relative library is silently not preloaded there.
BUILD, OUT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.environ.get("QUICK", "0") not in ("", "0")
REPS = int(os.environ.get("BENCH_REPS", "3"))
QMB = 256  # quarantine bound for every quarantining allocator (MiB)
os.makedirs(OUT, exist_ok=True)

WL_BIN = os.path.join(BUILD, "bin", "bench_workloads")
LIBUKASAN = os.path.join(BUILD, "lib", "libukasan.so")
SCUDO = "/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.scudo_standalone-x86_64.so"
LIBDIR = "/usr/lib/x86_64-linux-gnu"


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


LIBASAN = sh("gcc -print-file-name=libasan.so")

# ---- extra builds of the workload binary -------------------------------------
src_c = os.path.join(SRC, "bench", "workloads.c")
instr_bin = os.path.join(OUT, "workloads-ukasan-cc")
asan_bin = os.path.join(OUT, "workloads-asan")
cc = os.path.join(BUILD, "bin", "ukasan-cc")
have_instr = subprocess.run([cc, "-O2", "-g", src_c, "-o", instr_bin, "-lpthread", "-ldl"],
                            capture_output=True).returncode == 0
have_asan_build = subprocess.run(["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-fsanitize=address", src_c,
                                  "-o", asan_bin, "-lpthread", "-ldl"], capture_output=True).returncode == 0

# ---- allocators: name -> (binary or None for the plain one, env additions) ----
ALLOCS = [("glibc", None, {})]
for name, lib in (("jemalloc", "libjemalloc.so.2"), ("tcmalloc", "libtcmalloc_minimal.so.4"),
                  ("mimalloc", "libmimalloc.so.2")):
    if os.path.exists(os.path.join(LIBDIR, lib)):
        ALLOCS.append((name, None, {"LD_PRELOAD": os.path.join(LIBDIR, lib)}))
if os.path.exists(SCUDO):
    ALLOCS.append(("scudo+q", None, {
        "LD_PRELOAD": SCUDO,
        # Same global bound as ukasan; ukasan's per-CPU queue is 1 MiB; ukasan
        # quarantines every size, so the max chunk size covers the largest block.
        "SCUDO_OPTIONS": f"quarantine_size_kb={QMB * 1024}:thread_local_quarantine_size_kb=1024:"
                         f"quarantine_max_chunk_size={2 << 20}"}))
# Both sanitizers at their default leak detection (on): each pays its
# exit-time leak scan. exitcode=0 for both: a program that leaks (gcc's
# cc1 and as, git, perl do) must not fail the run it is timed in (cmake's
# compiler checks, git.sh under set -e); reports are counted from stderr.
if LIBASAN and os.path.exists(LIBASAN):
    ALLOCS.append(("asan-preload", None, {"LD_PRELOAD": LIBASAN,
                                          "ASAN_OPTIONS": f"quarantine_size_mb={QMB}:detect_leaks=1:exitcode=0"}))
if have_asan_build:
    ALLOCS.append(("asan-build", asan_bin, {"ASAN_OPTIONS": f"quarantine_size_mb={QMB}:detect_leaks=1:exitcode=0"}))
UK_ENV = {"UKASAN_OPTIONS": f"quarantine_size_mb={QMB}:exitcode=0"}
ALLOCS.append(("ukasan", None, dict(UK_ENV, LD_PRELOAD=LIBUKASAN)))
# A before/after of a change in one run: the older library, the same options.
BEFORE = os.environ.get("UKASAN_BEFORE", "")
if BEFORE:
    if not os.path.exists(BEFORE):
        sys.exit(f"run_workloads.py: UKASAN_BEFORE={BEFORE}: no such file")
    ALLOCS.append(("ukasan-before", None, dict(UK_ENV, LD_PRELOAD=os.path.abspath(BEFORE))))
# The second quarantine for referenced freed objects (amortised leak scans).
ALLOCS.append(("ukasan+keep", None, dict(UKASAN_OPTIONS=f"quarantine_size_mb={QMB}:exitcode=0:quarantine_keep_referenced=1",
                                         LD_PRELOAD=LIBUKASAN)))
if have_instr:
    ALLOCS.append(("ukasan-cc", instr_bin, dict(UK_ENV)))

# ---- workloads: (label, workload, threads, ops per thread) -------------------
f = 0.3 if QUICK else 1.0
WORKLOADS = [
    ("churn-1t", "churn", 1, int(1_000_000 * f)),
    ("churn-2t", "churn", 2, int(1_000_000 * f)),  # the headline
    ("xthread-2t", "xthread", 2, int(500_000 * f)),
    ("threads-2t", "threads", 2, int(400 * f)),
    ("large-2t", "large", 2, int(2000 * f)),
    ("longlived-2t", "longlived", 2, int(500_000 * f)),
]
# Scaling: churn at more thread counts (BENCH_THREADS="1 2 4 8 16"; by default
# the powers of two up to the CPU count). 1 and 2 are the rows above.
_ncpu = os.cpu_count() or 1
SCALE_THREADS = [int(t) for t in os.environ.get(
    "BENCH_THREADS", " ".join(str(1 << i) for i in range(8) if (1 << i) <= max(_ncpu, 2))).split()]
for _t in SCALE_THREADS:
    if _t > 2:
        WORKLOADS.append((f"churn-{_t}t", "churn", _t, int(1_000_000 * f)))
REAL_ONLY = os.environ.get("REAL_ONLY", "0") not in ("", "0")
if REAL_ONLY:
    WORKLOADS = []


def run_one(binary, env_add, args, occ=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(env_add)
    if occ:
        env["BENCH_OCC"] = occ
    t0 = time.time()
    p = subprocess.run([binary] + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=300)
    wall = time.time() - t0
    res = {"rc": p.returncode, "wall": wall}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            for kv in line.split()[1:]:
                k, v = kv.split("=", 1)
                try:
                    res[k] = float(v)
                except ValueError:
                    res[k] = v
    if p.returncode != 0 or "ns_op" not in res:
        res["error"] = (p.stderr or p.stdout)[-300:]
    return res


results = []  # dicts: alloc, wl, rep, metrics
print(f"# allocators: {', '.join(a[0] for a in ALLOCS)}", flush=True)
print(f"# load average at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
_orders = {}


def run_order(allocs, rep):
    # Each repetition runs the allocators in its own order: a run is affected
    # by the one before it (the memory a big process just gave back, dirty
    # page cache), and a fixed or merely rotated order puts the same
    # neighbour before each allocator in every repetition (ukasan came after
    # asan-preload, the heaviest run). Repetition 0 keeps the declared order;
    # each later one is the seeded shuffle that repeats the fewest
    # (previous, next) pairs of the earlier ones (deterministic).
    key = tuple(a[0] for a in allocs)
    done = _orders.setdefault(key, [])
    while len(done) <= rep:
        seen = {(o[i - 1], o[i]) for o in done for i in range(1, len(o))}
        best = None
        for seed in range(200 if done else 1):
            o = list(key)
            if done:
                random.Random(seed).shuffle(o)
            cost = sum((o[i - 1], o[i]) in seen for i in range(1, len(o)))
            if best is None or cost < best[0]:
                best = (cost, o)
        done.append(best[1])
    by_name = {a[0]: a for a in allocs}
    return [by_name[n] for n in done[rep]]


for rep in range(REPS):
    for label, wl, thr, ops in WORKLOADS:
        for name, binary, env_add in run_order(ALLOCS, rep):
            occ = os.path.join(OUT, f"occ-{label}-{name}.dat") if rep == 0 else None
            r = run_one(binary or WL_BIN, env_add, [wl, thr, ops], occ)
            r.update(alloc=name, wl=label, rep=rep)
            results.append(r)
            if "error" in r:
                print(f"  {label} {name} rep{rep}: FAILED rc={r['rc']}: {r['error']!r}", flush=True)
    print(f"# rep {rep + 1}/{REPS} done", flush=True)


def med(label, name, key):
    v = [r[key] for r in results if r["wl"] == label and r["alloc"] == name and key in r and "error" not in r]
    return statistics.median(v) if v else None


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}"


md = []
md.append(f"Median of {REPS} interleaved runs; ns/op = wall time / (malloc+free pairs) over all threads; "
          f"RSS = peak (getrusage, MiB); latencies in ns from rdtsc around every 4th call; "
          f"quarantine bound {QMB} MiB for ukasan, scudo+q, ASan. load average at start: "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}.\n")
for label, wl, thr, ops in WORKLOADS:
    md.append(f"### {label} ({wl}, {thr} threads, {ops} ops/thread)\n")
    md.append("| allocator | ns/op | × glibc | × scudo+q | peak RSS MiB | malloc p50/p99/p99.9/max | "
              "free p50/p99/p99.9/max |")
    md.append("|---|---|---|---|---|---|---|")
    g = med(label, "glibc", "ns_op")
    s = med(label, "scudo+q", "ns_op")
    for name, _, _ in ALLOCS:
        n = med(label, name, "ns_op")
        rss = med(label, name, "rss_kib")
        lat = lambda k: "/".join(fmt(med(label, name, f"{k}_{p}")) for p in ("p50", "p99", "p999", "max"))
        md.append(f"| {name} | {fmt(n, 1)} | {fmt(n / g if n and g else None, 2)} | "
                  f"{fmt(n / s if n and s else None, 2)} | {fmt(rss / 1024 if rss else None, 1)} | "
                  f"{lat('malloc')} | {lat('free')} |")
    md.append("")

# ---- headline targets ------------------------------------------------------------
u2, g2, s2 = med("churn-2t", "ukasan", "ns_op"), med("churn-2t", "glibc", "ns_op"), med("churn-2t", "scudo+q", "ns_op")
u1 = med("churn-1t", "ukasan", "ns_op")
urss = med("churn-2t", "ukasan", "rss_kib")
ufree = med("churn-2t", "ukasan", "free_p999")
live_mib = 2 * 4096 * (16 + 1024) / 2 / 2**20  # live requested bytes, 2 threads x 4096 blocks
bound_mib = (QMB + live_mib) * 1.15
md.append("### Headline targets (churn, 2 threads, 16-1024 B, window 4096, 256 MiB quarantine)\n")
md.append("| target | measured | met? |")
md.append("|---|---|---|")


def tgt(name, val, ok):
    md.append(f"| {name} | {val} | {'met' if ok else 'MISSED'} |")


if u2 and s2:
    tgt("ukasan ≤ 0.15 × scudo+q time", f"{u2 / s2:.2f} ×", u2 / s2 <= 0.15)
if u2 and g2:
    tgt("ukasan ≤ 2 × glibc time", f"{u2 / g2:.1f} ×", u2 / g2 <= 2)
if urss:
    tgt(f"peak RSS ≤ 1.15 × (quarantine + live) = {bound_mib:.0f} MiB", f"{urss / 1024:.0f} MiB",
        urss / 1024 <= bound_mib)
if ufree is not None:
    tgt("free() p99.9 ≤ 5 µs", f"{ufree / 1000:.2f} µs", ufree <= 5000)
if u1 and u2:
    # Same ops per thread: throughput ratio = 2 * t(1 thread) / t(2 threads) = 2 * u1*N / (u2*2N)... in ns/op terms:
    scale = u1 / u2
    tgt("2-thread throughput ≥ 1.8 × 1-thread", f"{scale:.2f} ×", scale >= 1.8)
    g1 = med("churn-1t", "glibc", "ns_op")
    if g1 and g2:
        md.append(f"\n(glibc's own 2-thread scaling in the same run: {g1 / g2:.2f} ×; below 1.8 × the machine "
                  f"did not give the two threads two CPUs.)")
md.append("")

# ---- scaling ---------------------------------------------------------------------
# Every thread does the same ops, so throughput(N) / throughput(1) = ns_op(1) / ns_op(N).
scale_labels = [(t, "churn-1t" if t == 1 else "churn-2t" if t == 2 else f"churn-{t}t") for t in sorted(set(SCALE_THREADS) | {1, 2})]
md.append(f"### Scaling (churn, throughput relative to 1 thread; {_ncpu} CPUs; BENCH_THREADS to change)\n")
md.append("| allocator | " + " | ".join(f"{t} thr" for t, _ in scale_labels) + " |")
md.append("|---|" + "---|" * len(scale_labels))
for name in ("glibc", "scudo+q", "asan-preload", "ukasan"):
    base = med("churn-1t", name, "ns_op")
    if not base:
        continue
    cells = []
    for t, lab in scale_labels:
        v = med(lab, name, "ns_op")
        cells.append(f"{base / v:.2f} ×" if v else "-")
    md.append(f"| {name} | " + " | ".join(cells) + " |")
md.append("")

# ---- real programs -----------------------------------------------------------------
# Each row is one program run under each preload (the program and everything
# it starts: cc1 under gcc, git's children, the compilers cmake probes).
REAL = os.path.join(SRC, "bench", "real")
PY = sh("python3 -c 'import sys; print(sys.executable)'")
BIG_C = os.path.join(OUT, "real-big.c")
with open(BIG_C, "w") as fh:
    fh.write(sh(f"python3 {os.path.join(REAL, 'gen_c.py')} {500 if QUICK else 1500}") + "\n")
CMAKE_DIR = os.path.join(OUT, "real-cmake-build")
real = []  # (name, argv, env additions, stdin file)
if PY:
    real.append(("python3", [PY, os.path.join(REAL, "python.py"), "0.3" if QUICK else "1"],
                 {"PYTHONMALLOC": "malloc"}, None))
if shutil.which("sqlite3"):
    real.append(("sqlite3", [shutil.which("sqlite3"), ":memory:"], {}, os.path.join(REAL, "sqlite.sql")))
real.append(("bash", ["bash", os.path.join(REAL, "bash.sh"), "6000" if QUICK else "20000"], {}, None))
if shutil.which("perl"):
    real.append(("perl", ["perl", os.path.join(REAL, "perl.pl"), "10" if QUICK else "40"], {}, None))
real.append(("gcc -O2 -c", ["gcc", "-O2", "-c", BIG_C, "-o", os.path.join(OUT, "real-big.o")], {}, None))
if shutil.which("cmake"):
    real.append(("cmake configure", ["bash", "-c", f"rm -rf {CMAKE_DIR} && cmake -S {os.path.join(REAL, 'cmake_project')} "
                                     f"-B {CMAKE_DIR} >/dev/null"], {}, None))
if shutil.which("git"):
    real.append(("git", ["bash", os.path.join(REAL, "git.sh")], {}, None))

REAL_ALLOCS = [a for a in ALLOCS if a[1] is None]  # preloads only (same binary)


def run_real(cmd, env_add, stdin_path):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(env_add)
    stdin = open(stdin_path) if stdin_path else subprocess.DEVNULL
    t0 = time.time()
    p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    p.stderr.close()
    # Children's peak RSS is the largest child's (RUSAGE_CHILDREN); for one
    # process it is that process's.
    return {"wall": wall, "rss_kib": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status), "err": err[-300:],
            "preload_failed": "cannot be preloaded" in err,
            # KASAN's, KFENCE's and SLUB debug's ("BUG <cache> (Not tainted): ...") headers
            "reports": len(re.findall(r"^BUG(: KASAN| \S+ \(Not tainted\)|: KFENCE)", err, re.M))}


real_res = []
for rep in range(REPS):
    for rname, cmd, extra, stdin in real:
        for name, _, env_add in run_order(REAL_ALLOCS, rep):
            env = dict(env_add)
            env.update(extra)
            r = run_real(cmd, env, stdin)
            r.update(alloc=name, prog=rname, rep=rep)
            real_res.append(r)
            if r["rc"] != 0 or r["reports"]:
                print(f"  {rname} {name}: rc={r['rc']} reports={r['reports']} {r['err']!r}", flush=True)
            if r["preload_failed"]:  # ld.so ran (part of) the program without the allocator
                sys.exit(f"run_workloads.py: {rname} under {name}: a preload failed: {r['err']!r}")
    print(f"# real programs: rep {rep + 1}/{REPS} done", flush=True)

real_md_start = len(md)
if real:
    md.append(f"### Real programs (median of {REPS} interleaved runs, each in its own order, wall time; the preloads as above, "
              f"{QMB} MiB quarantine for scudo+q, ASan and ukasan; bench/real/)\n")
    names = [n for n, _, _ in REAL_ALLOCS]
    md.append("| program | " + " | ".join(f"{n} × glibc" for n in names if n != "glibc") +
              " | glibc s | ukasan ÷ scudo+q | ukasan ÷ ASan | ukasan peak RSS MiB | reports |" +
              (" ukasan ÷ ukasan-before |" if BEFORE else ""))
    md.append("|---" * (len(names) + 5 + (1 if BEFORE else 0)) + "|")
    for rname, _, _, _ in real:
        def m(name, key):
            v = [r[key] for r in real_res if r["prog"] == rname and r["alloc"] == name]
            return statistics.median(v) if v else None
        g = m("glibc", "wall")
        u, sq, asn = m("ukasan", "wall"), m("scudo+q", "wall"), m("asan-preload", "wall")
        cells = [fmt(m(n, "wall") / g if m(n, "wall") and g else None, 2) for n in names if n != "glibc"]
        reports = sum(r["reports"] for r in real_res if r["prog"] == rname and r["alloc"] == "ukasan")
        md.append(f"| {rname} | " + " | ".join(cells) + f" | {fmt(g, 3)} | {fmt(u / sq if u and sq else None, 2)} | "
                  f"{fmt(u / asn if u and asn else None, 2)} | {fmt((m('ukasan', 'rss_kib') or 0) / 1024, 0)} | {reports} |" +
                  (f" {fmt(u / m('ukasan-before', 'wall') if u and m('ukasan-before', 'wall') else None, 2)} |"
                   if BEFORE else ""))
    md.append("")
if REAL_ONLY:
    md = md[real_md_start:]

# ---- plots -----------------------------------------------------------------------
plots = []
if shutil.which("gnuplot"):
    for label, _, _, _ in WORKLOADS:
        files = [(n, os.path.join(OUT, f"occ-{label}-{n}.dat")) for n, _, _ in ALLOCS]
        files = [(n, p) for n, p in files if os.path.exists(p) and os.path.getsize(p) > 0]
        if not files:
            continue
        png = os.path.join(OUT, f"rss-{label}.png")
        series = ", ".join(f"'{p}' using 1:($2/1024) with lines title '{n} RSS'" for n, p in files)
        uk = [(n, p) for n, p in files if n.startswith("ukasan")]
        series += "".join(f", '{p}' using 1:($3/1024) with lines dt 2 lw 2 title '{n} quarantine'" for n, p in uk)
        script = (f"set terminal png size 900,500; set output '{png}'; set xlabel 'seconds'; "
                  f"set ylabel 'MiB'; set key outside right; set title '{label}: RSS and ukasan quarantine (rep 1)'; "
                  f"plot {series}\n")
        if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
            plots.append(png)
    # ns/op bar chart per workload, normalised to glibc.
    dat = os.path.join(OUT, "ratios.dat")
    with open(dat, "w") as fh:
        fh.write("wl " + " ".join(n for n, _, _ in ALLOCS) + "\n")
        for label, _, _, _ in WORKLOADS:
            g = med(label, "glibc", "ns_op") or 1
            fh.write(label + " " + " ".join(fmt((med(label, n, "ns_op") or 0) / g, 3).replace(",", "")
                                             for n, _, _ in ALLOCS) + "\n")
    png = os.path.join(OUT, "time-vs-glibc.png")
    cols = " ".join(f"'{dat}' using {i + 2}:xtic(1) title '{n}'," for i, (n, _, _) in enumerate(ALLOCS))
    script = (f"set terminal png size 1100,500; set output '{png}'; set style data histograms; "
              f"set style fill solid; set logscale y; set ylabel 'time / glibc (log)'; set key outside right; "
              f"set title 'workload time relative to glibc (median)'; plot {cols.rstrip(',')}\n")
    if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
        plots.append(png)
if plots:
    md.append("Plots: " + ", ".join(os.path.relpath(p, OUT) for p in plots) + "\n")

with open(os.path.join(OUT, "results.json"), "w") as fh:
    json.dump({"workloads": results, "real": real_res}, fh, indent=1)
with open(os.path.join(OUT, "workloads.md"), "w") as fh:
    fh.write("\n".join(md) + "\n")
print("\n".join(md))
