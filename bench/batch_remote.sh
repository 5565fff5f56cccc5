#!/bin/bash
# batch_remote.sh — a what-if batch over two controllers against the same
# batch run here: cases per second of a grid of tank-farm-3 (24 h, four
# KPIs per case) run by `twinctl batch -j2` on this machine, then by
# `twinctl batch --broker` on two `twinctl serve` (capacity MAX_RUNS each)
# through a mosquitto this script starts on a free loopback port
# (bench/broker.sh) and stops by its PID.  In the order
# local, remote, remote, local (the machine's load drifts), and the
# summaries must be identical.  On one machine the controllers share its
# CPUs with the broker and the batch: the figure is the cost of going
# through MQTT and the controllers (requests, answers, the run processes
# of a daemon), not a scale-out.  The controllers are started afresh for
# each remote run, so no answer comes from their memory of the last one.
# Besides cases/s: each case's loop time (wall_s of its result, as the
# run process measured it) and how busy the slots were (the loops' time
# over wall time × slots: what dispatching leaves idle).
#
# Usage: bench/batch_remote.sh BUILD_DIR [CASES] [MAX_RUNS]
#   CASES (default 200, a multiple of 10): CASES/10 set points of pi0 ×
#   10 areas of tank0, as bench/batch_cases.sh; MAX_RUNS (default 1).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [CASES] [MAX_RUNS]" >&2; exit 2; }
build=$(cd "$1" && pwd)
cases=${2:-200}
max_runs=${3:-1}
[ $((cases % 10)) -eq 0 ] && [ "$cases" -ge 20 ] ||
    { echo "$0: CASES must be a multiple of 10, at least 20" >&2; exit 2; }
