#!/bin/bash
# batch_bench.sh — the batch benchmark: tank-farm-N through the controller
# (bench_controller: plugins, composition, the general loop) against the
# two floors (floor_tankfarm: the same equations on plain CVODE, one CVODE
# per chain restarted only where its inputs jumped, and with --stacked all
# chains in one banded CVODE), alternating, in one invocation, and the
# ratio of the controller's wall time to the better floor's.
#
# Usage: bench/batch_bench.sh BUILD_DIR [RUNS] [CONFIGS]
#   CONFIGS: N:HOURS pairs, default "10:24 100:24 1000:2 10:2 100:2" —
#   N = 10 and 100 over 24 h, N = 1000 over 2 h (the issue's), and N = 10,
#   100, 1000 over 2 h (same horizon, for the growth of the cost per tick
#   with N).  RUNS triples each (default 2).
# Prints each raw line, then a table.  Keep the machine otherwise idle.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [RUNS] [CONFIGS]" >&2; exit 2; }
build=$(cd "$1" && pwd)
runs=${2:-2}
configs=${3:-"10:24 100:24 1000:2 10:2 100:2"}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

wall() { sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<<"$1"; }
declare -A ctl_sum fl_sum st_sum ctl_line fl_line st_line
for cfg in $configs; do
    n=${cfg%%:*}; h=${cfg#*:}
    python3 "$src/examples/gen_tank_farm.py" "$n" --stop $((h * 3600)) -o "$tmp/tf-$n-$h.json"
    for r in $(seq "$runs"); do
        c=$("$build/bench/bench_controller" "$tmp/tf-$n-$h.json") || exit 1
        f=$("$build/bench/floor_tankfarm" "$n" "$h" 2>/dev/null) || exit 1
        s=$("$build/bench/floor_tankfarm" --stacked "$n" "$h" 2>/dev/null) || exit 1
        echo "$c"; echo "$f"; echo "$s"
        ctl_sum[$cfg]="${ctl_sum[$cfg]:-} $(wall "$c")"
        fl_sum[$cfg]="${fl_sum[$cfg]:-} $(wall "$f")"
        st_sum[$cfg]="${st_sum[$cfg]:-} $(wall "$s")"
        ctl_line[$cfg]=$c; fl_line[$cfg]=$f; st_line[$cfg]=$s
    done
done
echo
echo "separate: one CVODE per chain; stacked: one banded CVODE over all chains;"
echo "ratio: controller / the better floor; same work: the floor whose steps,"
echo "RHS evaluations and restarts the controller's equal (it stacks small"
echo "groups by default: \"stacked\"), or NO; stk diff: relative difference"
echo "of the stacked floor's checksum from the separate one's"
printf '%6s %5s %8s %10s %10s %10s %7s %12s %12s %8s %9s\n' N hours ticks \
    "separate s" "stacked s" "ctl s" ratio "floor us/c.t" "ctl us/c.t" same "stk diff"
for cfg in $configs; do
    n=${cfg%%:*}; h=${cfg#*:}
    python3 - "$n" "$h" "${fl_sum[$cfg]}" "${st_sum[$cfg]}" "${ctl_sum[$cfg]}" \
        "${fl_line[$cfg]}" "${st_line[$cfg]}" "${ctl_line[$cfg]}" <<'PY'
import sys, statistics
n, h = int(sys.argv[1]), float(sys.argv[2])
fl, st, ct = ([float(x) for x in a.split()] for a in sys.argv[3:6])
def fields(line):
    return dict(kv.split("=") for kv in line.split()[1:])
f, s, c = (fields(a) for a in sys.argv[6:9])
def same_as(floor):
    return all(floor[k] == c[k] for k in ("steps", "rhs_evals", "restarts"))
same = "separate" if same_as(f) else "stacked" if same_as(s) else "NO"
diff = abs(float(s["checksum"]) / float(f["checksum"]) - 1)
ticks = int(f["ticks"])
fm, sm, cm = (statistics.median(x) for x in (fl, st, ct))
best = min(fm, sm)
print(f"{n:6d} {h:5g} {ticks:8d} {fm:10.3f} {sm:10.3f} {cm:10.3f} "
      f"{cm / best:7.3f} {1e6 * best / ticks / n:12.3f} "
      f"{1e6 * cm / ticks / n:12.3f} {same:>8} {diff:9.1e}")
PY
done
