#!/bin/bash
# cascade_bench.sh — the tank cascade benchmark (issue 14): tank-cascade-N,
# one connected integration group of N + 1 states, through the controller
# (bench_controller: plugins, composition, the general loop) with the dense
# and the KLU linear solver, against the floor (floor_cascade: the same
# equations on plain CVODE with KLU and an analytic Jacobian), alternating
# in one invocation; the time per tick and its ratio to the floor's.
#
# Usage: bench/cascade_bench.sh BUILD_DIR [ROUNDS]
#   Configurations N:SECONDS (ticks of 1 s): 10:600 100:600 1000:60
#   5000:60 — fewer ticks for the large N, so compare the per-tick figures.
#   Each round runs, per configuration, the floor, then the controller with
#   "linear_solver": "klu", then with "dense".  Dense is skipped above
#   N = 1000: its LU of the (N+1)^2 matrix at every restart (every tick
#   here) took 7.7 s per tick at N = 5000 in a trial.  ROUNDS default 2;
#   the table shows medians.  The whole run takes about a minute; keep the
#   machine otherwise idle.
# Environment (for trying it out):
#   CASCADE_CONFIGS="10:60 100:60"   other configurations
#   CASCADE_SOLVERS="klu dense"      the controller's solvers, in this
#       order ("auto" and "band" too); "default" runs the scenario without
#       a "linear_solver" member (for a controller without it: dense, so
#       keep N small then, as it is not skipped above CASCADE_DENSE_MAX)
#   CASCADE_DENSE_MAX=1000           the largest N run with "dense"
# Each controller run's checksum (the sum of every emitted value) must
# agree with the floor's to 1e-6 relative, or the script stops: the two
# computed the same thing.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [ROUNDS]" >&2; exit 2; }
build=$(cd "$1" && pwd) || exit 2
rounds=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
configs=${CASCADE_CONFIGS:-"10:600 100:600 1000:60 5000:60"}
solvers=${CASCADE_SOLVERS:-"klu dense"}
dense_max=${CASCADE_DENSE_MAX:-1000}
floor="$build/bench/floor_cascade"
ctl="$build/bench/bench_controller"
for p in "$floor" "$ctl"; do
    [ -x "$p" ] || { echo "$0: $p is missing: build first (ninja -C $1)" >&2
                     exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { # field NAME LINE: the value of NAME=... in a benchmark line
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

runs() { # runs N SOLVER: whether the controller runs N with SOLVER
    [ "$2" != dense ] || [ "$1" -le "$dense_max" ]
}

for cfg in $configs; do
    n=${cfg%%:*}; s=${cfg#*:}
    for sol in $solvers; do
        runs "$n" "$sol" || continue
        opt=(--linear-solver "$sol")
        [ "$sol" = default ] && opt=()
        python3 "$src/examples/gen_tank_cascade.py" "$n" --stop "$s" \
            "${opt[@]}" -o "$tmp/cascade-$n-$sol.json" || exit 1
    done
done

: >"$tmp/times"   # lines: N SECONDS WHO TICKS US_PER_TICK
for r in $(seq "$rounds"); do
    for cfg in $configs; do
        n=${cfg%%:*}; s=${cfg#*:}
        f=$("$floor" "$n" "$s" 2>/dev/null) ||
            { echo "$0: floor_cascade $n $s failed" >&2; exit 1; }
        echo "$f"
        echo "$n $s floor $(field ticks "$f") $(field us_per_tick "$f")" >>"$tmp/times"
        for sol in $solvers; do
            runs "$n" "$sol" || continue
            c=$("$ctl" "$tmp/cascade-$n-$sol.json") ||
                { echo "$0: bench_controller on N=$n ($sol) failed" >&2
                  exit 1; }
            echo "($sol, N=$n tanks) $c"
            if ! python3 - "$(field checksum "$f")" "$(field checksum "$c")" <<'PY'
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(a - b) <= 1e-6 * abs(a) else 1)
PY
            then
                echo "$0: N=$n ($sol): the controller's checksum" \
                     "$(field checksum "$c") differs from the floor's" \
                     "$(field checksum "$f")" >&2
                exit 1
            fi
            echo "$n $s $sol $(field ticks "$c") $(field us_per_tick "$c")" >>"$tmp/times"
        done
    done
done

echo
python3 - "$tmp/times" "$solvers" "$configs" <<'PY'
import statistics
import sys

times, solvers, configs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
per_tick, ticks = {}, {}
for line in open(times):
    n, s, who, t, us = line.split()
    per_tick.setdefault((n, s, who), []).append(float(us))
    ticks[(n, s)] = int(t)

head = "%6s %7s %6s %14s" % ("N", "sim s", "ticks", "floor us/tick")
for sol in solvers:
    head += " %14s %8s" % (sol + " us/tick", "ratio")
print(head)
for cfg in configs:
    n, s = cfg.split(":")
    k = ticks[(n, s)]
    fl = statistics.median(per_tick[(n, s, "floor")])
    row = "%6s %7s %6d %14.1f" % (n, s, k, fl)
    for sol in solvers:
        us = per_tick.get((n, s, sol))
        if us is None:
            row += " %14s %8s" % ("skipped", "-")
        else:
            us = statistics.median(us)
            row += " %14.1f %8.2f" % (us, us / fl)
    print(row)
print("(floor: CVODE + KLU, analytic Jacobian; ratio: controller / floor; "
      "medians of the rounds)")
PY
