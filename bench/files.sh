#!/usr/bin/env bash
# Open files and memory mappings of a merge of many sharded models.
#
#   bench/files.sh [--tasks 32] [--size 512MB] [--shard-size 64KB] [--nofile 256] [--dir DIR]
#
# Writes (once, reused while DIR/family-*/.complete is there) a BF16 family of T task models,
# each model and Fisher cut into shards of at most --shard-size (512MB, 32 tasks and 64KB shards:
# about 11,000 files), then runs ugm merge --method gradient_matching under `ulimit -n NOFILE`,
# sampling the JVM's /proc/PID/fd and /proc/PID/maps every 50 ms, and prints the most seen of
# each: open file descriptors, mappings in all, and mappings of .safetensors files. For
# comparison it prints the limits: ulimit -n here and vm.max_map_count.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$here/bench/lib.sh"
tasks=32 size=512MB shard=64KB nofile=256 dir=${TMPDIR:-/tmp}/ugm-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --shard-size) shard=$2; shift 2 ;;
    --nofile) nofile=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "files.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_setup files.sh
fam="$dir/family-$size-$tasks-shards-$shard"
echo "family $fam ..."
family "$fam" "$size" "$tasks" --shard-size "$shard"
files=$(find "$fam/" -name '*.safetensors' | wc -l)
ms=()
for t in $(seq 1 "$tasks"); do ms+=(--model "$fam/task-$t"); done
rm -rf "$dir/out"
# The launcher execs the JVM: the process started here is the one to watch.
(ulimit -n "$nofile" && exec "$here/ugm" merge --method gradient_matching --base "$fam/base" "${ms[@]}" --out "$dir/out") > "$dir/merge.txt" 2>&1 &
pid=$!
fds=0 maps=0 st=0
while kill -0 "$pid" 2>/dev/null; do
  f=$(find "/proc/$pid/fd" -mindepth 1 2>/dev/null | wc -l)
  m=$(cat "/proc/$pid/maps" 2>/dev/null || true)
  n=$(printf '%s' "$m" | grep -c . || true) s=$(printf '%s' "$m" | grep -c '\.safetensors' || true)
  fds=$(( f > fds ? f : fds )) maps=$(( n > maps ? n : maps )) st=$(( s > st ? s : st ))
  sleep 0.05
done
wait "$pid" || { echo "files.sh: the merge failed:" >&2; tail -3 "$dir/merge.txt" >&2; exit 1; }
rm -rf "$dir/out"
echo "$files input files ($tasks tasks, shards of at most $shard); the merge under ulimit -n $nofile, most seen at once:"
echo "  open file descriptors  $fds"
echo "  mappings               $maps (of .safetensors files: $st)"
echo "limits: ulimit -n here $(ulimit -n); vm.max_map_count $(cat /proc/sys/vm/max_map_count)"
