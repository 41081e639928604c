#!/usr/bin/env bash
# Out-of-core merge against the I/O floor, read-ahead on and off, side by side.
#
#   bench/readahead.sh [--size 6GB] [--tasks 3] [--runs 3] [--dir DIR] [--old DIR]
#
# Generates (once) a BF16 family with `ugm family`, then alternates, --runs times, each variant
# starting with the family's pages evicted from the page cache (dd iflag=nocache on each input,
# which drops only those files' clean pages: no root and no global drop_caches needed), so every
# input is read from disk as when the family is larger than memory:
#   floor    cat of every input to /dev/null, then writing an output of the merge's size with
#            fsync (dd conv=fsync): reading the inputs, then writing the output
#   pfloor   the same with every input read at once (a cat each, in parallel), as a merge reads them
#   ahead    ugm merge --method gradient_matching (read-ahead on, the default)
#   off      the same with -Dugm.readahead.mb=0
#   old      the same with the ugm checkout given by --old (say, a build of an earlier commit)
# and prints the medians, the ratios to the floor, peak RSS and major page faults (/usr/bin/time -v).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$here/bench/lib.sh"
size=6GB tasks=3 runs=3 dir=${TMPDIR:-/tmp}/ugm-readahead old=
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --old) old=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "readahead.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_setup readahead.sh
[ -z "$old" ] || "$old/ugm" --version >/dev/null 2>&1 || "$old/ugm" --version

family="$dir/family-$size-$tasks"
mkdir -p "$dir"
family "$family" "$size" "$tasks"
sync
mapfile -t inputs < <(find "$family/" -name '*.safetensors' | sort)
models=()
for t in $(seq 1 "$tasks"); do models+=(--model "$family/task-$t"); done
out="$dir/out"
merge=(merge --method gradient_matching --base "$family/base" "${models[@]}" --out "$out" --quiet)
out_bytes=$(du -bc "$family"/base/*.safetensors | tail -1 | cut -f1)

evict() { for f in "${inputs[@]}"; do dd if="$f" iflag=nocache count=0 status=none; done; }
variants=(floor pfloor ahead off)
[ -z "$old" ] || variants+=(old)
declare -A times rss faults
for r in $(seq 1 "$runs"); do
  for v in "${variants[@]}"; do
    rm -rf "$out" "$dir/floor.out"
    sync
    evict
    s=$(now)
    case "$v" in
      floor) t=$(floor "$out_bytes" "$dir/floor.out" "${inputs[@]}"); echo 0 > "$dir/rss"; echo 0 > "$dir/faults" ;;
      pfloor) t=$(floor_parallel "$out_bytes" "$dir/floor.out" "${inputs[@]}"); echo 0 > "$dir/rss"; echo 0 > "$dir/faults" ;;
      *)
        case "$v" in
          ahead) /usr/bin/time -v -o "$dir/time.txt" "$ugm" "${merge[@]}" ;;
          off) UGM_JAVA_OPTS="${UGM_JAVA_OPTS:-} -Dugm.readahead.mb=0" /usr/bin/time -v -o "$dir/time.txt" "$ugm" "${merge[@]}" ;;
          old) /usr/bin/time -v -o "$dir/time.txt" "$old/ugm" "${merge[@]}" ;;
        esac
        t=$(echo "$(now) - $s" | bc)
        sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt" > "$dir/rss"
        sed -n 's/.*Major (requiring I\/O) page faults: //p' "$dir/time.txt" > "$dir/faults" ;;
    esac
    times[$v]+="$t "
    rss[$v]+="$(cat "$dir/rss") "
    faults[$v]+="$(cat "$dir/faults") "
    echo "run $r $v: $t s, peak RSS $(( $(cat "$dir/rss") / 1024 )) MB" >&2
  done
done
rm -rf "$out" "$dir/floor.out" "$dir/rss" "$dir/faults"

in_bytes=$(du -bc "${inputs[@]}" | tail -1 | cut -f1)
# shellcheck disable=SC2086 # the lists are words
mf=$(median ${times[floor]})
echo
echo "family: $family ($tasks tasks), inputs $(numfmt --to=si "$in_bytes")B read cold, output $(numfmt --to=si "$out_bytes")B, $runs runs, $(nproc) cores"
printf '%-28s %10s %8s %12s %14s\n' "" "median s" "x floor" "peak RSS MB" "major faults"
for v in "${variants[@]}"; do
  # shellcheck disable=SC2086
  m=$(median ${times[$v]})
  case "$v" in
    floor) label="I/O floor (cat + write)" ;;
    pfloor) label="floor, inputs read at once" ;;
    ahead) label="ugm merge (read-ahead)" ;;
    off) label="ugm merge (read-ahead off)" ;;
    old) label="ugm merge ($old)" ;;
  esac
  # shellcheck disable=SC2086
  printf '%-28s %10s %8s %12s %14s\n' "$label" "$m" "$(echo "scale=2; $m / $mf" | bc)" \
    "$(median ${rss[$v]} | awk '{printf "%d", $1 / 1024}')" "$(median ${faults[$v]})"
done
for v in "${variants[@]}"; do echo "runs $v (s): ${times[$v]}"; done