twinctl="$build/controller/twinctl"
py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() { # the controllers, then the broker
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null && wait "${pids[i]}"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# The batch of bench/batch_cases.sh.
$py - "$cases" "$tmp/batch.json" <<'PY'
import json, sys
cases, path = int(sys.argv[1]), sys.argv[2]
kpi = lambda name, fn, of, **kw: dict(name=name, function=fn, of=of, **kw)
json.dump({"contract": "twin.batch/1", "name": "bench",
           "scenario": "tank-farm-3",
           "variations": {"grid": [
               {"param": "pi0.sp",
                "range": {"from": 1.5, "to": 2.5, "steps": cases // 10 - 1}},
               {"param": "tank0.area",
                "range": {"from": 1.5, "to": 3.0, "steps": 9}}]},
           "kpis": [kpi("mean_level", "mean", "tank0.h"),
                    kpi("peak_level", "max", "tank0.h"),
                    kpi("energy", "integral", "pump0.power"),
                    kpi("settle", "settling_time", "tank0.h", band=0.02)]},
          open(path, "w"))
PY

# timed NAME COMMAND...: wall, user and system seconds of the command (and
# its children), its stderr kept in $tmp/NAME.err.
timed() {
    name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$tmp/$name.time" "$@" \
        >/dev/null 2>"$tmp/$name.err" ||
        { echo "$0: $name failed:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
    read -r wall user sys <"$tmp/$name.time"
    echo "$name: ${wall} s wall, ${user} s user, ${sys} s system"
}

# controllers: two fresh `twinctl serve` (fresh: nothing in their memory).
ctl_pids=()
controllers() {
    for p in "${ctl_pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p"; done
    ctl_pids=()
    for id in ctl-1 ctl-2; do
        rm -rf "$tmp/spool-$id"
        "$twinctl" serve -q --id "$id" --spool "$tmp/spool-$id" \
            --broker "$url" --max-runs "$max_runs" &
        ctl_pids+=($!)
        pids+=($!)
    done
    for _ in $(seq 50); do
        [ "$("$twinctl" status --broker "$url" --json --wait 0.3 2>/dev/null |
             grep -c '"online"')" -ge 2 ] && break
    done
}
local_run() { # local_run NAME
    rm -rf "$tmp/out-$1"
    timed "$1" "$twinctl" batch "$tmp/batch.json" -o "$tmp/out-$1" -j 2
}
# cpu PID...: user + system seconds of the processes themselves, and of
# their children that ended (a daemon's run processes).
cpu() {
    $py - "$@" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
own = kids = 0
for pid in sys.argv[1:]:
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    own += (int(f[11]) + int(f[12])) / hz
    kids += (int(f[13]) + int(f[14])) / hz
print("%.2f %.2f" % (own, kids))
PY
}
remote_run() { # remote_run NAME
    rm -rf "$tmp/out-$1"
    controllers
    read -r broker0 _ < <(cpu "$broker_pid")
    timed "$1" "$twinctl" batch "$tmp/batch.json" -o "$tmp/out-$1" \
        --broker "$url"
    read -r broker1 _ < <(cpu "$broker_pid")
    read -r daemons runs < <(cpu "${ctl_pids[@]}")
    echo "$daemons $runs $(python3 -c "print(f'{$broker1 - $broker0:.2f}')")" \
        >"$tmp/$1.cpu"
    echo "  CPU s: daemons $daemons, their run processes $runs, mosquitto" \
         "$(cut -d' ' -f3 "$tmp/$1.cpu")"
    grep -h 'sent again' "$tmp/$1.err" | sed 's/^twinctl batch: /  /'
    cmp -s "$tmp/out-local1/summary.csv" "$tmp/out-$1/summary.csv" ||
        { echo "$0: the local and remote summaries differ" >&2; exit 1; }
}

. "$(dirname "$0")/broker.sh"
start_broker "$tmp" || exit 1
pids+=("$broker_pid")

# Local, remote, remote, local: the load of the machine drifts.
echo "$cases cases of tank-farm-3 (24 h), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
local_run local1
remote_run remote1
remote_run remote2
local_run local2
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"

echo
$py - "$cases" "$max_runs" "$tmp" <<'PY'
import glob, json, os, sys
cases, runs, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def figures(name):
    wall, user, system = (float(x) for x in
                          open(os.path.join(tmp, name + ".time")).read().split())
    loop = [json.load(open(f))["wall_s"] for f in
            glob.glob(os.path.join(tmp, "out-" + name, "results", "*.json"))]
    cpu = user + system          # the batch and its cases' processes
    if name.startswith("remote"):  # the controllers' run processes
        cpu = float(open(os.path.join(tmp, name + ".cpu")).read().split()[1])
    return wall, cpu / cases, sum(loop) / len(loop)
f = {n: figures(n) for n in ("local1", "remote1", "remote2", "local2")}
lw = (f["local1"][0] + f["local2"][0]) / 2
rw = (f["remote1"][0] + f["remote2"][0]) / 2
print(f"{'':30s} {'wall s':>7s} {'cases/s':>8s} {'loop s/case':>11s} "
      f"{'slots busy':>10s} {'CPU s/case':>10s}")
# slots busy: the cases' loops' time over the time the slots were there;
# CPU s/case: of the processes that ran the cases (here: twinctl batch and
# its children; with --broker the controllers' run processes)
for n, what, slots in (("local1", "twinctl batch -j2", 2),
                       ("remote1", "--broker, 2 controllers x%d" % runs,
                        2 * runs),
                       ("remote2", "--broker, 2 controllers x%d" % runs,
                        2 * runs),
                       ("local2", "twinctl batch -j2", 2)):
    w, c, l = f[n]
    print(f"{what:30s} {w:7.2f} {cases / w:8.3f} {l:11.3f} "
          f"{cases * l / (slots * w):10.2f} {c:10.3f}")
print(f"means: -j2 {cases / lw:.3f} cases/s, --broker {cases / rw:.3f} "
      f"cases/s, ratio {lw / rw:.2f}")
PY
