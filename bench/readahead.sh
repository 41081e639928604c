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
#   ahead    ugm merge --method gradient_matching (read-ahead on, the default)
#   off      the same with -Dugm.readahead.mb=0
#   old      the same with the ugm checkout given by --old (say, a build of an earlier commit)
# and prints the medians, the ratios to the floor, peak RSS and major page faults (/usr/bin/time -v).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=6GB tasks=3 runs=3 dir=${TMPDIR:-/tmp}/ugm-readahead old=
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --old) old=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "readahead.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/time ] || { echo "readahead.sh: needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
"$here/ugm" --version >/dev/null 2>&1 || "$here/ugm" --version
[ -z "$old" ] || "$old/ugm" --version >/dev/null 2>&1 || "$old/ugm" --version

family="$dir/family-$size-$tasks"
if [ ! -f "$family/.complete" ]; then
  mkdir -p "$dir"
  "$here/ugm" family "$family" --size "$size" --tasks "$tasks" --force 2>/dev/null
  sync
  touch "$family/.complete"
fi
mapfile -t inputs < <(find "$family/" -name '*.safetensors' | sort)
models=()
for t in $(seq 1 "$tasks"); do models+=(--model "$family/task-$t"); done
out="$dir/out"
merge=(merge --method gradient_matching --base "$family/base" "${models[@]}" --out "$out" --quiet)
out_bytes=$(du -bc "$family"/base/*.safetensors | tail -1 | cut -f1)

evict() { for f in "${inputs[@]}"; do dd if="$f" iflag=nocache count=0 status=none; done; }
now() { date +%s.%N; }
variants=(floor ahead off)
[ -z "$old" ] || variants+=(old)
declare -A times rss faults
for r in $(seq 1 "$runs"); do
  for v in "${variants[@]}"; do
    rm -rf "$out" "$dir/floor.out"
    sync
    evict
    s=$(now)
    case "$v" in
      floor)
        cat "${inputs[@]}" > /dev/null
        /usr/bin/time -v -o "$dir/time.txt" dd if=/dev/zero of="$dir/floor.out" bs=1M \
          count=$(( (out_bytes + 1048575) / 1048576 )) conv=fsync status=none ;;
      ahead) /usr/bin/time -v -o "$dir/time.txt" "$here/ugm" "${merge[@]}" ;;
      off) UGM_JAVA_OPTS="${UGM_JAVA_OPTS:-} -Dugm.readahead.mb=0" /usr/bin/time -v -o "$dir/time.txt" "$here/ugm" "${merge[@]}" ;;
      old) /usr/bin/time -v -o "$dir/time.txt" "$old/ugm" "${merge[@]}" ;;
    esac
    e=$(now)
    times[$v]+="$(echo "$e - $s" | bc) "
    rss[$v]+="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt") "
    faults[$v]+="$(sed -n 's/.*Major (requiring I\/O) page faults: //p' "$dir/time.txt") "
    echo "run $r $v: $(echo "$e - $s" | bc) s" >&2
  done
done
rm -rf "$out" "$dir/floor.out"

median() { printf '%s\n' "$@" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
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
    ahead) label="ugm merge (read-ahead)" ;;
    off) label="ugm merge (read-ahead off)" ;;
    old) label="ugm merge ($old)" ;;
  esac
  # shellcheck disable=SC2086
  printf '%-28s %10s %8s %12s %14s\n' "$label" "$m" "$(echo "scale=2; $m / $mf" | bc)" \
    "$(( $(median ${rss[$v]}) / 1024 ))" "$(median ${faults[$v]})"
done
for v in "${variants[@]}"; do echo "runs $v (s): ${times[$v]}"; done
