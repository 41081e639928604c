#!/usr/bin/env bash
# Start-up time of the quick commands against a bare JVM, side by side.
#
#   bench/startup.sh [--runs 15] [--file PATH] [--other DIR]
#
# Runs, --runs times and interleaved (one of each per round, so that load from other processes
# falls on all of them alike):
#   java -version   $JDK/bin/java --add-modules jdk.incubator.vector -version: the JVM alone
#   ugm --version   ./ugm --version
#   ugm --help      ./ugm --help (builds every command's model)
#   ugm inspect     ./ugm inspect PATH (default: the base model of a small generated family)
# and, with --other DIR (another checkout, e.g. one from before a change), DIR/ugm --version and
# DIR/ugm inspect too. Prints the median and the fastest wall time of each, and each median's
# ratio to java -version's. The jars and start-up caches are built before the first timed run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=15 file="" other=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --other) other=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "startup.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
ugm="$here/ugm"
jdk=$("$here/bin/find-jdk")
"$ugm" --version >/dev/null 2>&1 || "$ugm" --version   # builds the jar and the cache, or shows why not
if [ -n "$other" ]; then
  "$other/ugm" --version >/dev/null 2>&1 || "$other/ugm" --version
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ugm-startup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "$file" ]; then
  "$ugm" family "$tmp/family" --size 4MB --tasks 1 >/dev/null 2>&1
  file="$tmp/family/base"
fi

names=("java -version" "ugm --version" "ugm --help" "ugm inspect")
commands=("$(printf '%q ' "$jdk/bin/java" --add-modules jdk.incubator.vector -version)"
  "$(printf '%q ' "$ugm" --version)" "$(printf '%q ' "$ugm" --help)" "$(printf '%q ' "$ugm" inspect "$file")")
if [ -n "$other" ]; then
  names+=("other: ugm --version" "other: ugm inspect")
  commands+=("$(printf '%q ' "$other/ugm" --version)" "$(printf '%q ' "$other/ugm" inspect "$file")")
fi
for c in "${commands[@]}"; do eval "$c" >/dev/null 2>&1; done   # untimed: page cache warm, caches in place

declare -A times
for _ in $(seq 1 "$runs"); do
  for i in "${!commands[@]}"; do
    s=$(date +%s%N)
    eval "${commands[$i]}" >/dev/null 2>&1
    e=$(date +%s%N)
    times[$i]+="$(( (e - s) / 1000000 )) "
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
fastest() { tr ' ' '\n' | grep . | sort -n | head -1; }
base=$(median <<<"${times[0]}")
echo "$runs runs each, interleaved, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); JDK $jdk"
echo "inspect: $file${other:+; other: $other}"
printf '%-22s %10s %8s %16s\n' "" "median ms" "min ms" "x java -version"
for i in "${!commands[@]}"; do
  m=$(median <<<"${times[$i]}")
  printf '%-22s %10s %8s %16s\n' "${names[$i]}" "$m" "$(fastest <<<"${times[$i]}")" "$(echo "scale=2; $m / $base" | bc)"
done
