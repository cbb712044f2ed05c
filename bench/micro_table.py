#!/usr/bin/env python3
"""Markdown table from Google Benchmark JSON files (bench/run.sh).
Usage: micro_table.py OUT.md LABEL=file.json [LABEL=file.json ...]
Rows: benchmarks; columns: one per label (lock policy); cells: time per
iteration in ns (real time), plus the user counters of the first file."""
import json
import sys

out, specs = sys.argv[1], sys.argv[2:]
cols, data, order, counters = [], {}, [], {}
for spec in specs:
    label, path = spec.split("=", 1)
    try:
        js = json.load(open(path))
    except (OSError, ValueError):
        continue
    cols.append(label)
    for b in js.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = b["name"]
        if name not in order:
            order.append(name)
        unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        data[(name, label)] = b["real_time"] * unit
        extra = {k: v for k, v in b.items() if k in ("max_us", "mean_us", "batch_KiB", "frames", "transfers",
                                                     "depot_stacks", "steps")}
        if b.get("label"):
            extra["label"] = b["label"]
        if extra and name not in counters:
            counters[name] = extra
lines = ["| benchmark | " + " | ".join(f"{c} ns" for c in cols) + " | counters (first column) |",
         "|---|" + "---|" * len(cols) + "---|"]
for name in order:
    cells = []
    for c in cols:
        v = data.get((name, c))
        cells.append("-" if v is None else (f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"))
    cnt = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in counters.get(name, {}).items())
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {cnt} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
