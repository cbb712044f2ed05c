# A fixed allocation-heavy Python workload for bench/run_workloads.py
# (run with PYTHONMALLOC=malloc so every object goes through malloc/free).
# Argument: scale factor (default 1).
import json
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rounds = max(1, int(40 * scale))
total = 0
for r in range(rounds):
    d = {f"key{i}": [i, str(i) * (i % 7 + 1), {"n": i, "s": "x" * (i % 50)}] for i in range(4000)}
    s = json.dumps(d)
    back = json.loads(s)
    words = s.split(",")
    words.sort()
    total += len(back) + len(words) + sum(len(w) for w in words[:1000])
    total += len("".join(reversed(words[:2000])))
    del d, back, words, s
print(total)
