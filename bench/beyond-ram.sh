#!/usr/bin/env bash
# A gradient-matching merge of a family larger than memory, against the I/O floor.
#
#   bench/beyond-ram.sh [--size SIZE | --sizes LIST] [--tasks 3] [--runs 3] [--dir DIR] [--clean]
#
# --size SIZE    total size of the family's files (base, base Fisher, T models, their Fishers;
#                decimal: 1GB = 10^9 bytes); default "beyond": MemTotal (/proc/meminfo) x 1.25, so the page cache cannot hold it
# --sizes LIST   a sweep, e.g. 1GB,4GB,16GB,beyond: one family per size, then a table of how the
#                times grow, ready for the README
# --tasks T      task models (default 3); --runs N: runs of each (default 3); --dir DIR: where the
#                families and the output go (default $TMPDIR or /tmp, /ugm-bench)
# --clean        remove each family this script wrote once its size is measured (families found
#                complete in DIR, marked by .complete, are reused and always kept)
#
# Before writing anything it adds up the disk space needed (each family to write, the merge's
# output, the floor's scratch file of the output's size, and 1 GB of headroom), and refuses,
# exit 1, if DIR's file system has less free. Then, per size, it alternates --runs times:
#   floor   cat of every input file to /dev/null, then dd conv=fsync of the output's size
#   merge   ugm merge --method gradient_matching (all processors)
# and prints the medians, merge/floor, the merge's peak RSS and major page faults (/usr/bin/time -v)
# and its heap (most in use when a collection started or at exit; most left after a collection:
# the collector's log).
# What the floor measures depends on the size: below memory the family stays in the page cache,
# so cat reads memory; beyond memory it cannot stay, so cat (and the merge) read the disk. The
# cache is left as the previous run left it (dropping it needs root). Run beyond-memory sizes on
# a quiet machine: anything else running competes for the same page cache and disk.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$here/bench/lib.sh"
sizes=beyond tasks=3 runs=3 dir=${TMPDIR:-/tmp}/ugm-bench clean=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size|--sizes) sizes=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --clean) clean=1; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "beyond-ram.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mem=$(( $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) * 1024 ))
beyond=$(( mem / 4 * 5 ))

# Sizes in bytes, named as given ("beyond" as its value); the disk needed, all at once or, with
# --clean, the largest family to write (families found complete need only the output's room).
names=() sizes_b=() need=0 most=0 outs=0
for s in ${sizes//,/ }; do
  if [ "$s" = beyond ]; then s=$(( (beyond + 999999999) / 1000000000 ))GB; fi
  b=$(bytes "$s")
  names+=("$s") sizes_b+=("$b")
  [ -f "$dir/family-$s-$tasks/.complete" ] && w=0 || w=$b
  need=$(( need + w )) most=$(( w > most ? w : most ))
  o=$(( b / (2 * tasks + 2) )) outs=$(( o > outs ? o : outs ))
done
[ "$clean" = 1 ] && need=$most
need=$(( need + 2 * outs + 1000000000 ))
mkdir -p "$dir"
free=$(( $(df -P -k "$dir" | awk 'NR==2 {print $4}') * 1024 ))
echo "memory $(numfmt --to=si "$mem")B (beyond: x1.25 = $(numfmt --to=si "$beyond")B); sizes ${names[*]}, $tasks tasks, $runs runs"
echo "disk: needs $(numfmt --to=si "$need")B in $dir (families to write, output, floor scratch, 1 GB headroom), $(numfmt --to=si "$free")B free"
if [ "$need" -gt "$free" ]; then
  echo "beyond-ram.sh: not enough free space in $dir: refused (see --clean, --dir)" >&2
  exit 1
fi
bench_setup beyond-ram.sh

rows=()
for i in "${!names[@]}"; do
  name=${names[$i]} size_b=${sizes_b[$i]}
  fam="$dir/family-$name-$tasks"
  written=0
  [ -f "$fam/.complete" ] || written=1
  echo "family $fam: $([ "$written" = 1 ] && echo writing || echo reused) ..."
  family "$fam" "$name" "$tasks"
  mapfile -t inputs < <(find "$fam/" -name '*.safetensors' | sort)
  models=()
  for t in $(seq 1 "$tasks"); do models+=(--model "$fam/task-$t"); done
  out_bytes=$(du -bc "$fam"/base/*.safetensors | tail -1 | cut -f1)
  in_bytes=$(du -bc "${inputs[@]}" | tail -1 | cut -f1)
  t_floor=() t_merge=() rss=() flt=() heap=() live=()
  for _ in $(seq 1 "$runs"); do
    t_floor+=("$(floor "$out_bytes" "$dir/floor.out" "${inputs[@]}")")
    rm -rf "$dir/out"  # (replacing an output deletes the old one: not part of a merge's cost)
    timed "$dir/merge.txt" merge --method gradient_matching --base "$fam/base" "${models[@]}" --out "$dir/out"
    t_merge+=("$secs") rss+=("$rss_mb") flt+=("$majflt") heap+=("$heap_mb") live+=("${live_mb/-/}")
  done
  rm -rf "$dir/out"
  [ "$clean" = 1 ] && [ "$written" = 1 ] && rm -rf "$fam"
  mf=$(median "${t_floor[@]}") mm=$(median "${t_merge[@]}")
  where=$([ "$in_bytes" -lt "$mem" ] && echo "memory (page cache)" || echo "disk (beyond memory)")
  echo "  inputs $(numfmt --to=si "$in_bytes")B, output $(numfmt --to=si "$out_bytes")B; the floor's cat reads $where"
  echo "  runs (s): floor ${t_floor[*]}; merge ${t_merge[*]}"
  rows+=("$(printf '| %s | %sB | %s | %s s | %s s | **%s×** | %s MB | %s | %s MB | %s |' "$name" "$(numfmt --to=si "$in_bytes")" \
    "$where" "$(round2 "$mf")" "$(round2 "$mm")" "$(ratio "$mm" "$mf")" "$(median "${rss[@]}")" "$(median "${flt[@]}")" "$(median "${heap[@]}")" \
    "$(median "${live[@]}" | sed 's/n\/a/- (no GC)/; s/[0-9]$/& MB/')")")
done

echo
echo "$(date -u +%F), $(nproc) cores, $(numfmt --to=si "$mem")B memory, load $(cut -d' ' -f1-3 /proc/loadavg); BF16 family of base + base Fisher"
echo "+ $tasks models + $tasks Fishers, gradient matching, medians of $runs alternated runs:"
echo
echo "| family | inputs | floor's cat reads | floor (cat + dd fsync) | ugm merge | merge / floor | peak RSS | major faults | heap in use | heap after GC |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
