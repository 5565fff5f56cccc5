#!/bin/bash
# results_bench.sh — what writing a run's results costs over computing
# them: `twinctl run` on tank-farm-N (24 h, 86 401 rows) to a CSV, a MAT
# and an HDF5 file and to no file (--format none: the run process, its
# frames and this side, no writing), against bench/bench_controller on
# the same scenario (the simulation alone, through the real core into a
# summing sink, no text), alternating, REPEAT times each; wall and CPU
# time (user + system, children included), medians, and the ratio to the
# simulation alone.  Targets (issue 12): CSV within 1.5×, MAT and HDF5
# within 1.15×.
#
# Usage: bench/results_bench.sh BUILD_DIR [REPEAT [N...]]
#   REPEAT (default 3), N (default 10 100).
# Environment: STOP=SECONDS simulates that long instead of 24 h (a
# shorter run on a busy machine; the targets are for 24 h);
# BEFORE=BUILD_DIR also measures that build's `twinctl run` to each
# format in the same rounds (before/after a change, alternating), with
# this build's models (TWIN_MODEL_PATH) and the same simulation alone.
# Also prints bench_dtoa's table (the text of a double alone).  Keep the
# machine otherwise idle; on a busy one, read the CPU columns.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [REPEAT [N...]]" >&2; exit 2; }
build=$(cd "$1" && pwd)
repeat=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
sizes=${*:-10 100}
src=$(cd "$(dirname "$0")/.." && pwd)
twinctl="$build/controller/twinctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$build/bench/bench_dtoa" 2000000 || exit 1
echo

. "$src/bench/measure.sh"

printf '%-5s %-22s %10s %10s %12s %12s\n' N what "wall s" "CPU s" \
    "wall ratio" "CPU ratio"
for n in $sizes; do
    python3 "$src/examples/gen_tank_farm.py" "$n" ${STOP:+--stop "$STOP"} \
        -o "$tmp/tf$n.json" || exit 1
    for i in $(seq "$repeat"); do
        measure "$tmp/sim$n" "$build/bench/bench_controller" "$tmp/tf$n.json"
        for f in csv mat h5; do
            measure "$tmp/$f$n" "$twinctl" run -q "$tmp/tf$n.json" \
                -o "$tmp/out.$f"
            rm -f "$tmp/out.$f"
            if [ -n "${BEFORE:-}" ]; then
                TWIN_MODEL_PATH="$build/models" measure "$tmp/before-$f$n" \
                    "$BEFORE/controller/twinctl" run -q "$tmp/tf$n.json" \
                    -o "$tmp/out.$f"
                rm -f "$tmp/out.$f"
            fi
        done
        measure "$tmp/none$n" "$twinctl" run -q "$tmp/tf$n.json" \
            --format none
    done
    sw=$(median "$tmp/sim$n" 0); sc=$(median "$tmp/sim$n" 1)
    printf '%-5s %-22s %10s %10s %12s %12s\n' "$n" "simulation alone" \
        "$sw" "$sc" 1.00 1.00
    for f in none csv mat h5 ${BEFORE:+before-csv before-mat before-h5}; do
        fw=$(median "$tmp/$f$n" 0); fc=$(median "$tmp/$f$n" 1)
        what="twinctl run -o ${f#before-}"
        [ "$f" = none ] && what="twinctl run, no file"
        [ "$f" != "${f#before-}" ] && what="BEFORE: $what"
        printf '%-5s %-22s %10s %10s %12s %12s\n' "$n" "$what" "$fw" "$fc" \
            "$(python3 -c "print('%.2f' % ($fw / $sw))")" \
            "$(python3 -c "print('%.2f' % ($fc / $sc))")"
    done
done
echo "load average before: $load_before"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
