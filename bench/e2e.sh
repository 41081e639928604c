#!/usr/bin/env bash
# Whole-process benchmark of merges against the I/O floor.
#
#   bench/e2e.sh [--size 1GB] [--tasks 3] [--runs 5] [--dir DIR] [--method M] [--density D]
#   bench/e2e.sh --models 2,8,32 [--model-size 64MB] [--runs 5] [--dir DIR]
#
# Generates (once, reused while DIR/family-*/.complete is there) a BF16 family with `ugm family`
# (base, base Fisher, T models and their Fishers), then alternates, --runs times:
#   floor     cat of every input file to /dev/null, plus writing an output of the merge's size
#             with fsync (dd conv=fsync): what any merge must at least do
#   merge     ugm merge --method gradient_matching (all processors), or --method M, with
#             --density D for every model where given (ties, dare_*, breadcrumbs*, della*)
#   merge-1t  the same with --threads 1
# (a method that reads no Fisher: the floor reads the base and the models only)
# and prints the medians, the ratios to the floor, the peak RSS (/usr/bin/time -v) and how long
# the merge ran on the scalar kernels while the vector ones were compiled (the first-pass share).
#
# With --models LIST, one family per number of task models T in LIST, each checkpoint (model or
# Fisher) --model-size big, so the family is (2T + 2) x that; alternated, --runs times:
#   floor, gradient_matching         all the inputs (models and Fishers)
#   floor, task_arithmetic           the base and the models only: no Fishers
# and prints, per T and method, the medians, merge/floor, peak RSS and the heap in use (most when
# a collection started or at exit; most left after a collection: the collector's log).
# The page cache is left warm (inputs are read from memory, as on a host that just wrote them),
# so at these sizes the floor's cat measures memory, not the disk (bench/beyond-ram.sh for that).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$here/bench/lib.sh"
size=1GB tasks=3 runs=5 dir=${TMPDIR:-/tmp}/ugm-bench models="" model_size=64MB method=gradient_matching density=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --model-size) model_size=$2; shift 2 ;;
    --method) method=$2; shift 2 ;;
    --density) density=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_setup e2e.sh
mkdir -p "$dir"
out="$dir/out"

