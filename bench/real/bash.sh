# A fixed bash workload for bench/run_workloads.py: an associative array and
# string growth (bash allocates for every variable and word).
declare -A m
s=""
for ((i = 0; i < ${1:-20000}; i++)); do
  m["k$i"]="v$((i * 7))"
  s+="$((i % 10))"
  if ((i % 1000 == 999)); then s="${s:500}"; fi
done
n=0
for k in "${!m[@]}"; do n=$((n + ${#m[$k]})); done
echo "$n ${#s}"
