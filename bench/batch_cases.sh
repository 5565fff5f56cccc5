#!/bin/bash
# batch_cases.sh — the what-if batch benchmark: cases per second of a
# batch of tank-farm-3 (24 h) run by `twinctl batch` with -j1 and -jN (N:
# the CPUs this process may use), and the parallel speed-up, each set
# against a floor measured in the same invocation: the same cases,
# exported with `twinctl batch --dry-run --export`, each run by
# bench/bench_controller in a process of its own started by the shell
# (the simulation alone, through the real core into a summing sink: no
# KPIs, no result files), one at a time and N at a time (xargs -P N).
#
# Usage: bench/batch_cases.sh BUILD_DIR [CASES]
#   CASES (default 200, a multiple of 10): a grid of CASES/10 set points
#   of pi0 × 10 areas of tank0, four KPIs per case.
# Prints each step's wall and CPU time (user + system of all its
# processes) with the load average after it, then a table: cases/s,
# the speed-up of -jN over -j1, the ratio to the floor, CPU s per case,
# and CPU/wall — the cores the step actually got.  Keep the machine
# otherwise idle: every core is used, and a busy machine shows up as
# CPU/wall below N.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [CASES]" >&2; exit 2; }
build=$(cd "$1" && pwd)
cases=${2:-200}
[ $((cases % 10)) -eq 0 ] && [ "$cases" -ge 20 ] ||
    { echo "$0: CASES must be a multiple of 10, at least 20" >&2; exit 2; }
twinctl="$build/controller/twinctl"
bench="$build/bench/bench_controller"
n=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/batch.json" <<EOF
{"contract": "twin.batch/1", "name": "bench",
 "scenario": "tank-farm-3",
 "variations": {"grid": [
   {"param": "pi0.sp", "range": {"from": 1.5, "to": 2.5, "steps": $((cases / 10 - 1))}},
   {"param": "tank0.area", "range": {"from": 1.5, "to": 3.0, "steps": 9}}]},
 "kpis": [{"name": "mean_level", "function": "mean", "of": "tank0.h"},
          {"name": "peak_level", "function": "max", "of": "tank0.h"},
          {"name": "energy", "function": "integral", "of": "pump0.power"},
          {"name": "settle", "function": "settling_time", "of": "tank0.h",
           "band": 0.02}]}
EOF
"$twinctl" batch "$tmp/batch.json" --dry-run --export "$tmp/cases" -q \
    >/dev/null || exit 1
[ "$(ls "$tmp/cases" | wc -l)" -eq "$cases" ] || exit 1

declare -A wall cpu
TIMEFORMAT='%R %U %S'
step() { # step NAME COMMAND...: wall and CPU time (user + system of every
         # process it ran: bash's time counts the children)
    name=$1; shift
    { time "$@" >/dev/null 2>"$tmp/err"; } 2>"$tmp/time" ||
        { echo "$0: $name failed" >&2; cat "$tmp/err" >&2; exit 1; }
    read -r w u s <"$tmp/time"
    wall[$name]=$w
    cpu[$name]=$(python3 -c "print(f'{$u + $s:.2f}')")
    echo "$name: wall ${wall[$name]} s, CPU ${cpu[$name]} s, load average" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}
floor() { # floor JOBS: every exported case by bench_controller
    ls "$tmp/cases"/*.json | xargs -P "$1" -n 1 "$bench"
}
batch() { # batch JOBS
    rm -rf "$tmp/out-$1"
    "$twinctl" batch "$tmp/batch.json" -o "$tmp/out-$1" -j "$1" -q
}

echo "$cases cases of tank-farm-3 (24 h), $n CPUs"
step floor-1 floor 1
step batch-1 batch 1
step "floor-$n" floor "$n"
step "batch-$n" batch "$n"
cmp -s "$tmp/out-1/summary.csv" "$tmp/out-$n/summary.csv" ||
    { echo "$0: the -j1 and -j$n summaries differ" >&2; exit 1; }

echo
python3 - "$cases" "$n" "${wall[floor-1]}" "${wall[batch-1]}" \
    "${wall[floor-$n]}" "${wall[batch-$n]}" "${cpu[floor-1]}" \
    "${cpu[batch-1]}" "${cpu[floor-$n]}" "${cpu[batch-$n]}" <<'PY'
import sys
cases, n = int(sys.argv[1]), int(sys.argv[2])
f1, b1, fn, bn, cf1, cb1, cfn, cbn = (float(x) for x in sys.argv[3:11])
print(f"{'':14s} {'jobs':>4s} {'wall s':>8s} {'cases/s':>8s} "
      f"{'speed-up':>8s} {'/ floor':>7s} {'CPU s':>8s} {'CPU/case':>8s} "
      f"{'CPU/wall':>8s}")
for name, jobs, w, w1, fl, c in (("floor", 1, f1, f1, f1, cf1),
                                 ("twinctl batch", 1, b1, b1, f1, cb1),
                                 ("floor", n, fn, f1, fn, cfn),
                                 ("twinctl batch", n, bn, b1, fn, cbn)):
    print(f"{name:14s} {jobs:4d} {w:8.2f} {cases / w:8.3f} {w1 / w:8.2f} "
          f"{w / fl:7.3f} {c:8.2f} {c / cases:8.3f} {c / w:8.2f}")
PY
