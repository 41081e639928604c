#!/usr/bin/env bash
# Whole-process benchmark of a gradient-matching merge against the I/O floor.
#
#   bench/e2e.sh [--size 1GB] [--tasks 3] [--runs 5] [--dir DIR]
#
# Generates (once) a BF16 family of the given total size with `ugm family` (base, base Fisher,
# T models and their Fishers), then alternates, --runs times:
#   floor     cat of every input file to /dev/null, plus writing an output of the merge's size
#             with fsync (dd conv=fsync): what any merge must at least do
#   merge     ugm merge --method gradient_matching (all processors)
#   merge-1t  the same with --threads 1
# and prints the medians, the ratios to the floor, the peak RSS (/usr/bin/time -v) and how long
# the merge ran on the scalar kernels while the vector ones were compiled (the first-pass share).
# The page cache is left warm (inputs are read from memory, as on a host that just wrote them).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=1GB tasks=3 runs=5 dir=${TMPDIR:-/tmp}/ugm-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "e2e.sh: needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
ugm="$here/ugm"
"$ugm" --version >/dev/null 2>&1 || "$ugm" --version   # builds the jar, or shows why not

family="$dir/family-$size-$tasks"
if [ ! -f "$family/.complete" ]; then
  "$ugm" family "$family" --size "$size" --tasks "$tasks" --force 2>/dev/null
  touch "$family/.complete"
fi
inputs=$(find "$family/" -name '*.safetensors' | sort)
models=()
for t in $(seq 1 "$tasks"); do models+=(--model "$family/task-$t"); done
out="$dir/out"
merge=(merge --method gradient_matching --base "$family/base" "${models[@]}" --out "$out")

# Size of the output: one model's worth of tensor bytes.
out_bytes=$(du -bc "$family"/base/*.safetensors | tail -1 | cut -f1)

now() { date +%s.%N; }
declare -a t_floor t_merge t_merge1 rss rss1 scalar_s
for r in $(seq 1 "$runs"); do
  s=$(now)
  cat $inputs > /dev/null
  dd if=/dev/zero of="$dir/floor.out" bs=1M count=$(( (out_bytes + 1048575) / 1048576 )) conv=fsync status=none
  e=$(now); t_floor+=("$(echo "$e - $s" | bc)")
  rm -f "$dir/floor.out"

  rm -rf "$out"  # (replacing an output deletes the old one: not part of a merge's cost)
  s=$(now)
  /usr/bin/time -v -o "$dir/time.txt" "$ugm" "${merge[@]}" > "$dir/merge.txt" 2>&1
  e=$(now); t_merge+=("$(echo "$e - $s" | bc)")
  rss+=("$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")")
  scalar_s+=("$(sed -n 's/.*scalar for the first \([0-9.]*\) s.*/\1/p' "$dir/merge.txt")")

  rm -rf "$out"
  s=$(now)
  /usr/bin/time -v -o "$dir/time.txt" "$ugm" "${merge[@]}" --threads 1 > /dev/null 2>&1
  e=$(now); t_merge1+=("$(echo "$e - $s" | bc)")
  rss1+=("$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")")
done

median() { printf '%s\n' "$@" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
mf=$(median "${t_floor[@]}"); mm=$(median "${t_merge[@]}"); m1=$(median "${t_merge1[@]}")
in_bytes=$(du -bc $inputs | tail -1 | cut -f1)
echo
echo "family: $family ($tasks tasks), inputs $(numfmt --to=si "$in_bytes")B, output $(numfmt --to=si "$out_bytes")B, $runs runs, $(nproc) cores"
printf '%-24s %10s %10s %14s\n' "" "median s" "x floor" "peak RSS MB"
printf '%-24s %10s %10s %14s\n' "I/O floor (cat + write)" "$mf" "1.00" "-"
printf '%-24s %10s %10s %14s\n' "ugm merge" "$mm" "$(echo "scale=2; $mm / $mf" | bc)" "$(( $(median "${rss[@]}") / 1024 ))"
printf '%-24s %10s %10s %14s\n' "ugm merge --threads 1" "$m1" "$(echo "scale=2; $m1 / $mf" | bc)" "$(( $(median "${rss1[@]}") / 1024 ))"
echo "threads 1 -> all: $(echo "scale=2; $m1 / $mm" | bc)x faster"
echo "scalar kernels while the vector ones compiled (first-pass share): median $(median "${scalar_s[@]}") s of $mm s"
echo "runs (s): floor ${t_floor[*]}; merge ${t_merge[*]}; merge-1t ${t_merge1[*]}"
