#!/bin/bash
# fmu_bench.sh — what running a model as an FMU costs (issue 13):
# tank-farm-N with the tank, the pump and the PI controller as FMUs of the
# tests (tests/fmus/fmutank, fmupump: FMI 2.0 Model Exchange, in the
# CVODE groups; fmupi: FMI 2.0 Co-Simulation, stepped each tick) against
# the same scenario with the native plugins, which are the floor measured
# in the same run: `twinctl run --format none` of each, alternating,
# REPEAT times; medians of wall and CPU time (user + system, children
# included), time per chain·tick, and the ratio FMU / native.  Target:
# within 1.3× at N = 100.
#
# Usage: bench/fmu_bench.sh BUILD_DIR [REPEAT [STOP [N...]]]
#   REPEAT (default 3), STOP simulated seconds (default 21600), N (default
#   10 100).  Keep the machine otherwise idle; on a busy one, read the CPU
#   columns.  FMU_BENCH_INTEGRATORS=separate|stacked sets the scenarios'
#   "integrators" (default: left to auto, which stacks tank-farm's
#   two-state groups).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [REPEAT [STOP [N...]]]" >&2
                  exit 2; }
build=$(cd "$1" && pwd)
repeat=${2:-3}
stop=${3:-21600}
shift $(( $# >= 3 ? 3 : $# ))
sizes=${*:-10 100}
src=$(cd "$(dirname "$0")/.." && pwd)
twinctl="$build/controller/twinctl"
fmus="$build/tests/fmus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$src/bench/measure.sh"

printf '%-5s %-8s %10s %10s %16s %10s %10s\n' N models "wall s" "CPU s" \
    "CPU µs/chain·tick" "wall ×" "CPU ×"
for n in $sizes; do
    python3 "$src/examples/gen_tank_farm.py" "$n" --stop "$stop" \
        -o "$tmp/native$n.json" || exit 1
    # The same scenario with the FMUs: the PI's integral is the FMU's own
    # (a local, not a state the scenario starts).
    python3 - "$tmp/native$n.json" "$tmp/fmu$n.json" \
        "${FMU_BENCH_INTEGRATORS:-}" <<'PY' || exit 1
import json, sys
s = json.load(open(sys.argv[1]))
if sys.argv[3]:
    s["integrators"] = sys.argv[3]
    json.dump(s, open(sys.argv[1], "w"))
for inst in s["instances"].values():
    inst["model"] = {"tank": "fmutank", "pump": "fmupump",
                     "pi": "fmupi"}[inst["model"]]
    if inst["model"] == "fmupi":
        inst.pop("start", None)
json.dump(s, open(sys.argv[2], "w"))
PY
    for i in $(seq "$repeat"); do
        measure "$tmp/n$n" "$twinctl" run -q "$tmp/native$n.json" \
            --format none
        measure "$tmp/f$n" "$twinctl" run -q --models "$fmus" \
            "$tmp/fmu$n.json" --format none
    done
    nw=$(median "$tmp/n$n" 0 3); nc=$(median "$tmp/n$n" 1 3)
    fw=$(median "$tmp/f$n" 0 3); fc=$(median "$tmp/f$n" 1 3)
    per() { python3 -c "print('%.2f' % ($1 * 1e6 / ($n * $stop)))"; }
    printf '%-5s %-8s %10s %10s %16s %10s %10s\n' "$n" native "$nw" "$nc" \
        "$(per "$nc")" 1.00 1.00
    printf '%-5s %-8s %10s %10s %16s %10s %10s\n' "$n" FMUs "$fw" "$fc" \
        "$(per "$fc")" "$(python3 -c "print('%.2f' % ($fw / $nw))")" \
        "$(python3 -c "print('%.2f' % ($fc / $nc))")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
