#!/usr/bin/env bash
# rt_bench.sh — real-time pacing benchmark: how late the controller's paced
# loop wakes up, next to the two floors it is compared with, run one after
# the other at the same 10 ms period:
#   cyclictest  the kernel's own wake-up latency (rt-tests), no work at all;
#   floor_rt    tank-farm-N on plain CVODE, paced (bench/floor_rt.c);
#   controller  bench_controller --realtime on tank-farm-N at dt = 0.01 s
#               (its --fifo/--mlock go through controller/sim/rt.c).
# SCHED_FIFO 80 and mlockall are used where this process is allowed them
# (detected, never assumed); all three get the same.
#
#   bench/rt_bench.sh BUILD_DIR [SECONDS] [N]      (defaults: 60 s, N = 100)
#
# Environment: BENCH_CONTROLLER_ARGS, extra arguments for bench_controller.
set -u

usage() {
    echo "usage: $0 BUILD_DIR [SECONDS] [N]   (defaults: 60 s, N = 100)" >&2
    exit 2
}
if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
build=$1
secs=${2:-60}
n=${3:-100}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "rt_bench: SECONDS must be a whole number >= 1" >&2; exit 2; }
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "rt_bench: N must be a whole number >= 1" >&2; exit 2; }

period_us=10000
dt=0.01
loops=$((secs * 100))
prio=80
src=$(cd "$(dirname "$0")/.." && pwd)
floor_rt=$build/bench/floor_rt
bc=$build/bench/bench_controller
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

if [ ! -x "$floor_rt" ]; then
    echo "rt_bench: $floor_rt is not built; run: meson compile -C $build" >&2
    exit 1
fi

# --- what this process may do (tried for real, with floor_rt itself) -------
ct_opts=() ; fl_opts=() ; ctl_opts=()
if "$floor_rt" --fifo "$prio" 1 "$dt" >/dev/null 2>"$tmp/fifo.err"; then
    fifo=yes
    ct_opts+=(-p "$prio")
    fl_opts+=(--fifo "$prio")
    ctl_opts+=(--fifo "$prio")
else
    fifo="no ($(head -n1 "$tmp/fifo.err"))"
fi
if "$floor_rt" --mlock 1 "$dt" >/dev/null 2>"$tmp/mlock.err"; then
    mlock=yes
    ct_opts+=(-m)
    fl_opts+=(--mlock)
    ctl_opts+=(--mlock)
else
    mlock="no ($(head -n1 "$tmp/mlock.err"))"
fi
echo "# rt_bench: N=$n, ${secs} s at a ${period_us} us period ($loops ticks), $(nproc) CPUs, kernel $(uname -r)"
echo "# SCHED_FIFO $prio: $fifo; mlockall: $mlock"

# key=value field of a summary line
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# --- (a) cyclictest ----------------------------------------------------------
ct_line=""
if ! command -v cyclictest >/dev/null; then
    echo "# cyclictest: skipped, not installed (Debian: apt-get install rt-tests)"
elif [ "$fifo" != yes ]; then
    # cyclictest 2.x puts its main thread at SCHED_FIFO 1 whatever -p says,
    # and exits when that is refused.
    echo "# cyclictest: skipped, it needs SCHED_FIFO, which is refused here"
