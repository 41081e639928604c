#!/usr/bin/env bash
# A merge without the process around it: the same command line as `ugm merge`, run --runs times in
# one JVM, as a server that embeds the library runs it, against the I/O floor measured before
# each run, side by side.
#
#   bench/inprocess.sh [--size 1GB] [--tasks 3] [--runs 6] [--dir DIR] [--method gradient_matching]
#
# Generates (once, reused) the BF16 family of bench/e2e.sh, then one JVM (bench/inprocess/
# InProcessMerge.java on the class path of cli/target/ugm.jar) runs, --runs times:
#   floor   cat of every input file to /dev/null, plus an fsynced dd of the output's size
#   merge   ugm merge --method METHOD (all processors), through ugm.cli.Cli.run
# Run 1 pays for loading the classes and compiling the kernels (in this JVM: the vector kernels
# from the first chunk, no warm-up thread), so its time is printed apart; the medians are of
# runs 2 and later, what a resident server pays per merge. Compare with bench/e2e.sh, whose
# merges are whole processes. UGM_JAVA_OPTS adds JVM options (e.g. -Dugm.readahead.mb=0).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$here/bench/lib.sh"
size=1GB tasks=3 runs=6 dir=${TMPDIR:-/tmp}/ugm-bench method=gradient_matching
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --method) method=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "inprocess.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 2 ] || { echo "inprocess.sh: --runs must be at least 2 (run 1 is the cold one)" >&2; exit 2; }
bench_setup inprocess.sh
mkdir -p "$dir"
fam="$dir/family-$size-$tasks"
family "$fam" "$size" "$tasks"
if [ "$method" = gradient_matching ]; then
  mapfile -t inputs < <(find "$fam/" -name '*.safetensors' | sort)
else
  mapfile -t inputs < <(find "$fam/" -name '*.safetensors' -not -path '*/hessian/*' | sort)
fi
ms=()
for t in $(seq 1 "$tasks"); do ms+=(--model "$fam/task-$t"); done
out="$dir/out"
out_bytes=$(du -bc "$fam"/base/*.safetensors | tail -1 | cut -f1)
floor_cmd="cat $(printf '%q ' "${inputs[@]}") > /dev/null && dd if=/dev/zero of=$(printf '%q' "$dir/floor.out") bs=1M count=$(( (out_bytes + 1048575) / 1048576 )) conv=fsync status=none && rm -f $(printf '%q' "$dir/floor.out")"

jdk=$("$here/bin/find-jdk")
log="$dir/inprocess.txt"
# the launcher's JVM options, less the warm-up (not started in-process) and the start-up cache;
# UGM_JAVA_OPTS adds more, as it does to ./ugm
# shellcheck disable=SC2086 # UGM_JAVA_OPTS is a list of options
"$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC ${UGM_JAVA_OPTS:-} \
  -Dugm.vector.after=0 -cp "$here/cli/target/ugm.jar" "$here/bench/inprocess/InProcessMerge.java" "$runs" "$out" "$floor_cmd" \
  --method "$method" --base "$fam/base" "${ms[@]}" --out "$out" --quiet 2>&1 | grep -v '^WARNING: Using incubator' | tee "$log"

mapfile -t f < <(sed -n 's/^run \([0-9]*\) floor \([0-9.]*\) merge .*/\1 \2/p' "$log" | awk '$1 > 1 {print $2}')
mapfile -t m < <(sed -n 's/^run \([0-9]*\) floor .* merge \([0-9.]*\) cpu.*/\1 \2/p' "$log" | awk '$1 > 1 {print $2}')
first=$(sed -n 's/^run 1 floor .* merge \([0-9.]*\) cpu.*/\1/p' "$log")
mapfile -t c < <(sed -n 's/^run \([0-9]*\) floor .* cpu \([0-9.]*\)$/\1 \2/p' "$log" | awk '$1 > 1 {print $2}')
mf=$(median "${f[@]}") mm=$(median "${m[@]}")
echo
echo "$(date -u +%F), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); family $fam, $method, inputs $(numfmt --to=si "$(du -bc "${inputs[@]}" | tail -1 | cut -f1)")B"
echo "in-process merge, runs 2-$runs: median $(round2 "$mm") s (CPU $(round2 "$(median "${c[@]}")") s) against a floor of $(round2 "$mf") s: $(ratio "$mm" "$mf")x (run 1, cold JVM: $(round2 "$first") s)"
