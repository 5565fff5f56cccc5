#!/bin/bash
# batch_bench.sh — the batch benchmark: tank-farm-N through the controller
# (bench_controller: plugins, composition, the general loop) against the
# floor (floor_tankfarm: the same equations on plain CVODE), alternating,
# in one invocation, and the ratio of their wall times.
#
# Usage: bench/batch_bench.sh BUILD_DIR [RUNS]
#   Configurations: N = 10 and 100 over 24 h, N = 1000 over 2 h (the
#   issue's), and N = 10, 100, 1000 over 2 h (same horizon, for the growth
#   of the cost per tick with N).  RUNS pairs each (default 2).
# Prints each raw line, then a table.  Keep the machine otherwise idle.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [RUNS]" >&2; exit 2; }
build=$(cd "$1" && pwd)
runs=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

configs="10:24 100:24 1000:2 10:2 100:2"
declare -A ctl_sum fl_sum ctl_line fl_line
for cfg in $configs; do
    n=${cfg%%:*}; h=${cfg#*:}
    python3 "$src/examples/gen_tank_farm.py" "$n" --stop $((h * 3600)) -o "$tmp/tf-$n-$h.json"
    for r in $(seq "$runs"); do
        c=$("$build/bench/bench_controller" "$tmp/tf-$n-$h.json") || exit 1
        f=$("$build/bench/floor_tankfarm" "$n" "$h" 2>/dev/null) || exit 1
        echo "$c"; echo "$f"
        cw=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<<"$c")
        fw=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<<"$f")
        ctl_sum[$cfg]="${ctl_sum[$cfg]:-} $cw"
        fl_sum[$cfg]="${fl_sum[$cfg]:-} $fw"
        ctl_line[$cfg]=$c; fl_line[$cfg]=$f
    done
done
echo
printf '%6s %5s %9s %12s %12s %9s %14s %14s %10s\n' N hours ticks "floor s" "ctl s" ratio "floor us/ch.t" "ctl us/ch.t" "same work"
for cfg in $configs; do
    n=${cfg%%:*}; h=${cfg#*:}
    python3 - "$n" "$h" "${fl_sum[$cfg]}" "${ctl_sum[$cfg]}" "${fl_line[$cfg]}" "${ctl_line[$cfg]}" <<'PY'
import sys, statistics
n, h = int(sys.argv[1]), int(sys.argv[2])
fl = [float(x) for x in sys.argv[3].split()]
ct = [float(x) for x in sys.argv[4].split()]
def fields(line):
    return dict(kv.split("=") for kv in line.split()[1:])
f, c = fields(sys.argv[5]), fields(sys.argv[6])
same = all(f[k] == c[k] for k in ("steps", "rhs_evals", "restarts"))
ticks = int(f["ticks"])
fm, cm = statistics.median(fl), statistics.median(ct)
print(f"{n:6d} {h:5d} {ticks:9d} {fm:12.3f} {cm:12.3f} {cm / fm:9.3f} "
      f"{1e6 * fm / ticks / n:14.3f} {1e6 * cm / ticks / n:14.3f} {'yes' if same else 'NO'}")
PY
done