else
    echo "# running: cyclictest -i $period_us -l $loops -q ${ct_opts[*]} -h $period_us"
    if cyclictest -i "$period_us" -l "$loops" -q "${ct_opts[@]}" -h "$period_us" \
            >"$tmp/ct.out" 2>"$tmp/ct.err"; then
        # Histogram rows are "<us> <count>"; percentiles by nearest rank, the
        # same rule floor_rt and the controller use.  Overflows count as
        # beyond the histogram.
        ct_line=$(awk -v hmax="$period_us" -v ticks="$loops" '
            /^[0-9]+[ \t]+[0-9]+/ { c = $2 + 0; if (c) cnt[$1 + 0] = c; tot += c }
            /^# Min Latencies:/ { mn = $4 + 0 }
            /^# Avg Latencies:/ { av = $4 + 0 }
            /^# Max Latencies:/ { mx = $4 + 0 }
            /^# Histogram Overflows:/ { ov = $4 + 0 }
            function pct(q,   need, cum, b) {
                need = q * (tot + ov); if (need > int(need)) need = int(need) + 1
                for (b = 0; b < hmax; b++) { cum += cnt[b]; if (cum >= need) return b }
                return ">" hmax
            }
            END {
                if (tot + ov == 0) exit 1
                printf "cyclictest N=0 ticks=%d late=- missed=- p50_us=%s p99_us=%s max_us=%d min_us=%d avg_us=%d\n",
                       tot + ov, pct(0.50), pct(0.99), mx, mn, av
            }' "$tmp/ct.out") || ct_line=""
    fi
    if [ -z "$ct_line" ]; then
        echo "rt_bench: cyclictest failed:" >&2
        tail -n5 "$tmp/ct.err" >&2
        status=1
    fi
fi
[ -n "$ct_line" ] && echo "$ct_line"

# --- (b) floor_rt ----------------------------------------------------------
echo "# running: $floor_rt ${fl_opts[*]} --dt $dt $n $secs"
fl_line=$("$floor_rt" "${fl_opts[@]}" --dt "$dt" "$n" "$secs" 2>"$tmp/fl.err" | grep '^floor-rt ')
if [ -z "$fl_line" ]; then
    echo "rt_bench: floor_rt failed:" >&2
    tail -n5 "$tmp/fl.err" >&2
    status=1
else
    echo "$fl_line"
fi

# --- (c) the controller ------------------------------------------------------
ctl_line=""
if [ ! -x "$bc" ]; then
    echo "# controller: skipped, $bc is not built (bench/bench_controller.c not there yet?)"
else
    python3 "$src/examples/gen_tank_farm.py" "$n" --stop "$secs" --dt "$dt" \
        --realtime 1.0 >"$tmp/scenario.json" || status=1
    echo "# running: $bc --realtime ${ctl_opts[*]} ${BENCH_CONTROLLER_ARGS:-} <tank-farm-$n.json>"
    # shellcheck disable=SC2086  # BENCH_CONTROLLER_ARGS is a word list
    ctl_line=$("$bc" --realtime "${ctl_opts[@]}" ${BENCH_CONTROLLER_ARGS:-} \
        "$tmp/scenario.json" 2>"$tmp/ctl.err" | grep '^controller-rt ')
    if [ -z "$ctl_line" ]; then
        echo "rt_bench: bench_controller --realtime printed no controller-rt line:" >&2
        tail -n5 "$tmp/ctl.err" >&2
        status=1
    else
        echo "$ctl_line"
    fi
fi

# --- side by side ------------------------------------------------------------
echo
printf '%-13s %7s %5s %6s %8s %8s %8s\n' "" ticks late missed p50_us p99_us max_us
for l in "$ct_line" "$fl_line" "$ctl_line"; do
    [ -n "$l" ] || continue
    printf '%-13s %7s %5s %6s %8s %8s %8s\n' "${l%% *}" "$(field "$l" ticks)" \
        "$(field "$l" late)" "$(field "$l" missed)" "$(field "$l" p50_us)" \
        "$(field "$l" p99_us)" "$(field "$l" max_us)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else printf "n/a" }'; }
if [ -n "$ctl_line" ]; then
    p99c=$(field "$ctl_line" p99_us)
    [ -n "$fl_line" ] && echo "p99 ratio controller/floor_rt:   $(ratio "$p99c" "$(field "$fl_line" p99_us)")"
    [ -n "$ct_line" ] && echo "p99 ratio controller/cyclictest: $(ratio "$p99c" "$(field "$ct_line" p99_us)")"
fi
if [ -n "$fl_line" ] && [ -n "$ct_line" ]; then
    echo "p99 ratio floor_rt/cyclictest:   $(ratio "$(field "$fl_line" p99_us)" "$(field "$ct_line" p99_us)")"
fi
exit $status