if [ -n "$models" ]; then
  rows=()
  for t in ${models//,/ }; do
    fam_size=$(( $(bytes "$model_size") * (2 * t + 2) ))
    fam="$dir/family-$fam_size-$t"
    echo "family $fam ($t tasks, $(numfmt --to=si "$fam_size")B) ..."
    family "$fam" "$fam_size" "$t"
    mapfile -t all < <(find "$fam/" -name '*.safetensors' | sort)
    mapfile -t weights < <(find "$fam/" -name '*.safetensors' -not -path '*/hessian/*' | sort)
    ms=()
    for i in $(seq 1 "$t"); do ms+=(--model "$fam/task-$i"); done
    out_bytes=$(du -bc "$fam"/base/*.safetensors | tail -1 | cut -f1)
    declare -A f m r h l
    for method in gradient_matching task_arithmetic; do f[$method]="" m[$method]="" r[$method]="" h[$method]="" l[$method]=""; done
    for _ in $(seq 1 "$runs"); do
      for method in gradient_matching task_arithmetic; do
        if [ "$method" = gradient_matching ]; then inputs=("${all[@]}"); else inputs=("${weights[@]}"); fi
        f[$method]+=" $(floor "$out_bytes" "$dir/floor.out" "${inputs[@]}")"
        rm -rf "$out"  # (replacing an output deletes the old one: not part of a merge's cost)
        timed "$dir/merge.txt" merge --method "$method" --base "$fam/base" "${ms[@]}" --out "$out"
        m[$method]+=" $secs" r[$method]+=" $rss_mb" h[$method]+=" $heap_mb" l[$method]+=" ${live_mb/-/}"
      done
    done
    rm -rf "$out"
    for method in gradient_matching task_arithmetic; do
      if [ "$method" = gradient_matching ]; then inputs=("${all[@]}"); else inputs=("${weights[@]}"); fi
      # shellcheck disable=SC2086 # the lists are space-separated numbers
      mf=$(median ${f[$method]}) mm=$(median ${m[$method]})
      echo "  $method runs (s): floor${f[$method]}; merge${m[$method]}"
      # shellcheck disable=SC2086
      rows+=("$(printf '| %s | %s | %s | %sB | %s s | %s s | **%s×** | %s MB | %s MB | %s |' "$t" "$method" "${#inputs[@]}" \
        "$(numfmt --to=si "$(du -bc "${inputs[@]}" | tail -1 | cut -f1)")" "$(round2 "$mf")" "$(round2 "$mm")" "$(ratio "$mm" "$mf")" \
        "$(median ${r[$method]})" "$(median ${h[$method]})" "$(median ${l[$method]} | sed 's/n\/a/- (no GC)/; s/[0-9]$/& MB/')")")
    done
  done
  echo
  echo "$(date -u +%F), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); BF16, $model_size per checkpoint, medians of $runs alternated runs:"
  echo
  echo "| task models | method | files | inputs | floor (cat + dd fsync) | ugm merge | merge / floor | peak RSS | heap in use | heap after GC |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  exit 0
fi

fam="$dir/family-$size-$tasks"
family "$fam" "$size" "$tasks"
case "$method" in
  *gradient_matching|fisher*) mapfile -t inputs < <(find "$fam/" -name '*.safetensors' | sort) ;;
  *) mapfile -t inputs < <(find "$fam/" -name '*.safetensors' -not -path '*/hessian/*' | sort) ;;
esac
ms=()
for t in $(seq 1 "$tasks"); do
  ms+=(--model "$fam/task-$t")
  if [ -n "$density" ]; then ms+=(--density "$density"); fi
done
merge=(merge --method "$method" --base "$fam/base" "${ms[@]}" --out "$out")
# Size of the output: one model's worth of tensor bytes.
out_bytes=$(du -bc "$fam"/base/*.safetensors | tail -1 | cut -f1)

t_floor=() t_merge=() t_merge1=() rss=() rss1=() scalar_s=()
for _ in $(seq 1 "$runs"); do
  t_floor+=("$(floor "$out_bytes" "$dir/floor.out" "${inputs[@]}")")
  rm -rf "$out"  # (replacing an output deletes the old one: not part of a merge's cost)
  timed "$dir/merge.txt" "${merge[@]}"
  t_merge+=("$secs") rss+=("$rss_mb")
  scalar_s+=("$(sed -n 's/.*scalar for the first \([0-9.]*\) s.*/\1/p' "$dir/merge.txt")")
  rm -rf "$out"
  timed "$dir/merge.txt" "${merge[@]}" --threads 1
  t_merge1+=("$secs") rss1+=("$rss_mb")
done
rm -rf "$out"

mf=$(round2 "$(median "${t_floor[@]}")") mm=$(round2 "$(median "${t_merge[@]}")") m1=$(round2 "$(median "${t_merge1[@]}")")
in_bytes=$(du -bc "${inputs[@]}" | tail -1 | cut -f1)
echo
echo "family: $fam ($tasks tasks), $method${density:+ density $density}, inputs $(numfmt --to=si "$in_bytes")B, output $(numfmt --to=si "$out_bytes")B, $runs runs, $(nproc) cores"
printf '%-24s %10s %10s %14s\n' "" "median s" "x floor" "peak RSS MB"
printf '%-24s %10s %10s %14s\n' "I/O floor (cat + write)" "$mf" "1.00" "-"
printf '%-24s %10s %10s %14s\n' "ugm merge" "$mm" "$(ratio "$mm" "$mf")" "$(median "${rss[@]}")"
printf '%-24s %10s %10s %14s\n' "ugm merge --threads 1" "$m1" "$(ratio "$m1" "$mf")" "$(median "${rss1[@]}")"
echo "threads 1 -> all: $(ratio "$m1" "$mm")x faster"
echo "scalar kernels while the vector ones compiled (first-pass share): median $(median "${scalar_s[@]}") s of $mm s"
echo "runs (s): floor ${t_floor[*]}; merge ${t_merge[*]}; merge-1t ${t_merge1[*]}"
