# Writes a large C file for the gcc -O2 -c row of bench/run_workloads.py.
import sys
out = [ "#include <string.h>", "struct s { int a[16]; char name[32]; double v; };" ]
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1500):
    out.append(f"""int f{i}(struct s *p, int n) {{
  int acc = {i};
  for (int k = 0; k < n; k++) {{
    switch ((k + {i}) % 5) {{
      case 0: acc += p->a[k & 15] * {i % 13 + 1}; break;
      case 1: acc ^= (int)strlen(p->name) + k; break;
      case 2: p->v += acc * 0.5; break;
      case 3: if (acc > {i * 3}) acc -= p->a[(k * 7) & 15]; break;
      default: memcpy(p->name, "f{i}", {len(str(i)) + 2});
    }}
  }}
  return acc;
}}""")
print("\n".join(out))
