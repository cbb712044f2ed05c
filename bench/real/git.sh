# A fixed git workload for bench/run_workloads.py: commit 2000 files, gc,
# log -p (git and its children run under the same LD_PRELOAD).
set -e
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
git init -q .
git config user.email bench@example.com
git config user.name bench
for i in $(seq 1 2000); do printf 'file %d\nline two %d\n' "$i" "$((i * 7))" > "f$i.txt"; done
git add -A && git commit -qm one
for i in $(seq 1 2000 | awk 'NR % 3 == 0'); do printf 'changed %d\n' "$i" >> "f$i.txt"; done
git commit -qam two
git gc -q
git log -p | wc -l
