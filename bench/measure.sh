# measure.sh — sourced by the benchmark scripts (results_bench.sh,
# fmu_bench.sh): wall and CPU time of a command, and medians.  Needs $tmp
# (a scratch directory) set by the script.

TIMEFORMAT='%R %U %S'
measure() { # measure OUT_FILE COMMAND...: appends "wall cpu" to OUT_FILE
    out=$1; shift
    { time "$@" >/dev/null 2>"$tmp/err"; } 2>"$tmp/time" ||
        { echo "$0: $* failed" >&2; cat "$tmp/err" >&2; exit 1; }
    read -r w u s <"$tmp/time"
    python3 -c "print($w, $u + $s)" >>"$out"
}
median() { # median FILE COLUMN [DIGITS]
    python3 - "$1" "$2" "${3:-2}" <<'PY'
import statistics, sys
print("%.*f" % (int(sys.argv[3]),
                statistics.median(float(l.split()[int(sys.argv[2])])
                                  for l in open(sys.argv[1]))))
PY
}
