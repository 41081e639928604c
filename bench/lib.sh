# Shell functions shared by the bench/*.sh scripts (sourced, not run).
# shellcheck shell=bash

# Fails with the reason when GNU time is missing, and builds the jar (or shows why not).
bench_setup() {
  [ -x /usr/bin/time ] || { echo "$1: needs GNU time (/usr/bin/time): apt-get install time" >&2; exit 1; }
  ugm="$here/ugm"
  "$ugm" --version >/dev/null 2>&1 || "$ugm" --version
}

# family DIR SIZE TASKS [ugm family options...]: writes the family once; DIR/.complete marks one
# written to the end, so an interrupted one is written again and a finished one is reused.
family() {
  local dir=$1 size=$2 tasks=$3
  shift 3
  if [ ! -f "$dir/.complete" ]; then
    "$ugm" family "$dir" --size "$size" --tasks "$tasks" --force "$@" 2>/dev/null
    touch "$dir/.complete"
  fi
}

# bytes SIZE: 1GB, 512MB, 64KB (decimal, as ugm's --size) as a number of bytes.
bytes() { numfmt --from=si "${1%B}"; }

# median N...: the median of the numbers given (n/a without any).
median() { printf '%s\n' "$@" | grep . | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else {m = sprintf("%.3f", (a[NR/2]+a[NR/2+1])/2); sub(/\.?0+$/, "", m); print m}}'; }

# ratio A B: A / B to two places.
ratio() { echo "scale=2; $1 / $2" | bc; }

# round2 N: N to two places ("n/a" stays).
round2() { [ "$1" = n/a ] && echo n/a || printf '%.2f\n' "$1"; }

now() { date +%s.%N; }

# floor OUT_BYTES SCRATCH INPUT...: seconds to cat every input to /dev/null and write OUT_BYTES
# with fsync (dd conv=fsync) to SCRATCH, which is removed again. What any merge must at least do.
floor() {
  local out_bytes=$1 scratch=$2 s e
  shift 2
  s=$(now)
  cat "$@" > /dev/null
  dd if=/dev/zero of="$scratch" bs=1M count=$(( (out_bytes + 1048575) / 1048576 )) conv=fsync status=none
  e=$(now)
  rm -f "$scratch"
  echo "$e - $s" | bc
}

# floor_parallel OUT_BYTES SCRATCH INPUT...: as floor, the inputs read all at once (one cat each,
# as a merge reads every input at the same time), which a disk with deep queues serves faster.
floor_parallel() {
  local out_bytes=$1 scratch=$2 s e f
  shift 2
  s=$(now)
  for f in "$@"; do cat "$f" > /dev/null & done
  wait
  dd if=/dev/zero of="$scratch" bs=1M count=$(( (out_bytes + 1048575) / 1048576 )) conv=fsync status=none
  e=$(now)
  rm -f "$scratch"
  echo "$e - $s" | bc
}

# timed LOG ARGS...: runs ugm ARGS under /usr/bin/time -v with the collector's log on, its output
# in LOG. Sets secs (wall), rss_mb (peak RSS), majflt (major page faults), heap_mb (the most heap
# in use: when a collection started, or at exit) and live_mb (the most left after a collection;
# "-" when none ran).
timed() {
  local log=$1 s e
  shift
  s=$(now)
  UGM_JAVA_OPTS="${UGM_JAVA_OPTS:-} -Xlog:gc,gc+exit:file=$log.gc::filecount=0" /usr/bin/time -v -o "$log.time" "$ugm" "$@" > "$log" 2>&1 ||
    { echo "ugm $* failed (see $log):" >&2; tail -3 "$log" >&2; exit 1; }
  e=$(now)
  secs=$(echo "$e - $s" | bc)
  rss_mb=$(( $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.time") / 1024 ))
  majflt=$(sed -n 's/.*Major (requiring I\/O) page faults: //p' "$log.time")
  # "GC(0) Pause Young (Allocation Failure) 96M->4M(362M) 167.035ms"; at exit, per generation,
  # "PSYoungGen      total 113152K, used 13691K [...]"
  heap_mb=$( { sed -n 's/.* \([0-9]*\)M->[0-9]*M(.*/\1/p' "$log.gc"
               sed -n 's/.*Gen *total [0-9]*K, used \([0-9]*\)K.*/\1/p' "$log.gc" | awk '{s+=$1} END {printf "%d\n", s/1024}'; } | sort -n | tail -1)
  live_mb=$(sed -n 's/.* [0-9]*M->\([0-9]*\)M(.*/\1/p' "$log.gc" | sort -n | tail -1)
  live_mb=${live_mb:--}
}
